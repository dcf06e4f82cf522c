"""When a notice may go out, in one place: quiet hours, the daily SMS cap, reminder opt-out.

Codes (login, reset) are exempt from quiet hours and the cap: a member asking for one is waiting for
it. Everything else by SMS waits for the morning between ``sms_quiet_start`` and ``sms_quiet_end``
(Beijing time) and stops at ``sms_daily_cap`` a member a Beijing day. Reminders — and only reminders —
respect a user's ``reminders_opt_out``: a returned activity or a join decision concerns the member's
own record and is sent regardless.

``notify.service`` applies quiet hours and opt-out as it writes (so the outbox already says when an
SMS will go and why a reminder will not); the sender checks all three again as it sends, because
the hour, the cap and the setting may have changed while the row waited.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import func, select
from sqlmodel import Session, col

from app.clock import CN, start_of_day_cn
from app.config import Settings, get_settings
from app.models import Notification, UserAccount
from app.models.notify import CODE_KINDS

OVER_CAP = "超过每日短信条数上限"
OPTED_OUT = "本人已设置不接收提醒"


def exempt(kind: str) -> bool:
    """Codes ignore quiet hours and the daily cap."""
    return kind in CODE_KINDS


def quiet_until(at: datetime, settings: Settings | None = None) -> datetime | None:
    """The end of the quiet hours ``at`` falls in (aware UTC), or None outside them."""
    settings = settings or get_settings()
    start, end = settings.sms_quiet_start, settings.sms_quiet_end
    local = at.astimezone(CN)
    hour = local.hour
    quiet = (hour >= start or hour < end) if start > end else (start <= hour < end)
    if not quiet:
        return None
    day = local.date() if hour < end else local.date() + timedelta(days=1)
    return datetime.combine(day, time(end, 0), CN).astimezone(UTC)


def sms_not_before(kind: str, at: datetime, settings: Settings | None = None) -> datetime:
    """When an SMS of ``kind`` written at ``at`` may first be sent."""
    if exempt(kind):
        return at
    return quiet_until(at, settings) or at


def opted_out(session: Session, user_ids: Iterable[int]) -> set[int]:
    """Which of these users do not take reminders."""
    ids = sorted({u for u in user_ids if u is not None})
    found: set[int] = set()
    for start in range(0, len(ids), 2000):  # a campaign's thousands, under SQLite's parameter limit
        found.update(session.scalars(select(UserAccount.id).where(
            col(UserAccount.id).in_(ids[start:start + 2000]), col(UserAccount.reminders_opt_out).is_(True))))
    return found


def sent_today(session: Session, member_ids: Iterable[int], at: datetime) -> dict[int, int]:
    """Non-code SMS sent to each member since 00:00 Beijing of ``at``'s day (members with none left out)."""
    ids = sorted({m for m in member_ids if m is not None})
    if not ids:
        return {}
    since = start_of_day_cn(at.astimezone(CN).date())
    rows = session.execute(select(Notification.member_id, func.count()).where(
        col(Notification.member_id).in_(ids), col(Notification.channel) == "sms",
        col(Notification.status) == "sent", col(Notification.sent_at) >= since,
        col(Notification.kind).not_in(CODE_KINDS)).group_by(Notification.member_id))
    return {int(m): int(n) for m, n in rows}

