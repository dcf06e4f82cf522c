"""Dates as the users live them: the campaign works in Beijing time; timestamps are stored in UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

CN = ZoneInfo("Asia/Shanghai")


def today_cn() -> date:
    return datetime.now(CN).date()


def yyyymm(d: date) -> int:
    return d.year * 100 + d.month


def to_cn(value: datetime | None) -> datetime | None:
    """A stored UTC timestamp (naive from SQLite, aware from PostgreSQL) in Beijing time."""
    if value is None:
        return None

    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(CN)
