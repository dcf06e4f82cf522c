"""Engine and sessions.

SQLite is the embedded default and is set up to behave like a server database under concurrent
use: WAL (readers never block the writer), ``synchronous=FULL`` (a committed activity survives a
power cut), ``foreign_keys=ON`` (orphans refused), a generous ``busy_timeout``, and write
transactions that ``BEGIN IMMEDIATE`` so that two writers queue on the lock up front instead of
one failing with "database is locked" when it upgrades a read lock half-way through.

Reads use a deferred ``BEGIN`` so that they never take the write lock.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from pathlib import Path
from typing import Any, Protocol, TypeVar

import anyio
from fastapi import Request
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import SessionTransaction
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel import Session

from app.config import get_settings
from app.ops.metrics import BATCH_SIZE

log = logging.getLogger(__name__)

# Execution option that marks an engine (or connection) whose transactions begin IMMEDIATE.
WRITE_OPTION = "szt_write"


def _install_sqlite_behaviour(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy's "begin" event below issue BEGIN itself (pysqlite's own implicit
        # transaction handling cannot begin IMMEDIATE).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    # Savepoints straight on the driver: the group commit (``GroupCommit``) gives every use case of a
    # batch one, and SQLAlchemy would compile each (its names differ) — a tenth of a submission's CPU.
    # The names are SQLAlchemy's own (sa_savepoint_N).
    def _driver(connection: Connection, sql: str) -> None:
        driver = connection.connection.driver_connection
        assert driver is not None
        driver.execute(sql)

    dialect = engine.dialect  # this engine's own dialect instance
    dialect.do_savepoint = lambda connection, name: _driver(  # type: ignore[method-assign]
        connection, f'SAVEPOINT "{name}"')
    dialect.do_release_savepoint = lambda connection, name: _driver(  # type: ignore[method-assign]
        connection, f'RELEASE SAVEPOINT "{name}"')
    dialect.do_rollback_to_savepoint = lambda connection, name: _driver(  # type: ignore[method-assign]
        connection, f'ROLLBACK TO SAVEPOINT "{name}"')


def make_engine(url: str, *, busy_timeout_ms: int | None = None, echo: bool = False) -> Engine:
    """Create an engine for ``url`` with this project's SQLite or PostgreSQL behaviour.

    ``hide_parameters``: a failed statement's message (logged with its traceback) names the SQL but not
    the values bound to it, which may be phone numbers or tokens' hashes (app/ops/logs.py)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            echo=echo,
            hide_parameters=True,
            connect_args={"check_same_thread": False, "timeout": (busy_timeout_ms or 15_000) / 1000},
        )
        _install_sqlite_behaviour(engine, busy_timeout_ms or get_settings().sqlite_busy_timeout_ms)
        return engine
    # The pool keeps a connection for each writer a process runs side by side (``SZT_PG_WRITERS``) and six
    # readers: past ``pool_size`` a connection is opened for one checkout and closed at its return — at
    # SQLAlchemy's default of five, most of a busy worker's requests each paid a new PostgreSQL backend
    # (a fork, authentication, psycopg's empty statement cache). At most ten more at a burst: four
    # workers stay under PostgreSQL's default of 100 connections.
    writers = get_settings().pg_writers
    engine = create_engine(url, echo=echo, pool_pre_ping=True, hide_parameters=True,
                           pool_size=writers + 6, max_overflow=10)
    if engine.dialect.name == "postgresql":
        _install_postgresql_behaviour(engine)
    return engine


AT_COMMIT = "szt.at_commit"  # a pooled connection's info: work to write in its COMMIT's round trip


