"""Import kind assignments: leader × place × start date, the links module's rules, re-import a no-op."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from app.clock import today_cn
from app.models import LinkAssignment, MemberRole, Site
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
    links = _links(session, leader)
    assert {(l.county_id, l.site_id, l.role) for l in links} == {(world.wuhua.id, None, "lead"),
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
    assert got[(7, "挂联地点代码")].startswith("组织不在您的管理范围内")
    assert got[(8, "挂联身份")] == "挂联身份「组长」不正确，应为：挂联领导、联络员"
    assert "无法识别" in got[(9, "开始日期")]
    assert got[(10, "结束日期")] == "结束日期须晚于开始日期"
    assert got[(12, "开始日期")] == "与第 11 行是同一领导同一地点，时间重叠"
    assert len(plan.errors) == 9
