"""督办事项 (app/meeting/followups.py): create from a 问题清单 item or by hand, a retried create is one
row, closing needs a note and the version read, who may do what, audit, overdue by Beijing days."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from app.clock import CN
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.links.schemas import LinkCreate
from app.links.service import assign_leader
from app.meeting import followups as fus
from app.meeting.schemas import FollowUpCreate
from app.models import AuditLog, MemberRole
from app.models.meeting import FollowUp
from tests.links.conftest import make_leader
from tests.meeting.conftest import TODAY, YEAR

pytestmark = pytest.mark.dates
SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # lean: PostgreSQL once, below


def _from_list(world, key="k1", **overrides):
    data = FollowUpCreate(**{"source_kind": "uncovered_county", "source_ref": "county:530102", "owner_org": "530102",
                             "due_on": TODAY + timedelta(days=30), "done_criteria": "月底前落实挂联领导",
                             **overrides})
    return fus.create_followup(world.s, by=world.p(world.staff), org=world.kunming, period=world.period(),
                               data=data, submission_key=key)


def _audits(world, action):
    return world.s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == action))


def _create_and_close(world):
    fu, created = _from_list(world)
    assert created and fu.title == "重点帮扶县无挂联领导：五华区" and fu.owner_org_id == world.wuhua.id
    assert '"status": "uncovered"' in fu.figure_then and fu.period == f"{YEAR}-ytd11"
    again, created = _from_list(world)  # the same POST retried
    assert again.id == fu.id and not created
    assert world.s.scalar(select(func.count()).select_from(FollowUp)) == 1
    assert _audits(world, "followup.create") == 1
    with pytest.raises(Invalid, match="办结说明"):
        fus.close_followup(world.s, by=world.p(world.staff), followup_id=fu.id, note="  ", version=fu.version)
    done = fus.close_followup(world.s, by=world.p(world.staff), followup_id=fu.id, note="已落实", version=1)
    assert done.status == "done" and done.version == 2 and done.closed_at is not None
    assert fus.close_followup(world.s, by=world.p(world.staff), followup_id=fu.id, note="已落实", version=1).id == fu.id
    with pytest.raises(Conflict, match="已被他人修改"):
        fus.close_followup(world.s, by=world.p(world.staff), followup_id=fu.id, note="另一说明", version=1)
    assert _audits(world, "followup.close") == 1


@SQLITE
def test_create_from_the_list_once_and_close_with_a_note(world):
    _create_and_close(world)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_create_and_close_on_postgresql(world):
    _create_and_close(world)


@SQLITE
def test_by_hand_needs_a_title_criteria_and_an_owner_inside(world):
    with pytest.raises(Invalid) as got:
        _from_list(world, source_kind="manual", source_ref="", done_criteria=" ", owner_org="530103")
    assert set(got.value.errors) == {"title", "done_criteria"}
    with pytest.raises(Invalid) as got:
        fus.create_followup(world.s, by=world.p(world.province_staff), org=world.kunming, period=world.period(),
                            data=FollowUpCreate(title="x", owner_org="530300", due_on=TODAY, done_criteria="y"),
                            submission_key="k")
    assert "owner_org" in got.value.errors  # 曲靖 is not inside 昆明's subtree
    with pytest.raises(Invalid, match="不在本期问题清单"):
        _from_list(world, source_ref="county:530103")
    fu, _ = _from_list(world, source_kind="manual", source_ref="", title="推动盘龙区补齐进度", owner_org="530103")
    assert fu.source_kind == "manual" and fu.figure_then == ""


@SQLITE
def test_who_may_create_see_and_close(world):
    with pytest.raises(NotFound):  # 曲靖's office does not even see 昆明
        fus.create_followup(world.s, by=world.p(world.outsider), org=world.kunming, period=world.period(),
                            data=FollowUpCreate(title="x", owner_org="530102", due_on=TODAY, done_criteria="y"),
                            submission_key="o")
    with pytest.raises(Forbidden):  # a reader of 昆明 is not its office
        fus.create_followup(world.s, by=world.p(world.kunming_viewer), org=world.kunming, period=world.period(),
                            data=FollowUpCreate(title="x", owner_org="530102", due_on=TODAY, done_criteria="y"),
                            submission_key="v")
    fu, _ = _from_list(world)
    # The owner's office sees it, and may not close it; an outsider does not see it.
    assert fus.followup_for_read(world.s, world.p(world.county_staff), fu.id).id == fu.id
    with pytest.raises(Forbidden):
        fus.close_followup(world.s, by=world.p(world.county_staff), followup_id=fu.id, note="n", version=1)
    with pytest.raises(NotFound):
        fus.followup_for_read(world.s, world.p(world.outsider), fu.id)
    # The province's office (an ancestor) closes it.
    assert fus.close_followup(world.s, by=world.p(world.province_staff), followup_id=fu.id, note="n",
                              version=1).status == "done"


@SQLITE
def test_overdue_by_beijing_days_across_the_year_end(world, clock):
    fu, _ = _from_list(world, due_on=date(YEAR, 12, 31))
    clock.freeze(datetime.combine(date(YEAR, 12, 31), time(23, 59), CN))
    assert fus.status_of(fu) == "open" and fus.list_followups(world.s, world.kunming, status="overdue")[1] == 0
    clock.freeze(datetime.combine(date(YEAR + 1, 1, 1), time(0, 1), CN))  # still 31 December in UTC
    assert fus.status_of(fu) == "overdue"
    rows, total = fus.list_followups(world.s, world.kunming, status="overdue")
    assert total == 1 and rows[0].id == fu.id
    assert fus.list_followups(world.s, world.wuhua, status="open")[1] == 1  # the owner's list holds it
    assert fus.list_followups(world.s, world.panlong, status="all")[1] == 0


@SQLITE
def test_next_meeting_opens_with_them_then_and_now(world):
    fu, _ = _from_list(world, period=f"{YEAR}-10")
    assert fu.period == f"{YEAR}-ytd11"  # the meeting's period is the one passed in
    fu.period = f"{YEAR}-10"  # decided at October's meeting
    world.s.flush()
    november = world.period(f"{YEAR}-11")
    rows = fus.previous_followups(world.s, world.kunming, november)
    assert [r.id for r in rows] == [fu.id]
    from app.meeting.problems import problems
    view = fus.views(world.s, rows, current=problems(world.s, world.kunming, november))[0]
    assert view.then["figures"]["status"] == "uncovered" and view.now is not None and view.still_listed
    leader = make_leader(world.s, world.kunming, name="昆明副主席甲", title="副主席", role=MemberRole.chair_council)
    assign_leader(world.s, by=world.p(world.province_staff), today=TODAY,
                  data=LinkCreate(leader_member_id=leader.id, county_id=world.wuhua.id, start_date=date(YEAR, 3, 1)))
    view = fus.views(world.s, rows, current=problems(world.s, world.kunming, november))[0]
    assert view.now is None and view.still_listed is False and view.status_label == "未办结"
    assert fus.previous_followups(world.s, world.kunming, world.period(f"{YEAR}-10")) == []
