"""Group commit (SQLite) and no writer turn (PostgreSQL): ``app.db.run_write`` on real databases.

Submissions that arrive together commit together, each in a savepoint of its own: a refused one and
one that fails half-way through its writes fail alone, leave nothing behind, and the others land.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import date
from types import SimpleNamespace

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import event, func, select, text
from sqlmodel import Session

from app.activities.schemas import ActivityInput
from app.activities.service import record_activity
from app.auth.service import build_principal
from app.db import make_engine, migrate, run_write, write_engine, write_session
from app.errors import Invalid
from app.models import Activity, ActivityParticipant, ActivityValue, AuditLog, GrantRole
from app.rollup import service as rollup
from app.seed.province import init_province
from tests import factories as f
from tests.activities.conftest import TODAY, YEAR
from tests.conftest import temporary_database


def _request() -> SimpleNamespace:
    return SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace()))


def _world(tmp_path, url: str | None = None):
    """A migrated database (an SQLite file unless ``url``) with a member of 五华区 who can record:
    (engine, principal, data(n))."""
    url = url or f"sqlite:///{tmp_path / 'group.db'}"
    migrate(url)
    engine = make_engine(url)
    with write_session(engine) as s:
        init_province(s, "53")
        wuhua = f.org(s, "530102")
        user = f.make_user(s, member=f.make_member(s, wuhua), grants=((GrantRole.member, wuhua),))
        task = f.task(s, 3)
        indicator = f.indicators(s, task)[0]
        s.commit()
        principal = build_principal(s, user, today=TODAY)
        county, task_id, indicator_id = wuhua.id, task.id, indicator.id

    def data(n: int, description: str = "就业技能培训") -> ActivityInput:
        # Days apart: no submission is another's likely duplicate.
        return ActivityInput(task_id=task_id, county_id=county, occurred_on=date(YEAR, 1 + n // 28, 1 + n % 28),
                             description=description, values={indicator_id: str(n + 1)})

    return engine, principal, data


def _submit_all(engine, principal, inputs: list[ActivityInput], *,
                by: list | None = None) -> tuple[list, SimpleNamespace]:
    """Submit ``inputs`` together (one batch when they all arrive at once), each by ``principal`` or by
    its own of ``by``."""
    request, write = _request(), Session(write_engine(engine))

    async def go() -> list:
        async def one(n: int, body: ActivityInput):
            recorder = by[n] if by else principal
            return await run_write(request, Session(engine), write, lambda s: record_activity(
                s, by=recorder, data=body, idempotency_key=f"k-{n}", today=TODAY), lambda _r, result: result)
        return await asyncio.gather(*(one(n, body) for n, body in enumerate(inputs)), return_exceptions=True)

    return asyncio.run(go()), request


def test_submissions_arriving_together_commit_together_and_fail_alone(tmp_path, monkeypatch):
    engine, principal, data = _world(tmp_path)
    try:
        real_apply = rollup.apply

        def failing_apply(session, changes, **kw):  # fails after every row and its rollup sums are staged
            changes = list(changes)
            real_apply(session, changes, **kw)
            if any(after is not None and after.values == {INDICATOR[0]: 22} for _, after in changes):
                raise RuntimeError("disk trouble half-way")

        INDICATOR = []
        monkeypatch.setattr(rollup, "apply", failing_apply)
        inputs = [data(n) for n in range(20)] + [data(20, "x"), data(21, "中途失败的一次")]
        INDICATOR.append(next(iter(inputs[0].values)))
        rollup_writes = _counting(engine, "INSERT INTO rollup ")
        audit_writes = _counting(engine, "INSERT INTO audit_log ")
        participant_writes = _counting(engine, "INSERT INTO activity_participant ")
        value_writes = _counting(engine, "INSERT INTO activity_value ")
        sizes_before = _batch_sizes()
        results, request = _submit_all(engine, principal, inputs)
        ok = [r for r in results if not isinstance(r, BaseException)]
        assert len(ok) == 20 and all(r.created and r.answer is not None for r in ok)
        assert isinstance(results[20], Invalid) and isinstance(results[21], RuntimeError)
        batches = request.app.state.szt_group_commit
        (commit,) = batches.values()
        assert commit.written == 22 and commit.batches < 22  # they did not each take a transaction
        # The rollup's sums were written once per batch, not once per submission, and so were the audit
        # rows and the participants (one executemany each); the values, which the next submission's
        # near-duplicate check reads, each in its own use case's savepoint (the failed one's too).
        assert len(rollup_writes) == len(audit_writes) == len(participant_writes) == commit.batches
        assert len(value_writes) == 21
        # /metrics: szt_group_commit_batch_size counted the transactions and the writes they carried.
        sizes_after = _batch_sizes()
        assert sizes_after[0] - sizes_before[0] == commit.batches and sizes_after[1] - sizes_before[1] == 22
        with write_session(engine) as s:
            assert s.scalar(select(func.count()).select_from(Activity)) == 20
            assert s.scalar(select(func.count()).select_from(ActivityValue)) == 20
            assert s.scalar(select(func.count()).select_from(ActivityParticipant)) == 20
            assert s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "activity.create")) == 20
            assert not s.scalar(select(func.count()).select_from(Activity).where(Activity.description.like("%中途%")))
            assert rollup.check(s) == []  # the failed one's figures were rolled back with it
    finally:
        engine.dispose()


def _batch_sizes() -> tuple[float, float]:
    """(transactions, writes) the group commit reported to /metrics so far, in this process."""
    return (REGISTRY.get_sample_value("szt_group_commit_batch_size_count") or 0.0,
            REGISTRY.get_sample_value("szt_group_commit_batch_size_sum") or 0.0)


def test_a_submission_sees_the_figures_of_one_before_it_in_its_batch(tmp_path):
    """The near-duplicate check reads the figures of activities a day apart: one recorded earlier in the
    same batch has its values written already (its audit row and participants wait for the batch's end)."""
    engine, principal, data = _world(tmp_path)
    try:
        with write_session(engine) as s:
            other = f.make_user(s, member=f.make_member(s, f.org(s, "530102")),
                                grants=((GrantRole.member, f.org(s, "530102")),))
            s.commit()
            second = build_principal(s, other, today=TODAY)
        first_day, next_day = data(0), data(1)  # 1 and 2 January, other figures
        next_day = next_day.model_copy(update={"values": dict(first_day.values)})  # the same figures
        (first, then), request = _submit_all(engine, principal, [first_day, next_day], by=[principal, second])
        (commit,) = request.app.state.szt_group_commit.values()
        assert commit.batches == 1  # both in one transaction
        assert "duplicate" not in [f.code for f in first.flags]
        # Another recorder, the same figures a day apart: seen, so flagged as a likely re-entry of it.
        (said,) = [f.message for f in then.flags if f.code == "duplicate"]
        assert f"#{first.activity.id}（" in said and "数值相同" in said
    finally:
        engine.dispose()


def _counting(engine, prefix: str) -> list[str]:
    """Every statement run on ``engine`` that starts with ``prefix``, as it runs."""
    seen: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _seen(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith(prefix):
            seen.append(statement)

    return seen


def test_a_use_case_that_failed_after_its_commit_keeps_its_rows_and_its_figures(tmp_path):
    """Committed is committed: a batch writes the sums of every use case whose savepoint was released,
    even one whose answer then failed inside the use case; not those of one that rolled back."""
    engine, principal, data = _world(tmp_path)
    try:
        def after_commit_fails(s: Session):
            record_activity(s, by=principal, data=data(1), idempotency_key="k-late", today=TODAY)
            raise RuntimeError("the answer failed after the commit")

        def staged_then_rolled_back(s: Session):
            record_activity(s, by=principal, data=data(2), idempotency_key="k-undone", today=TODAY)
            s.rollback()  # the service committed; this undoes nothing of it
            return "kept"

        async def go() -> list:
            request = _request()
            return await asyncio.gather(
                run_write(request, Session(engine), None, after_commit_fails, lambda _r, v: v),
                run_write(request, Session(engine), None, staged_then_rolled_back, lambda _r, v: v),
                return_exceptions=True)

        late, kept = asyncio.run(go())
        assert isinstance(late, RuntimeError) and kept == "kept"
        with write_session(engine) as s:
            assert s.scalar(select(func.count()).select_from(Activity)) == 2
            assert rollup.check(s) == []  # both activities' figures are in the rollup, once each
            assert s.scalar(text("SELECT SUM(pending) FROM rollup WHERE indicator_id = 0 AND scope = 'place'")) == 2
    finally:
        engine.dispose()


def test_postgresql_runs_writers_side_by_side(tmp_path):
    """No per-process writer turn on PostgreSQL: two use cases that each wait for the other both finish."""
    with temporary_database("postgresql", tmp_path) as url:
        engine = make_engine(url)
        try:
            barrier = threading.Barrier(2, timeout=10)

            def use_case(s: Session) -> int:
                s.execute(text("SELECT 1"))
                barrier.wait()  # a turn of one would leave this waiting until the timeout
                return 1

            async def both() -> list:
                request = _request()
                return await asyncio.gather(*(run_write(request, Session(engine), Session(engine), use_case,
                                                        lambda _r, n: n)
                                              for _ in range(2)))

            assert asyncio.run(both()) == [1, 1]
        finally:
            engine.dispose()


@pytest.mark.parametrize("count", [1])
def test_a_lone_submission_is_its_own_batch(tmp_path, count):
    url = f"sqlite:///{tmp_path / 'alone.db'}"
    migrate(url)
    engine = make_engine(url)
    try:
        request = _request()

        async def go() -> int:
            return await run_write(request, Session(engine), Session(write_engine(engine)),
                                   lambda s: s.execute(text("SELECT 41")).scalar() + count, lambda _r, n: n)

        assert asyncio.run(go()) == 42
        (commit,) = request.app.state.szt_group_commit.values()
        assert (commit.batches, commit.written) == (1, 1)
    finally:
        engine.dispose()


def test_a_batch_whose_commit_fails_answers_each_request_and_keeps_nothing(tmp_path, monkeypatch):
    """Nothing of the batch is durable: the requests the rules accepted get the commit's error (a retry
    with the same key is then safe), one the rules refused keeps its own answer."""
    from sqlalchemy.engine.base import RootTransaction
    from sqlalchemy.exc import OperationalError

    engine, principal, data = _world(tmp_path)
    try:
        def failing_commit(self):
            raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

        monkeypatch.setattr(RootTransaction, "commit", failing_commit)
        results, _ = _submit_all(engine, principal, [data(0), data(1, "x"), data(2)])
        monkeypatch.undo()
        assert isinstance(results[0], OperationalError) and isinstance(results[2], OperationalError)
        assert isinstance(results[1], Invalid)
        with write_session(engine) as s:
            assert s.scalar(select(func.count()).select_from(Activity)) == 0
        retried, _ = _submit_all(engine, principal, [data(0), data(2)])
        assert all(r.created for r in retried)
    finally:
        engine.dispose()


def test_postgresql_writes_the_sums_in_the_commits_round_trip(tmp_path):
    """PostgreSQL: each use case's rollup sums, and the rows of the new activity nothing reads back, go
    to the server with its COMMIT, in one pipeline — the province's rows, which every submission adds
    to, are locked only for that round trip — and the rollup still equals a recount."""
    with temporary_database("postgresql", tmp_path) as url:
        engine, principal, data = _world(tmp_path, url)
        try:
            inserts: list[tuple[str, bool]] = []

            @event.listens_for(engine, "before_cursor_execute")
            def _seen(conn, cursor, statement, parameters, context, executemany):
                table = statement.split()[2] if statement.startswith("INSERT INTO") else None
                if table in ("activity", "activity_value", "activity_participant", "audit_log", "rollup",
                             "rollup_stamp"):
                    inserts.append((table, bool(cursor.connection.pgconn.pipeline_status)))

            results, _ = _submit_all(engine, principal, [data(n) for n in range(6)])
            assert all(not isinstance(r, BaseException) and r.created for r in results)
            # The activity's own insert returns its id; what nothing reads back before the COMMIT — its
            # values, its participants, its audit row, then the rollup's figures and stamps (one statement
            # per table, all the rows as arrays) — goes in the COMMIT's pipeline.
            assert sorted(inserts) == sorted([("activity", False), ("activity_value", True),
                                              ("activity_participant", True), ("audit_log", True),
                                              ("rollup", True), ("rollup_stamp", True)] * 6)
            with write_session(engine) as s:
                assert s.scalar(select(func.count()).select_from(Activity)) == 6
                assert s.scalar(select(func.count()).select_from(ActivityValue)) == 6
                assert s.scalar(select(func.count()).select_from(AuditLog)
                                .where(AuditLog.action == "activity.create")) == 6
                assert rollup.check(s) == []
                assert s.scalar(text("SELECT SUM(pending) FROM rollup WHERE indicator_id = 0 "
                                     "AND scope = 'place'")) == 6
        finally:
            engine.dispose()


def test_postgresql_a_sum_refused_at_the_commit_keeps_nothing_of_its_use_case(tmp_path, monkeypatch):
    """What the server refuses in the COMMIT's pipeline fails that request as a failed COMMIT would: its
    activity is not kept, its connection goes back clean, and the next submission lands."""
    from sqlalchemy.exc import IntegrityError

    with temporary_database("postgresql", tmp_path) as url:
        engine, principal, data = _world(tmp_path, url)
        try:
            real = rollup.Sums.statements

            def refused(self, conn):  # a stamp no organisation has: the foreign key refuses the figures
                found = real(self, conn)
                (figures, rows), stamps = found
                return [(figures, [{**rows[0], "unit_id": 999_999}, *rows[1:]]), stamps]

            monkeypatch.setattr(rollup.Sums, "statements", refused)
            (failed,), _ = _submit_all(engine, principal, [data(0)])
            monkeypatch.undo()
            assert isinstance(failed, IntegrityError)
            (landed,), _ = _submit_all(engine, principal, [data(1)])
            assert landed.created
            with write_session(engine) as s:
                assert s.scalar(select(func.count()).select_from(Activity)) == 1
                assert s.scalar(select(func.count()).select_from(AuditLog)
                                .where(AuditLog.action == "activity.create")) == 1
                assert rollup.check(s) == []
        finally:
            engine.dispose()


def test_postgresql_a_review_bumps_its_stamps_with_its_sums_in_the_commits_round_trip(tmp_path):
    """A verification moves the participation counters in the middle of its transaction; their stamps
    go with the rollup's sums at the COMMIT, after the figures — the order a submission takes those
    rows in. Bumped where the counters move, they would be locked before the figures: a submission
    holding the figures and waiting for the stamps, and the review the other way round, deadlock."""
    from app.activities.review import verify

    with temporary_database("postgresql", tmp_path) as url:
        engine, principal, data = _world(tmp_path, url)
        try:
            (recorded,), _ = _submit_all(engine, principal, [data(0)])
            with write_session(engine) as s:
                office = f.make_user(s, grants=((GrantRole.staff, f.org(s, "530102")),))
                s.commit()
                reviewer = build_principal(s, office, today=TODAY)
            stamps: list[bool] = []

            @event.listens_for(engine, "before_cursor_execute")
            def _seen(conn, cursor, statement, parameters, context, executemany):
                if statement.startswith("INSERT INTO rollup_stamp"):
                    stamps.append(bool(cursor.connection.pgconn.pipeline_status))

            async def review() -> object:
                return await run_write(_request(), Session(engine), None, lambda s: verify(
                    s, by=reviewer, activity_id=recorded.activity.id, note="已电话核实，情况属实"), lambda _r, a: a)

            asyncio.run(review())
            assert stamps == [True]  # once, in the COMMIT's pipeline
            with write_session(engine) as s:
                assert s.scalar(text("SELECT count(*) FROM participation_counter WHERE took_part > 0")) > 0
                assert rollup.check(s) == []
        finally:
            engine.dispose()
