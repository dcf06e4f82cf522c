"""Prometheus metrics at ``/metrics``, served only to the addresses in ``SZT_METRICS_ALLOW``.

- ``szt_http_requests_total{method,route,status}`` and ``szt_http_request_duration_seconds{method,route}``:
  by route *template* (a path a caller made up is ``<unmatched>``), so the series stay few;
- ``szt_db_statement_duration_seconds``: every SQL statement's time (SQLAlchemy cursor events, all
  engines of the process), its ``_sum`` the database time;
- ``szt_background_jobs{status}``: background jobs queued and running, read from the database when
  scraped (the one job table: the same figure whichever process answers);
- ``szt_rollup_lag_seconds``: how far the boards' figures are behind the records. Always 0, truthfully:
  the rollup is updated in the same transaction as the change that moves it (app/rollup/service.py
  ``apply``), so a committed change is never waiting to be rolled up. Should the rollup become
  asynchronous, this is where the age of the oldest change not rolled up goes;
- ``szt_notify_outbox{channel,status}``: SMS and 企业微信 notices queued (including those deferred by
  quiet hours or a backoff) and being sent, and ``szt_notify_outbox_due_age_seconds``: how long the
  oldest notice that is due has waited (0 when none is: the sender keeps up), both read when scraped;
- ``szt_group_commit_batch_size``: how many writes each of SQLite's group-commit transactions carried
  (app/db.py ``GroupCommit``): its ``_count`` the transactions (fsyncs), its ``_sum`` the writes;
- ``szt_storage_full_total``: requests refused because a disk was full (app/ops/storage_full.py);
- ``process_*`` and ``python_*``: the client library's process collectors (memory, CPU, open files, GC).

Several worker processes behind one port (``serve --workers N``) share their figures through
prometheus-client's multiprocess mode: :func:`prepare_multiprocess` (called by ``serve`` before the
workers start) points ``PROMETHEUS_MULTIPROC_DIR`` at a folder emptied for this run (the operator's,
else a temporary one), each worker writes its counters there, and any worker's ``/metrics`` answers
their sum — whichever worker a scrape reaches. The process collectors (memory, CPU) do not work in
that mode: their figures are per process, there is no sum of them. One worker: the plain registry.
Each machine is scraped on its own (its own folder, its own figures).
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import tempfile
import time
from collections.abc import Iterable
from contextvars import ContextVar

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, disable_created_metrics
from sqlalchemy import Engine, event, func, select
from sqlmodel import Session, col

disable_created_metrics()  # no *_created series: they double the output and nothing here reads them

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
DB_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)
UNMATCHED = "<unmatched>"


def route_of(scope) -> str:  # noqa: ANN001
    """The matched route's template — what metrics, the request log and error logs name a request by;
    a path no route matched is not named as typed (it may hold anything, a phone number included)."""
    return getattr(scope.get("route"), "path", None) or UNMATCHED

REQUESTS = Counter("szt_http_requests", "HTTP requests answered, by route template, method and status",
                   ["method", "route", "status"])
LATENCY = Histogram("szt_http_request_duration_seconds", "Time to answer a request, by route template and method",
                    ["method", "route"], buckets=LATENCY_BUCKETS)
DB_TIME = Histogram("szt_db_statement_duration_seconds", "Time of each SQL statement (cursor execute)",
                    buckets=DB_BUCKETS)
# Read from the database at each scrape: in multiprocess mode the latest reading is the figure.
JOBS = Gauge("szt_background_jobs", "Background jobs (exports, imports) by status, read at scrape time",
             ["status"], multiprocess_mode="mostrecent")
ROLLUP_LAG = Gauge("szt_rollup_lag_seconds",
                   "Age of the oldest change not yet in the boards' figures: 0, the rollup is updated in the "
                   "same transaction as the change", multiprocess_mode="mostrecent")
OUTBOX = Gauge("szt_notify_outbox", "SMS and robot notices queued or being sent, read at scrape time",
               ["channel", "status"], multiprocess_mode="mostrecent")
OUTBOX_DUE_AGE = Gauge("szt_notify_outbox_due_age_seconds",
                       "How long the oldest due notice has waited for the sender (0: none waits)",
                       multiprocess_mode="mostrecent")
BATCH_SIZE = Histogram("szt_group_commit_batch_size",
                       "Writes committed together in one SQLite transaction (one fsync) by the group commit",
                       buckets=(1, 2, 4, 8, 16, 32, 64))
STORAGE_FULL = Counter("szt_storage_full", "Requests refused with 503 because a disk was full")

# The request's database time (seconds), summed by the cursor events for its log line; a list so the
# worker threads the request's work runs in (which get a copy of the context) add to the same one.
REQUEST_DB_SECONDS: ContextVar[list[float] | None] = ContextVar("szt_request_db_seconds", default=None)
_STARTED = "szt_statement_started"


def _before(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
    conn.info.setdefault(_STARTED, []).append(time.perf_counter())


def _after(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
    started = conn.info.get(_STARTED)
    if not started:
        return
    took = time.perf_counter() - started.pop()
    DB_TIME.observe(took)
    total = REQUEST_DB_SECONDS.get()
    if total is not None:
        total[0] += took


def _error(exception_context) -> None:  # noqa: ANN001 - a failed statement's start is dropped
    conn = exception_context.connection
    if conn is not None and conn.info.get(_STARTED):
        conn.info[_STARTED].pop()


def install_database_timing() -> None:
    """Time every statement of every engine (idempotent)."""
    if not event.contains(Engine, "before_cursor_execute", _before):
        event.listen(Engine, "before_cursor_execute", _before)
        event.listen(Engine, "after_cursor_execute", _after)
        event.listen(Engine, "handle_error", _error)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(seconds)


def parse_allow(value: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """``SZT_METRICS_ALLOW``: comma-separated addresses and networks ("127.0.0.0/8, ::1, 10.0.3.7")."""
    networks = []
    for part in value.split(","):
        if part.strip():
            networks.append(ipaddress.ip_network(part.strip(), strict=False))
    return networks


def allowed(host: str | None, networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    """Whether the client ``host`` (the connection's, or the proxy-forwarded one) is in ``networks``."""
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in net for net in networks)


