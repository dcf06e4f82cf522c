"""Import kind assignments: leader × place × start date, the links module's rules, re-import a no-op."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import func, select

from app.clock import today_cn
from app.errors import DomainError
from app.links import service as links
from app.links.schemas import LinkChange, LinkCreate
from app.models import AuditLog, LinkAssignment, MemberRole, Site
from tests import factories as f
from tests.imports.conftest import fill

pytestmark = pytest.mark.dates

START = date(today_cn().year, 1, 1).isoformat()


def _links(session, leader):
    return list(session.scalars(select(LinkAssignment).where(LinkAssignment.leader_member_id == leader.id)
                                .order_by(LinkAssignment.start_date)))


def test_good_then_no_op_then_update(session, world):
    leader = f.make_member(session, world.kunming, name="钱主席", role=MemberRole.chair_council)
    town = session.scalar(select(Site).where(Site.code == "530102001"))
    rows = [[leader.phone, "钱主席", "530102", "挂联领导", START],
            [leader.phone, "", "530102001", "联络员", START, "", "乡镇"]]
    data = fill(session, world.prefecture_staff, "assignments", rows)
    plan = world.preview(world.prefecture_staff, "assignments", data)
    assert plan.errors == [] and (plan.created, plan.updated, plan.unchanged) == (2, 0, 0)
    world.commit(world.prefecture_staff, "assignments", data)
    made = _links(session, leader)
    assert {(k.county_id, k.site_id, k.role) for k in made} == {(world.wuhua.id, None, "lead"),
                                                                  (world.wuhua.id, town.id, "liaison")}
    again = world.preview(world.prefecture_staff, "assignments", data)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    changed = fill(session, world.prefecture_staff, "assignments",
                   [[leader.phone, "", "530102", "挂联领导", START, "", "新备注"]])
    plan = world.preview(world.prefecture_staff, "assignments", changed)
    assert (plan.created, plan.updated) == (0, 1)
    world.commit(world.prefecture_staff, "assignments", changed)
    assert session.scalar(select(func.count()).select_from(LinkAssignment).where(
        LinkAssignment.leader_member_id == leader.id)) == 2


def test_errors(session, world):
    leader = f.make_member(session, world.kunming, name="孙主席", role=MemberRole.chair_council)
    plain = f.make_member(session, world.wuhua, name="普通委员")
    rows = [
        ["13912349999", "", "530102", "", START],  # 3 unknown phone
        [leader.phone, "别人", "530102", "", START],  # 4 name does not match
        [plain.phone, "", "530102", "", START],  # 5 not a leader
        [leader.phone, "", "530100", "", START],  # 6 not a county
        [leader.phone, "", "530302", "", START],  # 7 outside (曲靖's county)
        [leader.phone, "", "530102", "组长", START],  # 8 bad role
        [leader.phone, "", "530103", "", "2026-02-30"],  # 9 bad date
        [leader.phone, "", "530103", "", START, START],  # 10 end not after start
        [leader.phone, "", "530111", "", START],  # 11
        [leader.phone, "", "530111", "", START],  # 12 overlaps row 11
    ]
    plan = world.preview(world.prefecture_staff, "assignments", fill(session, world.prefecture_staff, "assignments", rows))
    got = {(e.row, e.column): e.message for e in plan.errors}
    assert got[(3, "领导手机号")] == "手机号 13912349999 不是已登记的委员（请先导入委员名单）"
    assert got[(4, "领导姓名")] == "姓名与手机号不符：该手机号登记的委员是孙主席"
    assert got[(5, "领导手机号")].startswith("普通委员不是五华区政协或其上级政协现任的主席会议成员或领导职务")
    assert got[(6, "挂联地点代码")].endswith("不是县级政协：请填写县或其乡镇/村/示范点的代码")
    assert got[(7, "挂联地点代码")] == _refusal(session, world.prefecture_staff, leader, "530302")  # links.service's words
    assert got[(8, "挂联身份")] == "挂联身份「组长」不正确，应为：挂联领导、联络员"
    assert "无法识别" in got[(9, "开始日期")]
    assert got[(10, "结束日期")] == "结束日期须晚于开始日期"
    assert got[(12, "开始日期")] == "与第 11 行是同一领导同一地点，时间重叠"
    assert len(plan.errors) == 9


def _refusal(session, by, leader, county_code) -> str:
    """What links.service answers the page when ``by`` links ``leader`` to that county."""
    with pytest.raises(DomainError) as exc:
        links.plan_link(session, by=by, data=LinkCreate(leader_member_id=leader.id, county_id=f.org(session, county_code).id))
    assert exc.value.code in {"not_found", "place_out_of_scope"}
    return exc.value.message


def _entries(session, *actions):
    return list(session.scalars(select(AuditLog).where(AuditLog.action.in_(actions)).order_by(AuditLog.id)))


def _shape(entry):
    """An audit entry's action and the keys of its before / after (the values differ by link)."""
    keys = [sorted(json.loads(x)) if x else None for x in (entry.before, entry.after)]
    return entry.action, entry.target_type, keys[0], keys[1]


