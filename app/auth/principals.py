"""A short cache of signed-in callers, one per application, checked against a version in the database.

Loading the caller costs two statements on every request (app/auth/service.py ``principal_for``).
The cache keeps each session's principal, keyed by the cookie token's digest, while

- the database's ``principal_version`` (app_meta) is the one it was loaded under — triggers move it
  on every write of what a principal is built from (migration 0018: grants, a session's revocation
  or timeouts, an account's state, memberships). It is read at most once a second (``CHECK_EVERY``),
  one tiny statement shared by every request of that second: a change made by any process takes
  effect everywhere within ``CHECK_EVERY`` plus one request;
- it is younger than ``TTL`` and was loaded on this Beijing day (a membership's dates decide the
  caller's organisation without any write).

The process that makes such a change sees it at once: a listener on every engine notes a write to
the watched columns (``WATCHED``, the migration's list) and the caches of this process read the
version again, and drop what they hold, on their next request. Timeouts are checked on every
request against the cached times; a cached session that looks timed out is loaded again rather than
refused (another process may have seen it since). API tokens are not cached (app/tokens loads and
counts them on every request anyway).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Update, UpdateBase, event, select
from sqlalchemy.orm import Session as OrmSession

from app.auth.principal import Principal
from app.models import AppMeta

log = logging.getLogger(__name__)

VERSION_KEY = "principal_version"
CHECK_EVERY = timedelta(seconds=1)
TTL = timedelta(seconds=30)
# Beyond this many sessions the oldest entry goes: a month's end is ~30,000 members, not all at once.
MAX_ENTRIES = 20_000

_VERSION = select(AppMeta.value).where(AppMeta.key == VERSION_KEY)  # asked once a second: built once

# The triggers' list (migration 0018): table → (an INSERT counts?, the columns whose UPDATE counts).
WATCHED: dict[str, tuple[bool, frozenset[str]]] = {
    "role_grant": (True, frozenset({"user_id", "role", "org_id"})),
    "user_session": (False, frozenset({"revoked_at", "user_id", "expires_at", "csrf_token"})),
    "user_account": (False, frozenset({"is_active", "login", "display_name", "member_id"})),
    "membership": (True, frozenset({"member_id", "org_id", "start_date", "end_date"})),
}


@dataclass(slots=True)
class Entry:
    """One session's principal and the session's times, as loaded at ``loaded_at``."""

    principal: Principal
    version: str | None
    loaded_at: datetime
    day: date
    last_seen_at: datetime
    expires_at: datetime
    idle: timedelta

    def open_at(self, now: datetime) -> bool:
        return self.expires_at > now and self.last_seen_at + self.idle > now


class PrincipalCache:
    """One application's cache (``app.state``): two applications in a process never share one."""

    def __init__(self) -> None:
        self._entries: dict[str, Entry] = {}
        self._version: str | None = None
        self._checked_at: datetime | None = None
        self._seen_local = -1
        self._lock = threading.Lock()

    def version(self, session: OrmSession, now: datetime, *, due_after: timedelta = CHECK_EVERY) -> str | None:
        """The database's principal version, read again when a second has passed (or the clock went
        back) or when this process wrote what principals are built from; a new one drops every entry.
        Between reads nothing touches the session: a cached caller does not even begin its transaction.
        ``due_after``: read it when it is older than that (``keep_fresh`` reads ahead of the second)."""
        checked = self._checked_at
        if (checked is not None and self._seen_local == _local_changes[0]
                and timedelta(0) <= now - checked < due_after):
            return self._version
        with self._lock:
            checked = self._checked_at
            local = _local_changes[0]
            if (checked is not None and self._seen_local == local
                    and timedelta(0) <= now - checked < due_after):
                return self._version  # another request of this second read it meanwhile
            version = session.connection().execute(_VERSION).scalar()
            if version != self._version or local != self._seen_local:
                self._entries.clear()
            self._version, self._checked_at, self._seen_local = version, now, local
            return version

    def fresh_version(self, now: datetime) -> tuple[bool, str | None]:
        """(True, the version) when it was read less than a second ago and nothing here wrote since —
        what ``version`` would answer without a statement; (False, None) when a read is due."""
        checked = self._checked_at
        if (checked is not None and self._seen_local == _local_changes[0]
                and timedelta(0) <= now - checked < CHECK_EVERY):
            return True, self._version
        return False, None

    def get(self, sid: str, version: str | None, now: datetime, today: date) -> Entry | None:
        entry = self._entries.get(sid)
        if entry is None:
            return None
        if entry.version != version or entry.day != today or not timedelta(0) <= now - entry.loaded_at < TTL:
            self._entries.pop(sid, None)
            return None
        return entry

    def put(self, sid: str, entry: Entry) -> None:
        if len(self._entries) >= MAX_ENTRIES:
            # The oldest goes; another request may have emptied or changed the dict meanwhile.
            with contextlib.suppress(StopIteration, KeyError, RuntimeError):
                self._entries.pop(next(iter(self._entries)))
        self._entries[sid] = entry

    def __len__(self) -> int:
        return len(self._entries)