def read_database_gauges(session: Session) -> None:
    """Set the gauges read from the database at scrape time; on failure they are left out, not guessed."""
    from app.jobs.service import OPEN
    from app.models import BackgroundJob

    counts = dict.fromkeys(OPEN, 0)
    rows = session.execute(select(BackgroundJob.status, func.count()).where(
        col(BackgroundJob.status).in_(OPEN)).group_by(BackgroundJob.status))
    for status, n in rows:
        counts[status] = int(n)
    for status, n in counts.items():
        JOBS.labels(status).set(n)
    ROLLUP_LAG.set(0)
    _read_outbox(session)


def _read_outbox(session: Session) -> None:
    from app.clock import as_utc, now_utc
    from app.models import Notification
    from app.notify.worker import CHANNELS

    waiting = dict.fromkeys(((c, st) for c in CHANNELS for st in ("queued", "sending")), 0)
    rows = session.execute(select(Notification.channel, Notification.status, func.count()).where(
        col(Notification.status).in_(("queued", "sending"))).group_by(Notification.channel, Notification.status))
    for channel, status, n in rows:
        waiting[(channel, status)] = int(n)
    for (channel, status), n in waiting.items():
        OUTBOX.labels(channel, status).set(n)
    now = now_utc()
    oldest = as_utc(session.scalar(select(func.min(Notification.not_before)).where(
        col(Notification.status) == "queued", col(Notification.not_before) <= now)))
    OUTBOX_DUE_AGE.set(max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)


def forget_database_gauges() -> None:
    JOBS.clear()
    OUTBOX.clear()


MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_multiprocess(workers: int) -> str | None:
    """Before ``workers`` server processes start (they inherit the environment): with more than one,
    or when the operator set ``PROMETHEUS_MULTIPROC_DIR``, that folder, emptied (the counts of a
    previous run would be added to this one's); returns it, or None for one plain process."""
    folder = os.environ.get(MULTIPROCESS_ENV)
    if not folder and workers <= 1:
        return None
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder, exist_ok=True)
    else:
        folder = os.environ[MULTIPROCESS_ENV] = tempfile.mkdtemp(prefix="szt-metrics-")
    return folder


def exposition() -> bytes:
    from prometheus_client import CollectorRegistry, generate_latest, multiprocess

    if os.environ.get(MULTIPROCESS_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)
