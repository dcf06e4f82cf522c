"""Benchmark: the raw export of activities — CSV streamed and XLSX by a background job — at 100k and
1M rows: time, size, the server's peak RSS, and a concurrent request's latency meanwhile.

    .venv/bin/python bench/exports.py [--activities 1000000] [--db PATH] [--reuse DIR]

The database: ``--db PATH`` copies an existing demo database (e.g. one built by bench/boards.py)
into a temporary folder and migrates the copy — the original is never touched; ``--reuse DIR``
uses ``DIR/exports-N.db`` from an earlier run; otherwise `python -m app demo --activities N`
builds one (≈ 3–4 min for 1M here). Then one uvicorn worker serves it, the province staff
(demo login 13900000002) logs in, and for each size — the year 2025 of the demo (≈ 100k rows) and
全部期间 (all N rows) — the script measures

1. **CSV**: GET /exports/activities.csv streamed to the end; wall time, bytes, rows (read back with
   the csv module) and the server's peak RSS during it (``VmHWM`` of /proc/PID/status, reset
   before each run through /proc/PID/clear_refs);
2. **XLSX**: POST /exports/jobs, then the job page polled every second until 已完成, then the
   download; time from the POST to the finished file, its size, rows_done, peak RSS;
3. meanwhile a second client GETs /healthz every 0.25 s: its slowest answer (nothing may time out).

Bounds (the issue): 1,000,000 rows each way; flat memory — the 1M peak within 1.5× of the
100k peak (and under 400 MB); no request timing out (slowest concurrent answer < 5 s).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

from boards import Server, build, log_in

ROOT = Path(__file__).resolve().parent.parent
PROVINCE_STAFF = "13900000002"
JOB_URL = re.compile(r"/exports/jobs/(\d+)")


def prepare(args, tmp: Path) -> Path:
    if args.db:
        db = tmp / "exports.db"
        print(f"copying {args.db} → {db} (the original is left as it is)")
        shutil.copyfile(args.db, db)
    elif args.reuse and (args.reuse / f"exports-{args.activities}.db").exists():
        return args.reuse / f"exports-{args.activities}.db"
    else:
        folder = args.reuse or tmp
        db = folder / f"exports-{args.activities}.db"
        print(f"building {db} with {args.activities:,} activities …")
        print(f"  built in {build(db, args.activities):.0f} s")
    subprocess.run([sys.executable, "-c", "from app.db import migrate; migrate()"], cwd=ROOT, check=True,
                   env={**os.environ, "DATABASE_URL": f"sqlite:///{db}"})
    return db


class Rss:
    """The server's peak resident set (VmHWM), reset before each measured run."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def reset(self) -> None:
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")

    def _field(self, name: str) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def peak(self) -> float:
        return self._field("VmHWM")

    def now(self) -> float:
        return self._field("VmRSS")


class Prober(threading.Thread):
    """GET /healthz every 0.25 s until stopped; keeps every latency (a failure counts as 99 s)."""

    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        self.base, self.times, self.stop_flag = base, [], threading.Event()

    def run(self) -> None:
        while not self.stop_flag.is_set():
            started = time.perf_counter()
            try:
                urllib.request.urlopen(self.base + "/healthz", timeout=30).read()
                self.times.append(time.perf_counter() - started)
            except OSError:
                self.times.append(99.0)
            self.stop_flag.wait(0.25)

    def finish(self) -> dict:
        self.stop_flag.set()
        self.join()
        return {"probes": len(self.times), "slowest_s": max(self.times, default=0),
                "median_ms": statistics.median(self.times) * 1000 if self.times else 0}


def measure_csv(opener, base: str, rss: Rss, params: dict) -> dict:
    rss.reset()
    probe = Prober(base)
    probe.start()
    started = time.perf_counter()
    counted = {"bytes": 0}

    class Counting(io.RawIOBase):
        def __init__(self, response) -> None:
            self.response = response

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:
            data = self.response.read(len(buffer))
            counted["bytes"] += len(data)
            buffer[:len(data)] = data
            return len(data)

    with opener.open(base + "/exports/activities.csv?" + urllib.parse.urlencode(params), timeout=600) as response:
        first_byte = time.perf_counter() - started
        text = io.TextIOWrapper(io.BufferedReader(Counting(response), 1 << 20), encoding="utf-8-sig", newline="")
        rows = sum(1 for _ in csv.reader(text)) - 1
    elapsed = time.perf_counter() - started
    return {"rows": rows, "bytes": counted["bytes"], "seconds": elapsed, "first_byte_s": first_byte,
            "peak_rss_mb": rss.peak(), **probe.finish()}


