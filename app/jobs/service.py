"""Background jobs: one mechanism for everything taken off the request (exports, import checks and
commits).

A job is a ``background_job`` row holding everything needed to run it — kind, owner, parameters,
the path of an uploaded file — so the process that accepted it need not be the one that runs it.
:func:`submit` adds the row inside the caller's transaction; every server process runs a
:class:`Worker` (``SZT_JOB_WORKERS`` threads, default 1: an export or an import check is heavy
work, a second one waits its turn rather than halving both) that claims queued jobs one at a time
with a single ``UPDATE … RETURNING`` (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's one writer
serialises the claim anyway), so a job is claimed once however many workers ask.

A claimed job carries a lease: ``lease_owner`` (this worker's host:pid:token) and ``heartbeat_at``,
renewed every :data:`HEARTBEAT_SECONDS` and with each progress write. A running job whose heartbeat
is older than :data:`STALE_SECONDS` lost its worker (a restart, a crash, a hung process): any
worker's sweep puts it back in the queue when its handler is restartable (up to
:data:`MAX_ATTEMPTS` runs), else marks it failed with a Chinese message. Nothing is failed merely
because a process starts: a fresh lease may belong to another live process. Every write a handler
makes about its job is guarded by its lease, so a worker that lost its lease stops instead of
overwriting its successor's work.

Handlers register by kind (:func:`register`) and receive a :class:`JobContext`: the row's inputs,
``progress()`` (short write transactions, at most every :data:`PROGRESS_SECONDS`), ``finish()``
(optionally inside the handler's own write transaction, so an import's data and its "done" commit
together). A :class:`~app.errors.DomainError` ends the job failed with its message; anything else
with the handler's generic message (and a log entry).
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import socket
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, select, update
from sqlmodel import Session, col

from app.clock import now_utc
from app.db import get_engine, is_sqlite, read_session, write_session
from app.errors import DomainError
from app.models import BackgroundJob
from app.ops import storage_full

log = logging.getLogger("app.jobs")

HEARTBEAT_SECONDS = 10
STALE_SECONDS = 60
SWEEP_SECONDS = 10  # how often an idle worker looks for stale leases
POLL_SECONDS = 1.0  # how often an idle worker looks for queued jobs (submit() in this process wakes it at once)
PROGRESS_SECONDS = 0.5
MAX_ATTEMPTS = 3  # a restartable job that lost its worker this often is failed: it may be what kills the worker
OPEN = ("queued", "running")
FINISHED = ("done", "failed")
INTERRUPTED = "处理中断（服务重启或失去响应），请重新提交"
SERVER_ERROR = "服务器出错，请稍后重试"
UNKNOWN_KIND = "无法处理这种后台任务，请联系管理员"


class LeaseLost(Exception):
    """The job's lease is no longer ours (another worker took a stale lease back): stop quietly."""


# --- sessions a handler uses ----------------------------------------------------------------------

@dataclass
class Databases:
    """Where a worker's sessions come from: the engine's own short transactions."""

    engine: Engine | None = None

    def read(self) -> AbstractContextManager[Session]:
        return read_session(self.engine)

    def write(self) -> AbstractContextManager[Session]:
        return write_session(self.engine)

    def bind(self) -> Engine | Connection:
        """For code that opens its own short transactions (an export reads in batches)."""
        return self.engine or get_engine()


@dataclass
class SameSession(Databases):
    """Every "transaction" is one given session (tests inside a rolled-back transaction, where no
    other connection could see the rows)."""

    session: Session | None = None

    def read(self) -> AbstractContextManager[Session]:
        return self._same()

    def write(self) -> AbstractContextManager[Session]:
        return self._same()

    def bind(self) -> Engine | Connection:
        assert self.session is not None
        return self.session.connection()

    @contextmanager
    def _same(self) -> Iterator[Session]:
        assert self.session is not None
        yield self.session


