"""The sender: delivers queued SMS and 企业微信 robot notices from the outbox.

Each round (:func:`run_once`) sweeps rows a dead process left in ``sending``, claims a batch of due
rows with one ``UPDATE … RETURNING`` (``FOR UPDATE SKIP LOCKED`` on PostgreSQL: two senders never
claim one row; SQLite's single writer serialises the claim), commits, sends each through the
provider outside any transaction, then writes every outcome in one short transaction:

- sent → ``sent`` with the provider's message id (and the member counts as reached this month);
- a transient failure → ``queued`` again after a backoff (15 s · 2ⁿ, at most an hour, with jitter),
  until ``notify_max_attempts`` → ``failed``;
- a permanent one → ``failed`` with the provider's reason in Chinese;
- quiet hours → ``queued`` until the morning (the attempt is given back); over the member's daily cap
  or opted out of reminders → ``skipped``.

A row found in ``sending`` with a lease older than :data:`STALE_SECONDS` belonged to a process that
died mid-send: the provider may or may not have delivered it, so it is failed, never resent — a
member would rather miss a reminder than get it twice, and a code is asked for again anyway.
A batch stops sending after :data:`BATCH_SECONDS` (the rest go back to the queue untouched), so a
live sender's lease never goes stale.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import weakref
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, bindparam, case, select, update
from sqlmodel import Session, col

from app.clock import now_utc
from app.config import get_settings
from app.db import is_sqlite
from app.jobs.service import Databases, SameSession, new_owner
from app.models import Notification, WecomRobot
from app.models.notify import CODE_KINDS
from app.notify import rules
from app.notify.providers import Result, refuse, send_robot, sms_provider
from app.rollup import reach

log = logging.getLogger("app.notify")

BATCH = 50
BATCH_SECONDS = 60  # stop sending a batch after this long: the lease (STALE_SECONDS) stays fresh
STALE_SECONDS = 120
POLL_SECONDS = 1.0
PARALLEL = 4  # provider calls at once (HTTP providers; the log provider writes one at a time)
BACKOFF_FIRST = 15
BACKOFF_MAX = 3600
CHANNELS = ("sms", "wecom")
UNKNOWN_OUTCOME = "发送结果未知，为避免重复发送未重试"
ROBOT_GONE = "企业微信机器人已停用或删除"
CODE_SENT = "（验证码短信：内容发出后不保留）"


def backoff(attempts: int, rng: random.Random | None = None) -> timedelta:
    """How long to wait after the ``attempts``-th failure: 15 s, 30 s, 60 s … at most an hour, ±10 %."""
    seconds = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** max(0, attempts - 1))
    return timedelta(seconds=seconds * (rng or random).uniform(0.9, 1.1))


def _databases(target: Databases | Engine | Session | None) -> Databases:
    if isinstance(target, Databases):
        return target
    if isinstance(target, Session):
        return SameSession(session=target)
    return Databases(target)


# --- the sweep and the claim ---------------------------------------------------------------------------

def sweep_stale(db: Databases, now: datetime) -> int:
    """Fail rows left in ``sending`` by a sender that stopped answering; never resend them."""
    stale = (col(Notification.status) == "sending", col(Notification.leased_at) < now - timedelta(seconds=STALE_SECONDS))
    with db.read() as s:  # a cheap look first: an idle sender never takes SQLite's write lock
        if s.scalar(select(Notification.id).where(*stale).limit(1)) is None:
            return 0
    with db.write() as s:
        s.execute(update(Notification).where(*stale, col(Notification.kind).in_(CODE_KINDS)).values(
            params="{}", body=CODE_SENT).execution_options(synchronize_session=False))
        done = s.execute(update(Notification).where(*stale).values(
            status="failed", error=UNKNOWN_OUTCOME, lease_owner=None).execution_options(synchronize_session=False))
        s.commit()
    count = int(done.rowcount or 0)  # type: ignore[attr-defined]
    if count:
        log.warning("notify sender: %s notices left sending by a stopped sender marked failed", count)
    return count


@dataclass
class Claimed:
    id: int
    channel: str
    kind: str
    recipient: str
    user_id: int | None
    member_id: int | None
    robot_id: int | None
    template: str
    params: str
    body: str
    attempts: int


def claim(db: Databases, owner: str, now: datetime, *, limit: int = BATCH) -> list[Claimed]:
    """Take up to ``limit`` due SMS and robot rows for ``owner``: ``sending``, leased, attempts + 1."""
    due = (col(Notification.status) == "queued", col(Notification.channel).in_(CHANNELS),
           col(Notification.not_before) <= now)
    with db.read() as s:
        if s.scalar(select(Notification.id).where(*due).limit(1)) is None:
            return []
    with db.write() as s:
        # Sign-in and reset codes first: a member waiting for a code never queues behind a campaign.
        first = case((col(Notification.kind).in_(CODE_KINDS), 0), else_=1)
        batch = (select(Notification.id).where(*due)
                 .order_by(first, col(Notification.not_before), col(Notification.id)).limit(limit))
        if is_sqlite(s.get_bind()):
            ids = select(batch.subquery().c.id)
        else:
            # The batch as a materialised CTE, run once: `id IN (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)`
            # lets PostgreSQL run the subquery again per row, and it then claimed every due row.
            chosen = batch.with_for_update(skip_locked=True).cte("batch").prefix_with("MATERIALIZED")
            ids = select(chosen.c.id)
        t = Notification.__table__.c
        rows = s.execute(
            update(Notification).where(col(Notification.id).in_(ids), col(Notification.status) == "queued")
            .values(status="sending", lease_owner=owner, leased_at=now, attempts=Notification.attempts + 1)
            .returning(t.id, t.channel, t.kind, t.recipient, t.user_id, t.member_id, t.robot_id, t.template,
                       t.params, t.body, t.attempts)
            .execution_options(synchronize_session=False)).all()
        s.commit()
    return sorted((Claimed(*row) for row in rows), key=lambda c: c.id)


# --- one round -------------------------------------------------------------------------------------------

@dataclass
class Outcome:
    row: Claimed
    status: str  # sent | queued | failed | skipped
    values: dict[str, Any]


def _checks(db: Databases, rows: list[Claimed], now: datetime) -> dict[int, Outcome]:
    """The rules that hold a row back at send time (quiet hours, opt-out, the daily cap)."""
    held: dict[int, Outcome] = {}
    settings = get_settings()
    sms = [r for r in rows if r.channel == "sms" and not rules.exempt(r.kind)]
    if not sms:
        return held
    morning = rules.quiet_until(now, settings)
    with db.read() as s:
        opted = rules.opted_out(s, (r.user_id for r in sms if r.kind == "reminder" and r.user_id))
        counts = rules.sent_today(s, (r.member_id for r in sms if r.member_id), now)
    for r in sms:
        if morning is not None:  # not a failure: the attempt is given back
            held[r.id] = Outcome(r, "queued", {"not_before": morning, "attempts": r.attempts - 1})
        elif r.kind == "reminder" and r.user_id in opted:
            held[r.id] = Outcome(r, "skipped", {"error": rules.OPTED_OUT})
        elif r.member_id is not None and counts.get(r.member_id, 0) >= settings.sms_daily_cap:
            held[r.id] = Outcome(r, "skipped", {"error": rules.OVER_CAP})
        elif r.member_id is not None:
            counts[r.member_id] = counts.get(r.member_id, 0) + 1  # this batch's own sends count too
    return held


def _robots(db: Databases, rows: list[Claimed]) -> dict[int, str]:
    ids = sorted({r.robot_id for r in rows if r.channel == "wecom" and r.robot_id is not None})
    if not ids:
        return {}
    with db.read() as s:
        return dict(s.execute(select(WecomRobot.id, WecomRobot.webhook_url).where(
            col(WecomRobot.id).in_(ids), col(WecomRobot.is_active).is_(True))).all())


def _outcome(row: Claimed, result: Result | None, provider: str, now: datetime, max_attempts: int) -> Outcome:
    if result is None:  # the batch ran out of time before this row: untouched, back in the queue
        return Outcome(row, "queued", {"attempts": row.attempts - 1})
    if result.ok:
        return Outcome(row, "sent", {"sent_at": now, "provider": provider,
                                     "provider_message_id": result.message_id, "error": None})
    if result.transient and row.attempts < max_attempts:
        return Outcome(row, "queued", {"not_before": now + backoff(row.attempts), "error": result.error,
                                       "provider": provider})
    return Outcome(row, "failed", {"error": result.error, "provider": provider})


_RECORDS: dict[tuple[str, ...], Any] = {}  # one UPDATE per set of columns, built once


def _record_statement(columns: tuple[str, ...]) -> Any:
    stmt = _RECORDS.get(columns)
    if stmt is None:
        t = Notification.__table__.c
        stmt = _RECORDS[columns] = (
            Notification.__table__.update()
            .where(t.id == bindparam("b_id"), t.lease_owner == bindparam("b_owner"), t.status == "sending")
            .values({c: bindparam(f"v_{c}") for c in columns}))
    return stmt


def _record(db: Databases, owner: str, outcomes: list[Outcome]) -> None:
    """Every outcome of a batch in one short transaction, each guarded by the lease: one executemany
    per kind of outcome (a row per notice would cost the sender more than the sending)."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for o in outcomes:
        values = {"status": o.status, "lease_owner": None, **o.values}
        if o.status != "queued" and rules.exempt(o.row.kind):
            # A sign-in or reset code is kept in clear only until it has gone (or never will):
            # afterwards the outbox says that a code was sent, never which.
            values.update(params="{}", body=CODE_SENT)
        columns = tuple(sorted(values))
        groups[columns].append({"b_id": o.row.id, "b_owner": owner, **{f"v_{c}": values[c] for c in columns}})
    with db.write() as s:
        conn = s.connection()
        for columns, params in groups.items():
            conn.execute(_record_statement(columns), params)
        reached = [o for o in outcomes if o.status == "sent" and o.row.channel == "sms" and o.row.member_id]
        if reached:
            reach.mark(s, [o.row.member_id for o in reached if o.row.member_id is not None],
                       min(o.values["sent_at"] for o in reached), via="notified")
        s.commit()


