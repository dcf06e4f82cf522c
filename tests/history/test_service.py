"""汇总录入: planning rows (each error in Chinese), committing, re-importing, the rollup, scope."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from app.boards import service as boards
from app.boards.periods import span
from app.clock import CN, today_cn
from app.errors import Conflict, Forbidden, Invalid
from app.history import service
from app.models import AuditLog, HistoryEntry, ParticipationCounter, Rollup
from app.rollup import service as rollup
from tests.history.conftest import LAST_YEAR, rows

pytestmark = pytest.mark.dates


def _figure(session, scope, unit, month, indicator) -> int | None:
    return session.scalar(select(Rollup.verified).where(
        Rollup.scope == scope, Rollup.unit_id == unit.id, Rollup.month == month, Rollup.indicator_id == indicator.id))


def test_good_rows_plan_then_commit_into_the_rollup_of_every_level(session, world):
    by = world.p(world.prefecture_staff)
    plan = service.plan_history(session, by, rows(
        ("530102", LAST_YEAR, "3", world.count.name, "12", "旧台账"),
        ("530102", str(LAST_YEAR) + "年", "第二季度", str(world.money.id), "８.５"),  # full-width digit
        ("530100", LAST_YEAR, "Q3", world.count.name, 7),
    ))
    assert plan.errors == []
    assert plan.counts == {"create": 3, "update": 0, "unchanged": 0}
    assert [(e.month, e.span, e.value) for e in plan.entries] == [
        (LAST_YEAR * 100 + 3, 1, 12), (LAST_YEAR * 100 + 6, 3, 850), (LAST_YEAR * 100 + 9, 3, 7)]
    assert session.scalar(select(HistoryEntry.id)) is None  # planning writes nothing

    stamps = boards.version(session, [("org", world.province.id), ("place", world.wuhua.id)])
    service.commit_history(session, by, plan, expected=plan.fingerprint)
    assert len(world.entries()) == 3
    # Open boards of every level (and the county by place) see a new version and refresh.
    assert boards.version(session, [("org", world.province.id), ("place", world.wuhua.id)]) > stamps
    march = LAST_YEAR * 100 + 3
    for unit in (world.wuhua, world.kunming, world.province):
        assert _figure(session, "org", unit, march, world.count) == 12
    assert _figure(session, "place", world.wuhua, march, world.count) == 12  # a county: by place too
    assert _figure(session, "place", world.kunming, LAST_YEAR * 100 + 9, world.count) is None
    assert _figure(session, "org", world.province, LAST_YEAR * 100 + 6, world.money) == 850
    assert _figure(session, "org", world.panlong, march, world.count) is None
    # No activity count and no participation.
    assert session.scalar(select(Rollup.verified).where(Rollup.indicator_id == 0, Rollup.month == march)) is None
    assert session.scalar(select(ParticipationCounter.took_part).where(ParticipationCounter.took_part > 0)) is None
    assert rollup.check(session) == []
    audit = list(session.scalars(select(AuditLog).where(AuditLog.action == "history.import").order_by(AuditLog.org_id)))
    assert [a.org_id for a in audit] == [world.kunming.id, world.wuhua.id]
    assert "旧台账" not in audit[1].after and "12" in audit[1].after


def test_second_import_of_the_same_rows_is_a_no_op_and_a_change_updates(session, world):
    by = world.p(world.county_staff)
    sheet = rows(("530102", LAST_YEAR, "一季度", world.count.name, "5"))
    service.commit_history(session, by, service.plan_history(session, by, sheet))
    again = service.plan_history(session, by, sheet)
    assert again.counts == {"create": 0, "update": 0, "unchanged": 1}
    assert again.summary() == "没有改动"
    audits = session.scalar(select(AuditLog.id).order_by(AuditLog.id.desc()))
    service.commit_history(session, by, again)
    assert session.scalar(select(AuditLog.id).order_by(AuditLog.id.desc())) == audits
    assert len(world.entries()) == 1

    changed = service.plan_history(session, by, rows(("530102", LAST_YEAR, "一季度", world.count.name, "9")))
    assert changed.counts["update"] == 1 and changed.entries[0].before_text == "5"
    service.commit_history(session, by, changed)
    assert [e.value for e in world.entries()] == [9]
    assert _figure(session, "org", world.province, LAST_YEAR * 100 + 3, world.count) == 9
    assert rollup.check(session) == []


@pytest.mark.parametrize(("cells", "column", "message"), [
    (("", 2024, "3", "X", "1"), "组织代码", "缺少组织代码"),
    (("999999", 2024, "3", "X", "1"), "组织代码", "组织代码 999999 不存在"),
    (("53010", 2024, "3", "X", "1"), "组织代码", "格式不正确"),
    (("530300", 2024, "3", "X", "1"), "组织代码", "组织不在您的管理范围内：曲靖"),  # a sibling prefecture
    (("530102", "二〇二四", "3", "COUNT", "1"), "年份", "年份应为 2000 至"),
    (("530102", 1999, "3", "COUNT", "1"), "年份", "年份应为 2000 至"),
    (("530102", 2024, "13", "COUNT", "1"), "月份或季度", "月份或季度应为 1–12 的月份"),
    (("530102", 2024, "五季度", "COUNT", "1"), "月份或季度", "月份或季度应为 1–12 的月份"),
    (("530102", "NEXT", "1", "COUNT", "1"), "月份或季度", "不能录入未来的月份"),
    (("530102", 2024, "3", "", "1"), "指标", "请填写指标名称或编号"),
    (("530102", 2024, "3", "没有这个指标", "1"), "指标", "找不到指标「没有这个指标」"),
    (("530102", 2024, "3", "COUNT", ""), "数值", "请填写数值"),
    (("530102", 2024, "3", "COUNT", "-3"), "数值", "请填写不小于 0 的整数"),
    (("530102", 2024, "3", "COUNT", "2.5"), "数值", "请填写不小于 0 的整数"),
    (("530102", 2024, "3", "MONEY", "1.234"), "数值", "最多两位小数"),
    (("530102", 2024, "3", "COUNT", "1", "长" * 201), "备注", "备注不能超过 200 字"),
])
def test_each_bad_row_has_its_message(session, world, clock, cells, column, message):
    names = {"COUNT": world.count.name, "MONEY": world.money.name}
    cells = tuple(names.get(c, c) if isinstance(c, str) else c for c in cells)
    if cells[1] == "NEXT":
        # Next month of this year: in December there is none (next month is next year, refused by
        # 年份 first — see test_in_december_next_january_is_a_future_year), so stand in November.
        if today_cn().month == 12:
            clock.freeze_on(today_cn().replace(month=11, day=15))
        today = today_cn()
        cells = (cells[0], today.year, str(today.month + 1), *cells[3:])
    by = world.p(world.prefecture_staff)
    plan = service.plan_history(session, by, rows(cells, ("530102", 2024, "4", world.count.name, "1")))
    assert len(plan.errors) == 1
    error = plan.errors[0]
    assert (error.row, error.column) == (2, column) and message in error.message
    assert [e.row for e in plan.entries] == [3]
    with pytest.raises(Invalid, match="文件中有 1 处错误"):
        service.commit_history(session, by, plan)
    assert world.entries() == []


def test_in_december_next_january_is_a_future_year(session, world, clock):
    clock.freeze_on(today_cn().replace(month=12, day=15))
    year = today_cn().year
    plan = service.plan_history(session, world.p(world.prefecture_staff), rows(
        ("530102", year + 1, "1", world.count.name, "1"),
        ("530102", year, "12", world.count.name, "2"),  # this month: may be entered
    ))
    assert [(e.row, e.column) for e in plan.errors] == [(2, "年份")]
    assert f"年份应为 2000 至 {year} 之间" in plan.errors[0].message
    assert [e.month for e in plan.entries] == [year * 100 + 12]


def test_the_new_year_opens_at_midnight_beijing_time_not_utc(session, world, clock):
    year = today_cn().year
    by = world.p(world.prefecture_staff)

    def sheet():
        return rows(("530102", year + 1, "1", world.count.name, "1"),
                    ("530102", year, "四季度", world.count.name, "2"),
                    ("530102", year + 1, "2", world.count.name, "3"))

    clock.freeze(datetime(year, 12, 31, 23, 59, tzinfo=CN))
    before = service.plan_history(session, by, sheet())
    assert [(e.row, e.column) for e in before.errors] == [(2, "年份"), (4, "年份")]
    # 00:00 in Beijing is still the 31st, 16:00, in UTC: the new year is open, its February is not.
    clock.freeze(datetime(year + 1, 1, 1, 0, 0, tzinfo=CN))
    after = service.plan_history(session, by, sheet())
    assert [(e.row, e.column, e.message) for e in after.errors] == [(4, "月份或季度", "不能录入未来的月份")]
    assert [(e.month, e.span) for e in after.entries] == [((year + 1) * 100 + 1, 1), (year * 100 + 12, 3)]


def test_duplicates_and_quarter_beside_month_in_the_file_and_against_stored(session, world):
    by = world.p(world.county_staff)
    plan = service.plan_history(session, by, rows(
        ("530102", 2024, "3", world.count.name, "1"),
        ("530102", 2024, "3月", world.count.name, "2"),
        ("530102", 2024, "一季度", world.count.name, "3"),
        ("530102", 2024, "二季度", world.count.name, "3"),
    ))
    assert [(e.row, e.column, e.message) for e in plan.errors] == [
        (3, "月份或季度", "与第 2 行重复（同一组织、指标和月份）"),
        (4, "月份或季度", "与第 2 行重复（同一组织、指标和月份）"),  # 一季度 is stored on March
    ]
    plan = service.plan_history(session, by, rows(("530102", 2024, "二季度", world.count.name, "3")))
    service.commit_history(session, by, plan)
    plan = service.plan_history(session, by, rows(("530102", 2024, "5", world.count.name, "3")))
    assert [e.message for e in plan.errors] == ["已录入2024年第二季度的数据：同一指标不能既录季度数又录月度数"]


def test_stale_preview_and_permissions(session, world):
    by = world.p(world.county_staff)
    plan = service.plan_history(session, by, rows(("530102", 2024, "3", world.count.name, "1")))
    service.commit_history(session, by, service.plan_history(session, by, rows(
        ("530102", 2024, "3", world.count.name, "4"))))
    with pytest.raises(Conflict):
        service.commit_history(session, by, service.plan_history(session, by, rows(
            ("530102", 2024, "3", world.count.name, "1"))), expected=plan.fingerprint)
    with pytest.raises(Forbidden, match="只有「双助推」办公室人员"):
        service.plan_history(session, world.p(world.viewer), rows(("530102", 2024, "3", world.count.name, "1")))
    outsider = service.plan_history(session, world.p(world.outsider_staff),
                                    rows(("530102", 2024, "3", world.count.name, "1")))
    assert [e.column for e in outsider.errors] == ["组织代码"]
    # A county office cannot write its prefecture's figures.
    up = service.plan_history(session, by, rows(("530100", 2024, "3", world.count.name, "1")))
    assert [e.message for e in up.errors] == ["组织不在您的管理范围内：昆明市政协（530100）"]


def test_history_in_names_the_periods(session, world):
    by = world.p(world.prefecture_staff)
    service.commit_history(session, by, service.plan_history(session, by, rows(
        ("530102", 2024, "3", world.count.name, "1"),
        ("530100", 2024, "三季度", world.count.name, "1"),
    )))
    note = service.history_in(session, world.province.id, span(2024, 1, 12))
    assert note.text == "含汇总录入数据：2024年3月、2024年第三季度"
    assert service.history_in(session, world.kunming.id, span(2024, 1, 6)).text == "含汇总录入数据：2024年3月"
    assert service.history_in(session, world.panlong.id, span(2024, 1, 12)) is None
    assert service.history_in(session, world.province.id, span(2025, 1, 12)) is None
    assert service.history_in(session, world.wuhua.id, span(2024, 3, 3), scope="place") is not None
    assert service.history_in(session, world.kunming.id, span(2024, 7, 9)).text.endswith("第三季度")
    assert service.history_in(session, world.kunming.id, span(2024, 7, 9), scope="place") is None  # not a county