def _install_postgresql_behaviour(engine: Engine) -> None:
    """The COMMIT of a transaction that staged work for its end (``deferred``: the rollup's sums) sends
    that work and the COMMIT in one round trip (psycopg's pipeline mode).

    Every submission adds to the same rows — the province's and its prefecture's figures and their
    stamps — and PostgreSQL keeps those rows locked until the COMMIT. Written as statements of their
    own, the lock was held across the client's turn between them: the writer thread waiting for its
    process's GIL among the others while every other writer of every process waited for the row
    (bench/README.md). In one round trip the server goes from the first of those rows to the COMMIT
    without waiting on the client. What went wrong raises from the commit, as a failed COMMIT does, and
    the transaction is rolled back whole."""
    dialect = engine.dialect  # this engine's own dialect instance
    plain_commit, plain_rollback = dialect.do_commit, dialect.do_rollback

    def staged_on(dbapi_connection: Any) -> Any:
        try:
            info = dbapi_connection.info
        except NotImplementedError:  # the first connect's ad-hoc proxy, which has no info: nothing staged
            return None
        return info.pop(AT_COMMIT, None)

    def do_commit(dbapi_connection: Any) -> None:
        staged = staged_on(dbapi_connection)
        if staged is None:
            plain_commit(dbapi_connection)
            return
        conn, work = staged
        driver = dbapi_connection.driver_connection
        with driver.pipeline(), driver.cursor() as cursor:
            for share in work:
                for statement, rows in share.statements(conn):
                    statement.queue_many(conn, cursor, rows)
            driver.commit()

    def do_rollback(dbapi_connection: Any) -> None:
        staged_on(dbapi_connection)  # staged work goes with the transaction
        plain_rollback(dbapi_connection)

    dialect.do_commit = do_commit  # type: ignore[method-assign]
    dialect.do_rollback = do_rollback  # type: ignore[method-assign]


def write_engine(engine: Engine) -> Engine:
    """The same engine (same pool, same events) whose transactions take the write lock at BEGIN
    (made once per engine: making it costs more than a statement)."""
    found = engine.__dict__.get("_szt_write_engine")
    if found is None:
        found = engine.__dict__["_szt_write_engine"] = engine.execution_options(**{WRITE_OPTION: True})
    return found


def database_key(bind: Engine | Connection | Session) -> str:
    """Which database ``bind`` talks to, as its URL without password: what a process's caches of one
    database's facts (the write's facts, the quality rules, the boards' blocks) are keyed by."""
    if isinstance(bind, Session):
        bind = bind.get_bind()
    engine = bind.engine
    found = engine.__dict__.get("_szt_database_key")
    if found is None:  # rendered once per engine (a URL's hash renders it too: no cache keyed by URL)
        found = engine.__dict__["_szt_database_key"] = engine.url.render_as_string(hide_password=True)
    return found


@lru_cache
def get_engine() -> Engine:
    return make_engine(get_settings().database_url)


def is_sqlite(engine_or_conn) -> bool:  # noqa: ANN001
    return engine_or_conn.dialect.name == "sqlite"


@contextmanager
def read_session(engine: Engine | None = None) -> Iterator[Session]:
    """A session for reading. It ends with a COMMIT (``end_read``), not the ROLLBACK of closing a session
    in a transaction: at every ROLLBACK psycopg forgets the statements it prepared on that connection
    (and the server is told so, one more round trip), so the background loops' reads, run every few
    seconds on the pool's connections, kept the requests' statements from ever staying prepared. A
    read that raised is rolled back."""
    with Session(engine or get_engine(), expire_on_commit=False) as session:
        yield session
        end_read(session)


@contextmanager
def write_session(engine: Engine | None = None) -> Iterator[Session]:
    """A session for one use case: begins IMMEDIATE on SQLite; the caller commits."""
    with Session(write_engine(engine or get_engine()), expire_on_commit=False) as session:
        yield session


# Async generators on purpose: making a Session does no I/O, and an async dependency runs on the
# event loop instead of costing a hop to the thread pool and back on every request (bench/).
async def get_session() -> AsyncIterator[Session]:
    """The request's reading session (deferred BEGIN: never takes SQLite's write lock)."""
    with read_session() as session:
        yield session


async def get_write_session() -> AsyncIterator[Session]:
    """The request's session for one write use case (BEGIN IMMEDIATE on SQLite)."""
    with write_session() as session:
        yield session



