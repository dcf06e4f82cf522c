"""Migrations are the only way the schema is built: up, down, up again, and no drift."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

import app.models  # noqa: F401
from app.config import PROJECT_ROOT
from app.db import make_engine

TABLES = {
    "activation_code", "activity", "activity_participant", "activity_photo", "activity_value", "audit_log",
    "login_attempt", "user_session", "annual_target", "app_meta",
    "boost_area", "campaign", "closed_month", "committee", "indicator", "link_assignment",
    "member", "membership", "org_closure", "organisation", "role_grant", "site", "task", "term",
    "user_account", "rollup", "rollup_stamp", "participation_month", "participation_counter", "display_link",
    "frozen_report", "export_job", "api_token", "api_token_usage", "history_entry",
}


def _config(url: str) -> Config:
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("sqlalchemy.url", url)
    cfg.attributes["configure_logger"] = False
    return cfg


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(fresh_url):
    assert _tables(fresh_url) == TABLES
    command.downgrade(_config(fresh_url), "base")
    assert _tables(fresh_url) == set()
    command.upgrade(_config(fresh_url), "head")
    assert _tables(fresh_url) == TABLES


def test_models_match_migrations(fresh_url):
    """The SQLModel tables and the migrated schema agree: nothing created outside Alembic."""
    engine = make_engine(fresh_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    finally:
        engine.dispose()
    assert diff == []
