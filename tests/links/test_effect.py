"""挂联实效 through the service: a linked leader's own verified activities in the county, the last one, and
the flag 「挂联后 N 个月未到县开展活动」 — recounted from raw rows, at the edge of N months in Beijing, own
activities only, scoped, N from the office's meeting setting, one statement for any number of leaders."""

from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import event, select

from app import clock as app_clock
from app.boards import periods
from app.links import service as svc
from app.models import Activity, ActivityParticipant, ActivityStatus, LinkAssignment
from app.models.meeting import MeetingSetting
from tests import factories as f
from tests.links.conftest import YEAR, assigned

pytestmark = pytest.mark.dates

# The effect is asked on 1 December of this year, 00:30 in Beijing (still 30 November in UTC); the
# links start in March of last year, so every link has been in force for far more than N months.
DEC_1 = date(YEAR + 1, 12, 1)


def _freeze_beijing_early(clock, day: date) -> None:
    clock.freeze(datetime.combine(day, time(0, 30), app_clock.CN))


def _activity(world, *, county, on: date, who=(), status=ActivityStatus.verified, recorder=None):
    task = f.task(world.session)
    return f.make_activity(world.session, recorder=recorder or world.member_user, credited=world.kunming,
                           county=county, task_=task, values={f.indicators(world.session, task)[0].id: 1},
                           occurred_on=on, status=status, participants=tuple(who))


def _by_leader(rows):
    return {(e.leader_member_id, e.county_id): e for e in rows}


def test_the_counts_equal_a_recount_from_raw_rows(world, clock):
    _freeze_beijing_early(clock, DEC_1)
    s = world.session
    assigned(world)  # 省副主席甲 → 盘龙区
    assigned(world, leader_member_id=world.kunming_sg.id)  # 昆明秘书长乙 → 盘龙区
    assigned(world, leader_member_id=world.kunming_sg.id, county_id=world.wuhua.id, role="liaison")
    assigned(world, leader_member_id=world.qujing_vice.id, county_id=world.qilin.id)
    vc, sg = world.vice_chair, world.kunming_sg
    _activity(world, county=world.panlong, on=date(YEAR + 1, 11, 20), who=[vc])
    _activity(world, county=world.panlong, on=date(YEAR + 1, 2, 3), who=[vc, sg])
    _activity(world, county=world.panlong, on=date(YEAR, 10, 9), who=[vc])  # last year: not this period
    _activity(world, county=world.panlong, on=date(YEAR + 1, 11, 25), who=[sg], status=ActivityStatus.pending)
    _activity(world, county=world.wuhua, on=date(YEAR + 1, 6, 1), who=[vc])  # vc is not linked to 五华区
    _activity(world, county=world.wuhua, on=date(YEAR + 1, 7, 1), who=[sg])
    period = periods.parse(None)
    rows = svc.link_effect(s, world.p(world.province_staff), world.province, period)

    # The recount: every raw row, in Python.
    links = s.scalars(select(LinkAssignment)).all()
    pairs = {(k.leader_member_id, k.county_id) for k in links}
    verified = {a.id: a for a in s.scalars(select(Activity).where(Activity.status == ActivityStatus.verified))}
    took_part = [(p.member_id, verified[p.activity_id]) for p in s.scalars(select(ActivityParticipant))
                 if p.activity_id in verified]
    assert set(_by_leader(rows)) == pairs
    for e in rows:
        mine = [a for m, a in took_part if m == e.leader_member_id and a.county_id == e.county_id]
        assert e.activities == sum(1 for a in mine if period.start <= a.occurred_on <= period.end)
        assert e.last_activity_on == max((a.occurred_on for a in mine), default=None)
    got = _by_leader(rows)
    assert (got[vc.id, world.panlong.id].activities, got[sg.id, world.panlong.id].activities) == (2, 1)
    assert got[sg.id, world.wuhua.id].role == "liaison"
    # Flagged first: 曲靖副主席戊 never went to 麒麟区, 昆明秘书长乙 not to 盘龙区 since February.
    assert [e.idle for e in rows] == sorted((e.idle for e in rows), reverse=True)
    assert got[world.qujing_vice.id, world.qilin.id].idle and got[world.qujing_vice.id, world.qilin.id].last_activity_on is None
    assert got[sg.id, world.panlong.id].idle and not got[vc.id, world.panlong.id].idle


@pytest.mark.parametrize(("last", "idle"), [(date(YEAR + 1, 9, 1), False), (date(YEAR + 1, 8, 31), True)])
def test_active_exactly_n_months_ago_is_not_flagged_one_day_more_is(world, clock, last, idle):
    # 1 December 00:30 in Beijing is 30 November in UTC: the window starts on 1 September, not 30 August.
    _freeze_beijing_early(clock, DEC_1)
    assert app_clock.now_utc().date() == DEC_1 - timedelta(days=1)
    assigned(world)
    _activity(world, county=world.panlong, on=last, who=[world.vice_chair])
    [e] = svc.link_effect(world.session, world.p(world.province_staff), world.province, periods.parse(None))
    assert (e.idle_months, e.last_activity_on, e.idle) == (3, last, idle)


def test_a_leader_linked_less_than_n_months_ago_is_not_flagged(world, clock):
    clock.freeze_on(DEC_1)
    assigned(world, start_date=date(YEAR + 1, 9, 2))  # linked after 1 September: not yet N months
    [e] = svc.link_effect(world.session, world.p(world.province_staff), world.province, periods.parse(None))
    assert (e.since, e.last_activity_on, e.idle) == (date(YEAR + 1, 9, 2), None, False)


