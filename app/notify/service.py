"""Writing notices: one outbox row per (channel, recipient, event), in the caller's transaction.

Nothing here sends anything: the event's own transaction writes the rows (and commits them with the
event or rolls both back); the worker (app/notify/worker.py) delivers SMS and robot messages later.
In-app rows are delivered as written: they are the member's 站内消息.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from app.clock import now_utc
from app.models import Notification
from app.notify import rules
from app.notify.templates import TEMPLATES, render


def _insert(conn: Connection):  # noqa: ANN202 - the dialect's INSERT with ON CONFLICT
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


@dataclass(frozen=True)
class Recipient:
    """Who a notice is for: an account (in-app), a phone (SMS), or both; the member when there is one."""

    user_id: int | None = None
    member_id: int | None = None
    phone: str | None = None


def rows_for(*, kind: str, event_key: str, template: str, params: dict[str, object], to: Recipient,
             channels: Iterable[str], link: str | None = None, campaign_id: int | None = None,
             not_before: datetime | None = None, now: datetime | None = None) -> list[dict]:
    """The outbox rows (as column dicts) of one notice to one recipient over ``channels``."""
    if template not in TEMPLATES:
        raise KeyError(template)
    now = now or now_utc()
    body = render(template, params)
    common = {"kind": kind, "event_key": event_key[:80], "template": template,
              "params": json.dumps(params, ensure_ascii=False), "title": TEMPLATES[template].title,
              "body": body, "link": link, "user_id": to.user_id, "member_id": to.member_id,
              "campaign_id": campaign_id, "created_at": now, "attempts": 0, "robot_id": None,
              "lease_owner": None, "leased_at": None, "provider": None, "provider_message_id": None,
              "error": None, "read_at": None}
    rows = []
    for channel in channels:
        if channel == "inapp" and to.user_id is not None:
            rows.append({**common, "channel": "inapp", "recipient": f"user:{to.user_id}", "status": "sent",
                         "not_before": now, "sent_at": now})
        elif channel == "sms" and to.phone:
            rows.append({**common, "channel": "sms", "recipient": to.phone, "status": "queued",
                         "not_before": not_before or rules.sms_not_before(kind, now), "sent_at": None})
    return rows


def _skip_opted_out(session: Session, rows: list[dict]) -> None:
    """Reminders to users who take none are written as skipped (the campaign counts them), not sent."""
    users = rules.opted_out(session, (r["user_id"] for r in rows if r["kind"] == "reminder"))
    for row in rows:
        if row["kind"] == "reminder" and row["user_id"] in users:
            row.update(status="skipped", error=rules.OPTED_OUT, sent_at=None)


def write(session: Session, rows: list[dict]) -> int:
    """Insert outbox rows, skipping any whose (channel, recipient, event) is already there; the number
    written. In the caller's transaction."""
    if not rows:
        return 0
    _skip_opted_out(session, rows)
    conn = session.connection()
    # Counted by RETURNING: psycopg reports no rowcount (-1) for an executemany with ON CONFLICT.
    stmt = _insert(conn)(Notification.__table__).on_conflict_do_nothing(
        index_elements=["channel", "recipient", "event_key"]).returning(Notification.__table__.c.id)
    written = 0
    for start in range(0, len(rows), 2000):
        written += len(conn.execute(stmt, rows[start:start + 2000]).all())
    return written


def notify(session: Session, *, kind: str, event_key: str, template: str, params: dict[str, object],
           to: Recipient, channels: Iterable[str] = ("inapp", "sms"), link: str | None = None,
           campaign_id: int | None = None) -> int:
    """One notice to one recipient, in the caller's transaction (idempotent per channel, recipient and
    event). Returns how many rows were written (0 when the event had already been notified)."""
    written = write(session, rows_for(kind=kind, event_key=event_key, template=template, params=params, to=to,
                                      channels=channels, link=link, campaign_id=campaign_id))
    if written:
        from app.notify import worker  # wake this process's sender (others find the row within a second)

        worker.wake()
    return written
