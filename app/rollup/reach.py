"""动员面's raw rows: who was reached in which month (app/models/notify.py ``member_reach``).

``mark`` records that members were reached (signed in and made a request, or were delivered a
notice) at a moment; the month is the Beijing month of that moment. The counters behind the boards'
动员面 follow in the same transaction (participation_counter.reached, app/rollup/service.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from sqlalchemy import func
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from app.clock import CN, yyyymm
from app.models import MemberReach

Via = Literal["signed_in", "notified"]


def _month(at: datetime) -> int:
    return yyyymm(at.astimezone(CN).date())


def mark(session: Session, members: Iterable[int], at: datetime, *, via: Via) -> None:
    """Members reached at ``at`` (in the caller's transaction); a member already reached that month
    keeps the first moment of each kind."""
    conn = session.connection()
    month = _month(at)
    column = "signed_in_at" if via == "signed_in" else "notified_at"
    rows = [{"member_id": m, "month": month, "signed_in_at": None, "notified_at": None, column: at}
            for m in sorted(set(members))]
    if not rows:
        return
    table = MemberReach.__table__
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)
    stmt = insert.on_conflict_do_update(
        index_elements=["member_id", "month"],
        set_={column: func.coalesce(table.c[column], insert.excluded[column])})
    conn.execute(stmt, rows)
