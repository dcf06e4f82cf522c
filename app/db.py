"""Engine and sessions.

SQLite is the embedded default and is set up to behave like a server database under concurrent
use: WAL (readers never block the writer), ``synchronous=FULL`` (a committed activity survives a
power cut), ``foreign_keys=ON`` (orphans refused), a generous ``busy_timeout``, and write
transactions that ``BEGIN IMMEDIATE`` so that two writers queue on the lock up front instead of
one failing with "database is locked" when it upgrades a read lock half-way through.

Reads use a deferred ``BEGIN`` so that they never take the write lock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

import anyio
from fastapi import Request
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel import Session

from app.config import get_settings

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
    return create_engine(url, echo=echo, pool_pre_ping=True, hide_parameters=True)


def write_engine(engine: Engine) -> Engine:
    """The same engine (same pool, same events) whose transactions take the write lock at BEGIN."""
    return engine.execution_options(**{WRITE_OPTION: True})


@lru_cache
def get_engine() -> Engine:
    return make_engine(get_settings().database_url)


def is_sqlite(engine_or_conn) -> bool:  # noqa: ANN001
    return engine_or_conn.dialect.name == "sqlite"


@contextmanager
def read_session(engine: Engine | None = None) -> Iterator[Session]:
    with Session(engine or get_engine(), expire_on_commit=False) as session:
        yield session


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
    the answer sees the write that came in between.
    """
    session.commit()


def _release(session: Session) -> None:
    """Roll back a failed use case now, so SQLite's write lock is not held until teardown.

    Only when the session owns its connection: tests hand every request one session bound to a
    connection whose outer transaction they roll back themselves.
    """
    if isinstance(session.get_bind(), Engine):
        session.rollback()


def _writer_turn(request: Request) -> anyio.CapacityLimiter:
    # One per application (made on its event loop): SQLite lets one transaction write at a time,
    # and writers queuing on its busy handler sleep in growing steps (1, 2, 5 … 100 ms) and wake
    # late; waiting here costs nothing and hands over at once.
    limiter = getattr(request.app.state, "szt_writer_turn", None)
    if limiter is None:
        limiter = request.app.state.szt_writer_turn = anyio.CapacityLimiter(1)
    return limiter


async def run_write(request: Request, read: Session, session: Session, use_case: Callable[[Session], T],
                    answer: Callable[[Session, T], R]) -> R:
    """Run one write use case in this process's writer turn, then ``answer(read, result)``.

    ``answer`` reads what the response shows through the read session, with a fresh snapshot, in
    the same worker-thread call (each hop to the thread pool costs more than those few reads);
    both sessions give their connections back before this returns. The review pages use it too.
    """
    end_read(read)

    def work() -> R:
        try:
            result = use_case(session)
        except BaseException:
            _release(session)
            raise
        try:
            return answer(read, result)
        finally:
            end_read(read)

    return await anyio.to_thread.run_sync(work, limiter=_writer_turn(request))
