"""站内消息: a user's in-app notices (outbox rows of channel ``inapp``), read and marked read.

Every query is for the signed-in user's own rows (``user_id``): another user's message is not found,
whatever its id. The unread count is one COUNT on the (user_id, channel, id) index, cheap enough for
the bell on every page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlmodel import Session, col

from app.auth.principal import Principal
from app.clock import now_utc
from app.errors import NotFound
from app.models import Notification, UserAccount

PER_PAGE = 20
MAX_PER_PAGE = 100


@dataclass(frozen=True)
class Message:
    id: int
    kind: str
    title: str
    body: str
    link: str | None
    created_at: datetime
    read_at: datetime | None


def _own(user_id: int) -> tuple:
    # 'skipped' in-app rows are reminders the user opted out of: never shown.
    return (col(Notification.user_id) == user_id, col(Notification.channel) == "inapp",
            col(Notification.status) == "sent")


def unread_count(session: Session, by: Principal) -> int:
    """How many of the user's messages are unread (the bell)."""
    if not by.user_id:
        return 0
    return int(session.scalar(select(func.count()).select_from(Notification).where(
        *_own(by.user_id), col(Notification.read_at).is_(None))) or 0)


def messages(session: Session, by: Principal, *, page: int = 1, per_page: int = PER_PAGE) -> tuple[list[Message], int]:
    """One page of the user's messages, newest first, and how many there are."""
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    total = int(session.scalar(select(func.count()).select_from(Notification).where(*_own(by.user_id))) or 0)
    rows = session.execute(
        select(Notification.id, Notification.kind, Notification.title, Notification.body, Notification.link,
               Notification.created_at, Notification.read_at)
        .where(*_own(by.user_id)).order_by(col(Notification.id).desc())
        .offset((max(1, page) - 1) * per_page).limit(per_page)).all()
    return [Message(*row) for row in rows], total


def mark_read(session: Session, by: Principal, message_id: int) -> tuple[Message, bool]:
    """Mark one of the user's messages read (again is harmless); 404 for anyone else's. The message,
    and whether it was unread. Commits."""
    row = session.scalar(select(Notification).where(col(Notification.id) == message_id, *_own(by.user_id)))
    if row is None:
        raise NotFound("找不到这条消息", code="message_not_found")
    was_unread = row.read_at is None
    if was_unread:
        row.read_at = now_utc()
        session.commit()
    return Message(row.id, row.kind, row.title, row.body, row.link, row.created_at, row.read_at), was_unread


def mark_all_read(session: Session, by: Principal) -> int:
    """全部标为已读; how many were unread. Commits."""
    done = session.execute(update(Notification).where(*_own(by.user_id), col(Notification.read_at).is_(None))
                           .values(read_at=now_utc()).execution_options(synchronize_session=False))
    session.commit()
    return int(done.rowcount or 0)  # type: ignore[attr-defined]


def reminders_opt_out(session: Session, by: Principal) -> bool:
    return bool(session.scalar(select(UserAccount.reminders_opt_out).where(col(UserAccount.id) == by.user_id)))


def set_reminders_opt_out(session: Session, by: Principal, value: bool) -> None:
    """消息设置: take reminders or not (notices about the member's own records still come). Commits."""
    session.execute(update(UserAccount).where(col(UserAccount.id) == by.user_id).values(reminders_opt_out=value)
                    .execution_options(synchronize_session=False))
    session.commit()


def safe_link(link: str | None) -> str:
    """Where opening a message leads: its own page on this site, else the list."""
    return link if link and link.startswith("/") and not link.startswith("//") else "/messages"
