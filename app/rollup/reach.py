"""动员面's raw rows: who was reached in which month (app/models/notify.py ``member_reach``).

``mark`` records that members were reached (signed in and made a request, or were delivered a
notice) at a moment; the month is the Beijing month of that moment. The counters behind the boards'
动员面 follow in the same transaction (participation_counter.reached, app/rollup/service.py), and the
first month ever reached is kept as ``reach_since`` (periods before it read 「未统计」).

``mark_signed_in`` is the per-request path (app/auth/service.py ``principal_for``): a member is
marked once per month, remembered per process so that the common request costs nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from sqlalchemy import Connection, bindparam, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from app.clock import CN, yyyymm
from app.models import MemberReach
from app.rollup import service as rollup

log = logging.getLogger(__name__)

Via = Literal["signed_in", "notified"]
CHUNK = 500  # rows per INSERT … VALUES (4 parameters each: well inside SQLite's limit)


def month_of(at: datetime) -> int:
    """The Beijing month (yyyymm) of a moment."""
    return yyyymm(at.astimezone(CN).date())


def since(session: Session) -> int | None:
    """The first month (yyyymm) 动员面 was tracked, or None before anyone was ever reached."""
    return rollup.reach_since(session.connection())


def _insert_new(conn: Connection, members: list[int], month: int, column: str, at: datetime) -> set[int]:
    """Insert the rows that do not exist yet; the members whose row this statement inserted.

    ``ON CONFLICT DO NOTHING RETURNING`` names exactly the rows this transaction added: a row
    another transaction inserts at the same time is theirs to count (PostgreSQL waits for it, then
    skips), so nothing is counted twice.
    """
    table = MemberReach.__table__
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)
    new: set[int] = set()
    for start in range(0, len(members), CHUNK):
        rows = [{"member_id": m, "month": month, "signed_in_at": None, "notified_at": None, column: at}
                for m in members[start:start + CHUNK]]
        stmt = (insert(table).values(rows).on_conflict_do_nothing(index_elements=["member_id", "month"])
                .returning(table.c.member_id))
        new.update(conn.scalars(stmt))
    return new


def mark(session: Session, members: Iterable[int], at: datetime, *, via: Via) -> int:
    """Members reached at ``at`` (in the caller's transaction); a member already reached that month
    keeps the first moment of each kind. Returns how many were newly reached that month.

    Only a newly reached member-month moves the counters (and, the first time ever, ``reach_since``):
    the common call — someone already reached this month — writes no counter at all.
    """
    members = sorted(set(members))
    if not members:
        return 0
    conn = session.connection()
    month = month_of(at)
    column = "signed_in_at" if via == "signed_in" else "notified_at"
    new = _insert_new(conn, members, month, column, at)
    known = [m for m in members if m not in new]
    if known:  # e.g. a notice delivered to someone who already signed in this month
        table = MemberReach.__table__
        conn.execute(update(table).where(
            table.c.month == month, table.c.member_id.in_(bindparam("known", expanding=True)),
            table.c[column].is_(None)).values({column: at}), {"known": known})
    if new:
        rollup.members_reached(session, sorted(new), month)
    return len(new)


# --- signed in: once per member and month, per process ---------------------------------------------

_MEMORY_LIMIT = 200_000  # member ids remembered for the month (a national deployment's members ×2)
_memory_lock = threading.Lock()
_memory_month = 0
_memory: set[int] = set()


def _remembered(member_id: int, month: int) -> bool:
    return _memory_month == month and member_id in _memory


def _remember(member_id: int, month: int) -> None:
    global _memory_month
    with _memory_lock:
        if _memory_month != month or len(_memory) >= _MEMORY_LIMIT:
            _memory.clear()
            _memory_month = month
        _memory.add(member_id)


def forget() -> None:
    """Forget who was marked (tests: their rows are rolled back after each test)."""
    global _memory_month
    with _memory_lock:
        _memory.clear()
        _memory_month = 0


def remembered(member_id: int, now: datetime) -> bool:
    """This process already marked the member reached in ``now``'s month (nothing to write)."""
    return _remembered(member_id, month_of(now))


def mark_signed_in(session: Session, member_id: int, now: datetime) -> None:
    """A request made while signed in: mark the member reached this month, once.

    Remembered per process, so only the first request of a member in a month (in each process)
    writes — in a short write transaction of its own (``do_aside``, like the session's last-seen
    touch), never turning the request's read into a long write. A failure is logged and tried again
    on the member's next request: being counted must never cost anyone their page.
    """
    from app.db import do_aside

    month = month_of(now)
    if _remembered(member_id, month):
        return
    try:
        do_aside(session, lambda s: mark(s, [member_id], now, via="signed_in"))
    except SQLAlchemyError:
        log.warning("动员面: could not mark member %s reached in %s", member_id, month, exc_info=True)
        return
    _remember(member_id, month)


def mark_login(session: Session, member_id: int | None, now: datetime) -> None:
    """A successful sign-in is a request made while signed in: marked in the login's transaction,
    and remembered, so the requests that follow it cost nothing. (Were the login rolled back, no
    session would exist to make them; the next login marks again, remembered or not.)"""
    if member_id is not None:
        mark(session, [member_id], now, via="signed_in")
        _remember(member_id, month_of(now))


__all__ = ["forget", "mark", "mark_login", "mark_signed_in", "month_of", "remembered", "since"]