def measure_xlsx(opener, base: str, token: str, rss: Rss, params: dict, db: Path) -> dict:
    rss.reset()
    probe = Prober(base)
    probe.start()
    started = time.perf_counter()
    form = urllib.parse.urlencode({**params, "csrf_token": token}).encode()
    with opener.open(urllib.request.Request(base + "/exports/jobs", data=form), timeout=60) as response:
        job_id = int(JOB_URL.search(response.url).group(1))
        created = time.perf_counter() - started
    polls = 0
    while True:
        with opener.open(f"{base}/exports/jobs/{job_id}", timeout=30) as response:
            page = response.read().decode()
        polls += 1
        if "已完成" in page or "失败" in page:
            break
        time.sleep(1)
    done = time.perf_counter() - started
    peak = rss.peak()
    with opener.open(f"{base}/exports/jobs/{job_id}/download", timeout=120) as response:
        size = len(response.read())
    with sqlite3.connect(db) as conn:
        status, rows_done, rows_total = conn.execute(
            "SELECT status, progress_done, progress_total FROM background_job WHERE id = ?", (job_id,)).fetchone()
    return {"status": status, "rows": rows_done, "rows_total": rows_total, "bytes": size, "seconds": done,
            "post_s": created, "polls": polls, "peak_rss_mb": peak, **probe.finish()}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--activities", type=int, default=1_000_000)
    p.add_argument("--db", type=Path, help="an existing demo database to copy (never modified)")
    p.add_argument("--reuse", type=Path, help="a folder holding exports-N.db from an earlier run")
    p.add_argument("--skip-xlsx", action="store_true")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="szt-exports-") as name:
        tmp = Path(name)
        db = prepare(args, tmp)
        server = Server(db, tmp, env={"SZT_UPLOAD_DIR": str(tmp / "uploads")})
        try:
            rss = Rss(server.proc.pid)
            opener, _, token = log_in(server.base, PROVINCE_STAFF)
            print(f"server pid {server.proc.pid}: RSS after start and login {rss.now():.0f} MB")
            sizes = [("100k (2025)", {"org": "530000", "period": "2025", "status": "", "by": "org"}),
                     ("all", {"org": "530000", "period": "all", "status": "", "by": "org"})]
            results = {}
            for label, params in sizes:
                results[("csv", label)] = r = measure_csv(opener, server.base, rss, params)
                print(f"CSV  {label:12} {r['rows']:>9,} rows {r['bytes'] / 1e6:8.1f} MB {r['seconds']:7.1f} s "
                      f"({r['rows'] / r['seconds']:,.0f} rows/s, first byte {r['first_byte_s']:.2f} s)  "
                      f"peak RSS {r['peak_rss_mb']:.0f} MB  /healthz slowest {r['slowest_s'] * 1000:.0f} ms "
                      f"of {r['probes']}")
            if not args.skip_xlsx:
                for label, params in sizes:
                    results[("xlsx", label)] = r = measure_xlsx(opener, server.base, token, rss, params, db)
                    print(f"XLSX {label:12} {r['rows']:>9,} rows {r['bytes'] / 1e6:8.1f} MB {r['seconds']:7.1f} s "
                          f"({r['rows'] / r['seconds']:,.0f} rows/s, {r['status']})  peak RSS {r['peak_rss_mb']:.0f} MB"
                          f"  /healthz slowest {r['slowest_s'] * 1000:.0f} ms of {r['probes']}")
        finally:
            server.stop()
    ok = True
    for kind in ("csv", "xlsx"):
        small, big = results.get((kind, "100k (2025)")), results.get((kind, "all"))
        if not small or not big:
            continue
        flat = big["peak_rss_mb"] <= 1.5 * small["peak_rss_mb"] and big["peak_rss_mb"] < 400
        quick = max(small["slowest_s"], big["slowest_s"]) < 5
        full = big["rows"] >= args.activities
        ok &= flat and quick and full
        print(f"{kind.upper():4} bounds: all {args.activities:,} rows {'✓' if full else '✗'} · peak RSS "
              f"{big['peak_rss_mb']:.0f} MB vs {small['peak_rss_mb']:.0f} MB at 100k (≤ 1.5× and < 400 MB) "
              f"{'✓' if flat else '✗'} · no request slower than 5 s {'✓' if quick else '✗'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
