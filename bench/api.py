"""Benchmark: the third-party API on a big province — what another system's sync job meets.

    .venv/bin/python bench/api.py [--activities 1000000] [--reuse DIR] [--requests 50] [--pages 200]

Builds (or reuses ``DIR/api-N.db``) a demo database of N activities, makes a province-wide records
token through the service, serves the app (one uvicorn worker) and measures, sequentially, with the
application's own time (`Server-Timing: app;dur=`) and the client's wall time:

1. ``GET /api/v1/progress?org=530000`` (the province's figures) and ``/rankings``;
2. the activities list by cursor: the first page (with its total), and pages deep into the list
   (following ``next_cursor`` ``--pages`` times, 50 a page): the time of a page must not grow with
   its depth (keyset pagination, not OFFSET);
3. incremental sync: ``order=updated&updated_since=T`` after 200 activities were changed (their
   ``updated_at`` set as a verification would);
4. a ``304`` for an unchanged answer (``If-None-Match``) against the full ``200``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from submit import ROOT, _free_port

sys.path.insert(0, str(ROOT))


def build(db: Path, activities: int) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "app", "demo", "--activities", str(activities)], cwd=ROOT, check=True,
                   env={**os.environ, "DATABASE_URL": f"sqlite:///{db}"}, capture_output=True, text=True)
    return time.perf_counter() - started


def make_token(db: Path) -> str:
    from sqlalchemy import select

    from app.auth.service import build_principal
    from app.db import make_engine, write_session
    from app.models import Organisation, UserAccount
    from app.tokens import service as tokens

    engine = make_engine(f"sqlite:///{db}")
    try:
        with write_session(engine) as s:
            admin = build_principal(s, s.scalar(select(UserAccount).where(UserAccount.login == "13900000001")))
            province = s.scalar(select(Organisation).where(Organisation.level == "province"))
            _, raw = tokens.create_token(s, admin, name="bench", org_id=province.id, level="records",
                                         rate_per_minute=tokens.MAX_RATE)
            return raw
    finally:
        engine.dispose()


def mark_changed(db: Path, n: int) -> str:
    """Mark ``n`` activities as changed a moment ago (as verifications would); returns the time before."""
    import sqlite3

    since = datetime.now(UTC) - timedelta(seconds=5)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE activity SET updated_at = ? WHERE id IN (SELECT id FROM activity ORDER BY random() "
                     "LIMIT ?)", (now, n))
    return since.isoformat().replace("+00:00", "Z")


def get(base: str, path: str, token: str, etag: str | None = None) -> tuple[int, float, float, dict, str]:
    headers = {"Authorization": f"Bearer {token}"} | ({"If-None-Match": etag} if etag else {})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(urllib.request.Request(base + path, headers=headers)) as answer:
            body, status, head = answer.read(), answer.status, answer.headers
    except urllib.error.HTTPError as err:
        body, status, head = err.read(), err.code, err.headers
    wall = (time.perf_counter() - started) * 1000
    app = float(head.get("Server-Timing", "app;dur=0").split("dur=")[1])
    return status, wall, app, json.loads(body) if body and status == 200 else {}, head.get("ETag", "")


def summary(name: str, samples: list[tuple[float, float]]) -> dict:
    walls, apps = [w for w, _ in samples], [a for _, a in samples]
    row = {"what": name, "n": len(samples), "app_median_ms": round(statistics.median(apps), 1),
           "app_p95_ms": round(sorted(apps)[int(len(apps) * 0.95) - 1], 1) if len(apps) > 1 else round(apps[0], 1),
           "wall_median_ms": round(statistics.median(walls), 1)}
    print(f"  {name:<48} app median {row['app_median_ms']:>7} ms  p95 {row['app_p95_ms']:>7} ms  "
          f"wall median {row['wall_median_ms']:>7} ms  (n={row['n']})")
    return row


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--activities", type=int, default=1_000_000)
    ap.add_argument("--reuse", type=Path)
    ap.add_argument("--requests", type=int, default=50)
    ap.add_argument("--pages", type=int, default=200)
    args = ap.parse_args()
    folder = args.reuse or Path(tempfile.mkdtemp(prefix="szt-api-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / f"api-{args.activities}.db"
    if not db.exists():
        print(f"building {args.activities:,} activities …", flush=True)
        print(f"  built in {build(db, args.activities):.0f} s")
    token = make_token(db)
    changed_since = mark_changed(db, 200)
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "app", "serve", "--no-demo", "--port", str(port)], cwd=ROOT,
                              env={**os.environ, "DATABASE_URL": f"sqlite:///{db}"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    rows = []
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.3)
        print(f"API on {args.activities:,} activities (SQLite, one worker):")
        for name, path in (("progress, province", "/api/v1/progress?org=530000"),
                           ("rankings, province's prefectures", "/api/v1/rankings?org=530000"),
                           ("activities, first page (with total)", "/api/v1/activities?per_page=50"),
                           ("activities, first page (count=false)", "/api/v1/activities?per_page=50&count=false")):
            get(base, path, token)  # warm
            rows.append(summary(name, [get(base, path, token)[1:3] for _ in range(args.requests)]))
        # Deep pages by cursor.
        path, cursor, firsts, deep = "/api/v1/activities?per_page=50", None, [], []
        for n in range(args.pages):
            status, wall, app, body, _ = get(base, path + (f"&cursor={cursor}" if cursor else ""), token)
            assert status == 200, status
            (firsts if n < 10 else deep).append((wall, app))
            cursor = body["next_cursor"]
            if cursor is None:
                break
        rows.append(summary("activities by cursor, pages 2–10", firsts[1:]))
        rows.append(summary(f"activities by cursor, pages 11–{len(firsts) + len(deep)}", deep))
        # Incremental sync: the 200 activities changed since the last sync, first page (with its total).
        sync = f"/api/v1/activities?order=updated&per_page=50&updated_since={changed_since}"
        first = get(base, sync, token)
        assert first[3]["total"] >= 200, first[3].get("total")
        rows.append(summary("incremental sync (200 changed), first page", [get(base, sync, token)[1:3]
                                                                           for _ in range(args.requests)]))
        # 304 against 200.
        _, _, _, _, tag = get(base, "/api/v1/progress?org=530000", token)
        not_modified = [get(base, "/api/v1/progress?org=530000", token, tag) for _ in range(args.requests)]
        assert all(s == 304 for s, *_ in not_modified)
        rows.append(summary("progress, If-None-Match → 304", [(w, a) for _, w, a, _, _ in not_modified]))
    finally:
        server.terminate()
        server.wait(timeout=10)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"api-{args.activities}.json").write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
