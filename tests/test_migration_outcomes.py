"""0017's data step: a catalogue loaded before outcomes existed gets the default outcome indicators
of the current campaign's tasks (by name, owner = the task's owner, after its own indicators); the
downgrade takes back those nothing refers to. An empty database is left alone (load_catalogue
brings them)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from app.db import make_engine
from tests.test_migrations import _config

PEOPLE_TASK = "帮助低收入家庭学子完成学业"  # 受益群众 only
INDUSTRY_TASK = "帮助脱贫地区发展特色产业、提供技术服务"  # 受益群众, 带动就业, 带动增收


def _outcomes(conn) -> list[tuple]:
    return [tuple(r) for r in conn.execute(text(
        "SELECT t.name, i.name, i.unit, i.kind, i.owner_org_id, i.sort_order FROM indicator i "
        "JOIN task t ON t.id = i.task_id WHERE i.is_outcome = :yes ORDER BY t.id, i.sort_order"), {"yes": True})]


def test_the_default_outcomes_come_to_an_existing_catalogue_and_go_back(fresh_url):
    cfg = _config(fresh_url)
    engine = make_engine(fresh_url)
    try:
        with engine.begin() as conn:
            assert _outcomes(conn) == []  # an empty database: nothing to add to
        command.downgrade(cfg, "0016")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO organisation (id, code, name, level, parent_id, is_key_county, created_at) "
                              "VALUES (1, '530000', '云南省政协', 'province', NULL, false, '2026-01-01 00:00:00')"))
            conn.execute(text("INSERT INTO campaign (id, code, name, start_year, is_current) "
                              "VALUES (1, 'shuang-zhutui', '「双助推」行动', 2021, true)"))
            conn.execute(text("INSERT INTO boost_area (id, campaign_id, name, sort_order) VALUES (1, 1, '方向', 1)"))
            for task_id, name in ((1, INDUSTRY_TASK), (2, PEOPLE_TASK), (3, "州市自己的实事")):
                conn.execute(text("INSERT INTO task (id, campaign_id, area_id, name, short_name, narrative_prefix, "
                                  "owner_org_id, sort_order) VALUES (:id, 1, 1, :name, :name, '', 1, :id)"),
                             {"id": task_id, "name": name})
            conn.execute(text("INSERT INTO indicator (task_id, name, unit, kind, owner_org_id, narrative, sort_order, "
                              "is_suggestion) VALUES (2, '资助学子', '人', 'count', 1, '资助学子{value}{unit}', 1, false)"))
        command.upgrade(cfg, "head")
        with engine.begin() as conn:
            assert _outcomes(conn) == [
                (INDUSTRY_TASK, "受益群众", "人", "count", 1, 1), (INDUSTRY_TASK, "带动就业", "人", "count", 1, 2),
                (INDUSTRY_TASK, "带动增收", "万元", "money", 1, 3), (PEOPLE_TASK, "受益群众", "人", "count", 1, 2)]
            used = conn.execute(text("SELECT id FROM indicator WHERE task_id = 1 AND name = '带动就业'")).scalar()
            conn.execute(text("INSERT INTO annual_target (org_id, indicator_id, year, value, updated_at) "
                              "VALUES (1, :i, 2026, 5, '2026-01-01 00:00:00')"), {"i": used})
        command.downgrade(cfg, "0016")
        with engine.begin() as conn:
            left = [tuple(r) for r in conn.execute(text("SELECT task_id, name FROM indicator ORDER BY id"))]
            assert left == [(2, "资助学子"), (1, "带动就业")]  # the one a target refers to stays
            conn.execute(text("DELETE FROM annual_target"))
        command.upgrade(cfg, "head")
    finally:
        engine.dispose()
