"""The one clock: every date and time that users see or rules use comes from here.

The campaign works in Beijing time; timestamps are stored in UTC. Nothing else in ``app/`` reads
the wall clock (``time.monotonic()`` for intervals — rate limits, cache ages — is not a date and
may be used directly).

``SZT_TODAY`` starts a *ticking* clock from a chosen instant — a date (read as 12:00 Beijing) or an
ISO instant with its offset (``2027-12-31T23:59+08:00``) — so a whole server, a test run or a demo
can live on another day. It is honoured unless ``SZT_ENV=production``. Tests move the clock with
``travel_to()`` (ticking from the instant given) or ``freeze()`` (standing still).
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

CN = ZoneInfo("Asia/Shanghai")

_lock = threading.Lock()
# (the instant the clock showed, the real UTC moment it was set, ticking?) — None: the real clock.
_anchor: tuple[datetime, datetime, bool] | None = None
_env_read = False


def parse_instant(text: str) -> datetime:
    """``2027-12-15`` (12:00 Beijing) or an ISO instant with offset → an aware UTC datetime."""
    text = text.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(12, 0), CN).astimezone(UTC)
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"SZT_TODAY must be a date (2027-12-15) or an ISO instant with offset: {text!r}") from exc
    if moment.tzinfo is None:
        raise ValueError(f"SZT_TODAY needs an offset (e.g. +08:00): {text!r}")
    return moment.astimezone(UTC)


def configured_start() -> datetime | None:
    """The instant ``SZT_TODAY`` names, or None (unset, or ``SZT_ENV=production`` / ``prod``)."""
    text = os.environ.get("SZT_TODAY", "").strip()
    if not text or os.environ.get("SZT_ENV", "").strip().lower() in ("production", "prod"):
        return None
    return parse_instant(text)


def _read_env_once() -> None:
    global _anchor, _env_read
    with _lock:
        if _env_read:
            return
        _env_read = True
        start = configured_start()
        if start is not None and _anchor is None:
            _anchor = (start, datetime.now(UTC), True)


def travel_to(instant: datetime | None, *, tick: bool = True) -> None:
    """Show ``instant`` now (ticking on from it unless ``tick=False``); None: the real clock."""
    global _anchor, _env_read
    with _lock:
        _env_read = True
        if instant is None:
            _anchor = None
            return
        if instant.tzinfo is None:
            raise ValueError("travel_to needs an aware datetime")
        _anchor = (instant.astimezone(UTC), datetime.now(UTC), tick)


def freeze(instant: datetime) -> None:
    """Stop the clock at ``instant``."""
    travel_to(instant, tick=False)


def reset() -> None:
    """Back to what the environment says (``SZT_TODAY`` or the real clock)."""
    global _anchor, _env_read
    with _lock:
        _anchor, _env_read = None, False


def now_utc() -> datetime:
    """This moment, aware, in UTC."""
    if not _env_read:
        _read_env_once()
    real = datetime.now(UTC)
    anchor = _anchor
    if anchor is None:
        return real
    shown, set_at, tick = anchor
    return shown + (real - set_at) if tick else shown


def now_cn() -> datetime:
    """This moment in Beijing time."""
    return now_utc().astimezone(CN)


def today_cn() -> date:
    """Today in Beijing, whatever the machine's zone."""
    return now_cn().date()


def yyyymm(d: date) -> int:
    return d.year * 100 + d.month


def as_utc(value: datetime | None) -> datetime | None:
    """A stored moment as aware UTC (a naive value is UTC by the storage rule)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def to_cn(value: datetime | None) -> datetime | None:
    """A stored UTC timestamp in Beijing time."""
    moment = as_utc(value)
    return None if moment is None else moment.astimezone(CN)


def start_of_day_cn(day: date) -> datetime:
    """00:00 Beijing of ``day``, as aware UTC."""
    return datetime.combine(day, time(0, 0), CN).astimezone(UTC)