def test_only_the_leaders_own_activities_count(world, clock):
    clock.freeze_on(DEC_1)
    assigned(world)
    # A colleague's activity in the county, recorded by the leader's own office: not the leader's.
    _activity(world, county=world.panlong, on=date(YEAR + 1, 11, 2), who=[world.plain_member])
    # 代录: the leader's account recorded it for others; the leader did not take part.
    _activity(world, county=world.panlong, on=date(YEAR + 1, 11, 3), who=[world.plain_member],
              recorder=world.leader_user)
    # The leader's own, but returned and withdrawn: did not happen as recorded.
    for status in (ActivityStatus.returned, ActivityStatus.withdrawn):
        a = _activity(world, county=world.panlong, on=date(YEAR + 1, 11, 4), who=[world.vice_chair])
        a.status, a.status_reason = status, "退回原因"
    world.session.flush()
    [e] = svc.link_effect(world.session, world.p(world.province_staff), world.province, periods.parse(None))
    assert (e.activities, e.last_activity_on, e.idle) == (0, None, True)


def test_an_outsider_sees_only_the_links_of_their_own_subtree(world, clock):
    clock.freeze_on(DEC_1)
    assigned(world)  # 盘龙区 (昆明)
    assigned(world, leader_member_id=world.qujing_vice.id, county_id=world.qilin.id)  # 麒麟区 (曲靖)
    period = periods.parse(None)
    outsider = world.p(world.outsider_staff)
    assert [e.county_id for e in svc.link_effect(world.session, outsider, world.qujing, period)] == [world.qilin.id]
    # Even handed an organisation outside their reach, nothing of it leaks.
    assert svc.link_effect(world.session, outsider, world.kunming, period) == []
    assert [e.county_id for e in svc.link_effect(world.session, world.p(world.prefecture_staff), world.kunming,
                                                 period)] == [world.panlong.id]


def test_n_is_the_office_meeting_setting(world, clock):
    clock.freeze_on(DEC_1)
    assigned(world)
    _activity(world, county=world.panlong, on=date(YEAR + 1, 7, 15), who=[world.vice_chair])
    by, period = world.p(world.province_staff), periods.parse(None)
    [e] = svc.link_effect(world.session, by, world.province, period)
    assert (e.idle_months, e.idle) == (3, True)
    world.session.add(MeetingSetting(org_id=world.province.id, link_idle_months=6))
    world.session.flush()
    [e] = svc.link_effect(world.session, by, world.province, period)
    assert (e.idle_months, e.idle) == (6, False)
    # The 昆明 office asking keeps its own N (the default).
    [e] = svc.link_effect(world.session, world.p(world.prefecture_staff), world.kunming, period)
    assert e.idle_months == 3


def test_a_past_period_is_as_of_its_last_day(world, clock):
    clock.freeze_on(DEC_1)
    assigned(world)
    _activity(world, county=world.panlong, on=date(YEAR + 1, 5, 10), who=[world.vice_chair])
    _activity(world, county=world.panlong, on=date(YEAR + 1, 11, 10), who=[world.vice_chair])
    [e] = svc.link_effect(world.session, world.p(world.province_staff), world.province,
                          periods.parse(f"{YEAR + 1}-q2"))
    assert (e.activities, e.last_activity_on, e.idle) == (1, date(YEAR + 1, 5, 10), False)


def test_one_statement_for_the_figures_whatever_the_number_of_leaders(world, clock):
    clock.freeze_on(DEC_1)
    by, period = world.p(world.province_staff), periods.parse(None)
    engine = world.session.get_bind()

    def statements() -> int:
        seen: list[str] = []

        def listener(conn, cursor, statement, *args) -> None:
            if not statement.startswith(("SAVEPOINT", "RELEASE")):  # the test's own transaction
                seen.append(statement)

        event.listen(engine, "before_cursor_execute", listener)
        try:
            svc.link_effect(world.session, by, world.province, period)
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(seen)

    assigned(world)
    one = statements()
    for leader in (world.kunming_sg, world.committee_head):
        assigned(world, leader_member_id=leader.id)
    assigned(world, leader_member_id=world.qujing_vice.id, county_id=world.qilin.id)
    assert statements() == one == 3  # the setting, the figures, the posts


def test_my_links_show_my_own_effect_with_my_office_n(world, clock):
    clock.freeze_on(DEC_1)
    assigned(world)
    assigned(world, leader_member_id=world.kunming_sg.id)
    world.session.add(MeetingSetting(org_id=world.province.id, link_idle_months=12))
    world.session.flush()
    rows = svc.my_link_effect(world.session, world.p(world.leader_user), periods.parse(None))
    assert [(e.leader_member_id, e.county_id, e.idle_months, e.idle) for e in rows] == [
        (world.vice_chair.id, world.panlong.id, 12, True)]
    assert svc.my_link_effect(world.session, world.p(world.county_staff), periods.parse(None)) == []


def test_months_before_keeps_the_day_or_the_month_end():
    assert svc.months_before(date(YEAR, 12, 6), 3) == date(YEAR, 9, 6)
    assert svc.months_before(date(YEAR, 1, 15), 3) == date(YEAR - 1, 10, 15)
    assert svc.months_before(date(YEAR, 5, 31), 3) == date(YEAR, 2, 29 if calendar.isleap(YEAR) else 28)
