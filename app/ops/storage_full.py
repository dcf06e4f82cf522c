"""A full disk is a 503 that says so, logged once a minute, not a 500 and a traceback per request.

When the disk (or the database's) is full every write fails the same way, thousands of times a
minute: each answer says that nothing was saved and to retry later (``Retry-After``); the log gets
one warning per minute with how many requests were refused since the last one, and the counter
``szt_storage_full_total`` counts them all. The failed use case's transaction is rolled back as any
failed one is (app/db.py), so nothing half-written stays behind.
"""

from __future__ import annotations

import errno
import logging
import sqlite3
import threading
import time

log = logging.getLogger("app.storage")

MESSAGE = "服务器存储空间不足，内容没有保存，请稍后重试或联系管理员"
CODE = "storage_full"
RETRY_AFTER_SECONDS = 120
LOG_EVERY_SECONDS = 60.0

_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
# SQLite: SQLITE_FULL; PostgreSQL: SQLSTATE 53100 disk_full ("could not extend file …: No space left").
_FULL_TEXTS = ("database or disk is full", "could not extend file", "no space left on device")
_PG_DISK_FULL = "53100"


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it wraps: SQLAlchemy's ``orig`` (the driver's error), ``__cause__``, ``__context__``."""
    found: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo and len(found) < 8:
        current = todo.pop()
        if current is None or any(current is seen for seen in found):
            continue
        found.append(current)
        todo += [getattr(current, "orig", None), current.__cause__, current.__context__]
    return found


def is_storage_full(exc: BaseException) -> bool:
    """True when ``exc`` (or what it wraps) says a disk is full: a file write's ENOSPC, SQLite's
    SQLITE_FULL or PostgreSQL's disk_full."""
    for cause in _causes(exc):
        if isinstance(cause, OSError) and cause.errno in _FULL_ERRNOS:
            return True
        if getattr(cause, "sqlstate", None) == _PG_DISK_FULL:  # psycopg.errors.DiskFull
            return True
        if isinstance(cause, sqlite3.Error | OSError) or type(cause).__module__.startswith("psycopg"):
            text = str(cause).lower()
            if any(t in text for t in _FULL_TEXTS):
                return True
    return False


class _OncePerMinute:
    """A warning at most every ``LOG_EVERY_SECONDS`` (per process), with how many were held back."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: float | None = None
        self._held = 0

    def report(self, exc: BaseException, where: str) -> None:
        now = time.monotonic()
        with self._lock:
            if self._last is not None and now - self._last < LOG_EVERY_SECONDS:
                self._held += 1
                return
            held, self._held, self._last = self._held, 0, now
        log.error("storage full: writes are refused with 503 (%s: %s at %s); %d more since the last report",
                  type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "", where, held)


_reporter = _OncePerMinute()


def report(exc: BaseException, where: str) -> None:
    """Count the refusal and log it (once a minute)."""
    from app.ops.metrics import STORAGE_FULL

    STORAGE_FULL.inc()
    _reporter.report(exc, where)


def reset_reporting() -> None:
    """Forget the last report (tests: each starts with a fresh minute)."""
    global _reporter
    _reporter = _OncePerMinute()
