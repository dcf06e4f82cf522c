"""Benchmark: `python -m app demo --activities N` on an empty SQLite file.

Runs the real command in a subprocess (wall time, as a user sees it), then counts the rows with
Python's own sqlite3 module — independent of the app — and checks them against what the command
printed. Usage (from the repository root, after `make install`):

    .venv/bin/python bench/demo_load.py [--activities 200000] [--seed 2026]
"""

from __future__ import annotations

import argparse
import os
import re
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


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--activities", type=int, default=200_000)
    p.add_argument("--seed", type=int, default=2026)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}"}
        # Migrate first so that the timed run is the load itself, as the issue states it.
        subprocess.run([sys.executable, "-m", "app", "migrate"], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-m", "app", "demo", "--activities", str(args.activities), "--seed", str(args.seed)],
            cwd=ROOT, env=env, check=True, capture_output=True, text=True,
        ).stdout
        wall = time.perf_counter() - started
        print(out)
        with sqlite3.connect(db) as conn:
            counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
            key = conn.execute("SELECT count(*) FROM organisation WHERE is_key_county").fetchone()[0]
        print(f"wall time of `python -m app demo --activities {args.activities}`: {wall:.1f} s")
        print("row counts read back with sqlite3:")
        for table, n in counts.items():
            print(f"  {table:<22} {n:>10,}")
        print(f"  key counties           {key:>10,}")
        counts["key counties"] = key
        # Every count the command printed must be what the database holds.
        printed = {m.group(1): int(m.group(2).replace(",", "")) for m in PRINTED.finditer(out)}
        ok = counts["activity"] == args.activities and key == 57 and wall < 60
        for label, table in PRINTED_TABLES.items():
            if printed.get(label) != counts[table]:
                ok = False
                print(f"MISMATCH: printed {label} = {printed.get(label)}, {table} holds {counts[table]}")
        print("OK: printed counts match the database" if ok else
              "FAILED (expected matching counts, the activity count asked for, 57 key counties, under 60 s)")
        return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
