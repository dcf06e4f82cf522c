"""数据管理 services: members (list, edit, phone uniqueness, transfer, end), the 重点帮扶县 flag, sites,
the catalogue and the report wording — scope (404 outside, 403 without the role), audit rows, the
rollup kept exact (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.activities import service as activities
from app.activities.schemas import ActivityInput
from app.boards import periods
from app.catalogue.service import current_campaign, indicators_for
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.manage import catalogue as cat
from app.manage import service
from app.models import (
    ActivityStatus,
    AuditLog,
    Indicator,
    Membership,
    RollupStamp,
    Site,
    SiteKind,
    Task,
    UserAccount,
)
from app.orgs.service import key_counties
from app.reports.service import build_report
from app.rollup import service as rollup
from tests import factories as f
from tests.manage.conftest import TODAY, YEAR

pytestmark = pytest.mark.dates


def _audit(world, action: str) -> list[AuditLog]:
    return list(world.s.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)))


def _edit(member, **overrides) -> service.MemberEdit:
    fields = {"name": member.name, "phone": member.phone, "sector": member.sector, "enterprise": "", "role": "member",
                  "title": "", "committee_id": None}
    return service.MemberEdit(**(fields | overrides))


# --- members: the list --------------------------------------------------------------------------

def test_the_list_is_the_callers_subtree_searchable_by_name_and_phone(world):
    panlong_member = f.make_member(world.s, world.panlong, name="盘龙委员")
    rows, total = service.list_members(world.s, world.p(world.county_staff), today=TODAY)
    names = {r.member.name for r in rows}
    assert {"王委员", "李委员"} <= names and "盘龙委员" not in names and total == len(rows)
    assert all(r.org.id == world.wuhua.id and r.current for r in rows)
    rows, _ = service.list_members(world.s, world.p(world.prefecture_staff), org_id=world.panlong.id, today=TODAY)
    assert [r.member.id for r in rows] == [panlong_member.id]
    rows, total = service.list_members(world.s, world.p(world.county_staff), q="王委", today=TODAY)
    assert [r.member.id for r in rows] == [world.alice.id] and total == 1
    rows, _ = service.list_members(world.s, world.p(world.county_staff), q=world.bob.phone[-6:], today=TODAY)
    assert [r.member.id for r in rows] == [world.bob.id]
    # Another prefecture's organisation is not a filter the caller may use.
    with pytest.raises(NotFound):
        service.list_members(world.s, world.p(world.county_staff), org_id=world.qilin.id)


def test_pagination_counts_every_member_once(world):
    for n in range(5):
        f.make_member(world.s, world.wuhua, name=f"翻页委员{n}")
    first, total = service.list_members(world.s, world.p(world.county_staff), q="翻页", per_page=3, today=TODAY)
    second, _ = service.list_members(world.s, world.p(world.county_staff), q="翻页", page=2, per_page=3, today=TODAY)
    assert total == 5 and len(first) == 3 and len(second) == 2
    assert not {r.member.id for r in first} & {r.member.id for r in second}


def test_outsiders_get_404_and_callers_without_the_role_403(world):
    for user in (world.outsider_staff,):
        with pytest.raises(NotFound):
            service.member_for_staff(world.s, world.p(user), world.alice.id)
        with pytest.raises(NotFound):
            service.transfer_member(world.s, world.p(user), world.alice.id, to_org_id=world.qilin.id, today=TODAY)
    for user in (world.viewer, world.member_user):
        with pytest.raises(Forbidden):
            service.member_for_staff(world.s, world.p(user), world.alice.id)
        with pytest.raises(Forbidden):
            service.end_membership(world.s, world.p(user), world.alice.id, today=TODAY)
        with pytest.raises(Forbidden):
            service.list_members(world.s, world.p(user))
    with pytest.raises(NotFound):  # no such member at all
        service.member_for_staff(world.s, world.p(world.county_staff), 10**9)


# --- members: editing ----------------------------------------------------------------------------

def test_editing_a_member_and_their_current_membership_is_audited(world):
    by = world.p(world.county_staff)
    service.update_member(world.s, by, world.alice.id, _edit(
        world.alice, name="王委员（改）", phone="１３９ ００００ ０００１", sector="农业界", enterprise="王氏茶厂",
        role="standing", title="副主任", committee_id=world.committee.id))
    world.s.refresh(world.alice)
    assert (world.alice.name, world.alice.phone, world.alice.sector, world.alice.enterprise) == (
        "王委员（改）", "13900000001", "农业界", "王氏茶厂")
    ms = world.s.scalar(select(Membership).where(Membership.member_id == world.alice.id))
    assert (ms.role, ms.title, ms.committee_id) == ("standing", "副主任", world.committee.id)
    # The account's login is the phone: it follows, and so does the name shown.
    account = world.s.get(UserAccount, world.alice_user.id)
    assert (account.login, account.display_name) == ("13900000001", "王委员（改）")
    [entry] = _audit(world, "member.update")
    assert entry.org_id == world.wuhua.id and entry.target_id == str(world.alice.id)
    assert "13900000001" in entry.after and "王氏茶厂" in entry.after
    # The same form again changes nothing and logs nothing.
    service.update_member(world.s, by, world.alice.id, _edit(
        world.alice, enterprise="王氏茶厂", role="standing", title="副主任", committee_id=world.committee.id))
    assert len(_audit(world, "member.update")) == 1


def test_industry_is_edited_audited_and_bounded(world):
    by = world.p(world.county_staff)
    service.update_member(world.s, by, world.alice.id, _edit(world.alice, industry=" 医疗卫生 "))
    world.s.refresh(world.alice)
    assert world.alice.industry == "医疗卫生"
    [entry] = _audit(world, "member.update")
    assert "医疗卫生" in entry.after and "industry" in entry.after
    with pytest.raises(Invalid) as got:
        service.update_member(world.s, by, world.alice.id, _edit(world.alice, industry="行" * 33))
    assert got.value.errors == {"industry": "行业不能超过 32 个字"}


def test_a_phone_in_use_is_refused_with_a_clear_message(world):
    by = world.p(world.county_staff)
    with pytest.raises(Conflict) as exc:
        service.update_member(world.s, by, world.alice.id, _edit(world.alice, phone=world.bob.phone))
    assert exc.value.code == "phone_taken" and "已被其他委员或账号使用" in exc.value.message
    assert exc.value.errors == {"phone": "该手机号已被其他委员或账号使用"}
    # A login of an account without a member counts too.
    with pytest.raises(Conflict):
        service.update_member(world.s, by, world.bob.id, _edit(world.bob, phone=world.county_staff.login))
    with pytest.raises(Invalid) as bad:
        service.update_member(world.s, by, world.bob.id, _edit(world.bob, phone="12345"))
    assert bad.value.errors["phone"] == "手机号应为 11 位数字（1 开头）"
    with pytest.raises(Invalid) as blank:
        service.update_member(world.s, by, world.bob.id, _edit(world.bob, name=" ", sector=""))
    assert set(blank.value.errors) == {"name", "sector"}
    assert not _audit(world, "member.update")


def test_a_committee_of_another_organisation_is_refused(world):
    from app.models import Committee

    other = Committee(org_id=world.panlong.id, name="外组织专委会")
    world.s.add(other)
    world.s.flush()
    with pytest.raises(Invalid) as exc:
        service.update_member(world.s, world.p(world.county_staff), world.alice.id,
                              _edit(world.alice, committee_id=other.id))
    assert "committee_id" in exc.value.errors


def test_a_county_office_cannot_change_the_login_of_an_account_ranked_above_it(world):
    from app.models import GrantRole, RoleGrant

    world.s.add(RoleGrant(user_id=world.alice_user.id, role=GrantRole.admin, org_id=world.province.id))
    world.s.flush()
    with pytest.raises(Forbidden):
        service.update_member(world.s, world.p(world.county_staff), world.alice.id, _edit(world.alice, phone="13900000009"))
    # Other fields stay editable; and the province administrator may change the phone.
    service.update_member(world.s, world.p(world.county_staff), world.alice.id, _edit(world.alice, sector="文艺界"))
    service.update_member(world.s, world.p(world.province_admin), world.alice.id, _edit(world.alice, phone="13900000009"))
    assert world.s.get(UserAccount, world.alice_user.id).login == "13900000009"


# --- members: transfer and end --------------------------------------------------------------------

def _took_part(world, member, on: date):
    """A verified activity of ``member``, through the activities service (keeps the year's
    participation counters in play)."""
    task = f.task(world.s)
    data = ActivityInput(task_id=task.id, county_id=world.wuhua.id, occurred_on=on, description="测试活动",
                         participant_member_ids=[member.id] if member.id != world.alice.id else [],
                         values={f.indicators(world.s, task)[0].id: "1"})
    done = activities.record_activity(world.s, by=world.p(world.alice_user), data=data,
                                      idempotency_key=f"k-{member.id}-{on}", today=TODAY)
    activities.verify(world.s, by=world.p(world.prefecture_staff), activity_id=done.activity.id,
                        note="已核实（补录较晚）")


def test_a_transfer_ends_the_old_membership_opens_one_in_the_targets_term_and_keeps_the_rollup_exact(world):
    _took_part(world, world.alice, date(YEAR, 3, 1))
    assert rollup.check(world.s) == []
    by = world.p(world.prefecture_staff)
    new = service.transfer_member(world.s, by, world.alice.id, to_org_id=world.panlong.id, role="standing", today=TODAY)
    assert (new.org_id, new.term_id, new.start_date, new.role) == (world.panlong.id, world.panlong_term.id, TODAY, "standing")
    old = world.s.scalar(select(Membership).where(Membership.member_id == world.alice.id, Membership.org_id == world.wuhua.id))
    assert old.end_date == TODAY - timedelta(days=1)
    assert rollup.check(world.s) == []
    row = service.member_for_staff(world.s, by, world.alice.id, today=TODAY)
    assert row.org.id == world.panlong.id and row.current
    [entry] = _audit(world, "member.transfer")
    assert entry.org_id == world.wuhua.id and str(world.panlong.id) in entry.after
    # 五华区's office no longer reaches the member; 盘龙区's list has them.
    with pytest.raises(NotFound):
        service.member_for_staff(world.s, world.p(world.county_staff), world.alice.id, today=TODAY)
    rows, _ = service.list_members(world.s, by, org_id=world.panlong.id, today=TODAY)
    assert world.alice.id in {r.member.id for r in rows}


def test_transfer_refusals(world):
    by = world.p(world.prefecture_staff)
    with pytest.raises(Invalid) as same:
        service.transfer_member(world.s, by, world.alice.id, to_org_id=world.wuhua.id, today=TODAY)
    assert same.value.code == "same_org"
    with pytest.raises(NotFound):  # outside 昆明
        service.transfer_member(world.s, by, world.alice.id, to_org_id=world.qilin.id, today=TODAY)
    with pytest.raises(Invalid) as no_term:  # 昆明 itself has no term yet
        service.transfer_member(world.s, by, world.alice.id, to_org_id=world.kunming.id, today=TODAY)
    assert no_term.value.code == "no_current_term" and "没有在任的届次" in no_term.value.message
    with pytest.raises(Invalid):
        service.transfer_member(world.s, by, world.alice.id, to_org_id=world.panlong.id, on=TODAY + timedelta(days=1),
                                today=TODAY)
    with pytest.raises(Invalid):
        service.transfer_member(world.s, by, world.alice.id, to_org_id=world.panlong.id, on=date(2022, 1, 1), today=TODAY)
    # A county office cannot send a member to a sibling county.
    with pytest.raises(NotFound):
        service.transfer_member(world.s, world.p(world.county_staff), world.alice.id, to_org_id=world.panlong.id,
                                today=TODAY)
    # There and back within one term: the seat in 盘龙区's 第1届 is taken already.
    service.transfer_member(world.s, by, world.alice.id, to_org_id=world.panlong.id, on=date(YEAR, 6, 1), today=TODAY)
    # Back to 五华区 in the same 第1届, which holds the member's first seat: refused.
    with pytest.raises(Conflict) as again:
        service.transfer_member(world.s, by, world.alice.id, to_org_id=world.wuhua.id, on=date(YEAR, 9, 1), today=TODAY)
    assert again.value.code == "already_in_term"
    assert rollup.check(world.s) == []
    assert len(_audit(world, "member.transfer")) == 1


def test_ending_a_membership_keeps_history_and_the_rollup_exact(world):
    _took_part(world, world.bob, date(YEAR, 2, 1))
    by = world.p(world.county_staff)
    ms = service.end_membership(world.s, by, world.bob.id, on=date(YEAR, 6, 30), reason="换届未连任", today=TODAY)
    assert ms.end_date == date(YEAR, 6, 30)
    assert rollup.check(world.s) == []
    rows, _ = service.list_members(world.s, by, today=TODAY)
    assert world.bob.id not in {r.member.id for r in rows}
    row = service.member_for_staff(world.s, by, world.bob.id, today=TODAY)  # still reachable, not current
    assert not row.current and row.membership.id == ms.id
    [entry] = _audit(world, "membership.end")
    assert "换届未连任" in entry.after and entry.org_id == world.wuhua.id
    with pytest.raises(Conflict):  # nothing current to end or transfer
        service.end_membership(world.s, by, world.bob.id, today=TODAY)
    with pytest.raises(Conflict):
        service.transfer_member(world.s, world.p(world.prefecture_staff), world.bob.id, to_org_id=world.panlong.id,
                                today=TODAY)


def test_an_end_date_in_the_future_or_before_the_start_is_refused(world):
    by = world.p(world.county_staff)
    with pytest.raises(Invalid):
        service.end_membership(world.s, by, world.bob.id, on=TODAY + timedelta(days=1), today=TODAY)
    with pytest.raises(Invalid) as early:
        service.end_membership(world.s, by, world.bob.id, on=date(2022, 12, 31), today=TODAY)
    assert early.value.code == "before_start"
    assert not _audit(world, "membership.end")


# --- organisations --------------------------------------------------------------------------------

def _stamp(world, scope: str, unit: int) -> int:
    return world.s.scalar(select(RollupStamp.version).where(RollupStamp.scope == scope, RollupStamp.unit_id == unit)) or 0


def test_the_province_flags_a_key_county_and_open_boards_are_told(world):
    before_org, before_place = _stamp(world, "org", world.province.id), _stamp(world, "place", world.panlong.id)
    assert world.panlong.id not in {o.id for o in key_counties(world.s, world.province.id)}
    service.set_key_county(world.s, world.p(world.province_staff), world.panlong.id, value=True)
    assert world.panlong.id in {o.id for o in key_counties(world.s, world.province.id)}
    assert _stamp(world, "org", world.province.id) > before_org and _stamp(world, "place", world.panlong.id) > before_place
    [entry] = _audit(world, "org.key_county")
    assert entry.org_id == world.panlong.id and '"is_key_county": true' in entry.after
    service.set_key_county(world.s, world.p(world.province_staff), world.panlong.id, value=True)  # repeated: no-op
    assert len(_audit(world, "org.key_county")) == 1
    service.set_key_county(world.s, world.p(world.province_admin), world.panlong.id, value=False)
    assert world.panlong.id not in {o.id for o in key_counties(world.s, world.province.id)}


def test_only_the_province_designates_key_counties_and_only_counties(world):
    with pytest.raises(Forbidden) as exc:
        service.set_key_county(world.s, world.p(world.prefecture_staff), world.panlong.id, value=True)
    assert exc.value.code == "province_only"
    with pytest.raises(NotFound):
        service.set_key_county(world.s, world.p(world.outsider_staff), world.panlong.id, value=True)
    with pytest.raises(Forbidden):
        service.set_key_county(world.s, world.p(world.viewer), world.panlong.id, value=True)
    with pytest.raises(Invalid):
        service.set_key_county(world.s, world.p(world.province_staff), world.kunming.id, value=True)
    assert not service.may_flag_key_counties(world.s, world.p(world.county_staff))
    rows, total = service.list_orgs(world.s, world.p(world.prefecture_staff))
    assert total == len(rows) and {o.id for o, _ in rows} >= {world.kunming.id, world.wuhua.id}
    assert world.qilin.id not in {o.id for o, _ in rows}


# --- sites ------------------------------------------------------------------------------------------

def test_adding_and_renaming_sites_under_a_county(world):
    by = world.p(world.county_staff)
    site = service.add_site(world.s, by, world.wuhua.id, code="WH-DEMO-1", name="五华示范点", kind="demo_site")
    assert (site.county_id, site.kind, site.parent_id) == (world.wuhua.id, SiteKind.demo_site, None)
    town = world.s.scalar(select(Site).where(Site.county_id == world.wuhua.id, Site.kind == SiteKind.town))
    village = service.add_site(world.s, by, world.wuhua.id, code="WH-V-1", name="新村", kind="village", parent_id=town.id)
    assert village.parent_id == town.id
    with pytest.raises(Conflict) as taken:
        service.add_site(world.s, by, world.wuhua.id, code="WH-DEMO-1", name="另一个", kind="studio")
    assert taken.value.code == "site_code_taken"
    with pytest.raises(Invalid):  # a village needs its town
        service.add_site(world.s, by, world.wuhua.id, code="WH-V-2", name="无乡村", kind="village")
    with pytest.raises(Invalid):
        service.add_site(world.s, by, world.wuhua.id, code="含 空格", name="x", kind="studio")
    service.rename_site(world.s, by, site.id, name="五华区示范点（更名）")
    assert world.s.get(Site, site.id).name == "五华区示范点（更名）"
    assert [e.action for e in _audit(world, "site.create")] == ["site.create", "site.create"]
    [renamed] = _audit(world, "site.rename")
    assert "五华示范点" in renamed.before and renamed.org_id == world.wuhua.id
    rows, total = service.list_sites(world.s, by, world.wuhua.id, q="WH-")
    assert total == 2 and {s.code for s, _ in rows} == {"WH-DEMO-1", "WH-V-1"}


def test_sites_outside_the_subtree_are_not_found(world):
    site = world.s.scalar(select(Site).where(Site.county_id == world.panlong.id))
    with pytest.raises(NotFound):
        service.rename_site(world.s, world.p(world.county_staff), site.id, name="x")
    with pytest.raises(NotFound):
        service.add_site(world.s, world.p(world.county_staff), world.panlong.id, code="X1", name="x", kind="studio")
    with pytest.raises(Forbidden):
        service.rename_site(world.s, world.p(world.member_user), world.s.scalar(
            select(Site.id).where(Site.county_id == world.wuhua.id)), name="x")
    with pytest.raises(Invalid):  # sites live under counties
        service.add_site(world.s, world.p(world.prefecture_staff), world.kunming.id, code="X2", name="x", kind="studio")


# --- the catalogue ---------------------------------------------------------------------------------

def _area(world) -> int:
    _, _, areas = cat.catalogue_view(world.s, world.p(world.province_admin))
    return areas[0].id


def test_a_prefecture_adds_indicators_of_its_own_seen_only_in_its_subtree(world):
    by = world.p(world.prefecture_staff)
    assert [o.id for o in cat.owner_options(world.s, by)] == [world.kunming.id]
    assert cat.owner_options(world.s, by, tasks=True) == []
    # Tasks are the province's: a prefecture adds indicators.
    with pytest.raises(Forbidden) as exc:
        cat.create_task(world.s, by, owner_org_id=world.kunming.id, data=cat.TaskForm(
            name="开展思想道德教育和政策宣传活动", short_name="政策宣传", area_id=_area(world)))
    assert exc.value.code == "catalogue_owner_only"
    task = cat.create_task(world.s, world.p(world.province_admin), owner_org_id=world.province.id, data=cat.TaskForm(
        name="开展思想道德教育和政策宣传活动", short_name="政策宣传", narrative_prefix="", area_id=_area(world)))
    assert task.sort_order == 11 and task.owner_org_id == world.province.id
    ind = cat.create_indicator(world.s, by, task_id=task.id, owner_org_id=world.kunming.id, data=cat.IndicatorForm(
        name="宣传活动", unit="次", kind="count", narrative="开展政策宣传活动{value}{unit}"))
    campaign = current_campaign(world.s)
    assert ind.id in {i.id for i in indicators_for(world.s, world.wuhua.id, campaign.id)}
    assert ind.id not in {i.id for i in indicators_for(world.s, world.qilin.id, campaign.id)}
    # A money indicator of its own under a province task: the unit is 万元 whatever was typed.
    money = cat.create_indicator(world.s, by, task_id=f.task(world.s, 1).id, owner_org_id=world.kunming.id,
                                 data=cat.IndicatorForm(name="昆明投入", unit="元", kind="money", narrative=""))
    assert (money.unit, money.narrative) == ("万元", "昆明投入{value}{unit}")
    assert [e.target_id for e in _audit(world, "indicator.create")] == [str(ind.id), str(money.id)]
    assert [e.target_id for e in _audit(world, "task.create")] == [str(task.id)]
    # Duplicates are refused in words.
    with pytest.raises(Conflict):
        cat.create_indicator(world.s, by, task_id=task.id, owner_org_id=world.kunming.id,
                             data=cat.IndicatorForm(name="宣传活动", unit="次", kind="count"))
    # 昆明 changes its own; 曲靖 neither sees nor edits it; 昆明 may not touch the province's.
    cat.update_indicator(world.s, by, ind.id, cat.IndicatorForm(name="政策宣传活动", unit="场",
                                                                narrative="开展政策宣传{value}{unit}"))
    assert (world.s.get(Indicator, ind.id).name, world.s.get(Indicator, ind.id).unit) == ("政策宣传活动", "场")
    with pytest.raises(NotFound):
        cat.indicator_for_edit(world.s, world.p(world.outsider_staff), ind.id)
    _, seen, _ = cat.catalogue_view(world.s, world.p(world.outsider_staff))
    assert ind.id not in {i.id for t in seen for i, _, _ in t.indicators}
    with pytest.raises(Forbidden):
        cat.update_task(world.s, by, f.task(world.s, 1).id, cat.TaskForm(name="x", short_name="x", area_id=_area(world)))
    with pytest.raises(Forbidden):
        cat.update_indicator(world.s, by, f.indicators(world.s, f.task(world.s, 1))[0].id,
                             cat.IndicatorForm(name="x", unit="个", narrative="x{value}"))
    with pytest.raises(Forbidden):  # a county office owns no catalogue
        cat.create_indicator(world.s, world.p(world.county_staff), task_id=task.id, owner_org_id=world.wuhua.id,
                             data=cat.IndicatorForm(name="x", unit="次"))


def test_indicator_phrases_must_say_the_value(world):
    by = world.p(world.province_admin)
    ind = f.indicators(world.s, f.task(world.s, 1))[0]
    for bad in ("发展产业项目", "发展{count}个", "发展{value", "{value}{unit}{extra}"):
        with pytest.raises(Invalid) as exc:
            cat.update_indicator(world.s, by, ind.id, cat.IndicatorForm(name=ind.name, unit=ind.unit, narrative=bad))
        assert "narrative" in exc.value.errors
    with pytest.raises(Forbidden):  # province staff: not an administrator
        cat.update_indicator(world.s, world.p(world.province_staff), ind.id,
                             cat.IndicatorForm(name="x", unit="个", narrative="x{value}"))


@pytest.mark.parametrize("bad", ["开展{value:>20000000}{unit}", "开展{value!r}{unit}", "开展{value.__class__}{unit}",
                                 "开展{value[0]}{unit}", "开展{value}{unit:>99}", "开展{}{value}"])
def test_indicator_phrases_refuse_format_specs_and_attribute_access(world, bad):
    """Issue 15: ``开展{value:>20000000}{unit}`` made the report 20 MB; only bare {value}/{unit} are taken."""
    by = world.p(world.province_admin)
    ind = f.indicators(world.s, f.task(world.s, 1))[0]
    with pytest.raises(Invalid) as exc:
        cat.update_indicator(world.s, by, ind.id, cat.IndicatorForm(name=ind.name, unit=ind.unit, narrative=bad))
    assert "花括号里只能写占位符的名称" in exc.value.errors["narrative"] or "花括号须成对" in exc.value.errors["narrative"]


def test_wording_refuses_format_specs(world):
    by = world.p(world.province_admin)
    for bad in ("{scope:>999999999}开展", "{scope!r}开展", "{when.year}"):
        with pytest.raises(Invalid) as exc:
            cat.set_wording(world.s, by, key="opening", text=bad)
        assert exc.value.code == "wording_invalid" and "不能加格式" in exc.value.message


def test_catalogue_wording_edits_show_in_the_built_report(world):
    by = world.p(world.province_admin)
    task = f.task(world.s, 1)
    projects, services = f.indicators(world.s, task)
    f.make_activity(world.s, recorder=world.alice_user, credited=world.wuhua, county=world.wuhua, task_=task,
                    values={projects.id: 2, services.id: 5}, occurred_on=date(YEAR, 5, 4), status=ActivityStatus.verified,
                    participants=(world.alice,))
    cat.update_task(world.s, by, task.id, cat.TaskForm(name=task.name, short_name=task.short_name,
                                                       narrative_prefix="助力脱贫地区", area_id=task.area_id))
    cat.update_indicator(world.s, by, projects.id, cat.IndicatorForm(name="发展产业项目", unit="项",
                                                                     narrative="培育特色产业项目{value}{unit}"))
    cat.set_wording(world.s, by, key="opening", text="截至目前，{scope}各级政协{when}共同推进实事：")
    report = build_report(world.s, world.wuhua, periods.parse(f"{YEAR}-ytdq3", TODAY))
    first = report["paragraphs"][0][0]
    assert first.startswith(f"截至目前，全区各级政协自{YEAR}年初截至第三季度末共同推进实事：")
    assert "助力脱贫地区培育特色产业项目2项，提供技术服务5次。" in first
    assert [e.action for e in _audit(world, "task.update")] == ["task.update"]
    [w] = _audit(world, "wording.set")
    assert w.target_id == "opening" and w.org_id == world.province.id
    # Cleared: back to the file's default.
    cat.set_wording(world.s, by, key="opening", text="  ")
    report = build_report(world.s, world.wuhua, periods.parse(f"{YEAR}-ytdq3", TODAY))
    assert report["paragraphs"][0][0].startswith(f"据统计，自{YEAR}年初截至第三季度末，全区政协组织和委员持续开展")
    assert [e.action for e in _audit(world, "wording.clear")] == ["wording.clear"]


def test_wording_placeholders_are_checked_and_only_province_admins_edit(world):
    by = world.p(world.province_admin)
    for bad in ("{who}开展了", "据统计{when", "{0}"):
        with pytest.raises(Invalid) as exc:
            cat.set_wording(world.s, by, key="opening", text=bad)
        assert exc.value.code == "wording_invalid"
    with pytest.raises(Invalid):
        cat.set_wording(world.s, by, key="no_such_sentence", text="x")
    for user in (world.province_staff, world.prefecture_staff):
        with pytest.raises(Forbidden):
            cat.set_wording(world.s, world.p(user), key="opening", text="{scope}")
    _, rows = cat.wording_rows(world.s, by)
    opening = next(r for r in rows if r.key == "opening")
    assert opening.override is None and set(opening.fields) == {"campaign", "scope", "when"}
    assert not _audit(world, "wording.set")
    assert world.s.scalar(select(Task.id).where(Task.name == "x")) is None
