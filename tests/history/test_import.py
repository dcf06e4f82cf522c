"""The ``history`` import kind: the template filled in, previewed with errors, fixed, committed twice."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.errors import Conflict, Invalid
from app.imports import service as imports
from app.imports.base import get_kind, template
from app.models import AuditLog, HistoryEntry, Rollup
from app.rollup import service as rollup
from tests.history.conftest import LAST_YEAR

pytestmark = pytest.mark.dates


def _filled(session, by, rows) -> bytes:
    """The kind's own template with ``rows`` typed below its example row."""
    wb = load_workbook(io.BytesIO(template(get_kind("history"), session, by)))
    ws = wb["导入数据"]
    for r, cells in enumerate(rows, start=3):
        for c, value in enumerate(cells, start=1):
            ws.cell(row=r, column=c, value=value)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_template_has_the_columns_and_the_indicator_list(session, world):
    by = world.p(world.county_staff)
    wb = load_workbook(io.BytesIO(template(get_kind("history"), session, by)))
    ws = wb["导入数据"]
    headers = [c.value for c in ws[1]]
    assert headers == ["组织代码（必填）", "年份（必填）", "月份或季度（必填）", "指标（必填）", "数值（必填）", "备注"]
    choices = [c.value for c in wb["选项"]["B"] if c.value]  # the second list: 指标
    assert world.count.name in choices and world.money.name in choices


def test_preview_with_errors_then_fixed_commit_then_a_second_import_is_a_no_op(session, world):
    by = world.p(world.prefecture_staff)
    bad = _filled(session, by, [
        ["530102", LAST_YEAR, "一季度", world.count.name, 12, "台账"],
        ["530300", LAST_YEAR, "3", world.count.name, 1],          # outside 昆明
        ["530102", LAST_YEAR, "13", world.count.name, 1],         # no such month
        ["530102", LAST_YEAR, "2", "不存在的指标", 1],
        ["530102", LAST_YEAR, "2", world.money.name, "12.345"],   # three decimals
        ["530102", LAST_YEAR, "3", world.count.name, 5],          # the quarter is stored on March
    ])
    plan = imports.preview(session, by, "history", bad, "history.xlsx")
    assert (plan.created, plan.updated, plan.unchanged) == (1, 0, 0)
    assert [(e.row, e.column) for e in plan.errors] == [
        (4, "组织代码"), (5, "月份或季度"), (6, "指标"), (7, "数值"), (8, "月份或季度")]
    assert "组织不在您的管理范围内：曲靖" in plan.errors[0].message
    assert plan.errors[4].message == "与第 3 行重复（同一组织、指标和月份）"
    with pytest.raises(Invalid, match="5 处错误"):
        imports.commit(session, by, "history", bad, "history.xlsx")
    assert session.scalar(select(func.count()).select_from(HistoryEntry)) == 0

    good = _filled(session, by, [
        ["530102", LAST_YEAR, "一季度", world.count.name, 12, "台账"],
        ["530102", f"{LAST_YEAR}", "2月", str(world.money.id), "12.34"],
        ["530100", LAST_YEAR, "Q2", world.count.name, "３"],  # a full-width digit
    ])
    preview = imports.preview(session, by, "history", good, "history.xlsx")
    assert (preview.created, preview.errors) == (3, [])
    done = imports.commit(session, by, "history", good, "history.xlsx", identity=preview.identity())
    assert done.created == 3
    assert session.scalar(select(func.count()).select_from(HistoryEntry)) == 3
    assert session.scalar(select(Rollup.verified).where(
        Rollup.scope == "org", Rollup.unit_id == world.province.id, Rollup.month == LAST_YEAR * 100 + 2,
        Rollup.indicator_id == world.money.id)) == 1234
    assert rollup.check(session) == []
    assert session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "import.history")) == 1

    audits = session.scalar(select(func.count()).select_from(AuditLog))
    again = imports.commit(session, by, "history", good, "history.xlsx")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert session.scalar(select(func.count()).select_from(AuditLog)) == audits  # nothing written
    assert rollup.check(session) == []


def test_csv_with_gbk_and_a_stale_preview(session, world):
    by = world.p(world.county_staff)
    csv = f"组织代码,年份,月份或季度,指标,数值,备注\n530102,{LAST_YEAR},4,{world.count.name},2,\n".encode("gb18030")
    preview = imports.preview(session, by, "history", csv, "old.csv")
    assert preview.created == 1 and preview.ok
    changed = csv.replace(b",2,", b",3,")
    imports.commit(session, by, "history", changed, "old.csv")
    with pytest.raises(Conflict):
        imports.commit(session, by, "history", csv, "old.csv", identity=preview.identity())
    assert [e.value for e in session.scalars(select(HistoryEntry))] == [3]
