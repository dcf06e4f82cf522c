"""Benchmark: `python -m app demo --activities N` on an empty SQLite file.

Runs the real command in a subprocess (wall time, as a user sees it), then counts the rows with
Python's own sqlite3 module — independent of the app — and checks them against what the command
printed. Usage (from the repository root, after `make install`):

    .venv/bin/python bench/demo_load.py [--activities 200000] [--seed 2026] [--keep PATH]

Bounds: under 60 s for 200,000 activities (and fewer), under 10 minutes for up to 5,000,000; larger
loads are timed without a bound. ``--keep PATH`` loads into PATH (a new file) and leaves it there,
for the boards' benchmark (bench/boards.py) to measure on. Prints the command's wall time, the CPU
time it used and the load average before and after (the machine is shared: say it with the figure).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TABLES = ["organisation", "site", "member", "membership", "user_account", "role_grant",
          "link_assignment", "annual_target", "activity", "activity_value", "activity_participant",
          "closed_month"]


PRINTED = re.compile(r"^\s+\S+\s+([a-z -]+?)\s+([\d,]+)$", re.MULTILINE)
PRINTED_TABLES = {
    "organisations": "organisation", "sites": "site", "key-support counties": "key counties",
    "members": "member", "memberships": "membership", "user accounts": "user_account",
    "role grants": "role_grant", "link assignments": "link_assignment",
    "annual targets": "annual_target", "activities": "activity", "activity values": "activity_value",
    "participants": "activity_participant", "closed months": "closed_month",
}


def bound_seconds(activities: int) -> float | None:
    """The wall-time bound for a load of ``activities`` (None: timed only)."""
    if activities <= 200_000:
        return 60.0
    return 600.0 if activities <= 5_000_000 else None


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--activities", type=int, default=200_000)
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--keep", type=Path, help="load into this new SQLite file and keep it")
    args = p.parse_args()
    if args.keep is not None and args.keep.exists():
        print(f"{args.keep} exists: give a new file", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        db = args.keep.resolve() if args.keep is not None else Path(tmp) / "bench.db"
        db.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}"}
        # Migrate first so that the timed run is the load itself, as the issue states it.
        subprocess.run([sys.executable, "-m", "app", "migrate"], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)
        load_before = loadavg()
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-m", "app", "demo", "--activities", str(args.activities), "--seed", str(args.seed)],
            cwd=ROOT, env=env, check=True, capture_output=True, text=True,
        ).stdout
        wall = time.perf_counter() - started
        cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
        user, system = cpu.ru_utime - cpu_before.ru_utime, cpu.ru_stime - cpu_before.ru_stime
        print(out)
        with sqlite3.connect(db) as conn:
            counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
            key = conn.execute("SELECT count(*) FROM organisation WHERE is_key_county").fetchone()[0]
        print(f"wall time of `python -m app demo --activities {args.activities}`: {wall:.1f} s "
              f"({user:.1f} s user CPU, {system:.1f} s system; load average {load_before} before, {loadavg()} after)")
        print("row counts read back with sqlite3:")
        for table, n in counts.items():
            print(f"  {table:<22} {n:>10,}")
        print(f"  key counties           {key:>10,}")
        counts["key counties"] = key
        # Every count the command printed must be what the database holds.
        printed = {m.group(1): int(m.group(2).replace(",", "")) for m in PRINTED.finditer(out)}
        bound = bound_seconds(args.activities)
        ok = counts["activity"] == args.activities and key == 57 and (bound is None or wall < bound)
        for label, table in PRINTED_TABLES.items():
            if printed.get(label) != counts[table]:
                ok = False
                print(f"MISMATCH: printed {label} = {printed.get(label)}, {table} holds {counts[table]}")
        print("OK: printed counts match the database" if ok else
              f"FAILED (expected matching counts, the activity count asked for, 57 key counties"
              f"{f', under {bound:.0f} s' if bound else ''})")
        if args.keep is not None:
            print(f"database kept at {db}")
        return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
