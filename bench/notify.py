"""Benchmark: a reminder campaign to ~20,000 members through the stub SMS provider (issue 17, Measured).

What it does, from the repository root (after `make install`):

    .venv/bin/python bench/notify.py [--members 20000] [--provider aliyun|tencent] [--fail-rate 0.05] \
        [--seconds 8] [--connections 16] [--senders 1] [--activities 2000]

1. Builds a fresh SQLite database with bench/submit.py's ``prepare_database`` (`python -m app demo`:
   the real province, 30,000 invented members; a few county members who can log in, and distinct
   activity submissions for the load).
2. Starts the stub SMS server (tests/notify/stubs.py, ``--provider``, injecting ``--fail-rate``
   transient failures) and points the settings at it (SZT_SMS_PROVIDER / ENDPOINT / keys /
   TEMPLATES); quiet hours off (SZT_SMS_QUIET_START = END = 0) so the run does not depend on the hour.
3. Starts uvicorn on the database (bench/submit.py's ``start_server``, quality checks off; its own
   notice sender runs too, as deployed) and measures submissions idle (bench/submit.py's ``one_run``:
   `POST /api/v1/activities` over ``--connections`` keep-alive connections for ``--seconds``).
4. Leaves ``--members`` member accounts never signed in and gives every other one a sign-in last
   month, picks the inactive-list group (this month, the province or a prefecture, one of the four
   groups) whose size is nearest ``--members`` — the province's 从未激活 — and sends it a campaign with
   app/notify/campaigns.send — the real use case: one recipients query, the campaign and every
   outbox row in one transaction. Prints the time to enqueue (goal < 5 s).
5. Drains it: while the same submission load runs again, the server's own sender (app/notify/worker.py,
   in the uvicorn process, as deployed) sends, with ``--senders`` loops of run_once in this process
   beside it (default none); then a run_once loop here finishes what is left. A failed send waits
   for its backoff (15 s, 30 s, …); that loop does not sleep through it — when nothing is due it runs
   at the moment the next retry falls due (``run_once(now=…)``), so the drain takes seconds, not
   minutes. Prints delivered, failures the stub injected, retries (attempts beyond the
   first), duplicates at the stub (phones that received the campaign twice: must be 0), the drain's
   time, and the submit throughput while draining against idle (goal ≥ 90 %).

Exits 1 when a goal is missed. Loopback only; the servers are stopped and the files removed at the end.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))
import submit  # bench/submit.py: the database, the server and the load generator

GOALS = {"enqueue_s": 5.0, "throughput_pct": 90.0}


def shape(url: str, members: int) -> None:
    """``members`` member accounts without a password are left never signed in (从未激活), every other one
    signed in last month: the province's 从未激活 group holds about ``members``, the rest are 已激活."""
    from sqlalchemy import create_engine, text

    from app.clock import now_utc

    engine = create_engine(url)
    with engine.begin() as conn:
        unused = ("SELECT id FROM user_account WHERE member_id IS NOT NULL AND password_hash IS NULL "
                  "ORDER BY id LIMIT :n")
        conn.execute(text(f"UPDATE user_account SET last_login_at = NULL WHERE id IN ({unused})"), {"n": members})
        conn.execute(text(f"UPDATE user_account SET last_login_at = :at WHERE member_id IS NOT NULL "
                          f"AND id NOT IN ({unused})"), {"at": now_utc() - timedelta(days=35), "n": members})
    engine.dispose()


def pick_group(session, want: int):
    """(organisation, period, segment, size): the group of this month's inactive list nearest ``want`` in size,
    among the province and the prefectures."""
    from sqlalchemy import select

    from app.boards import periods
    from app.boards import service as boards
    from app.clock import today_cn
    from app.models import Organisation

    today = today_cn()
    period = periods.parse(f"{today.year}-{today.month:02d}")
    orgs = session.scalars(select(Organisation).where(Organisation.level.in_(("province", "prefecture")))).all()
    groups = [(org, segment, n) for org in orgs
              for segment, n in boards.inactive_counts(session, org, period).items()]
    org, segment, n = min(groups, key=lambda g: abs(g[2] - want))
    return org, period, segment, n