# --- handlers ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Handler:
    """What runs a kind of job, and how its failures read."""

    run: Callable[[JobContext], None]
    restartable: bool  # may run again from the start after losing its worker
    error_prefix: str = ""  # e.g. "导出失败："
    server_error: str = SERVER_ERROR  # shown for an unexpected exception (which is logged)
    interrupted: str = INTERRUPTED  # shown when it lost its worker and is not run again
    on_failure: Callable[[BackgroundJob], None] | None = None  # e.g. remove an upload nobody will confirm


HANDLERS: dict[str, Handler] = {}
FEATURES = ("app.exports.jobs", "app.imports.jobs", "app.quality.jobs", "app.profiles.jobs")  # the modules that register handlers


def register(kind: str, run: Callable[[JobContext], None], *, restartable: bool, **options: Any) -> Handler:
    """Name the function that runs jobs of ``kind`` (at import time of the feature's jobs module)."""
    handler = Handler(run=run, restartable=restartable, **options)
    HANDLERS[kind] = handler
    return handler


def _handlers() -> dict[str, Handler]:
    # The features register when imported; a worker may start before any page imported them.
    for feature in FEATURES:
        importlib.import_module(feature)
    return HANDLERS


# --- submitting and reading -----------------------------------------------------------------------

def submit(session: Session, *, kind: str, user_id: int, params: dict[str, Any] | None = None,
           org_id: int | None = None) -> BackgroundJob:
    """Queue a job inside the caller's transaction (the caller commits, then may :func:`wake`)."""
    job = BackgroundJob(kind=kind, user_id=user_id, org_id=org_id,
                        params=json.dumps(params or {}, ensure_ascii=False), created_at=now_utc())
    session.add(job)
    session.flush()
    return job


def requeue(session: Session, job_id: int, *, kind: str, from_kind: str, params: dict[str, Any] | None = None) -> bool:
    """Queue a finished job again as ``kind`` (e.g. an import's commit after its preview), once:
    False when it is no longer a finished ``from_kind`` (a second click). The caller commits."""
    values: dict[str, Any] = {"kind": kind, "status": "queued", "progress_done": 0, "progress_total": None,
                              "stage": None, "error": None, "attempts": 0, "lease_owner": None,
                              "heartbeat_at": None, "started_at": None, "finished_at": None}
    if params is not None:
        values["params"] = json.dumps(params, ensure_ascii=False)
    done = session.execute(update(BackgroundJob).where(
        col(BackgroundJob.id) == job_id, col(BackgroundJob.kind) == from_kind, col(BackgroundJob.status) == "done")
        .values(**values))
    return bool(done.rowcount)  # type: ignore[attr-defined]


def params_of(job: BackgroundJob) -> dict[str, Any]:
    """The job's inputs."""
    return json.loads(job.params or "{}")


def result_of(job: BackgroundJob) -> dict[str, Any]:
    """What the job found (empty until it says)."""
    return json.loads(job.result or "{}")


def progress_percent(status: str, done: int, total: int | None) -> int:
    """0–100 for a progress bar; 100 only once done."""
    if status == "done":
        return 100
    return min(99, int(done * 100 / total)) if total else 0


def percent(job: BackgroundJob) -> int:
    """A job's progress bar: :func:`progress_percent` of its row."""
    return progress_percent(job.status, job.progress_done, job.progress_total)


# --- claiming, the lease, the sweep -----------------------------------------------------------------

