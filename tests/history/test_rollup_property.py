"""The rollup stays equal to its recount when 汇总录入 and 换届 mix with the activities' changes.

Extends the sequences of tests/rollup/test_property.py (its World and steps, reused) with two
steps: a history import (an organisation × month × indicator figure, created or updated) and a
term change of 五华区 (a start date, some of the members carried over). Checked after every step,
on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from app.history import service as history
from app.rollup import service as rollup
from app.terms import service as terms
from tests import factories as f
from tests.rollup import test_property as base

pytestmark = pytest.mark.dates

extra = st.one_of(
    st.tuples(st.just("history"), st.sampled_from(["530102", "530103", "530100"]), st.integers(1, 11),
              st.integers(0, 40), st.booleans()),
    st.tuples(st.just("term_change"), st.integers(2, 11), st.sets(st.sampled_from(["member", "colleague"]))),
)
activity_steps = st.one_of(  # as tests/rollup/test_property.py draws them
    st.tuples(st.just("log"), st.sampled_from(["member", "outsider"]), st.integers(1, 11),
              st.integers(0, 50), st.booleans(), st.booleans()),
    st.tuples(st.just("verify"), st.integers(0, 2)),
    st.tuples(st.just("return"), st.integers(0, 2)),
    st.tuples(st.just("correct"), st.integers(0, 2), st.integers(1, 11), st.integers(0, 50), st.booleans()),
    st.tuples(st.just("join"), st.integers(0, 2), st.booleans()),
    st.tuples(st.just("end_membership"), base.members, st.integers(1, 11)),
    st.tuples(st.just("transfer"), st.sampled_from(["colleague", "outsider"]), st.integers(1, 11)),
)
steps = st.lists(st.one_of(activity_steps, extra), min_size=3, max_size=14)


class World(base.World):
    def __init__(self, session: Session):
        super().__init__(session)
        self.kunming = f.org(session, "530100")

    def run(self, step: tuple) -> None:
        kind, *args = step
        if kind == "history":
            code, month, value, money = args
            indicator = self.money if money else self.count
            by = self.p(self.staff)
            plan = history.plan_history(self.s, by, [history.HistoryRow(2, code, base.YEAR, str(month), indicator.name,
                                                                         f"{value}.25" if money else str(value))])
            history.commit_history(self.s, by, plan)
            return
        if kind == "term_change":
            month, keep = args
            by = self.p(self.staff)
            keep_ids = {self.member_ids[k] for k in keep}
            plan = terms.plan_change(self.s, by, self.wuhua, start_date=date(base.YEAR, month, 1),
                                     keep_member_ids=keep_ids, today=base.TODAY)
            terms.change_term(self.s, by, plan)
            return
        super().run(step)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(sequence=steps)
def test_rollup_equals_a_recount_with_history_and_term_changes(base_engine, sequence):
    base.replay_and_check(base_engine, World, sequence)


@pytest.mark.parametrize("script", [
    [("history", "530102", 3, 5, False), ("log", "member", 3, 5, True, False), ("verify", 0),
     ("history", "530102", 3, 9, False), ("history", "530100", 3, 2, True)],
    [("log", "member", 3, 5, True, False), ("verify", 0), ("term_change", 6, {"member"}),
     ("log", "member", 8, 1, False, False), ("verify", 0), ("history", "530102", 8, 3, False)],
    [("log", "outsider", 2, 1, False, False), ("verify", 0), ("transfer", "colleague", 4),
     ("term_change", 7, set()), ("history", "530103", 2, 4, True)],
])
def test_history_and_term_changes_keep_the_rollup_exact(session, script):
    base.run_script(session, World(session), script)


def test_the_check_sees_a_history_entry_written_behind_the_services_back(session):
    from app.models import HistoryEntry

    world = World(session)
    world.run(("history", "530102", 3, 5, False))
    assert rollup.check(session) == []
    session.execute(HistoryEntry.__table__.update().values(value=HistoryEntry.__table__.c.value + 1))
    problems = rollup.check(session)
    assert problems and all(p.startswith("figures (") for p in problems)
    assert {p.split("'")[1] for p in problems} == {"org", "place"}