def _count(session, model):
    return session.scalar(select(func.count()).select_from(model))


def test_an_imported_link_is_audited_like_one_made_by_hand(session, world):
    by = world.prefecture_staff
    by_hand = f.make_member(session, world.kunming, name="手工主席", role=MemberRole.chair_council)
    imported = f.make_member(session, world.kunming, name="导入主席", role=MemberRole.chair_council)
    made = links.assign_leader(session, by=by, data=LinkCreate(
        leader_member_id=by_hand.id, county_id=world.wuhua.id, start_date=date.fromisoformat(START)))
    links.change_link(session, by=by, link_id=made.link.id, data=LinkChange(note="手工修改"))
    [hand_create] = _entries(session, "link.create")
    [hand_change] = _entries(session, "link.change")

    world.commit(by, "assignments", fill(session, by, "assignments", [[imported.phone, "", "530102", "", START]]))
    world.commit(by, "assignments", fill(session, by, "assignments",
                                         [[imported.phone, "", "530102", "", START, "", "导入修改"]]))
    [link] = _links(session, imported)
    create = [e for e in _entries(session, "link.create") if e.target_id == str(link.id)]
    change = [e for e in _entries(session, "link.change") if e.target_id == str(link.id)]
    assert len(create) == len(change) == 1
    assert _shape(create[0]) == _shape(hand_create) and _shape(change[0]) == _shape(hand_change)
    assert json.loads(change[0].before)["note"] == "" and json.loads(change[0].after)["note"] == "导入修改"
    assert create[0].org_id == world.wuhua.id and json.loads(create[0].after)["leader_member_id"] == imported.id
    # The import's own summary entry, once per file written.
    assert len(_entries(session, "import.assignments")) == 2


def test_a_dry_run_writes_nothing(session, world):
    by = world.prefecture_staff
    leader = f.make_member(session, world.kunming, name="预览主席", role=MemberRole.chair_council)
    made = links.assign_leader(session, by=by, data=LinkCreate(
        leader_member_id=leader.id, county_id=world.panlong.id, start_date=date.fromisoformat(START)))
    links_before, audit_before = _count(session, LinkAssignment), _count(session, AuditLog)
    data = fill(session, by, "assignments", [[leader.phone, "", "530102", "", START],
                                             [leader.phone, "", "530103", "联络员", START]])
    plan = world.preview(by, "assignments", data)
    assert plan.errors == [] and (plan.created, plan.updated) == (1, 1)
    # The service's own dry runs, as the import calls them, write nothing either.
    links.plan_link(session, by=by, data=LinkCreate(leader_member_id=leader.id, county_id=world.wuhua.id))
    links.plan_change(session, by=by, link_id=made.link.id, data=LinkChange(note="只是预览"))
    session.flush()
    assert (_count(session, LinkAssignment), _count(session, AuditLog)) == (links_before, audit_before)
    assert session.get(LinkAssignment, made.link.id).note == "" and session.get(LinkAssignment, made.link.id).role == "lead"


def test_overlap_and_permission_errors_come_back_per_row(session, world):
    leader = f.make_member(session, world.kunming, name="周主席", role=MemberRole.chair_council)
    made = links.assign_leader(session, by=world.prefecture_staff, data=LinkCreate(
        leader_member_id=leader.id, county_id=world.wuhua.id, start_date=date.fromisoformat(START)))
    later = (date.fromisoformat(START).replace(month=2)).isoformat()
    overlapping = [[leader.phone, "", "530102", "", later]]  # 3 overlaps the link made by hand
    plan = world.preview(world.prefecture_staff, "assignments",
                         fill(session, world.prefecture_staff, "assignments", overlapping))
    [error] = plan.errors
    assert (error.row, error.column) == (3, "开始日期")
    assert error.message.startswith("周主席已挂联该地点（挂联领导，") and "时间不能重叠" in error.message
    rows = [
        [leader.phone, "", "530102", "", later],  # 3 a 昆明 leader: not the county office's to dispatch
        [leader.phone, "", "530103", "", START],  # 4 盘龙区: outside the county office's scope
        [leader.phone, "", "530102", "", START, "", "改备注"],  # 5 the 昆明 link: not the county office's to change
    ]
    plan = world.preview(world.county_staff, "assignments", fill(session, world.county_staff, "assignments", rows))
    got = {(e.row, e.column): e.message for e in plan.errors}
    assert got[(3, "领导手机号")].startswith("周主席不是五华区政协或其上级政协现任的主席会议成员或领导职务")
    assert got[(4, "挂联地点代码")] == _refusal(session, world.county_staff, leader, "530103")
    assert got[(5, "领导手机号")] == "这条挂联由上级安排，只有上级的领导或「双助推」办公室可以修改或结束"
    assert len(plan.errors) == 3 and plan.created == plan.updated == 0
    assert session.get(LinkAssignment, made.link.id).note == ""
