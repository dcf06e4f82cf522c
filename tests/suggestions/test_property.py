"""采纳率 equals a naive recount from the raw rows: Hypothesis draws suggestions (credited inside and
outside the subtree, any status, any month, some with a non-suggestion figure beside) and follow-up
states (set through the service for verified ones, written behind a later reopen for the others), then
compares :func:`adoption`'s numerator and denominator with a Python recount that walks the tree by
``parent_id`` (not ``org_closure``). On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlmodel import Session

from app.models import (
    Activity,
    ActivityStatus,
    ActivityValue,
    Indicator,
    Organisation,
    SuggestionFollowUp,
    SuggestionState,
)
from app.suggestions import service
from tests import factories as f
from tests.suggestions.conftest import TODAY, YEAR, World

STATES = [None, "reported", "adopted", "implemented", "declined"]
suggestions = st.lists(st.tuples(
    st.sampled_from(["wuhua", "panlong", "kunming", "qujing"]),  # credited
    st.sampled_from([ActivityStatus.verified, ActivityStatus.verified, ActivityStatus.pending,
                     ActivityStatus.withdrawn]),
    st.integers(1, 12),  # month
    st.integers(0, 9),  # 条
    st.sampled_from(STATES),
    st.booleans(),  # task 10 (建言献策) rather than task 5
), min_size=1, max_size=12)
PERIODS = st.sampled_from([f"{YEAR}-ytd11", f"{YEAR}-q2", f"{YEAR}-03", f"{YEAR}"])


def recount(session: Session, top: Organisation, start: date, end: date) -> tuple[int, int]:
    parents = {o.id: o.parent_id for o in session.scalars(select(Organisation))}

    def within(org_id: int | None) -> bool:
        while org_id is not None:
            if org_id == top.id:
                return True
            org_id = parents.get(org_id)
        return False

    suggestion = set(session.scalars(select(Indicator.id).where(Indicator.is_suggestion.is_(True))))
    states = {r.activity_id: r.state for r in session.scalars(select(SuggestionFollowUp))}
    made = adopted = 0
    for a in session.scalars(select(Activity)):
        if a.status != ActivityStatus.verified or not within(a.credited_org_id) or not start <= a.occurred_on <= end:
            continue
        items = sum(v.value for v in session.scalars(select(ActivityValue).where(ActivityValue.activity_id == a.id))
                    if v.indicator_id in suggestion)
        made += items
        if states.get(a.id) in ("adopted", "implemented"):
            adopted += items
    return made, adopted


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(drawn=suggestions, period_key=PERIODS, top=st.sampled_from(["kunming", "wuhua", "province"]))
def test_adoption_equals_a_recount(base_engine, clock, drawn, period_key, top):
    clock.freeze_on(TODAY)
    conn = base_engine.connect()
    outer = conn.begin()
    s = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        w = World(s)
        orgs = {"wuhua": w.wuhua, "panlong": w.panlong, "kunming": w.kunming, "qujing": w.qujing,
                "province": w.province}
        province_staff = f.persona(s, "province_staff")
        for n, (credited, status, month, items, state, ten) in enumerate(drawn):
            task = w.task10 if ten else w.task
            a = f.make_activity(s, recorder=w.member, credited=orgs[credited], county=w.wuhua, task_=task,
                                values={(w.idea10 if ten else w.idea).id: items}, occurred_on=date(YEAR, month, 1 + n),
                                status=status)
            if n % 3 == 0:  # a figure of another task's indicator never counts
                f.make_activity(s, recorder=w.member, credited=orgs[credited], county=w.wuhua, task_=w.other,
                                values={w.other_count.id: items + 1}, occurred_on=date(YEAR, month, 1),
                                status=status)
            if state is None:
                continue
            if status == ActivityStatus.verified and date(YEAR, month, 1 + n) <= TODAY:
                w.set(a, state, by=province_staff, on=date(YEAR, month, 1 + n))
            else:  # set while verified, then reopened or returned: the state stays, the figure leaves
                s.add(SuggestionFollowUp(activity_id=a.id, state=SuggestionState(state), department="某局",
                                         state_on=date(YEAR, month, 1)))
                s.flush()
        p = w.period(period_key)
        got = service.adoption(s, orgs[top], p)
        assert (got.made, got.adopted) == recount(s, orgs[top], p.start, p.end)
        assert got.rate == (got.adopted / got.made if got.made else None)
    finally:
        s.close()
        outer.rollback()
        conn.close()
