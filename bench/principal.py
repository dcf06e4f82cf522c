"""Benchmark: loading the signed-in caller, per request, without and with the principal cache.

    .venv/bin/python bench/principal.py [--requests 5000] [--sessions 200]

In-process, SQLite (a migrated temporary file, the real province): ``--sessions`` members each
signed in once; each "request" opens a read session the way app/db.py does, loads the caller with
app/auth/service.py ``principal_for`` (round robin over the sessions) and ends the read. Prints µs
per request for the loading alone and for the whole read session around it, without a cache (two
statements each) and with one app's PrincipalCache (one version read a second).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.auth import service
from app.auth.principals import PrincipalCache
from app.db import make_engine, migrate, read_session, write_session


def _setup(url: str, sessions: int) -> list[str]:
    from sqlalchemy import select

    from app.models import GrantRole, Organisation
    from app.seed.province import init_province
    from tests import factories as f

    migrate(url)
    engine = make_engine(url)
    with write_session(engine) as s:
        init_province(s, "53")
        s.commit()
        county = s.scalars(select(Organisation).where(Organisation.code == "530102")).one()
        raws = []
        for _ in range(sessions):
            member = f.make_member(s, county)
            user = f.make_user(s, member=member, grants=((GrantRole.member, county),))
            _, raw = service.start_session(s, user=user, ip="x", user_agent="bench")
            raws.append(raw)
        s.commit()
    engine.dispose()
    return raws


def _run(engine, raws: list[str], requests: int, cache: PrincipalCache | None) -> tuple[float, float]:
    load = 0.0
    start = time.perf_counter()
    for i in range(requests):
        with read_session(engine) as s:
            t = time.perf_counter()
            assert service.principal_for(s, raws[i % len(raws)], ip="10.0.0.1", cache=cache) is not None
            load += time.perf_counter() - t
            s.commit()
    whole = time.perf_counter() - start
    return load / requests * 1e6, whole / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--sessions", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/principal.db"
        raws = _setup(url, args.sessions)
        engine = make_engine(url)
        cache = PrincipalCache()
        _run(engine, raws, len(raws), None)  # warm: statements compiled, every member marked reached
        _run(engine, raws, len(raws), cache)
        rows = []
        for label, c in (("no cache", None), ("cache", cache), ("no cache", None), ("cache", cache)):
            rows.append((label, *_run(engine, raws, args.requests, c)))
        engine.dispose()
    with open("/proc/loadavg") as fh:
        load = fh.read().split()[:3]
    print(f"principal_for, {args.requests} requests over {args.sessions} sessions, SQLite; load average {' '.join(load)}")
    print(f"{'':10} {'load µs':>9} {'read session µs':>16}")
    for label, per_load, per_whole in rows:
        print(f"{label:10} {per_load:9.1f} {per_whole:16.1f}")


if __name__ == "__main__":
    main()