def migrate(url: str | None = None, revision: str = "head") -> None:
    """Bring the database at ``url`` (default: the configured one) up to ``revision``."""
    from alembic import command
    from alembic.config import Config

    from app.config import PROJECT_ROOT

    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("sqlalchemy.url", url or get_settings().database_url)
    cfg.attributes["configure_logger"] = False
    command.upgrade(cfg, revision)


# --- one writer at a time per process ------------------------------------------------------------

T = TypeVar("T")
R = TypeVar("R")
W = TypeVar("W")


def write_aside(session: Session, stmt) -> None:  # noqa: ANN001 - an UPDATE/INSERT statement
    """Run ``stmt`` in a short write transaction of its own: bookkeeping from a reading request
    (last seen, last used) that must not turn the request's read into a write (SQLite's lock).
    A session bound to one connection (tests inside a rolled-back transaction) runs it in place."""
    do_aside(session, lambda s: s.execute(stmt))


def do_aside(session: Session, work: Callable[[Session], object]) -> None:
    """``work(session)`` in a short write transaction of its own, as :func:`write_aside` runs a statement."""
    bind = session.get_bind()
    if isinstance(bind, Engine):
        with write_session(bind) as w:
            work(w)
            w.commit()
    else:
        work(session)


def end_read(session: Session) -> None:
    """End the session's read-only transaction and give its connection back to the pool.

    A transaction that only read has nothing to commit: on SQLite this is instant, which is why the
    async handlers call it on the event loop. It also takes a fresh snapshot for the next read, so
    the answer sees the write that came in between. A session that has read nothing has nothing to end
    (committing it would begin a transaction only to end it).
    """
    if session.in_transaction():
        session.commit()


def _release(session: Session) -> None:
    """Roll back a failed use case now, so SQLite's write lock is not held until teardown.

    Only when the session owns its connection: tests hand every request one session bound to a
    connection whose outer transaction they roll back themselves.
    """
    if isinstance(session.get_bind(), Engine):
        session.rollback()


def _writers(request: Request) -> anyio.CapacityLimiter:
    # PostgreSQL: writers side by side, as many as ``SZT_PG_WRITERS`` (4) per application — no turn.
    limiter = getattr(request.app.state, "szt_writers", None)
    if limiter is None:
        limiter = request.app.state.szt_writers = anyio.CapacityLimiter(get_settings().pg_writers)
    return limiter


def _writer_turn(request: Request) -> anyio.CapacityLimiter:
    # One per application (made on its event loop), for sessions bound to one connection (the tests):
    # their use cases run one at a time, as SQLite lets one transaction write at a time.
    limiter = getattr(request.app.state, "szt_writer_turn", None)
    if limiter is None:
        limiter = request.app.state.szt_writer_turn = anyio.CapacityLimiter(1)
    return limiter


async def run_write(request: Request, read: Session, session: Session | None, use_case: Callable[[Session], T],
                    answer: Callable[[Session, T], R]) -> R:
    """Run one write use case, then ``answer(read, result)`` once it is durable.

    - SQLite: through the application's group commit (``GroupCommit``): use cases that arrive together
      run one after another in one transaction, each in a savepoint of its own, and commit together —
      one fsync for the batch; each request is answered only after its batch is durable.
    - PostgreSQL: at once, in the thread pool, with no per-process turn (the server runs writers side
      by side; a turn would only queue them), at most ``SZT_PG_WRITERS`` (4) at a time per process.
    - A session bound to one connection (the tests): in place, one at a time.

    ``answer`` reads what the response shows through the read session, with a fresh snapshot, in the
    same worker-thread call (each hop to the thread pool costs more than those few reads); both
    sessions give their connections back before this returns. ``session`` names the database
    (its engine); in a batch the use case gets a session of the batch's connection instead, on
    PostgreSQL one of its own that writes its staged sums with its COMMIT (``_CommitSession``). None:
    the read session's database (a hot route then needs no write-session dependency at all).
    """
    end_read(read)
    read_bind = read.get_bind()
    if session is None and not isinstance(read_bind, Engine):
        session = read  # the tests' one connection
    bind = write_engine(read_bind) if session is None and isinstance(read_bind, Engine) else (session or read).get_bind()
    if isinstance(bind, Engine) and is_sqlite(bind):
        return await group_commit(request, bind).submit(use_case, answer, read)
    own = isinstance(bind, Engine)
    if own:  # PostgreSQL: a session of its own, whose staged work is written in its COMMIT's round trip
        session = _CommitSession(bind, expire_on_commit=False)
    assert session is not None

    def work() -> R:
        try:
            result = use_case(session)
        except BaseException:
            _release(session)
            raise
        finally:
            if own:
                session.close()
        try:
            return answer(read, result)
        finally:
            end_read(read)

    if isinstance(bind, Engine):
        return await anyio.to_thread.run_sync(work, limiter=_writers(request))
    return await anyio.to_thread.run_sync(work, limiter=_writer_turn(request))