def run_once(target: Databases | Engine | Session | None = None, *, now: datetime | None = None,
             owner: str | None = None, limit: int = BATCH) -> int:
    """One round: sweep, claim a batch, send, record. Returns how many rows it claimed (0: nothing due).
    Tests and the bench call it in their own thread; the :class:`Sender` calls it in a loop."""
    db = _databases(target)
    fixed = now is not None
    now = now or now_utc()
    owner = owner or new_owner()
    settings = get_settings()
    sweep_stale(db, now)
    rows = claim(db, owner, now, limit=limit)
    if not rows:
        return 0
    held = _checks(db, rows, now)
    robots = _robots(db, rows)
    provider = sms_provider(settings, write=db.write)
    deadline = time.monotonic() + BATCH_SECONDS

    def deliver(row: Claimed) -> Result | None:
        if time.monotonic() > deadline:
            return None
        try:
            if row.channel == "wecom":
                url = robots.get(row.robot_id or 0)
                return send_robot(url, row.body, settings) if url else refuse(ROBOT_GONE)
            return provider.send(row.recipient, row.template, json.loads(row.params or "{}"))
        except Exception:  # a bug or an odd answer must not leave the row in 'sending'
            log.exception("notify sender: sending notice %s failed", row.id)
            return refuse("发送时出错")

    to_send = [r for r in rows if r.id not in held]
    parallel = 1 if provider.name == "log" or isinstance(db, SameSession) else PARALLEL
    if parallel > 1 and len(to_send) > 1:
        with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="notify-send") as pool:
            results = list(pool.map(deliver, to_send))
    else:
        results = [deliver(r) for r in to_send]
    outcomes = list(held.values())
    done = now if fixed else now_utc()  # when the sends ended (a test's given moment stays put)
    for row, result in zip(to_send, results, strict=True):
        name = "wecom" if row.channel == "wecom" else provider.name
        outcomes.append(_outcome(row, result, name, done, settings.notify_max_attempts))
    _record(db, owner, outcomes)
    return len(rows)


