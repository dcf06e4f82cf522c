"""换届: the new term, who continues, who ends (history kept, no new activities), 参与率, scope, audit."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.activities import service as activities
from app.activities.schemas import ActivityInput
from app.boards import periods
from app.boards import service as boards
from app.errors import Conflict, Forbidden, Invalid
from app.models import Activity, AuditLog, Membership, Term
from app.rollup import service as rollup
from app.terms import service
from tests.terms.conftest import TODAY, YEAR

pytestmark = pytest.mark.dates


def _memberships(session, member) -> list[Membership]:
    return list(session.scalars(select(Membership).where(Membership.member_id == member.id)
                                .order_by(Membership.start_date)))


def test_term_change_carries_over_the_chosen_and_ends_the_others(session, world):
    a, b, c = world.members
    by = world.p(world.county_staff)
    plan = service.plan_change(session, by, world.wuhua, start_date=date(YEAR, 7, 1),
                               keep_member_ids=[a.id, c.id], today=TODAY)
    assert plan.ok and plan.number == 2
    assert [s.member.name for s in plan.continuing] == ["丙委员", "甲委员"]
    assert [s.member.name for s in plan.ending] == ["乙委员"]
    term = service.change_term(session, by, plan, expected=plan.fingerprint)

    assert (term.number, term.start_date, term.end_date) == (2, date(YEAR, 7, 1), None)
    assert session.get(Term, world.term.id).end_date == date(YEAR, 6, 30)
    old, new = _memberships(session, a)
    assert (old.term_id, old.end_date) == (world.term.id, date(YEAR, 6, 30))
    assert (new.term_id, new.start_date, new.end_date, new.role) == (term.id, date(YEAR, 7, 1), None, old.role)
    [ended] = _memberships(session, b)
    assert ended.end_date == date(YEAR, 6, 30)
    assert [s.member.name for s in service.open_seats(session, world.wuhua.id, TODAY)] == ["丙委员", "甲委员"]
    assert rollup.check(session) == []
    entry = session.scalar(select(AuditLog).where(AuditLog.action == "term.change"))
    assert entry.org_id == world.wuhua.id and "乙委员" in entry.after and '"continuing": 2' in entry.after


def test_ended_members_keep_their_past_activities_leave_the_new_denominator_and_cannot_record(session, world):
    _, b, _ = world.members
    ua, ub, _ = world.users
    world.log(ua, "a-march", date(YEAR, 3, 10))
    past = world.log(ub, "b-march", date(YEAR, 3, 12))
    q1, q3 = periods.parse(f"{YEAR}-q1", TODAY), periods.parse(f"{YEAR}-q3", TODAY)
    before_q1 = boards.participation(session, [world.wuhua.id], q1)[world.wuhua.id]
    before_q3 = boards.participation(session, [world.wuhua.id], q3)[world.wuhua.id]
    assert (before_q1.active, before_q1.took_part) == (3, 2) and before_q3.active == 3

    by = world.p(world.county_staff)
    service.change_term(session, by, service.plan_change(session, by, world.wuhua, start_date=date(YEAR, 7, 1),
                                                         keep_member_ids=[m.id for m in world.members if m != b],
                                                         today=TODAY))
    assert rollup.check(session) == []
    after_q1 = boards.participation(session, [world.wuhua.id], q1)[world.wuhua.id]
    after_q3 = boards.participation(session, [world.wuhua.id], q3)[world.wuhua.id]
    assert (after_q1.active, after_q1.took_part) == (3, 2)  # the served months are untouched
    assert (after_q3.active, after_q3.took_part) == (2, 0)  # 乙委员 is out of the new term's denominator
    for org in (world.kunming, world.province):
        assert boards.participation(session, [org.id], q3)[org.id].active == 2
    # The past activity still counts in its period.
    ov = boards.overview(session, world.wuhua, q1)
    assert sum(t.activities[0] for t in ov.tasks) == 2 and session.get(Activity, past.id).status == "verified"

    data = ActivityInput(task_id=world.task.id, county_id=world.wuhua.id, occurred_on=date(YEAR, 8, 1),
                         description="义诊", values={world.count.id: "1"})
    with pytest.raises(Forbidden, match="没有关联在任的政协委员"):
        activities.record_activity(session, by=world.p(ub), data=data, idempotency_key="b-aug", today=TODAY)
    # Nor can the office record for them after their membership ended (代录); the months they served, it can.
    staff = world.p(world.county_staff)
    behalf = data.model_copy(update={"on_behalf": True, "participant_member_ids": [b.id]})
    with pytest.raises(Invalid, match="活动当天不在任"):
        activities.record_activity(session, by=staff, data=behalf, idempotency_key="s-aug", today=TODAY)
    served = behalf.model_copy(update={"occurred_on": date(YEAR, 6, 30)})
    assert activities.record_activity(session, by=staff, data=served, idempotency_key="s-jun", today=TODAY).activity.id
    # A continuing member records as before, and counts in the new term.
    world.log(ua, "a-aug", date(YEAR, 8, 1))
    assert boards.participation(session, [world.wuhua.id], q3)[world.wuhua.id].took_part == 1
    assert rollup.check(session) == []


def test_continuing_members_from_an_uploaded_list_of_phones(session, world):
    a, b, c = world.members
    by = world.p(world.prefecture_staff)
    plan = service.plan_change(session, by, world.wuhua, start_date=date(YEAR, 7, 1),
                               keep_phones=[(2, a.phone), (3, "13900000000")], today=TODAY)
    assert plan.errors == ["第 3 行：手机号 13900000000 不是本组织现任委员（新委员请在换届后通过「委员名单」导入）"]
    with pytest.raises(Invalid, match="不是本组织现任委员"):
        service.change_term(session, by, plan)
    plan = service.plan_change(session, by, world.wuhua, start_date=date(YEAR, 7, 1),
                               keep_phones=[(2, a.phone)], today=TODAY)
    assert [s.member.id for s in plan.continuing] == [a.id]
    assert {s.member.id for s in plan.ending} == {b.id, c.id}


def test_dates_are_checked_and_a_stale_confirmation_refused(session, world):
    by = world.p(world.county_staff)
    early = service.plan_change(session, by, world.wuhua, start_date=date(2023, 1, 1), today=TODAY)
    assert early.errors[0] == "新一届的开始日期须晚于第1届的开始日期（2023-01-01）"
    assert any("有 3 名委员的任职开始日期不早于" in e for e in early.errors)
    far = service.plan_change(session, by, world.wuhua, start_date=TODAY + timedelta(days=service.MAX_AHEAD_DAYS + 1),
                              today=TODAY)
    assert far.errors == ["新一届的开始日期不能晚于一年以后"]
    with pytest.raises(Invalid):
        service.parse_start(f"{YEAR}-13-01")
    plan = service.plan_change(session, by, world.wuhua, start_date=date(YEAR, 7, 1), today=TODAY)
    service.change_term(session, by, service.plan_change(session, by, world.wuhua, start_date=date(YEAR, 7, 1),
                                                         keep_member_ids=[], today=TODAY))
    with pytest.raises(Conflict):
        service.change_term(session, by, service.plan_change(session, by, world.wuhua, start_date=date(YEAR, 9, 1),
                                                             today=TODAY), expected=plan.fingerprint)
    assert service.open_seats(session, world.wuhua.id, TODAY) == []  # nobody continued
    assert rollup.check(session) == []


def test_who_may_change_a_term(session, world):
    # Who reaches the page is the loaders' rule (tests/orgs/test_loaders.py); the service refuses too.
    with pytest.raises(Forbidden):
        service.plan_change(session, world.p(world.outsider_staff), world.wuhua, start_date=date(YEAR, 7, 1))


def test_an_organisation_without_a_term_starts_its_first(session, world):
    by = world.p(world.prefecture_staff)
    assert service.current_term(session, world.panlong.id) is None
    plan = service.plan_change(session, by, world.panlong, start_date=date(YEAR, 1, 1), today=TODAY)
    assert plan.ok and plan.number == 1 and plan.continuing == plan.ending == []
    term = service.change_term(session, by, plan)
    assert (term.number, term.org_id) == (1, world.panlong.id) and service.current_term(session, world.panlong.id) == term
    assert [n for _, n in service.terms_of(session, world.panlong.id)] == [0]