# --- group commit (SQLite) -------------------------------------------------------------------------

MAX_BATCH = 64  # use cases in one transaction: a bound on how long one batch holds SQLite's lock


DEFERRED = "szt.batch_work"  # Session.info key: the use case's work staged for its batch's end


class BatchWork(Protocol):
    """Work that the use cases of one batch would each do to the same rows (the rollup's sums): each
    use case stages its share (``deferred``), the batch merges the shares of those whose savepoint was
    released and writes the sum once, just before its COMMIT."""

    def absorb(self, other: Any) -> None: ...

    def statements(self, conn: Connection) -> Iterable[tuple[Prepared | AddingUpsert, list[dict]]]:
        """What to run, in order: each statement with its rows (sorted: one lock order on PostgreSQL)."""
        ...


def write_work(conn: Connection, work: BatchWork) -> None:
    """Run ``work``'s statements now, on ``conn``."""
    for statement, rows in work.statements(conn):
        statement.executemany(conn, rows)


def deferred(session: Session, name: str, make: Callable[[], W]) -> W | None:
    """The use case's share of ``name`` to be written at its batch's end (SQLite's group commit) or in
    its COMMIT's round trip (PostgreSQL, ``_CommitSession``), made on first use — or None when the
    session is neither (the caller writes at once: tests on one connection, the CLI, jobs)."""
    staged = session.info.get(DEFERRED)
    if staged is None:
        return None
    if name not in staged:
        staged[name] = make()
    return staged[name]


class _StagingSession(Session):
    """A use case's session that stages work for its transaction's end (``deferred``, ``at_commit``);
    what it staged and then rolled back is dropped."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.info[DEFERRED] = {}
        self._known: tuple[SessionTransaction, Connection] | None = None  # (the transaction, its connection)

    def connection(self, bind_arguments: Any = None, execution_options: Any = None) -> Connection:
        """``Session.connection()``, with the answer kept for as long as the transaction that gave it
        stays active: a use case asks for it at every Core statement, and SQLAlchemy's way to the same
        connection costs more than SQLite's statement (bench/submit.py with --profile)."""
        if bind_arguments or execution_options:
            return super().connection(bind_arguments, execution_options)
        known = self._known
        if known is not None and known[0] is self._transaction and known[0].is_active:
            return known[1]
        conn = super().connection()
        assert self._transaction is not None  # asking for the connection began one
        self._known = (self._transaction, conn)
        return conn

    def _take_staged(self) -> dict[str, BatchWork]:
        staged, self.info[DEFERRED] = self.info[DEFERRED], {}
        return staged

    def rollback(self) -> None:
        self.info[DEFERRED] = {}
        super().rollback()


