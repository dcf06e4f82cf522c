"""The rules of annual targets: the grid, who may set what, valid values, all-or-nothing, audit."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from app.errors import Forbidden, Invalid, NotFound
from app.models import AnnualTarget, AuditLog, Indicator
from app.orgs.service import children
from app.targets import service
from tests.targets.conftest import YEAR

pytestmark = pytest.mark.dates


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def _audits(session, action: str | None = None) -> list[AuditLog]:
    stmt = select(AuditLog).where(AuditLog.target_type == "annual_target").order_by(AuditLog.id)
    if action:
        stmt = stmt.where(AuditLog.action == action)
    return list(session.scalars(stmt))


# --- the grid ---------------------------------------------------------------------------------------

def test_grid_rows_are_the_org_and_one_level_down(session, world):
    grid = service.target_grid(session, world.p(world.prefecture_staff), org=world.kunming, year=YEAR)
    names = [r.org.code for r in grid.rows]
    assert names[0] == "530100" and grid.rows[0].is_self
    assert names[1:] == [o.code for o in children(session, world.kunming.id)] and "530102" in names
    assert not any(r.is_self for r in grid.rows[1:])
    assert grid.editable


def test_grid_columns_are_the_catalogue_grouped_by_task_with_units(session, world):
    grid = service.target_grid(session, world.p(world.prefecture_staff), org=world.kunming, year=YEAR)
    # Every effort indicator; outcome indicators (成效) carry no target.
    all_indicators = session.scalar(select(func.count()).select_from(Indicator).where(Indicator.is_outcome.is_(False)))
    assert len(grid.columns) == all_indicators == 17
    assert [g.task.sort_order for g in grid.groups] == sorted(g.task.sort_order for g in grid.groups)
    assert len(grid.groups) == 10
    medical = next(g for g in grid.groups if g.task.id == world.count.task_id)
    assert [c.id for c in medical.columns] == [i.id for i in world.indicators]
    assert world.money.id in {c.id for c in medical.columns}
    money = next(c for c in grid.columns if c.id == world.money.id)
    assert money.is_money and money.header == f"{world.money.name}（万元）"


def test_grid_shows_stored_values_and_the_childrens_sum(session, world):
    world.put(world.kunming, world.money, 100_00)  # 100 万元
    world.put(world.wuhua, world.money, 80_50)
    world.put(world.panlong, world.money, 30_00)  # 110.5 万元 > 100: a warning, not a refusal
    grid = service.target_grid(session, world.p(world.prefecture_staff), org=world.kunming, year=YEAR)
    cell = next(c for c in grid.rows[0].cells if c.column.id == world.money.id)
    assert (cell.value, cell.text) == (10000, "100")
    wuhua = next(r for r in grid.rows if r.org.id == world.wuhua.id)
    assert next(c for c in wuhua.cells if c.column.id == world.money.id).text == "80.5"
    assert grid.child_sums[world.money.id] == "110.5"
    assert grid.warnings[world.money.id] == "下级目标合计 110.5万元，高于本级目标 100万元"
    assert world.count.id not in grid.warnings


def test_a_county_grid_has_only_itself(session, world):
    grid = service.target_grid(session, world.p(world.county_staff), org=world.wuhua, year=YEAR)
    assert [r.org.id for r in grid.rows] == [world.wuhua.id] and not grid.warnings


def test_the_grid_is_scoped(session, world):
    with pytest.raises(NotFound):
        service.target_grid(session, world.p(world.county_staff), org=world.kunming, year=YEAR)
    viewer_grid = service.target_grid(session, world.p(world.viewer), org=world.kunming, year=YEAR)
    assert not viewer_grid.editable  # readers see targets, only staff set them


def test_default_org_is_the_top_staff_org(session, world):
    assert service.default_org(session, world.p(world.prefecture_staff)).id == world.kunming.id
    assert service.default_org(session, world.p(world.province_admin)).id == world.province.id
    with pytest.raises(Forbidden):
        service.default_org(session, world.p(world.member))


def test_years_outside_the_sane_range_are_refused(session, world):
    low, high = service.year_bounds()
    assert (low, high) == (2020, YEAR + 1)
    for year in (2019, YEAR + 2):
        with pytest.raises(Invalid) as exc:
            service.target_grid(session, world.p(world.prefecture_staff), org=world.kunming, year=year)
        assert exc.value.message == f"年份须在 2020 至 {YEAR + 1} 年之间"


# --- setting targets ----------------------------------------------------------------------------------

def test_staff_set_their_own_and_their_childrens_targets_with_audit(session, world):
    by = world.p(world.prefecture_staff)
    plan = service.save_targets(session, by, year=YEAR, cells={
        (world.kunming.id, world.count.id): "120",
        (world.wuhua.id, world.money.id): "12.5",
        (world.wuhua.id, world.count.id): "１，０００",  # full-width digits and a separator, as typed on a phone
    })
    assert plan.counts == {"create": 3, "update": 0, "unchanged": 0, "clear": 0}
    assert world.target(world.kunming, world.count) == 120
    assert world.target(world.wuhua, world.money) == 1250
    assert world.target(world.wuhua, world.count) == 1000
    row = session.scalar(select(AnnualTarget).where(AnnualTarget.org_id == world.kunming.id))
    assert row.set_by_user_id == world.prefecture_staff.id
    entries = _audits(session, "target.set")
    assert len(entries) == 3 and all(e.actor_user_id == world.prefecture_staff.id for e in entries)
    money = next(e for e in entries if e.org_id == world.wuhua.id and e.target_id.endswith(f":{world.money.id}:{YEAR}"))
    assert money.before is None
    assert json.loads(money.after) == {"year": YEAR, "org": world.wuhua.name, "indicator": world.money.name,
                                       "value": "12.5", "unit": "万元"}


def test_changing_and_clearing_are_audited_with_before_and_after(session, world):
    world.put(world.wuhua, world.count, 10)
    world.put(world.wuhua, world.money, 500)
    by = world.p(world.county_staff)
    plan = service.save_targets(session, by, year=YEAR, cells={
        (world.wuhua.id, world.count.id): "12", (world.wuhua.id, world.money.id): "  "})
    assert plan.counts == {"create": 0, "update": 1, "unchanged": 0, "clear": 1}
    assert world.target(world.wuhua, world.count) == 12 and world.target(world.wuhua, world.money) is None
    update, = _audits(session, "target.set")
    assert json.loads(update.before)["value"] == "10" and json.loads(update.after)["value"] == "12"
    clear, = _audits(session, "target.clear")
    assert json.loads(clear.before)["value"] == "5" and clear.after is None


def test_an_unchanged_value_writes_nothing(session, world):
    world.put(world.wuhua, world.money, 1250)
    plan = service.save_targets(session, world.p(world.county_staff), year=YEAR,
                                cells={(world.wuhua.id, world.money.id): "12.50"})
    assert plan.counts["unchanged"] == 1 and not plan.effective and plan.summary() == "没有改动"
    assert _audits(session) == []


def test_a_blank_where_there_is_no_target_is_no_change(session, world):
    plan = service.save_targets(session, world.p(world.county_staff), year=YEAR,
                                cells={(world.wuhua.id, world.count.id): ""})
    assert not plan.effective and _count(session, AnnualTarget) == 0


@pytest.mark.parametrize("who, code", [("county_staff", "530100"), ("county_staff", "530103"),
                                       ("prefecture_staff", "530000"), ("prefecture_staff", "530302")])
def test_nobody_sets_targets_above_or_beside_their_scope(session, world, who, code):
    from tests import factories as f

    org = f.org(session, code)
    with pytest.raises((Forbidden, NotFound)):
        service.save_targets(session, world.p(getattr(world, who)), year=YEAR,
                             cells={(org.id, world.count.id): "5"})
    assert _count(session, AnnualTarget) == 0 and _audits(session) == []


def test_a_reader_of_the_org_is_still_refused_with_a_reason(session, world):
    # The province's staff read all of it; a prefecture's staff read only their subtree. A viewer
    # reads the province but may set nothing.
    with pytest.raises(Forbidden) as exc:
        service.save_targets(session, world.p(world.viewer), year=YEAR, cells={(world.kunming.id, world.count.id): "5"})
    assert exc.value.message == service.STAFF_ONLY
    with pytest.raises(Forbidden):
        service.save_targets(session, world.p(world.member), year=YEAR, cells={(world.wuhua.id, world.count.id): "5"})
    assert _count(session, AnnualTarget) == 0


def test_a_staff_member_with_a_viewer_grant_above_is_refused_above(session, world):
    from tests import factories as f

    mixed = f.make_user(session, grants=((f.GrantRole.staff, world.wuhua), (f.GrantRole.viewer, world.kunming)))
    with pytest.raises(Forbidden) as exc:
        service.save_targets(session, world.p(mixed), year=YEAR, cells={(world.kunming.id, world.count.id): "5"})
    assert "不在您的管辖范围内" in exc.value.message and exc.value.code == "target_out_of_scope"


@pytest.mark.parametrize("indicator, raw, message", [
    ("count", "-3", "目标不能为负数"),
    ("money", "-0.5", "目标不能为负数"),
    ("count", "2.5", "请填写整数（单位：次），不能有小数"),
    ("money", "1.234", "金额最多两位小数（单位：万元）"),
    ("count", "abc", "请填写不小于 0 的整数（单位：次）"),
    ("money", "十万", "请填写金额，单位万元，最多两位小数（如 8 或 12.5）"),
    ("count", "99999999999", "数值过大，请核对"),
])
def test_bad_values_are_refused_each_with_its_message_and_nothing_is_written(session, world, indicator, raw, message):
    target = getattr(world, indicator)
    cells = {(world.wuhua.id, target.id): raw, (world.kunming.id, world.count.id): "7"}  # a good cell beside it
    with pytest.raises(Invalid) as exc:
        service.save_targets(session, world.p(world.prefecture_staff), year=YEAR, cells=cells)
    assert exc.value.code == "invalid_targets"
    assert exc.value.errors == {f"{world.wuhua.id}-{target.id}": f"{target.name}：{message}"}
    assert "全部未保存" in exc.value.message
    assert _count(session, AnnualTarget) == 0 and _audits(session) == []


def test_an_indicator_outside_the_catalogue_is_refused(session, world):
    with pytest.raises(Invalid) as exc:
        service.save_targets(session, world.p(world.county_staff), year=YEAR, cells={(world.wuhua.id, 999_999): "1"})
    assert list(exc.value.errors.values()) == ["该指标不属于当前活动目录，或不适用于该组织"]


def test_a_wrong_year_is_refused(session, world):
    with pytest.raises(Invalid):
        service.save_targets(session, world.p(world.county_staff), year=2019, cells={(world.wuhua.id, world.count.id): "1"})


def test_targets_of_different_years_are_separate(session, world):
    by = world.p(world.county_staff)
    service.save_targets(session, by, year=YEAR, cells={(world.wuhua.id, world.count.id): "5"})
    service.save_targets(session, by, year=YEAR + 1, cells={(world.wuhua.id, world.count.id): "8"})
    assert (world.target(world.wuhua, world.count), world.target(world.wuhua, world.count, YEAR + 1)) == (5, 8)


# --- what the page showed ------------------------------------------------------------------------------

def test_a_cell_typed_back_as_shown_is_not_a_change(session, world):
    world.put(world.wuhua, world.count, 10)
    by = world.p(world.prefecture_staff)
    # Loaded when the target was 10; meanwhile a colleague set it to 11; this save did not touch it.
    session.execute(AnnualTarget.__table__.update().values(value=11))
    plan = service.save_targets(session, by, year=YEAR,
                                cells={(world.wuhua.id, world.count.id): "10", (world.kunming.id, world.count.id): "40"},
                                shown={(world.wuhua.id, world.count.id): "10", (world.kunming.id, world.count.id): ""})
    assert [(c.org.id, c.action) for c in plan.changes] == [(world.kunming.id, "create")]
    assert world.target(world.wuhua, world.count) == 11  # the colleague's value stands


def test_a_cell_changed_here_and_meanwhile_elsewhere_is_refused(session, world):
    world.put(world.wuhua, world.count, 10)
    session.execute(AnnualTarget.__table__.update().values(value=11))
    with pytest.raises(Invalid) as exc:
        service.save_targets(session, world.p(world.county_staff), year=YEAR,
                             cells={(world.wuhua.id, world.count.id): "15"},
                             shown={(world.wuhua.id, world.count.id): "10"})
    assert list(exc.value.errors.values()) == ["该目标刚被他人改为「11」，请核对后再保存"]
    assert world.target(world.wuhua, world.count) == 11


def test_the_plan_fingerprint_follows_the_stored_values(session, world):
    by = world.p(world.county_staff)
    values = {(world.wuhua.id, world.count.id): 5}
    orgs = {world.wuhua.id: world.wuhua}
    first = service.plan_targets(session, by, year=YEAR, values=values, orgs=orgs).fingerprint
    assert service.plan_targets(session, by, year=YEAR, values=values, orgs=orgs).fingerprint == first
    world.put(world.wuhua, world.count, 3)
    assert service.plan_targets(session, by, year=YEAR, values=values, orgs=orgs).fingerprint != first


def test_a_new_target_moves_the_open_boards_of_the_org_and_its_parent(session, world):
    from app.boards.service import version

    units = {o.id: [("org", o.id)] for o in (world.kunming, world.wuhua, world.province)}
    before = {o: version(session, u) for o, u in units.items()}
    service.save_targets(session, world.p(world.prefecture_staff), year=YEAR,
                         cells={(world.wuhua.id, world.count.id): "30"})
    after = {o: version(session, u) for o, u in units.items()}
    assert after[world.wuhua.id] > before[world.wuhua.id] and after[world.kunming.id] > before[world.kunming.id]
    assert after[world.province.id] == before[world.province.id]  # its board does not show 五华区's target
