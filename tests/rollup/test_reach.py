"""动员面 from the counters equals a recount from the raw rows (member_reach + memberships), counted
like 参与率: distinct members, once per subtree, only for the months they served there, from the
month tracking began. Hypothesis draws memberships, reach marks and membership changes after them,
and periods; the recount here is written naively, month by month, independently of the masks.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from datetime import date, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlmodel import Session

from app.boards import service as boards
from app.boards.periods import Period
from app.clock import CN
from app.models import Member, MemberReach, Membership
from app.orgs.service import subtree_ids
from app.rollup import reach
from app.rollup import service as rollup
from tests import factories as f

pytestmark = pytest.mark.dates

# A whole year behind the clock: every month drawn is past, whatever today is.
YEAR = f.this_year() - 1
ORGS = ("530000", "530100", "530102", "530103")  # 云南省, 昆明市, its 五华区 and 盘龙区
SEATS = ("530100", "530102", "530103")
MEMBERS = 4


def at(month: int, day: int = 10) -> datetime:
    return datetime(YEAR, month, day, 12, tzinfo=CN)


class World:
    def __init__(self, session: Session, seats: list[tuple[int, int]]):
        self.s = session
        self.orgs = {code: f.org(session, code) for code in ORGS}
        self.members = []
        for n, (seat, month) in enumerate(seats):
            member = Member(name=f"动员委员{n}", phone=f"1850000{n:04d}", sector="经济界")
            session.add(member)
            session.flush()
            self.members.append(member.id)
            self.seat(member.id, self.orgs[SEATS[seat]], date(YEAR, month, 1))

    def seat(self, member_id: int, org, start: date) -> None:
        def add() -> None:
            self.s.add(Membership(member_id=member_id, org_id=org.id, term_id=f.term_for(self.s, org).id,
                                  role="member", start_date=start))
        self.change(member_id, add)

    def change(self, member_id: int, work) -> None:
        """A membership change as every writer makes it: masks before, members_changed after."""
        before = rollup.member_masks(self.s, [member_id])
        work()
        self.s.flush()
        rollup.members_changed(self.s, before, [member_id])

    def run(self, step: tuple) -> None:
        kind, n, month, extra = step
        member_id = self.members[n % len(self.members)]
        if kind == "reach":
            reach.mark(self.s, [member_id], at(month, extra % 28 + 1), via="notified" if extra % 2 else "signed_in")
            return
        open_seats = list(self.s.scalars(select(Membership).where(Membership.member_id == member_id,
                                                                   Membership.end_date.is_(None))))
        on = date(YEAR, month, 15)

        def end() -> None:
            for ms in open_seats:
                ms.end_date = max(on, ms.start_date)

        if kind == "end":
            self.change(member_id, end)
        elif kind == "transfer":
            held = set(self.s.scalars(select(Membership.org_id).where(Membership.member_id == member_id)))
            target = next((self.orgs[c] for c in SEATS[extra % 3:] + SEATS[:extra % 3]
                           if self.orgs[c].id not in held), None)
            if target is None or not open_seats or on <= max(ms.start_date for ms in open_seats):
                return
            self.change(member_id, end)
            self.seat(member_id, target, on.replace(day=16))


def recount(session: Session, org_id: int, period: Period, since: int | None) -> tuple[int, int | None, int | None]:
    """(active, 动员面's active, reached) of ``org_id``'s subtree, month by month from the raw rows."""
    subtree = set(session.scalars(subtree_ids(org_id)))
    reached = {(m, mo) for m, mo in session.execute(select(MemberReach.member_id, MemberReach.month))}
    served: dict[int, set[int]] = defaultdict(set)
    for m, o, start, end in session.execute(select(Membership.member_id, Membership.org_id, Membership.start_date,
                                                   Membership.end_date)):
        if o not in subtree:
            continue
        for month in range(period.first, period.last + 1):
            first = date(period.year, month, 1)
            last = first.replace(day=calendar.monthrange(period.year, month)[1])
            if start <= last and (end is None or end >= first):
                served[m].add(month)
    active = sum(1 for months in served.values() if months)
    if since is None or since > period.month_to:
        return active, None, None
    lo = max(period.first, since % 100) if since // 100 == period.year else period.first
    tracked = {m: {mo for mo in months if mo >= lo} for m, months in served.items()}
    return (active, sum(1 for months in tracked.values() if months),
            sum(1 for m, months in tracked.items() if any((m, period.year * 100 + mo) in reached for mo in months)))


def compare(session: Session, world: World, spans) -> None:
    since = reach.since(session)
    for first, last in spans:
        period = Period(YEAR, first, last, "", "")
        got = boards.participation(session, [o.id for o in world.orgs.values()], period)
        for org in world.orgs.values():
            p = got[org.id]
            assert (p.active, p.reach_active, p.reached) == recount(session, org.id, period, since), (org.code, period)
            if p.reached is not None:
                tracked_from = YEAR * 100 + max(first, since % 100) if since // 100 == YEAR else None
                assert p.reach_since == (tracked_from if tracked_from and tracked_from > YEAR * 100 + first else None)


seats = st.lists(st.tuples(st.integers(0, 2), st.integers(1, 12)), min_size=2, max_size=MEMBERS)
steps = st.lists(st.one_of(
    st.tuples(st.just("reach"), st.integers(0, MEMBERS - 1), st.integers(1, 12), st.integers(0, 60)),
    st.tuples(st.just("end"), st.integers(0, MEMBERS - 1), st.integers(1, 12), st.just(0)),
    st.tuples(st.just("transfer"), st.integers(0, MEMBERS - 1), st.integers(1, 12), st.integers(0, 2)),
), min_size=1, max_size=12)
spans = st.lists(st.tuples(st.integers(1, 12), st.integers(1, 12)).map(lambda t: (min(t), max(t))),
                 min_size=1, max_size=4)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(seated=seats, sequence=steps, periods=spans)
def test_mobilisation_equals_a_recount_from_raw_rows(session, seated, sequence, periods):
    nested = session.begin_nested()
    try:
        world = World(session, seated)
        for n, step in enumerate(sequence):
            world.run(step)
            assert rollup.check(session) == [], f"after step {n}: {step}"
        compare(session, world, periods)
    finally:
        nested.rollback()


def test_membership_changes_after_reach_keep_the_counters_exact(session):
    """Reached in March at 五华区, then transferred to 盘龙区 in May and reached there in June: each
    subtree counts the months served in it; 昆明 counts the member once."""
    world = World(session, [(1, 1), (2, 1)])  # a at 五华区, b at 盘龙区, from January
    world.run(("reach", 0, 3, 0))
    world.run(("transfer", 0, 5, 2))  # 五华区 → 盘龙区 from 16 May
    world.run(("reach", 0, 6, 0))
    world.run(("end", 1, 2, 0))  # b leaves 盘龙区 in February, never reached
    assert rollup.check(session) == []
    compare(session, world, [(1, 12), (3, 3), (4, 5), (6, 6), (2, 4), (7, 12)])
    kunming = world.orgs["530100"].id
    whole = boards.participation(session, [kunming], Period(YEAR, 1, 12, "", ""))[kunming]
    # Tracked from March (the first month reached): b, gone in February, is out of 动员面's denominator.
    assert (whole.active, whole.reach_active, whole.reached, whole.reach_since) == (2, 1, 1, YEAR * 100 + 3)
    assert rollup.check(session) == []
    # The check is not vacuous: a reached count nudged behind the service's back is reported.
    table = rollup.ParticipationCounter.__table__
    session.execute(table.update().where(table.c.org_id == world.orgs["530102"].id, table.c.year == YEAR)
                    .values(reached=table.c.reached + 1))
    assert any(p.startswith("counters") for p in rollup.check(session))


def test_untracked_before_the_first_month_reached(session):
    """Before anyone is reached 动员面 reads 「未统计」 (None); a period that began before tracking is
    counted over the tracked months only and says from when; a rebuild keeps all of it."""
    world = World(session, [(1, 1), (1, 1), (2, 1)])
    wuhua = world.orgs["530102"]
    year = Period(YEAR, 1, 12, "", "")
    assert reach.since(session) is None
    assert boards.participation(session, [wuhua.id], year)[wuhua.id].reached is None

    assert reach.mark(session, [world.members[0]], at(7), via="signed_in") == 1
    assert reach.mark(session, [world.members[0]], at(7, 20), via="notified") == 0  # same month: not new
    assert reach.since(session) == YEAR * 100 + 7
    before = boards.participation(session, [wuhua.id], Period(YEAR, 1, 6, "", ""))[wuhua.id]
    assert (before.reached, before.mobilisation_rate, before.active) == (None, None, 2)
    straddling = boards.participation(session, [wuhua.id], Period(YEAR, 4, 9, "", ""))[wuhua.id]
    assert (straddling.reached, straddling.reach_active, straddling.reach_since) == (1, 2, YEAR * 100 + 7)
    assert straddling.reach_note == f"自{YEAR}年7月起统计" and straddling.mobilisation_rate == 0.5
    july = boards.participation(session, [wuhua.id], Period(YEAR, 7, 7, "", ""))[wuhua.id]
    assert (july.reached, july.reach_active, july.reach_since, july.reach_note) == (1, 2, None, None)
    own = boards.own_participation(session, [wuhua.id], Period(YEAR, 4, 9, "", ""))[wuhua.id]
    assert (own.reached, own.reach_active, own.reach_since) == (1, 2, YEAR * 100 + 7)
    row = session.get(MemberReach, (world.members[0], YEAR * 100 + 7))
    assert row.signed_in_at == at(7) and row.notified_at == at(7, 20)

    # A mark in an earlier month moves the start back; rebuild agrees with the incremental path.
    reach.mark(session, [world.members[1]], at(2), via="notified")
    assert reach.since(session) == YEAR * 100 + 2
    counted = boards.participation(session, [wuhua.id], year)[wuhua.id]
    rollup.rebuild(session)
    assert rollup.check(session) == []
    assert boards.participation(session, [wuhua.id], year)[wuhua.id] == counted
    assert (counted.reached, counted.reach_active, counted.reach_since) == (2, 2, YEAR * 100 + 2)


# SQLite lets one transaction write at a time: this runs on PostgreSQL only.
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_two_transactions_reaching_one_member_count_each_month_once(backend, fresh_url):
    """PostgreSQL, where writers run at once: one member reached in March and in April by two open
    transactions. The second waits for the first (the member's row is held) and adds only its own
    month, so the span March–April counts the member once."""
    import threading

    from app.db import write_session
    from tests.conftest import province_engine

    with province_engine(fresh_url) as engine:
        with write_session(engine) as s:
            member_id, other = World(s, [(1, 1), (1, 1)]).members
            reach.mark(s, [other], at(1), via="signed_in")  # tracking began in January
            s.commit()
        with write_session(engine) as first, write_session(engine) as second:
            reach.mark(first, [member_id], at(3), via="signed_in")
            thread = threading.Thread(target=lambda: (reach.mark(second, [member_id], at(4), via="notified"),
                                                      second.commit()))
            thread.start()
            thread.join(0.5)
            assert thread.is_alive()  # waiting for the first transaction's hold on the member
            first.commit()
            thread.join(10)
        with write_session(engine) as s:
            assert rollup.check(s) == []
            wuhua = f.org(s, "530102")
            both = boards.participation(s, [wuhua.id], Period(YEAR, 3, 4, "", ""))[wuhua.id]
            assert (both.reach_active, both.reached) == (2, 1)