class _BatchSession(_StagingSession):
    """A use case's session in a batch: its staged work counts once its ``commit()`` released its
    savepoint; what it never committed is dropped with its rows."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.committed_work: dict[str, BatchWork] = {}

    def commit(self) -> None:
        super().commit()
        _merge(self.committed_work, self._take_staged())


class _Inserts:
    """Rows one statement inserts at the transaction's end (``at_commit``)."""

    def __init__(self, statement: Prepared) -> None:
        self.statement: Prepared = statement
        self.rows: list[dict] = []

    def absorb(self, other: _Inserts) -> None:
        self.rows.extend(other.rows)

    def statements(self, conn: Connection) -> list[tuple[Prepared, list[dict]]]:
        return [(self.statement, self.rows)] if self.rows else []


def at_commit(session: Session, statement: Prepared, rows: list[dict], *, read_by_siblings: bool = False,
              at_once: bool = False) -> None:
    """Insert ``rows`` with ``statement`` when the use case commits, with the rows of the same statement
    of every other use case committed with it:

    - PostgreSQL (``_CommitSession``): in its COMMIT's round trip, before the staged sums — no round
      trip of their own, nothing awaited;
    - SQLite's group commit (``_BatchSession``): once the use case's savepoint is released, with the
      batch's other rows of ``statement`` in one executemany just before its COMMIT; dropped with the
      use case's rows when it fails. ``read_by_siblings``: a later use case of the same batch may read
      these rows (a new activity's values: the near-duplicate check of the next submission reads
      them), so in a batch they are written at once, in the use case's savepoint;
    - at once anywhere else (tests on one connection, the CLI, jobs), and whenever ``at_once``: the use
      case reads its rows back before the COMMIT (a correction's values and participants).

    Deferred, then, are only rows the use case itself never reads back: a new activity's values,
    participants, flags and audit row."""
    if not rows:
        return
    staged = session.info.get(DEFERRED)  # a _StagingSession's (``deferred``), else None
    if staged is None or at_once or (read_by_siblings and isinstance(session, _BatchSession)):
        statement.executemany(session.connection(), rows)
        return
    name = f"insert:{id(statement)}"
    found = staged.get(name)
    if found is None:
        found = staged[name] = _Inserts(statement)
    found.rows.extend(rows)


class _CommitSession(_StagingSession):
    """A use case's session on PostgreSQL: the work it staged is handed to its connection at
    ``commit()`` and written in the COMMIT's round trip (``_install_postgresql_behaviour``)."""

    def commit(self) -> None:
        staged = self._take_staged()
        if staged:
            conn = self.connection()
            conn.info[AT_COMMIT] = (conn, list(staged.values()))
        super().commit()


def _merge(into: dict[str, BatchWork], work: dict[str, BatchWork]) -> None:
    for name, share in work.items():
        if name in into:
            into[name].absorb(share)
        else:
            into[name] = share


@dataclass
class _Pending:
    use_case: Callable[[Session], Any]
    answer: Callable[[Session, Any], Any]
    read: Session
    done: asyncio.Future
    ok: bool = False
    value: Any = None


