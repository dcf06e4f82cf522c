"""Benchmark: the floor under bench/submit.py — the same load on two stripped-down servers.

    .venv/bin/python bench/floor.py [--seconds 10] [--connections 32]

Runs bench/load.py (the same client, the same body as submit.py) against one uvicorn worker
serving each app of bench/floor_apps.py in turn — a bare ASGI callable and a bare FastAPI route,
both writing one SQLite row per request the way app/db.py configures SQLite — and prints
requests/s and latency for each. Compare with submit.py's figure on the same machine: the
difference is what the real write path (sessions, permissions, rules, audit, the ORM) costs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from submit import ROOT, _free_port, run_load

BODY = json.dumps({"task_id": 1, "county_id": 1, "occurred_on": "2026-11-01",
                   "description": "压力测试：到村卫生室开展义诊，并捐赠医疗设备",
                   "values": {"1": "1", "2": "8.5"}}, ensure_ascii=False)


def measure(app: str, seconds: int, connections: int, tmp: Path) -> dict:
    port = _free_port()
    env = {**os.environ, "FLOOR_DB": str(tmp / f"{app}.db")}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", f"floor_apps:{app}", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "--no-access-log", "--log-level", "warning"],
        cwd=ROOT / "bench", env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(urllib.request.Request(
                    f"http://127.0.0.1:{port}/api/v1/activities", data=BODY.encode(),
                    headers={"Content-Type": "application/json", "Idempotency-Key": "probe"}), timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        sessions = [{"login": "x", "cookie": "a=b", "csrf": "-", "body": BODY}] * connections
        spec = {"host": "127.0.0.1", "port": port, "connections": connections, "sessions": sessions}
        result, _ = run_load({**spec, "seconds": seconds, "prefix": app}, tmp / f"{app}.json")
        return result
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--connections", type=int, default=32)
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="szt-floor-"))
    print(f"POST /api/v1/activities — {args.connections} connections, {args.seconds} s, one worker")
    for app in ("raw", "fastapi"):
        r = measure(app, args.seconds, args.connections, tmp)
        errors = sum(r["errors"].values()) + sum(n for s, n in r["statuses"].items() if s != "201")
        print(f"  {app:8} {r['requests'] / r['wall_s']:8.1f} requests/s   p50/p99 "
              f"{r['p50_ms']:.1f} / {r['p99_ms']:.1f} ms   errors {errors}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
