"""Python's interpreter, tuned once per serving process: the cyclic garbage collector and the GIL's
switch interval.

**The garbage collector.** A serving process holds about a million long-lived objects that never
become garbage: the routes and their dependency trees, pydantic's validators, SQLAlchemy's mappers
and compiled statements, Jinja's templates. With Python's default thresholds every full collection
walks all of them — a pause of a hundred milliseconds and more in the middle of requests — and the
younger collections run every 700 allocations, a few times per request. bench/submit.py measured it:
with the collector switched off a submission cost 1.54 ms of CPU instead of 1.82–1.99 ms, and the
99th percentile fell from 209–241 ms to 68 ms.

Switching it off is not safe (a reference cycle made per request would never be freed). Instead, once
the application is built and has served its start-up:

- ``gc.freeze()`` moves every object alive then into the permanent generation, which no collection
  walks (the objects stay; they are the application);
- the youngest generation is collected every ``YOUNG`` allocations instead of 700: most of a request's
  objects die before a collection sees them, so fewer are promoted and an older collection has less
  to walk.

**The switch interval** on SQLite (``SZT_SWITCH_INTERVAL``; 0.1 ms there, Python's default is
5 ms). SQLite's writes all run on one thread (the group commit, app/db.py), and that thread lets go of
the GIL at every call into SQLite. When the event loop, busy with other requests, takes it meanwhile,
the writer gets it back only when the loop blocks or when the switch interval has run out — up to
5 ms lost per SQLite call while the loop answers a burst, and the writer is what every submission
waits for. bench/submit.py, the same code served side by side in turns (2026-12-07): 0.2 ms made 459
submissions/s against 426 (+8 %, 5 pairs of 6), 0.1 ms 484 against 436 (+11 %, 4 of 4) and 549
against 526 (+4 %, 4 of 6); 0.05 ms against 0.2 ms, 599 against 590 (the same within the machine's
drift). On PostgreSQL the writers are
several threads and two workers already fill the cores: there 0.1 ms cost two workers 16 % (286
against 339 submissions/s, 4 pairs in turn), so PostgreSQL keeps Python's interval unless told.

``SZT_GC_FREEZE=0`` leaves the interpreter as Python sets it (the tests do: an application per test).
"""

from __future__ import annotations

import gc
import logging
import sys

from app.config import get_settings

log = logging.getLogger(__name__)

YOUNG, MIDDLE, OLD = 20_000, 20, 20
SQLITE_SWITCH_INTERVAL = 0.0001
_tuned = False


def switch_interval() -> float | None:
    """The switch interval to set: ``SZT_SWITCH_INTERVAL``, else 0.1 ms on SQLite; None: Python's own."""
    settings = get_settings()
    if settings.switch_interval is not None:
        return settings.switch_interval
    return SQLITE_SWITCH_INTERVAL if settings.is_sqlite else None


def tune_once() -> bool:
    """Freeze what is alive now, raise the thresholds and set the switch interval, once per process;
    True when it did."""
    global _tuned
    if _tuned:
        return False
    _tuned = True
    gc.collect()  # the start-up's own garbage, so it is not frozen with the application
    gc.freeze()
    gc.set_threshold(YOUNG, MIDDLE, OLD)
    interval = switch_interval()
    if interval is not None:
        sys.setswitchinterval(interval)
    log.info("garbage collector: %d objects frozen, thresholds %s; switch interval %g ms", gc.get_freeze_count(),
             gc.get_threshold(), sys.getswitchinterval() * 1000)
    return True