# --- read ahead, while the application serves ---------------------------------------------------------

# How often ``keep_fresh`` looks, and the age at which it reads the version again: well inside
# CHECK_EVERY, so that the version a request finds is never due.
REFRESH_EVERY = 0.25  # seconds
READ_AHEAD = CHECK_EVERY / 2


async def keep_fresh(cache: PrincipalCache, read_version: Callable[[PrincipalCache], object]) -> None:
    """Read the version ahead of the second, for as long as the application serves (its lifespan's task).

    A cached caller is answered only while the version was read less than ``CHECK_EVERY`` ago. Left to
    the requests, the first one after each second found it due and read it — and every other request of
    that moment, which cannot read on the event loop, went the slow way (FastAPI's dependencies, a
    worker thread): one submission in sixteen under load (bench/submit.py). ``read_version(cache)``
    runs in a worker thread with a session of its own and calls ``cache.version(…, due_after=
    READ_AHEAD)``. A failed read is logged (once until a read succeeds again) and tried again at the
    next look; the requests then read the version themselves, as before."""
    import anyio

    failing = False
    while True:
        try:
            await anyio.to_thread.run_sync(read_version, cache)
            failing = False
        except Exception:
            if not failing:  # once per outage, not four times a second
                log.warning("principal cache: the version could not be read ahead", exc_info=True)
            failing = True
        await anyio.sleep(REFRESH_EVERY)


# --- this process wrote what principals are built from ----------------------------------------------

# A counter (in a list: mutated, never rebound) that moves when this process writes a watched column —
# when the statement runs and again when its session commits, so a request reading the version between
# the two (the change not yet visible) does not keep the old principal past the commit.
_local_changes = [0]
_pending = threading.local()
_count_lock = threading.Lock()


def changed_here() -> None:
    """Make every cache of this process read the version again (and drop its entries) on its next request."""
    with _count_lock:
        _local_changes[0] += 1


def _written_columns(stmt: UpdateBase, multiparams: Any, params: Any) -> set[str]:
    names = {getattr(key, "key", key) for key in (getattr(stmt, "_values", None) or ())}
    for group in (multiparams, params):
        if isinstance(group, dict):
            names.update(group)
        elif isinstance(group, list | tuple):
            for item in group:
                if isinstance(item, dict):
                    names.update(item)
    return {str(name) for name in names}


def is_watched(stmt: object, multiparams: Any = None, params: Any = None) -> bool:
    """True when ``stmt`` writes something a principal is built from (the triggers' rule)."""
    if not isinstance(stmt, UpdateBase):
        return False
    watched = WATCHED.get(getattr(getattr(stmt, "table", None), "name", ""))
    if watched is None:
        return False
    inserts, columns = watched
    if isinstance(stmt, Update):
        return not columns.isdisjoint(_written_columns(stmt, multiparams, params))
    if stmt.is_insert:
        return inserts
    return stmt.is_delete


def note_write() -> None:
    """This thread writes what principals are built from: every cache of the process reads the version
    again now and after the session's commit. The listener below calls it for every SQLAlchemy statement;
    a writer through raw driver calls (app/seed/bulk.py's COPY and executemany) calls it itself."""
    _pending.dirty = True
    changed_here()


@event.listens_for(Engine, "before_execute")
def _note_write(conn: Connection, clauseelement: object, multiparams: Any, params: Any,
                execution_options: Any) -> None:
    if isinstance(clauseelement, UpdateBase) and is_watched(clauseelement, multiparams, params):
        note_write()


@event.listens_for(OrmSession, "after_commit")
def _note_commit(_session: OrmSession) -> None:
    if getattr(_pending, "dirty", False):
        _pending.dirty = False
        changed_here()


__all__ = ["CHECK_EVERY", "READ_AHEAD", "TTL", "WATCHED", "Entry", "PrincipalCache", "changed_here", "is_watched",
           "keep_fresh", "note_write"]
