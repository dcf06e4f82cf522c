"""The write path's statements, counted (issue 21): a new submission makes at most seven in its
transaction — the probe, the activity, its values, its participants, the audit row, the rollup's
figures and stamps — plus its flags' row when it has flags; the facts it checks come from the
per-process snapshot, checked against their version inside the probe."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import event

from app.activities import facts
from app.activities.service import record_activity
from app.errors import Invalid
from app.models import ClosedMonth
from tests.activities.conftest import TODAY, YEAR

TRANSACTION_CONTROL = ("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT")


def _statements(world, work) -> list[str]:
    seen: list[str] = []
    conn = world.session.connection()

    def listen(_conn, _cursor, statement, *_args) -> None:
        if not statement.lstrip().upper().startswith(TRANSACTION_CONTROL):
            seen.append(" ".join(statement.split()[:4]))

    event.listen(conn, "before_cursor_execute", listen)
    try:
        work()
    finally:
        event.remove(conn, "before_cursor_execute", listen)
    return seen


def _record(world, key: str, day: date, values: dict | None = None):
    return record_activity(world.session, by=world.p(world.member_user), idempotency_key=key, today=TODAY,
                           data=world.form(occurred_on=day, values=values or {world.count_ind.id: "2"}))


def test_a_new_submission_makes_seven_statements_in_its_transaction(world):
    _record(world, "warm", date(YEAR, 9, 1))  # the process's facts are loaded once
    principal = world.p(world.member_user)  # (loading the caller is not the write's work)
    results = []
    made = _statements(world, lambda: results.append(record_activity(
        world.session, by=principal, idempotency_key="counted", today=TODAY,
        data=world.form(occurred_on=date(YEAR, 11, 21), values={world.count_ind.id: "2"}))))
    assert results[0].created and results[0].flags == [] and results[0].answer is not None
    assert len(made) == 7, made
    assert made[0].startswith("WITH near")  # the probe: key, duplicates, history, the facts' version
    assert [m.split()[2] for m in made[1:]] == [
        "activity", "activity_value", "activity_participant", "audit_log", "rollup", "rollup_stamp"], made
    # (the rows every submission updates come last: PostgreSQL holds their locks until the COMMIT)


def test_the_duplicate_checks_read_nothing_beyond_the_probe(world):
    """At the month's end most submissions have a neighbour a day apart: the near-duplicate check reads
    it, and its figures, in the probe; the flag it raises is the one statement more."""
    first = _record(world, "neighbour", date(YEAR, 9, 10))
    principal = world.p(world.member_user)
    results = []
    made = _statements(world, lambda: results.append(record_activity(
        world.session, by=principal, idempotency_key="next-day", today=TODAY,
        data=world.form(occurred_on=date(YEAR, 9, 11), values={world.count_ind.id: "2"}))))
    (flag,) = [f for f in results[0].flags if f.code == "duplicate"]
    assert f"#{first.activity.id}（" in flag.message
    assert made[0].startswith("WITH near") and not any(m.startswith(("SELECT", "WITH")) for m in made[1:]), made
    assert [m.split()[2] for m in made[1:]] == [
        "activity", "activity_value", "activity_participant", "activity_flag", "audit_log", "rollup",
        "rollup_stamp"], made


def test_a_retry_is_answered_from_the_probe(world):
    first = _record(world, "again", date(YEAR, 9, 2))
    made = []
    retried = []
    made = _statements(world, lambda: retried.append(_record(world, "again", date(YEAR, 9, 2))))
    assert retried[0].activity.id == first.activity.id and not retried[0].created
    assert not any(m.startswith("INSERT") for m in made)


def test_a_change_to_the_facts_is_seen_by_the_next_write(world):
    """Closing a month moves the facts' version (a trigger): the very next submission is checked
    against the closed month, not the cached snapshot."""
    _record(world, "before", date(YEAR, 8, 3))
    cached = facts.current_facts(world.session)
    world.session.add(ClosedMonth(org_id=world.wuhua.id, month=YEAR * 100 + 8))
    world.session.flush()
    assert facts.current_facts(world.session).version != cached.version
    with pytest.raises(Invalid) as refused:
        _record(world, "after", date(YEAR, 8, 4))
    assert refused.value.code == "month_closed"
