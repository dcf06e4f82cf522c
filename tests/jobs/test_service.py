"""Background jobs on a committed database, with real threads: a job is claimed once however many
workers ask, leases are renewed and taken back only when silent, failures end the job in Chinese."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlmodel import Session

from app.db import make_engine, read_session, write_session
from app.errors import Invalid
from app.jobs import service as jobs
from app.models import BackgroundJob, UserAccount


@pytest.fixture
def db(fresh_url) -> Iterator[jobs.Databases]:
    engine = make_engine(fresh_url)
    try:
        yield jobs.Databases(engine)
    finally:
        engine.dispose()


@pytest.fixture
def user_id(db) -> int:
    with write_session(db.engine) as s:
        user = UserAccount(login="13800000001", display_name="任务测试")
        s.add(user)
        s.commit()
        return user.id


@pytest.fixture
def kinds(monkeypatch) -> dict[str, list[int]]:
    """Test handlers: ``test.ok`` records the job it ran, ``test.once`` cannot be restarted,
    ``test.invalid`` / ``test.crash`` fail, ``test.slow`` waits for ``release``."""
    ran: dict[str, list[int]] = {"ok": [], "slow": []}
    release = threading.Event()

    def ok(ctx: jobs.JobContext) -> None:
        ran["ok"].append(ctx.job.id)
        ctx.progress(1, 1)
        ctx.finish(result={"echo": ctx.params.get("n")})

    def slow(ctx: jobs.JobContext) -> None:
        ran["slow"].append(ctx.job.id)
        release.wait(10)
        ctx.finish()

    def invalid(ctx: jobs.JobContext) -> None:
        raise Invalid("文件中没有数据行")

    def crash(ctx: jobs.JobContext) -> None:
        raise RuntimeError("boom")

    for kind, run, restartable, options in (
            ("test.ok", ok, True, {}), ("test.once", ok, False, {"interrupted": jobs.INTERRUPTED}),
            ("test.invalid", invalid, True, {"error_prefix": "导出失败："}),
            ("test.crash", crash, True, {"server_error": "服务器出错，请稍后重新生成"}),
            ("test.slow", slow, True, {})):
        monkeypatch.setitem(jobs.HANDLERS, kind, jobs.Handler(run=run, restartable=restartable, **options))
    ran["release"] = release  # type: ignore[assignment]
    yield ran
    release.set()


def _submit(db: jobs.Databases, user_id: int, kind: str = "test.ok", **params: object) -> int:
    with write_session(db.engine) as s:
        job = jobs.submit(s, kind=kind, user_id=user_id, params=dict(params))
        s.commit()
        assert job.id is not None
        return job.id


def _wait_until(done: Callable[[], bool], seconds: float = 20) -> None:
    """Poll ``done`` until it holds; fail after ``seconds`` (a worker thread does the work meanwhile)."""
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, "the worker did not get there in time"
        time.sleep(0.02)


def _row(db: jobs.Databases, job_id: int) -> BackgroundJob:
    with read_session(db.engine) as s:
        row = s.get(BackgroundJob, job_id)
        assert row is not None
        return row


def test_one_job_is_claimed_once_by_racing_workers(db, user_id, kinds):
    job_id = _submit(db, user_id)
    start = threading.Barrier(6)
    got: list[BackgroundJob | None] = []

    def worker() -> None:
        owner = jobs.new_owner()
        start.wait()
        got.append(jobs.claim(db, owner))

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    claimed = [j for j in got if j is not None]
    assert len(got) == 6 and [j.id for j in claimed] == [job_id]
    row = _row(db, job_id)
    assert row.status == "running" and row.lease_owner == claimed[0].lease_owner and row.attempts == 1
    assert row.heartbeat_at is not None and row.started_at is not None


def test_many_jobs_are_each_claimed_exactly_once(db, user_id, kinds):
    ids = {_submit(db, user_id, n=n) for n in range(30)}
    claimed: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        owner = jobs.new_owner()
        while (job := jobs.claim(db, owner)) is not None:
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(claimed) == sorted(ids)  # none twice, none left
    with read_session(db.engine) as s:
        assert set(s.scalars(select(BackgroundJob.status))) == {"running"}


# SKIP LOCKED is PostgreSQL's; SQLite's single writer serialises claims, so this runs on PostgreSQL only.
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_claim_skips_a_row_another_transaction_holds_on_postgresql(db, user_id, kinds, backend):
    first, second = _submit(db, user_id), _submit(db, user_id)
    with Session(db.engine) as holder:
        # Another worker's claim in flight: it has locked the oldest queued row.
        holder.execute(select(BackgroundJob).where(BackgroundJob.id == first).with_for_update())
        job = jobs.claim(db, "other:1:x")  # does not wait for the lock: takes the next one
        assert job is not None and job.id == second
        holder.rollback()
    assert _row(db, first).status == "queued"


def test_the_worker_runs_a_submitted_job_and_records_the_result(db, user_id, kinds):
    job_id = _submit(db, user_id, n=7)
    worker = jobs.Worker(db.engine).start()
    try:
        _wait_until(lambda: _row(db, job_id).status in jobs.FINISHED)
    finally:
        worker.stop()
    row = _row(db, job_id)
    assert jobs.result_of(row) == {"echo": 7} and row.lease_owner is None and row.finished_at is not None
    assert (row.progress_done, row.progress_total, jobs.percent(row)) == (1, 1, 100)
    assert kinds["ok"] == [job_id]


def test_heartbeat_renews_only_the_owners_leases(db, user_id, kinds, clock):
    start = clock.now()
    clock.freeze(start)
    mine, theirs = _submit(db, user_id), _submit(db, user_id)
    assert jobs.claim(db, "me:1:a").id == mine
    assert jobs.claim(db, "them:2:b").id == theirs
    clock.freeze(start + timedelta(seconds=30))
    assert jobs.heartbeat(db, "me:1:a") == 1
    assert _row(db, mine).heartbeat_at == start + timedelta(seconds=30)
    assert _row(db, theirs).heartbeat_at == start
    # A renewed lease is not stale 61 s after the claim; the silent one is.
    clock.freeze(start + timedelta(seconds=61))
    assert jobs.recover_stale(db) == ([theirs], [])
    assert _row(db, mine).status == "running"


def test_a_progress_write_renews_the_lease(db, user_id, kinds, clock):
    start = clock.now()
    clock.freeze(start)
    job = jobs.claim(db, "me:1:a") if _submit(db, user_id) else None
    assert job is not None
    clock.freeze(start + timedelta(seconds=45))
    ctx = jobs.JobContext(db=db, job=job, owner="me:1:a")
    ctx.progress(5, 10)
    row = _row(db, job.id)
    assert (row.progress_done, row.progress_total, row.heartbeat_at) == (5, 10, start + timedelta(seconds=45))


def test_a_stale_restartable_job_is_queued_again_and_runs_again(db, user_id, kinds, clock):
    start = clock.now()
    clock.freeze(start)
    job_id = _submit(db, user_id)
    lost = jobs.claim(db, "gone:1:a")
    clock.freeze(start + timedelta(seconds=jobs.STALE_SECONDS - 1))
    assert jobs.recover_stale(db) == ([], [])  # silent for 59 s: still its worker's
    clock.freeze(start + timedelta(seconds=jobs.STALE_SECONDS + 1))
    assert jobs.recover_stale(db) == ([job_id], [])
    row = _row(db, job_id)
    assert row.status == "queued" and row.lease_owner is None and row.progress_done == 0
    assert jobs.run_next(db) is not None and _row(db, job_id).status == "done"
    # The lost worker wakes up: its writes no longer count.
    with pytest.raises(jobs.LeaseLost):
        jobs.JobContext(db=db, job=lost, owner="gone:1:a").progress(1, force=True)
    assert _row(db, job_id).status == "done"


def test_a_stale_job_that_cannot_restart_is_failed_in_chinese(db, user_id, kinds, clock):
    start = clock.now()
    clock.freeze(start)
    job_id = _submit(db, user_id, kind="test.once")
    jobs.claim(db, "gone:1:a")
    clock.freeze(start + timedelta(seconds=jobs.STALE_SECONDS + 1))
    assert jobs.recover_stale(db) == ([], [job_id])
    row = _row(db, job_id)
    assert row.status == "failed" and row.error == "处理中断（服务重启或失去响应），请重新提交"
    assert row.finished_at == start + timedelta(seconds=jobs.STALE_SECONDS + 1)


def test_a_job_that_keeps_losing_its_worker_is_failed_after_the_last_attempt(db, user_id, kinds, clock):
    start = clock.now()
    job_id = _submit(db, user_id)
    for attempt in range(jobs.MAX_ATTEMPTS):
        clock.freeze(start + timedelta(minutes=2 * attempt))
        assert jobs.claim(db, f"gone:{attempt}:a").id == job_id
        clock.freeze(start + timedelta(minutes=2 * attempt + 1, seconds=5))
        requeued, failed = jobs.recover_stale(db)
        assert (requeued, failed) == (([job_id], []) if attempt < jobs.MAX_ATTEMPTS - 1 else ([], [job_id]))
    assert _row(db, job_id).error == jobs.INTERRUPTED


def test_a_starting_worker_leaves_a_live_process_lease_alone(db, user_id, kinds, clock):
    start = clock.now()
    clock.freeze(start)
    job_id = _submit(db, user_id)
    jobs.claim(db, "elsewhere:4242:a")  # another machine's worker, heartbeat 30 s ago
    clock.freeze(start + timedelta(seconds=30))
    other = _submit(db, user_id)
    worker = jobs.Worker(db.engine).start()  # sweeps at once, then claims
    try:
        _wait_until(lambda: _row(db, other).status in jobs.FINISHED)
    finally:
        worker.stop()
    row = _row(db, job_id)
    assert (row.status, row.lease_owner, row.heartbeat_at) == ("running", "elsewhere:4242:a", start)
    assert kinds["ok"] == [other]


@pytest.mark.parametrize("kind, message", [
    ("test.invalid", "导出失败：文件中没有数据行"),  # a DomainError: its own message, after the prefix
    ("test.crash", "服务器出错，请稍后重新生成"),  # anything else: the handler's generic message
])
def test_a_failing_handler_ends_its_job_failed_with_a_chinese_message(db, user_id, kinds, kind, message, caplog):
    job_id = _submit(db, user_id, kind=kind)
    assert jobs.run_next(db) is not None
    row = _row(db, job_id)
    assert (row.status, row.error, row.lease_owner) == ("failed", message, None) and row.finished_at is not None
    if kind == "test.crash":
        assert "boom" in caplog.text  # logged for the operator, never shown


def test_requeue_turns_a_finished_job_into_its_next_step_once(db, user_id, kinds):
    job_id = _submit(db, user_id)
    jobs.run_next(db)
    with write_session(db.engine) as s:
        assert jobs.requeue(s, job_id, kind="test.once", from_kind="test.ok")
        assert not jobs.requeue(s, job_id, kind="test.once", from_kind="test.ok")  # the second click
        s.commit()
    row = _row(db, job_id)
    assert (row.kind, row.status, row.attempts, row.finished_at) == ("test.once", "queued", 0, None)
    assert jobs.result_of(row) == {"echo": None}  # what the first step found is kept


def test_a_kind_this_process_does_not_know_is_left_to_one_that_does(db, user_id, kinds):
    unknown = _submit(db, user_id, kind="test.newer")  # e.g. queued by a process already upgraded
    known = _submit(db, user_id)
    assert jobs.run_pending(db) == 1
    assert (_row(db, unknown).status, _row(db, known).status) == ("queued", "done")


def test_the_workers_heartbeat_renews_the_lease_of_a_job_it_runs(db, user_id, kinds, clock, monkeypatch):
    monkeypatch.setattr(jobs, "HEARTBEAT_SECONDS", 0.05)
    start = clock.now()
    clock.freeze(start)
    job_id = _submit(db, user_id, kind="test.slow")
    worker = jobs.Worker(db.engine).start()
    try:
        _wait_until(lambda: kinds["slow"] == [job_id])
        later = start + timedelta(seconds=jobs.STALE_SECONDS + 30)
        clock.freeze(later)  # the job has run for 90 s: its lease is kept fresh, so no sweep takes it
        _wait_until(lambda: _row(db, job_id).heartbeat_at == later)
        assert jobs.recover_stale(db) == ([], [])
        kinds["release"].set()
        _wait_until(lambda: _row(db, job_id).status in jobs.FINISHED)
    finally:
        worker.stop()
    assert _row(db, job_id).status == "done"
