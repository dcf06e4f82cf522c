"""Logs: one line per request, every line of a request carrying its request id, JSON or text.

The request id comes from the caller's ``X-Request-ID`` when it is sane (1–64 of ``A–Z a–z 0–9 -``:
a proxy's or another system's id, so one request can be followed across them), else a new one; it
is answered in ``X-Request-ID`` and put on every log line written while the request runs — in the
event loop and in the worker threads it hands work to (contextvars travel with them) — by the
:class:`RequestIdFilter` on the handler.

The request line (logger ``app.request``) holds the method, the route *template*
(``/activities/{activity_id}``, never the path a caller typed, nor its query string), the status, the
duration and the database time in milliseconds, and the user's or API token's id. Never a phone
number, token, cookie or query string: nothing of the request but those is read. The probes
(/healthz, /readyz, /metrics) log at DEBUG so a load balancer's polling does not fill the log.

``python -m app serve`` configures logging with :func:`logging_config` (``SZT_LOG_FORMAT``: text by
default in development, ``SZT_ENV=dev``, else json) in every worker process, with uvicorn's own access
log off.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

REQUEST_ID: ContextVar[str | None] = ContextVar("szt_request_id", default=None)
REQUEST_ID_HEADER = "x-request-id"
_SANE_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
PROBES = frozenset({"/healthz", "/readyz", "/metrics"})

request_log = logging.getLogger("app.request")


def request_id_from(header: str | None) -> str:
    """The caller's id when sane, else a new random one."""
    if header and _SANE_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Puts the current request's id (or "-" outside a request) on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get() or "-"
        return True


# What every LogRecord has: anything else on a record came through ``extra=`` and is a field.
# uvicorn's color_message is its message with terminal colours: not a field.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime",
                                                                                      "color_message"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, request id and the extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRS and value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def logging_config(style: str, level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for ``style`` "json" or "text": given to uvicorn, which applies
    it in each worker process; uvicorn's loggers go through the same handler."""
    formatter = {"()": JsonFormatter} if style == "json" else {"format": TEXT_FORMAT}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"main": formatter},
        "handlers": {"stdout": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout",
                                "formatter": "main", "filters": ["request_id"]}},
        "root": {"level": level, "handlers": ["stdout"]},
        "loggers": {
            "uvicorn": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.error": {"level": level, "handlers": [], "propagate": True},
            # Off: app.request writes the one line per request (with the route, user and request id).
            "uvicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
            # Seven lines each time alembic's scripts are loaded (/readyz's first look at the head).
            "alembic.runtime.plugins": {"level": "WARNING"},
        },
    }


def log_request(*, method: str, route: str, status: int, duration_ms: float, db_ms: float,
                user_id: int | None, token_id: int | None) -> None:
    level = logging.DEBUG if route in PROBES else logging.INFO
    if not request_log.isEnabledFor(level):
        return
    request_log.log(level, "%s %s %s %.1fms", method, route, status, duration_ms, extra={
        "method": method, "route": route, "status": status, "duration_ms": round(duration_ms, 2),
        "db_ms": round(db_ms, 2), "user_id": user_id, "token_id": token_id})