def office_of(session, org):
    """A user with a staff or admin grant over ``org`` or above it."""
    from sqlalchemy import select

    from app.models import RoleGrant, UserAccount
    from app.orgs.service import ancestor_ids

    return session.scalar(select(UserAccount).join(RoleGrant, RoleGrant.user_id == UserAccount.id).where(
        RoleGrant.role.in_(("staff", "admin")), RoleGrant.org_id.in_(ancestor_ids(org.id))).limit(1))


def sms_state(engine, campaign_id: int) -> Counter:
    from sqlalchemy import text

    with engine.connect() as conn:
        return Counter(dict(conn.execute(text(
            "SELECT status, count(*) FROM notification WHERE campaign_id = :c AND channel = 'sms' GROUP BY status"),
            {"c": campaign_id}).all()))


def next_due(engine) -> datetime | None:
    from sqlalchemy import select

    from app.clock import as_utc
    from app.models import Notification

    with engine.connect() as conn:
        return as_utc(conn.scalar(select(Notification.not_before).where(Notification.status == "queued")
                                  .order_by(Notification.not_before).limit(1)))


def drain(engine, campaign_id: int, stop: threading.Event, senders: int, rate: float = 0.0) -> dict:
    """Run the sender's rounds until the campaign has no SMS queued or being sent (at most ``rate``
    notices a second per loop when given)."""
    from app.clock import now_utc
    from app.notify.worker import run_once

    done = threading.Event()
    lock = threading.Lock()
    clock = {"ahead": None}  # the moment the next retry falls due, when nothing is due now

    def loop() -> None:
        while not (done.is_set() or stop.is_set()):
            with lock:
                ahead = clock["ahead"]
            now = max(now_utc(), ahead) if ahead else None
            claimed = run_once(engine, now=now)
            if claimed and rate:
                time.sleep(claimed / rate)
            if claimed == 0:
                due = next_due(engine)
                if due is None:
                    state = sms_state(engine, campaign_id)
                    if not (state["queued"] or state["sending"]):
                        done.set()
                    else:
                        time.sleep(0.05)  # a row leased by another sender
                    continue
                with lock:
                    clock["ahead"] = due

    started = time.perf_counter()
    threads = [threading.Thread(target=loop, name=f"bench-sender-{k}") for k in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"seconds": time.perf_counter() - started}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--members", type=int, default=20_000, help="the campaign's size (about)")
    p.add_argument("--provider", choices=("aliyun", "tencent"), default="aliyun")
    p.add_argument("--fail-rate", type=float, default=0.05, help="transient failures the stub injects")
    p.add_argument("--seconds", type=int, default=8, help="length of each submit measurement")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--accounts", type=int, default=16)
    p.add_argument("--activities", type=int, default=2_000, help="demo activities already there")
    p.add_argument("--senders", type=int, default=0,
                   help="sender loops of this process beside the server's own while the load runs")
    p.add_argument("--rate", type=float, default=0.0,
                   help="with --senders: each loop sends at most this many notices a second while the load runs")
    p.add_argument("--no-server-sender", action="store_true",
                   help="the server runs no sender (SZT_JOB_WORKERS=0): only this process's loops send")
    p.add_argument("--keep", action="store_true", help="keep the database and the server log")
    args = p.parse_args()
    # What bench/submit.py's server and load expect of its own arguments.
    args.workers, args.serve, args.switch_interval, args.no_rollup, args.profile = 1, False, 0.0, False, None
    args.database = "sqlite"

    from tests.notify.stubs import AliyunStub, TencentStub

    tmp = Path(tempfile.mkdtemp(prefix="szt-bench-notify-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    stub = (AliyunStub if args.provider == "aliyun" else TencentStub)(fail_rate=args.fail_rate, seed=2026).start()
    os.environ.update({"DATABASE_URL": url, **stub.env(), "SZT_SMS_QUIET_START": "0", "SZT_SMS_QUIET_END": "0",
                       "SZT_SMS_SIGN_NAME": "双助推"})
    server = None
    logging.getLogger("app.notify").setLevel(logging.ERROR)  # the stub's injected failures are expected
    try:
        print(f"SQLite {url}: loading the demo province with {args.activities:,} activities …", flush=True)
        started = time.perf_counter()
        people, bodies = submit.prepare_database(url, args.accounts, args.activities)
        shape(url, args.members)
        print(f"  ready in {time.perf_counter() - started:.1f} s", flush=True)

        from app.auth.service import build_principal
        from app.config import get_settings
        from app.db import get_engine, write_session
        from app.notify import campaigns

        get_settings.cache_clear()
        engine = get_engine()
        if args.no_server_sender:
            os.environ["SZT_JOB_WORKERS"] = "0"
        server = submit.start_server(args, tmp, url, "off")
        base = server[1]
        logins = {person["login"]: submit.log_in(base, person["login"]) for person in people}
        supply = submit.Supply(bodies, logins, people)
        idle = submit.one_run(args, tmp, url, server, supply, "idle", 1)

        with write_session(engine) as s:
            org, period, segment, size = pick_group(s, args.members)
            by = build_principal(s, office_of(s, org), ip="bench")
            draft = campaigns.Draft(org=org, period=period, segment=segment, message="")
            s.rollback()
            print(f"campaign: {org.name}, {period.label}, {segment} ({size:,} members) …", flush=True)
            started = time.perf_counter()
            sent = campaigns.send(s, by=by, draft=draft, submission_key="bench")
            enqueue = time.perf_counter() - started
            c = sent.campaign
        print(f"  enqueued in {enqueue:.2f} s: {c.recipients:,} members, {c.queued:,} outbox rows, "
              f"{c.skipped:,} skipped, {c.sms_parts:,} billed SMS parts", flush=True)

        # While the load runs, the server's own sender drains (as deployed), with ``--senders`` loops of
        # this process beside it; then this process's loops finish what is left (the retries' backoff).
        stop = threading.Event()
        drain_started = time.perf_counter()
        helpers = [threading.Thread(target=drain, args=(engine, c.id, stop, 1, args.rate)) for _ in range(args.senders)]
        for t in helpers:
            t.start()
        busy = submit.one_run(args, tmp, url, server, supply, "draining", 1)
        during = sms_state(engine, c.id)
        print(f"  sent while the load ran: {during['sent']:,} of {sum(during.values()):,}", flush=True)
        drain(engine, c.id, stop, 1)
        stop.set()
        for t in helpers:
            t.join()
        result = {"seconds": time.perf_counter() - drain_started}

        from sqlalchemy import text

        state = sms_state(engine, c.id)
        with engine.connect() as conn:
            attempts, rows = conn.execute(text(
                "SELECT coalesce(sum(attempts), 0), count(*) FROM notification WHERE campaign_id = :c "
                "AND channel = 'sms'"), {"c": c.id}).one()
        per_phone = Counter(a.phone for a in stub.accepted)
        duplicates = sum(1 for n in per_phone.values() if n > 1)
        ratio = busy["rps"] / idle["rps"] * 100 if idle["rps"] else 0.0
        print(f"\nReminder campaign through the {args.provider} stub (fail rate {args.fail_rate:.0%}), "
              f"{os.cpu_count()} cores")
        print("| members | SMS rows | enqueue | drain | delivered | failed | injected failures | retries | "
              "duplicates at the stub | submits/s idle | while draining |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        print(f"| {c.recipients:,} | {rows:,} | {enqueue:.2f} s | {result.get('seconds', float('nan')):.1f} s | "
              f"{state['sent']:,} | {state['failed']:,} | {stub.transient:,} | {attempts - rows:,} | {duplicates} | "
              f"{idle['rps']:.1f} | {busy['rps']:.1f} ({ratio:.0f} %) |")
        if state.keys() - {"sent"}:
            print(f"  SMS states: {dict(state)}; refused by the stub: {Counter(stub.refused)}")
        ok = (enqueue < GOALS["enqueue_s"] and duplicates == 0 and state["sent"] == rows
              and ratio >= GOALS["throughput_pct"])
        print("OK: every goal met" if ok else "FAILED: a goal was missed "
              f"(enqueue < {GOALS['enqueue_s']:.0f} s, all delivered, none twice, ≥ {GOALS['throughput_pct']:.0f} %)")
        return 0 if ok else 1
    finally:
        if server is not None:
            submit.stop_server(server[0])
        stub.stop()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
