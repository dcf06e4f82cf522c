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
    "frozen_report", "background_job", "api_token", "api_token_usage", "api_token_rate", "history_entry",
    "plausibility_rule", "activity_flag", "indicator_baseline", "report_confirmation",
    "notification", "reminder_campaign", "wecom_robot", "sms_code", "member_reach", "sms_log",
    "meeting_setting", "follow_up", "activity_group", "activity_group_member", "task_lead",
    "exemplar_nomination", "match_invitation",
    "suggestion_follow_up",
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


def test_export_jobs_move_into_background_jobs_and_back(fresh_url):
    """0010 carries export jobs across both ways; a job open at the upgrade is queued again."""
    from sqlalchemy import text

    cfg = _config(fresh_url)
    command.downgrade(cfg, "0009")
    engine = make_engine(fresh_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO organisation (id, code, name, level, parent_id, is_key_county, created_at) "
                              "VALUES (1, '530000', '云南省', 'province', NULL, false, '2026-01-01 00:00:00')"))
            conn.execute(text("INSERT INTO user_account (id, login, display_name, is_active, created_at) "
                              "VALUES (1, '13800000000', '甲', true, '2026-01-01 00:00:00')"))
            for job_id, status, done in ((1, "done", 5), (2, "running", 3)):
                conn.execute(text(
                    "INSERT INTO export_job (id, user_id, org_id, kind, params, status, rows_total, rows_done, "
                    "file_name, created_at) VALUES (:id, 1, 1, 'activities.xlsx', '{\"org\": \"530000\"}', :status, "
                    "5, :done, :file, '2026-01-01 00:00:00')"),
                    {"id": job_id, "status": status, "done": done, "file": "1-a.xlsx" if status == "done" else None})
        command.upgrade(cfg, "head")
        with engine.begin() as conn:
            rows = conn.execute(text("SELECT id, kind, status, progress_done, progress_total, file_name, params "
                                     "FROM background_job ORDER BY id")).all()
            assert [tuple(r) for r in rows] == [
                (1, "activities.xlsx", "done", 5, 5, "1-a.xlsx", '{"org": "530000"}'),
                (2, "activities.xlsx", "queued", 0, 5, None, '{"org": "530000"}')]
            conn.execute(text("INSERT INTO background_job (kind, user_id, status, params, progress_done, attempts, "
                              "created_at) VALUES ('import.preview', 1, 'done', '{}', 0, 0, '2026-01-01 00:00:00')"))
            assert conn.execute(text("SELECT MAX(id) FROM background_job")).scalar() == 3  # after the copied ids
        command.downgrade(cfg, "0009")
        with engine.begin() as conn:
            back = conn.execute(text("SELECT id, status, rows_done, file_name FROM export_job ORDER BY id")).all()
            assert [tuple(r) for r in back] == [(1, "done", 5, "1-a.xlsx"), (2, "failed", 0, None)]
        command.upgrade(cfg, "head")
    finally:
        engine.dispose()