def new_owner() -> str:
    """A worker's lease token: host, process and a random part (a restarted container often gets its old pid back)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def claim(db: Databases, owner: str) -> BackgroundJob | None:
    """Take the oldest queued job for ``owner``, or None. Exclusive: one UPDATE moves it to running.

    Only kinds this process has a handler for: during an upgrade, a process still running the
    previous code leaves a new kind of job to the processes that know it.
    """
    queued = (col(BackgroundJob.status) == "queued", col(BackgroundJob.kind).in_(sorted(_handlers())))
    with db.read() as s:  # a cheap look first: an idle worker never takes SQLite's write lock
        if s.scalar(select(BackgroundJob.id).where(*queued).limit(1)) is None:
            return None
    with db.write() as s:
        now = now_utc()
        oldest = select(BackgroundJob.id).where(*queued).order_by(col(BackgroundJob.id)).limit(1)
        if not is_sqlite(s.get_bind()):
            # Two workers asking at once: the second skips the row the first holds instead of
            # waiting for it and then finding it no longer queued.
            oldest = oldest.with_for_update(skip_locked=True)
        claimed = s.scalars(
            update(BackgroundJob)
            .where(col(BackgroundJob.id) == oldest.scalar_subquery(), col(BackgroundJob.status) == "queued")
            .values(status="running", lease_owner=owner, heartbeat_at=now, started_at=now,
                    attempts=BackgroundJob.attempts + 1)
            .returning(BackgroundJob)
            .execution_options(synchronize_session=False, populate_existing=True)).first()
        s.commit()
        return claimed


def heartbeat(db: Databases, owner: str) -> int:
    """Renew the leases of every job ``owner`` runs; returns how many."""
    with db.write() as s:
        renewed = s.execute(update(BackgroundJob).where(
            col(BackgroundJob.lease_owner) == owner, col(BackgroundJob.status) == "running")
            .values(heartbeat_at=now_utc()))
        s.commit()
    return int(renewed.rowcount)  # type: ignore[attr-defined]


def recover_stale(db: Databases) -> tuple[list[int], list[int]]:
    """Take back the running jobs whose heartbeat is older than :data:`STALE_SECONDS`: queued again
    when restartable (and tried fewer than :data:`MAX_ATTEMPTS` times), else failed. Returns (requeued, failed)."""
    cutoff = now_utc() - timedelta(seconds=STALE_SECONDS)
    stale_where = (col(BackgroundJob.status) == "running", col(BackgroundJob.heartbeat_at) < cutoff)
    with db.read() as s:
        stale = s.execute(select(BackgroundJob.id, BackgroundJob.kind, BackgroundJob.attempts).where(*stale_where)).all()
    if not stale:
        return [], []
    handlers = _handlers()
    requeued: list[int] = []
    failed: list[int] = []
    with db.write() as s:
        for job_id, kind, attempts in stale:
            handler = handlers.get(kind)
            # The WHERE repeats the staleness: a heartbeat that came in since the look wins.
            mine = (col(BackgroundJob.id) == job_id, *stale_where)
            if handler is not None and handler.restartable and attempts < MAX_ATTEMPTS:
                done = s.execute(update(BackgroundJob).where(*mine).values(
                    status="queued", lease_owner=None, heartbeat_at=None, progress_done=0, stage=None))
                if done.rowcount:  # type: ignore[attr-defined]
                    requeued.append(job_id)
            else:
                message = handler.interrupted if handler is not None else INTERRUPTED
                done = s.execute(update(BackgroundJob).where(*mine).values(
                    status="failed", error=message[:500], lease_owner=None, finished_at=now_utc()))
                if done.rowcount:  # type: ignore[attr-defined]
                    failed.append(job_id)
        s.commit()
    for job_id in failed:
        _after_failure(db, job_id)
    if requeued or failed:
        log.warning("background jobs without a live worker: requeued %s, failed %s", requeued, failed)
    return requeued, failed


def _after_failure(db: Databases, job_id: int) -> None:
    with db.read() as s:
        job = s.get(BackgroundJob, job_id)
    if job is not None:
        _clean_up(HANDLERS.get(job.kind), job)


def _clean_up(handler: Handler | None, job: BackgroundJob) -> None:
    """The handler's ``on_failure`` for a job that ended failed (an upload nobody will confirm …)."""
    if handler is None or handler.on_failure is None:
        return
    try:
        handler.on_failure(job)
    except Exception:  # clean-up must not hide the failure itself
        log.exception("clean-up after background job %s failed", job.id)