# --- the sender of a process ---------------------------------------------------------------------------

_senders: weakref.WeakSet[Sender] = weakref.WeakSet()


def wake() -> None:
    """Tell this process's sender a notice was just queued (other processes find it within a second)."""
    for sender in list(_senders):
        sender.wake()


class Sender:
    """One daemon thread running :func:`run_once` while there is work, polling otherwise."""

    def __init__(self, engine: Engine | None = None, *, run: Callable[..., int] = run_once) -> None:
        self.db = Databases(engine)
        self.owner = new_owner()
        self._run = run
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Sender:
        self._thread = threading.Thread(target=self._loop, name="notify-sender", daemon=True)
        self._thread.start()
        _senders.add(self)
        return self

    def wake(self) -> None:
        self._wake.set()

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def stop(self, timeout: float = 5.0) -> None:
        _senders.discard(self)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            claimed = 0
            try:
                claimed = self._run(self.db, owner=self.owner)
            except Exception:  # a database hiccup must not end the sender
                log.exception("notify sender: round failed")
            if claimed:
                # Paced: a campaign drains at notify_rate notices a second per process, leaving the
                # members' own requests their CPU and the database's writer (bench/notify.py).
                rate = get_settings().notify_rate
                if rate > 0:
                    self._stop.wait(claimed / rate)
                continue
            if self._wake.wait(POLL_SECONDS):
                self._wake.clear()
                # wake() is called inside the writer's transaction: give it a moment to commit.
                self._stop.wait(0.05)
