"""The rollup and the 参与率 counters equal a recount from the raw rows after any sequence of changes.

Hypothesis draws sequences of log / verify / return / correct / withdraw / reopen / join-request and
confirm / membership changes (end, transfer), runs them through the service functions (a refused
step — say, verifying a withdrawn activity — changes nothing, as in production), and then compares
the incrementally kept figures with ``rollup.check``'s set-based recount. On SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlmodel import Session

from app.activities import service
from app.activities.schemas import ActivityInput
from app.auth.service import build_principal
from app.errors import DomainError
from app.models import Membership
from app.rollup import service as rollup
from tests import factories as f

pytestmark = pytest.mark.dates

# A whole year behind the clock: every month the steps draw (1–11) is past, whatever today is.
YEAR = f.this_year() - 1
TODAY = date(YEAR, 11, 23)

members = st.sampled_from(["member", "outsider", "colleague"])
steps = st.lists(st.one_of(
    st.tuples(st.just("log"), st.sampled_from(["member", "outsider"]), st.integers(1, 11),
              st.integers(0, 50), st.booleans(), st.booleans()),
    st.tuples(st.just("verify"), st.integers(0, 2)),
    st.tuples(st.just("return"), st.integers(0, 2)),
    st.tuples(st.just("reopen"), st.integers(0, 2)),
    st.tuples(st.just("withdraw"), st.integers(0, 2)),
    st.tuples(st.just("correct"), st.integers(0, 2), st.integers(1, 11), st.integers(0, 50), st.booleans()),
    st.tuples(st.just("join"), st.integers(0, 2), st.booleans()),
    st.tuples(st.just("bulk_verify"), st.lists(st.integers(0, 2), max_size=4)),
    st.tuples(st.just("end_membership"), members, st.integers(1, 11)),
    st.tuples(st.just("transfer"), st.sampled_from(["colleague", "outsider"]), st.integers(1, 11)),
), min_size=3, max_size=16)


class World:
    def __init__(self, session: Session):
        self.s = session
        self.wuhua, self.panlong = f.org(session, "530102"), f.org(session, "530103")
        self.users = {"member": f.persona(session, "member"), "outsider": f.persona(session, "outsider_member")}
        self.staff = f.persona(session, "prefecture_staff")  # 昆明: reviews both counties
        colleague = f.make_member(session, self.wuhua, name="同事委员")
        self.member_ids = {k: u.member_id for k, u in self.users.items()} | {"colleague": colleague.id}
        self.task = f.task(session, 7)
        inds = f.indicators(session, self.task)
        self.count = next(i for i in inds if i.kind == "count")
        self.money = next(i for i in inds if i.kind == "money")
        self.activities: list[tuple[str, int]] = []  # (recorder key, activity id)

    def p(self, user):
        return build_principal(self.s, user, ip="test", today=TODAY)

    def form(self, who: str, month: int, amount: int, joint: bool) -> ActivityInput:
        county = self.wuhua if who == "member" else self.panlong
        participants = [self.member_ids["colleague"]] if joint and who == "member" else []
        return ActivityInput(task_id=self.task.id, county_id=county.id, occurred_on=date(YEAR, month, 3),
                             description="属性测试活动", participant_member_ids=participants,
                             values={self.count.id: str(amount % 7 + 1), self.money.id: f"{amount}.5"})

    def pick(self, n: int) -> tuple[str, int] | None:
        # Counted from the most recent: steps then act on the same few activities in turn.
        return self.activities[-1 - n % len(self.activities)] if self.activities else None

    def memberships_change(self, key: str, change) -> None:
        member_id = self.member_ids[key]
        before = rollup.member_masks(self.s, [member_id])
        change(member_id)
        self.s.flush()
        rollup.members_changed(self.s, before, [member_id])
        self.s.commit()

    def run(self, step: tuple) -> None:
        kind, *args = step
        s = self.s
        if kind == "log":
            who, month, amount, joint, _ = args
            result = f.record_another(s, by=self.p(self.users[who]), data=self.form(who, month, amount, joint),
                                      idempotency_key=f"k{len(self.activities)}", today=TODAY)
            self.activities.append((who, result.activity.id))
            return
        if kind in ("end_membership", "transfer"):
            who, month = args
            on = date(YEAR, month, 15)

            def end(member_id: int) -> None:
                for ms in s.scalars(select(Membership).where(Membership.member_id == member_id,
                                                             Membership.end_date.is_(None))):
                    ms.end_date = max(on, ms.start_date)

            def transfer(member_id: int) -> None:
                held = set(s.scalars(select(Membership.org_id).where(Membership.member_id == member_id)))
                target = next((o for o in (self.panlong, self.wuhua) if o.id not in held), None)
                if target is None:  # one seat per term: been in both already
                    return
                end(member_id)
                s.flush()
                s.add(Membership(member_id=member_id, org_id=target.id, term_id=f.term_for(s, target).id,
                                 role="member", start_date=on))

            self.memberships_change(who, end if kind == "end_membership" else transfer)
            return
        picked = self.pick(args[0]) if kind != "bulk_verify" else None
        if kind != "bulk_verify" and picked is None:
            return
        staff = self.p(self.staff)
        if kind == "verify":
            # Activities logged months back carry a late-entry flag: the reviewer confirms with a note.
            service.verify(s, by=staff, activity_id=picked[1], note="已核实")
        elif kind == "return":
            service.return_activity(s, by=staff, activity_id=picked[1], reason="请补充照片")
        elif kind == "reopen":
            service.reopen(s, by=staff, activity_id=picked[1], reason="数据有误")
        elif kind == "withdraw":
            service.withdraw(s, by=self.p(self.users[picked[0]]), activity_id=picked[1])
        elif kind == "correct":
            _, month, amount, joint = args
            service.correct_activity(s, by=self.p(self.users[picked[0]]), activity_id=picked[1],
                                     data=self.form(picked[0], month, amount, joint), today=TODAY)
        elif kind == "join":
            _, accept = args
            other = "outsider" if picked[0] == "member" else "member"
            # 申请加入 adds the member at once; a refusal is the verifier removing them again.
            service.request_to_join(s, by=self.p(self.users[other]), activity_id=picked[1])
            if not accept:
                service.remove_participant(s, by=staff, activity_id=picked[1], member_id=self.member_ids[other])
        elif kind == "bulk_verify":
            ids = [self.pick(n)[1] for n in args[0]] if self.activities else []
            service.bulk_verify(s, by=staff, activity_ids=ids)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(sequence=steps)
def test_rollup_equals_a_recount_after_any_sequence(base_engine, sequence):
    replay_and_check(base_engine, World, sequence)


def replay_and_check(base_engine, make_world, sequence) -> None:
    """Run ``sequence`` through the services in a rolled-back transaction, checking the rollup
    against a recount after every step (also used by tests/history)."""
    conn = base_engine.connect()
    outer = conn.begin()
    s = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        world = make_world(s)
        for n, step in enumerate(sequence):
            try:
                world.run(step)
            except DomainError:
                s.rollback()  # the request would have rolled back: nothing of it stays
            # After every step: a later change recomputes its contribution from the rows, which
            # could hide an earlier step's missing delta from a check made only at the end.
            assert rollup.check(s) == [], f"after step {n}: {step}"
    finally:
        s.close()
        outer.rollback()
        conn.close()


def run_script(session, world, script) -> None:
    """Each step of ``script``, with the rollup checked after it."""
    for step in script:
        world.run(step)
        assert rollup.check(session) == [], step


@pytest.mark.parametrize("script", [
    [("log", "member", 3, 5, True, False), ("verify", 0), ("join", 0, True)],
    [("log", "member", 3, 5, True, False), ("verify", 0), ("reopen", 0), ("return", 0), ("correct", 0, 5, 9, False),
     ("verify", 0)],
    [("log", "outsider", 2, 1, False, False), ("verify", 0), ("transfer", "outsider", 2), ("end_membership", "outsider", 1)],
    [("log", "member", 4, 2, True, False), ("log", "member", 4, 3, False, False), ("bulk_verify", [0, 1]),
     ("end_membership", "colleague", 3)],
    [("log", "member", 6, 2, False, False), ("withdraw", 0)],
])
def test_each_kind_of_change_keeps_the_rollup_exact(session, script):
    """The paths the property test may reach only rarely, each on its own."""
    run_script(session, World(session), script)


def test_the_check_sees_a_wrong_figure(session):
    """The comparison is not vacuous: a figure nudged behind the service's back is reported."""
    world = World(session)
    world.run(("log", "member", 3, 5, True, False))
    world.run(("verify", 0))
    assert rollup.check(session) == []
    session.execute(rollup.Rollup.__table__.update().where(rollup.Rollup.__table__.c.scope == "place")
                    .values(verified=rollup.Rollup.__table__.c.verified + 1))
    problems = rollup.check(session)
    assert problems and all(p.startswith("figures ('place'") for p in problems)