# --- running one job ----------------------------------------------------------------------------------

@dataclass
class JobContext:
    """What a handler sees of its job: the inputs, sessions, and lease-guarded writes about it."""

    db: Databases
    job: BackgroundJob
    owner: str
    holding_write: bool = False  # the handler holds SQLite's only write lock: progress stays in memory
    finished: bool = False
    _last_write: float = field(default=0.0)

    @property
    def params(self) -> dict[str, Any]:
        return params_of(self.job)

    def read(self) -> AbstractContextManager[Session]:
        return self.db.read()

    def write(self) -> AbstractContextManager[Session]:
        return self.db.write()

    def _guarded(self, session: Session, **values: Any) -> None:
        done = session.execute(update(BackgroundJob).where(
            col(BackgroundJob.id) == self.job.id, col(BackgroundJob.lease_owner) == self.owner,
            col(BackgroundJob.status) == "running").values(**values))
        if not done.rowcount:  # type: ignore[attr-defined]
            raise LeaseLost(f"job {self.job.id} is no longer leased to {self.owner}")
        for name, value in values.items():
            setattr(self.job, name, value)

    def update(self, **values: Any) -> None:
        """Write ``values`` to the job now, in a short transaction of its own (renews the lease)."""
        with self.db.write() as s:
            self._guarded(s, **({"heartbeat_at": now_utc()} | values))
            s.commit()

    def progress(self, done: int, total: int | None = None, *, stage: str | None = None, force: bool = False) -> None:
        """Report progress; written at most every :data:`PROGRESS_SECONDS` unless ``force``."""
        values: dict[str, Any] = {"progress_done": max(0, done)}
        if total is not None:
            values["progress_total"] = total
        if stage is not None:
            values["stage"] = stage[:64]
        if self.holding_write:
            for name, value in values.items():
                setattr(self.job, name, value)
            return
        moment = time.monotonic()
        if force or total is not None or stage is not None or moment - self._last_write >= PROGRESS_SECONDS:
            self._last_write = moment
            self.update(**values)

    def finish(self, *, result: dict[str, Any] | None = None, session: Session | None = None, **values: Any) -> None:
        """The job is done. In ``session`` (the caller commits) when its outcome must commit with
        the handler's own writes; else in a short transaction of its own."""
        values |= {"status": "done", "finished_at": now_utc(), "heartbeat_at": now_utc(), "lease_owner": None}
        if result is not None:
            values["result"] = json.dumps(result, ensure_ascii=False)
        if session is not None:
            self._guarded(session, **values)
        else:
            self.update(**values)
        self.finished = True

    def fail(self, message: str) -> None:
        """End the job failed with a Chinese ``message`` (if the lease is still ours)."""
        self.update(status="failed", error=message[:500], finished_at=now_utc(), lease_owner=None)
        self.finished = True


def execute(db: Databases, job: BackgroundJob, owner: str) -> None:
    """Run a claimed job to its end: done, failed with a message, or abandoned when the lease was lost."""
    handler = _handlers().get(job.kind)
    ctx = JobContext(db=db, job=job, owner=owner)
    try:
        if handler is None:
            ctx.fail(UNKNOWN_KIND)
            return
        handler.run(ctx)
        if not ctx.finished:
            ctx.finish()
    except LeaseLost:
        log.warning("background job %s: lease lost, another worker has it now", job.id)
    except Exception as exc:  # a job must end failed, never stay running
        assert handler is not None
        if isinstance(exc, DomainError):
            reason = exc.message
        elif storage_full.is_storage_full(exc):  # said as the pages say it, logged once a minute
            storage_full.report(exc, f"background job {job.kind}")
            reason = storage_full.MESSAGE
        else:
            log.exception("background job %s (%s) failed", job.id, job.kind)
            reason = handler.server_error
        try:
            ctx.fail(f"{handler.error_prefix}{reason}")
        except LeaseLost:
            return
        except Exception:
            log.exception("could not mark background job %s failed", job.id)
            return
        _clean_up(handler, job)