class GroupCommit:
    """Writers that arrive together commit together (SQLite, ``synchronous=FULL`` kept).

    One per application and database. A request queues its use case and waits; whenever no batch is
    running, the queue so far becomes one: a worker thread begins one IMMEDIATE transaction, runs each
    use case in a savepoint of its own (``Session(join_transaction_mode="create_savepoint")``: the
    service's ``commit()`` releases its savepoint, a failure rolls back only its own rows and fails only
    its own request), then COMMITs once — one fsync for the batch — and only then builds the answers.
    If the COMMIT fails, every request of the batch gets that error (none of them is durable); a retry
    with the same submission key is then safe.

    Requests that arrive while a batch runs form the next one. One thread hop per batch, not per
    request; the waiting holds no thread and no pooled connection.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.queue: list[_Pending] = []
        self.running = False
        self._task: asyncio.Task | None = None
        self.batches = 0  # for tests and the benchmark: how many transactions carried the writes
        self.written = 0

    async def submit(self, use_case: Callable[[Session], T], answer: Callable[[Session, T], R], read: Session) -> R:
        loop = asyncio.get_running_loop()
        item = _Pending(use_case, answer, read, loop.create_future())
        self.queue.append(item)
        if not self.running:
            self.running = True
            self._task = loop.create_task(self._drain())  # a reference, so the loop keeps it
        return await item.done

    async def _drain(self) -> None:
        try:
            while self.queue:
                batch = [p for p in self.queue[:MAX_BATCH] if not p.done.cancelled()]
                del self.queue[:MAX_BATCH]
                if not batch:
                    continue
                try:
                    await anyio.to_thread.run_sync(self._run, batch)
                except BaseException as exc:  # noqa: BLE001 - nothing of the batch is durable
                    for p in batch:  # a use case refused on its own keeps its own answer
                        if p.ok or p.value is None:
                            p.ok, p.value = False, exc
                for p in batch:
                    if not p.done.done():
                        (p.done.set_result if p.ok else p.done.set_exception)(p.value)
        finally:
            self.running = False

    def _run(self, batch: list[_Pending]) -> None:
        with write_engine(self.engine).connect() as conn:
            outer = conn.begin()
            try:
                work: dict[str, BatchWork] = {}
                for p in batch:
                    s = _BatchSession(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
                    try:
                        p.ok, p.value = True, p.use_case(s)
                    except BaseException as exc:  # noqa: BLE001 - this request's own failure
                        s.rollback()
                        p.ok, p.value = False, exc
                    finally:
                        s.close()
                    # Committed is committed: a use case that failed after its commit() keeps its rows.
                    _merge(work, s.committed_work)
                for share in work.values():  # the batch's sums, once (a failure here fails the batch)
                    write_work(conn, share)
                outer.commit()
            except BaseException:
                if outer.is_active:
                    outer.rollback()
                raise
        self.batches += 1
        self.written += len(batch)
        BATCH_SIZE.observe(len(batch))
        # Durable now: from here on one request's trouble is its own, never the batch's.
        for p in batch:
            if p.ok:
                try:
                    p.value = p.answer(p.read, p.value)
                except BaseException as exc:  # noqa: BLE001 - the write is durable; the answer failed
                    p.ok, p.value = False, exc
            try:
                end_read(p.read)
            except Exception:  # its read session could not end: its answer is built, the write durable
                log.warning("group commit: a read session did not end cleanly", exc_info=True)


def group_commit(request: Request, engine: Engine) -> GroupCommit:
    """The application's group commit for ``engine``'s database (made on first use, on its event loop)."""
    found = getattr(request.app.state, "szt_group_commit", None)
    if found is None:
        found = request.app.state.szt_group_commit = {}
    key = database_key(engine)
    if key not in found:
        found[key] = GroupCommit(engine)
    return found[key]


# --- statements compiled once, run on the driver's cursor (SQLite's hot path) ----------------------

class Prepared:
    """A Core statement compiled once per dialect and set of keys to the driver's SQL, run on the
    connection's DBAPI cursor with SQLAlchemy's own bind processors (dates, the UTC type).

    The statement stays SQLAlchemy's — built, typed and quoted by it — and runs in the caller's
    transaction; what is skipped is the per-call machinery around a statement (cache key, execution
    context, result wrapping), about 40 µs a statement on the bench machine against 2 µs for SQLite
    itself. SQLite only: on PostgreSQL the statement goes through ``Connection.execute`` (psycopg's
    adaptation and server-side preparation are SQLAlchemy's business there). The engine's cursor
    events still fire (app/ops/metrics.py times and counts every statement; tests count them).

    Only for statements without expanding parameters and, for inserts, with every column that has
    a Python-side default given (the first compile refuses otherwise).
    """

    def __init__(self, stmt: Any) -> None:
        self.stmt = stmt
        self._compiled: dict[tuple, tuple] = {}

    def _compile(self, conn: Connection, keys: tuple[str, ...]) -> tuple[Any, dict[str, Any], dict[str, Any]]:
        """The statement compiled for ``conn``'s dialect and ``keys``: (compiled, the bind processors that
        convert, the statement's own values — literals, LIMIT 1, a key it compares with — by name)."""
        compiled = self.stmt.compile(dialect=conn.dialect, column_keys=list(keys))
        if "POSTCOMPILE" in compiled.string or getattr(compiled, "insert_prefetch", None):
            raise ValueError("Prepared: expanding parameters or Python-side defaults are not supported")
        processors = {k: p for k, p in compiled._bind_processors.items() if p is not None}
        fixed = {name: bp.effective_value for bp, name in compiled.bind_names.items() if not bp.required}
        return compiled, processors, fixed

    def _sql(self, conn: Connection, keys: tuple[str, ...]) -> tuple:
        found = self._compiled.get(keys)
        if found is None:
            compiled, processors, fixed = self._compile(conn, keys)
            order = tuple(compiled.positiontup or ())
            # The values in the statement's order, taken in C; then the few that need converting.
            take = itemgetter(*order) if len(order) > 1 else (lambda v: tuple(v[k] for k in order))
            convert = tuple((i, processors[k]) for i, k in enumerate(order) if k in processors)
            found = self._compiled[keys] = (compiled.string, take, convert, fixed)
        return found

    @staticmethod
    def _args(compiled: tuple, params: dict) -> tuple | list:
        _, take, convert, fixed = compiled
        args = take({**fixed, **params} if fixed else params)
        if not convert:
            return args
        args = list(args)
        for i, process in convert:
            args[i] = process(args[i])
        return args

    def execute(self, conn: Connection, params: dict) -> Any:
        """Run with ``params``; the driver's cursor (``fetchone`` / ``fetchall``: raw values)."""
        if not is_sqlite(conn):
            return conn.execute(self.stmt, params)
        compiled = self._sql(conn, tuple(sorted(params)))
        args = self._args(compiled, params)
        return self._run(conn, compiled[0], args, many=False)

    def executemany(self, conn: Connection, rows: list[dict]) -> None:
        if not rows:
            return
        if not is_sqlite(conn):
            conn.execute(self.stmt, rows)
            return
        compiled = self._sql(conn, tuple(sorted(rows[0])))
        self._run(conn, compiled[0], [self._args(compiled, r) for r in rows], many=True)

    def queue_many(self, conn: Connection, cursor: Any, rows: list[dict]) -> None:
        """PostgreSQL, in a pipeline on ``cursor``'s connection (``_install_postgresql_behaviour``): the
        rows sent with the statement compiled for psycopg, their answers not awaited. The engine's cursor
        events fire (the statement counted, and timed until the pipeline's end is read)."""
        if not rows:
            return
        keys = tuple(sorted(rows[0]))
        found = self._compiled.get(("psycopg", *keys))
        if found is None:
            compiled, processors, fixed = self._compile(conn, keys)
            found = self._compiled[("psycopg", *keys)] = (compiled.string, tuple(processors.items()), fixed)
        sql, processors, fixed = found
        args = []
        for row in rows:
            values = {**fixed, **row}
            for key, process in processors:
                if key in values:
                    values[key] = process(values[key])
            args.append(values)
        _send(conn, cursor, sql, args, many=True)

    @staticmethod
    def _run(conn: Connection, sql: str, args: Any, *, many: bool) -> Any:
        dbapi = conn.connection.driver_connection
        assert dbapi is not None
        cursor = dbapi.cursor()
        # Each attribute of a connection's dispatch is made when read, and asking one whether it holds
        # any listener walks them as iterating does: read once, iterated only.
        dispatch = conn.dispatch
        after = dispatch.after_cursor_execute
        try:
            for fn in dispatch.before_cursor_execute:  # inside, as SQLAlchemy runs them: what they raise is wrapped
                fn(conn, cursor, sql, args, None, many)
            if many:
                cursor.executemany(sql, args)
            else:
                cursor.execute(sql, args)
        except Exception as exc:
            # As SQLAlchemy would raise it (IntegrityError, OperationalError …), parameters hidden.
            raise DBAPIError.instance(sql, args, exc, sqlite3.Error, hide_parameters=True) from exc
        finally:  # timed and counted, failed or not (app/ops/metrics.py keeps a start per statement)
            for fn in after:
                fn(conn, cursor, sql, args, None, many)
        return cursor


# --- additive upserts (the rollup's figures and stamps) -----------------------------------------

class AddingUpsert:
    """``INSERT … ON CONFLICT (keys) DO UPDATE SET c = c + excluded.c`` for many rows: what the rollup's
    figures, stamps and counters are written with.

    SQLite: the ``Prepared`` statement, run once per row (a row costs SQLite microseconds). PostgreSQL:
    one statement for all the rows, given as one array per column (``unnest``) — one execution,
    however many rows, where one per row cost the server about a tenth of a millisecond each; a
    submission adds to some twenty rows. The text is the same whatever the number of rows, so psycopg
    prepares it once per connection. Rows keep their order (sorted by the caller: one lock order)."""

    def __init__(self, table: Any, keys: list[str], columns: list[str]) -> None:
        from sqlalchemy.dialects import sqlite as sqlite_dialect

        self.table, self.keys, self.columns = table, list(keys), list(columns)
        base = sqlite_dialect.insert(table)
        self.sqlite = Prepared(base.on_conflict_do_update(
            index_elements=keys, set_={c: table.c[c] + base.excluded[c] for c in columns}))
        self._pg: tuple[str, tuple[str, ...]] | None = None

    def _postgresql(self, conn: Connection) -> tuple[str, tuple[str, ...]]:
        if self._pg is None:
            preparer = conn.dialect.identifier_preparer
            names = tuple(self.keys + self.columns)
            table = preparer.format_table(self.table)
            cols = ", ".join(preparer.quote(n) for n in names)
            arrays = ", ".join(f"%({n})s::{self.table.c[n].type.compile(dialect=conn.dialect)}[]" for n in names)
            sets = ", ".join(f"{preparer.quote(c)} = {table}.{preparer.quote(c)} + excluded.{preparer.quote(c)}"
                             for c in self.columns)
            keys = ", ".join(preparer.quote(k) for k in self.keys)
            sql = (f"INSERT INTO {table} ({cols}) SELECT * FROM unnest({arrays}) "
                   f"ON CONFLICT ({keys}) DO UPDATE SET {sets}")
            self._pg = (sql, names)
        return self._pg

    def _arrays(self, conn: Connection, rows: list[dict]) -> tuple[str, dict[str, list]]:
        sql, names = self._postgresql(conn)
        return sql, {n: [r[n] for r in rows] for n in names}

    def executemany(self, conn: Connection, rows: list[dict]) -> None:
        """Add ``rows`` now, in ``conn``'s transaction."""
        if not rows:
            return
        if is_sqlite(conn):
            self.sqlite.executemany(conn, rows)
            return
        sql, arrays = self._arrays(conn, rows)
        conn.exec_driver_sql(sql, arrays)

    def queue_many(self, conn: Connection, cursor: Any, rows: list[dict]) -> None:
        """PostgreSQL, in a pipeline on ``cursor``'s connection (``_install_postgresql_behaviour``): the
        statement sent, its answer not awaited. The engine's cursor events fire (the statement counted,
        and timed until the pipeline's end is read)."""
        if not rows:
            return
        sql, arrays = self._arrays(conn, rows)
        _send(conn, cursor, sql, arrays, many=False)


def _send(conn: Connection, cursor: Any, sql: str, args: Any, *, many: bool) -> None:
    """``sql`` sent on ``cursor`` (a pipeline's: its answer not awaited), the engine's cursor events
    around it, as SQLAlchemy fires them (app/ops/metrics.py counts and times the statement)."""
    dispatch = conn.dispatch
    for fn in dispatch.before_cursor_execute:
        fn(conn, cursor, sql, args, None, many)
    try:
        (cursor.executemany if many else cursor.execute)(sql, args)
    finally:
        for fn in dispatch.after_cursor_execute:
            fn(conn, cursor, sql, args, None, many)
