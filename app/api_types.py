"""Value types of the JSON API that say exactly what they accept and give.

Pydantic's lax mode would take ``0`` or ``0.5`` for a date or a time (seconds since 1970) and ``1``
for ``true``; a caller who sends that has made a mistake we should answer with a 422, not guess.
(Times leave the API with their zone because the database type gives them one: app/models/base.py.)
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?$", re.IGNORECASE)


def _iso_date(value: Any) -> Any:
    if isinstance(value, str) and not _DATE.match(value.strip()):
        raise ValueError("日期应为 YYYY-MM-DD 格式，例如 2026-10-12")
    if not isinstance(value, (str, date)) or isinstance(value, datetime):
        raise ValueError("日期应为 YYYY-MM-DD 格式的文本")
    return value


def _iso_datetime(value: Any) -> Any:
    if isinstance(value, str) and not _DATETIME.match(value.strip()):
        raise ValueError("时间应为 ISO 8601 格式，例如 2026-10-01T08:00:00+08:00")
    if not isinstance(value, (str, datetime)):
        raise ValueError("时间应为 ISO 8601 格式的文本")
    return value


# Input: only ISO text (or a date/datetime object from Python callers).
IsoDate = Annotated[date, BeforeValidator(_iso_date)]
IsoDateTime = Annotated[datetime, BeforeValidator(_iso_datetime)]

# An id in a body (a list of members, a leader): a positive 32-bit integer, so a value the database
# cannot hold is a 422, never an overflow inside a query.
RowId = Annotated[int, Field(ge=1, le=2**31 - 1)]