def run_next(db: Databases, owner: str | None = None) -> BackgroundJob | None:
    """Claim and run the oldest queued job in this thread; the claimed job, or None when none waits."""
    owner = owner or new_owner()
    job = claim(db, owner)
    if job is not None:
        execute(db, job, owner)
    return job


def run_pending(db: Databases, *, limit: int = 100) -> int:
    """Run queued jobs in this thread until none is left (tests, the CLI); returns how many ran."""
    owner = new_owner()
    ran = 0
    while ran < limit and run_next(db, owner) is not None:
        ran += 1
    return ran


# --- the worker of a process ----------------------------------------------------------------------------

_workers: weakref.WeakSet[Worker] = weakref.WeakSet()


def wake() -> None:
    """Tell this process's workers a job was just queued (other processes find it within a second)."""
    for worker in list(_workers):
        worker.wake()


class Worker:
    """``threads`` threads claiming and running jobs, plus one heartbeat thread for their leases."""

    def __init__(self, engine: Engine | None = None, *, threads: int = 1) -> None:
        self.db = Databases(engine)
        self.owner = new_owner()
        self.threads = max(1, threads)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._running: list[threading.Thread] = []
        self._busy = 0  # jobs running now: an idle worker has no lease to renew (and takes no write lock)
        self._busy_lock = threading.Lock()

    def start(self) -> Worker:
        """Start the threads (daemons: a job cut off by the process's end is taken back by the sweep)."""
        for n in range(self.threads):
            thread = threading.Thread(target=self._loop, name=f"job-worker-{n}", daemon=True)
            thread.start()
            self._running.append(thread)
        beat = threading.Thread(target=self._beat, name="job-heartbeat", daemon=True)
        beat.start()
        self._running.append(beat)
        _workers.add(self)
        return self

    def wake(self) -> None:
        self._wake.set()

    def alive(self) -> bool:
        """Started, not stopped, and every thread still running (/readyz: app/ops/health.py)."""
        return bool(self._running) and not self._stop.is_set() and all(t.is_alive() for t in self._running)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop taking jobs; wait up to ``timeout`` seconds for the threads (a job still running is
        left to finish or to be taken back once its lease goes stale)."""
        _workers.discard(self)
        self._stop.set()
        self._wake.set()
        for thread in self._running:
            thread.join(timeout)

    def _loop(self) -> None:
        swept = -float(SWEEP_SECONDS)  # sweep at once: jobs of a process that died before this one started
        while not self._stop.is_set():
            try:
                if time.monotonic() - swept >= SWEEP_SECONDS:
                    swept = time.monotonic()
                    recover_stale(self.db)
                job = claim(self.db, self.owner)
                if job is not None:
                    with self._busy_lock:
                        self._busy += 1
                    try:
                        execute(self.db, job, self.owner)
                    finally:
                        with self._busy_lock:
                            self._busy -= 1
                    continue
            except Exception:  # a database hiccup must not end the worker
                log.exception("background job worker: claim or sweep failed")
            self._wake.wait(POLL_SECONDS)
            self._wake.clear()

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            if not self._busy:
                continue
            try:
                heartbeat(self.db, self.owner)
            except Exception:  # e.g. SQLite busy while a job holds the write lock: next time
                log.warning("background job heartbeat failed; retrying in %s s", HEARTBEAT_SECONDS, exc_info=True)


def count_open(session: Session, *, user_id: int, kinds: tuple[str, ...]) -> int:
    """How many of the user's jobs of ``kinds`` are queued or running."""
    return int(session.scalar(select(func.count()).select_from(BackgroundJob).where(
        col(BackgroundJob.user_id) == user_id, col(BackgroundJob.kind).in_(kinds),
        col(BackgroundJob.status).in_(OPEN))) or 0)
