"""Benchmark: activity submissions over HTTP — `POST /api/v1/activities` on uvicorn worker(s), with the
quality checks (issue 16: the duplicate decision and the flags) on and off in the same run.

What it does, from the repository root (after `make install`):

    .venv/bin/python bench/submit.py [--seconds 20] [--connections 32] [--accounts 32] \
        [--activities 20000] [--flags both|on|off] [--rounds 2] \
        [--database sqlite|postgresql] [--workers 1] [--scale 2] [--serve]

1. Builds a fresh database — an SQLite file, or with ``--database postgresql`` a throw-away
   PostgreSQL database next to TEST_POSTGRES_URL (bench/databases.py), dropped at the end — with
   `python -m app demo --activities N` (migrate, the real province, 30,000 invented members, N
   activities of the last year, so the duplicate look-ups and the flags' histories have data), then
   gives ``--accounts`` county members a password (argon2, directly in the database, as `activate`
   would). It prepares DISTINCT submissions: each a (site, task) used once, on an open recent day,
   never within a day of a demo activity of the same county and task, ordinary figures — a repeat
   would now be a 409 likely_duplicate.
2. Starts the server(s), `python -m uvicorn app.main:serving_app --factory --workers N` (access log off,
   uvicorn's log level warning; with N > 1 prometheus' multiprocess mode in a fresh folder, as
   `python -m app serve --workers N` sets it up), or with ``--serve`` the deployment's own command
   `python -m app serve --no-demo --workers N`. With ``--flags both`` (the default) two of them on
   the same database, one with `SZT_QUALITY_CHECKS=1` and one with `=0`, measured in turn: rounds
   of (on, off), the order reversed every other round, so drift and the machine's other work fall
   on both alike. The accounts log in through /login like a browser (one session serves both).
3. Each run drives `POST /api/v1/activities` from ``--connections`` keep-alive connections with
   bench/load.py (asyncio, raw HTTP/1.1, in its own process): every request a new
   `Idempotency-Key` and a submission not sent before, the accounts in turn — first a short
   warm-up, then the measured run, bounded in time. At the deadline the client stops sending and
   waits for the answers in flight, so every request sent is counted.
4. Prints per run requests/s, p50/p95/p99 latency, errors (non-2xx answers, connection errors and
   timeouts), the activity rows written against the 201s received, the server's CPU (all its worker
   processes) per submission, the load average before; "database is locked" in the servers' logs;
   and with both the throughput cost of the checks in % (mean on against mean off); on PostgreSQL each
   run's PostgreSQL CPU per submission; with ``--scale N`` what N workers do against ``--workers``,
   measured in turn on the same database. Exits 1 when a bound is missed: no error, no "database is
   locked", rows == accepted, checks cost ≤ 10 % of throughput; on SQLite ≥ 600 submissions/s and
   p99 ≤ 100 ms; with --scale ≥ 1.2× the throughput.

Only loopback traffic; the client stops after ``--seconds``; the servers are stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import timedelta
from http.cookiejar import CookieJar
from pathlib import Path

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from databases import throwaway  # bench/ is not a package

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-password-2026"
BOUNDS = {"rps": 600.0, "p99_ms": 100.0, "flags_cost_pct": 10.0, "rollup_cost_pct": 10.0, "floor_ratio": 0.16,
          "scale": 1.2}
CSRF_IN_PAGE = re.compile(r'"X-CSRF-Token": "([^"]+)"')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(args: list[str], env: dict[str, str]) -> str:
    return subprocess.run(args, cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout


def prepare_database(url: str, accounts: int, activities: int) -> tuple[list[dict], list[dict]]:
    """The demo province with ``activities`` activities; ``accounts`` county members who can log in.

    Returns the accounts and an endless-enough supply of DISTINCT submissions: each names a task, a
    county, a site of that county and an open recent day, no (site, task) twice, and no county, task
    and day within a day of an activity of the demo (a repeat would now be a 409 likely_duplicate or
    a flagged near re-entry), with ordinary figures (counts 1–5, 0.5–20 万元)."""
    env = {**os.environ, "DATABASE_URL": url}
    _run([sys.executable, "-m", "app", "demo", "--activities", str(activities)], env)
    sys.path.insert(0, str(ROOT))
    from app.accounts.passwords import hash_password
    from app.clock import today_cn

    digest = hash_password(PASSWORD)  # one hash for all: argon2 is slow on purpose
    engine = create_engine(url)
    with engine.begin() as conn:
        # Members of county organisations with a current membership and an account, one per county
        # (its first account).
        rows = conn.execute(text(
            """
            SELECT u.id, u.login, ms.org_id FROM user_account u
              JOIN membership ms ON ms.member_id = u.member_id AND ms.end_date IS NULL
             WHERE u.id IN (
                   SELECT min(u2.id) FROM user_account u2
                     JOIN membership m2 ON m2.member_id = u2.member_id AND m2.end_date IS NULL
                     JOIN organisation o2 ON o2.id = m2.org_id AND o2.level = 'county'
                    WHERE u2.is_active AND u2.login NOT LIKE '139000000%'
                    GROUP BY m2.org_id)
             ORDER BY (SELECT o.code FROM organisation o WHERE o.id = ms.org_id) LIMIT :n
            """), {"n": accounts}).all()
        if len(rows) < accounts:
            raise SystemExit(f"only {len(rows)} county member accounts found")
        conn.execute(text("UPDATE user_account SET password_hash = :digest WHERE id = :id"),
                     [{"digest": digest, "id": user_id} for user_id, _, _ in rows])
        tasks: dict[int, list[tuple[int, str]]] = {}
        for task_id, ind_id, kind in conn.execute(text(
                """
                SELECT t.id, i.id, i.kind FROM task t JOIN campaign c ON c.id = t.campaign_id AND c.is_current
                  JOIN indicator i ON i.task_id = t.id
                 WHERE t.owner_org_id = (SELECT id FROM organisation WHERE parent_id IS NULL)
                 ORDER BY t.sort_order, i.sort_order""")):
            tasks.setdefault(task_id, []).append((ind_id, kind))
        today = today_cn()
        # The demo closes only past quarters: the days since the last closed month are open.
        closed = {m for (m,) in conn.execute(text("SELECT DISTINCT month FROM closed_month"))}
        days = [today - timedelta(days=n) for n in range(30)]
        days = [d for d in days if d.year * 100 + d.month not in closed]
        taken = {(c, t, d if isinstance(d, str) else d.isoformat()) for c, t, d in conn.execute(text(
            "SELECT county_id, task_id, occurred_on FROM activity WHERE occurred_on >= :first"),
            {"first": min(days) - timedelta(days=1)})}
        sites = conn.execute(text("SELECT id, county_id FROM site ORDER BY id")).all()
    engine.dispose()
    rng = random.Random(2026)
    rng.shuffle(sites)
    task_ids = sorted(tasks)
    people = [{"login": login, "user_id": user_id} for user_id, login, _ in rows]
    bodies = []
    for n, (site_id, county_id) in enumerate(sites):
        for k in range(len(task_ids)):
            task_id = task_ids[(n + k) % len(task_ids)]
            day = rng.choice(days)
            if any((county_id, task_id, (day + timedelta(days=d)).isoformat()) in taken for d in (-1, 0, 1)):
                continue
            values = {str(i): (f"{rng.randint(50, 2000) / 100:.2f}" if kind == "money" else str(rng.randint(1, 5)))
                      for i, kind in tasks[task_id]}
            bodies.append({"task_id": task_id, "county_id": county_id, "site_id": site_id,
                           "occurred_on": day.isoformat(), "description": "压力测试：到村开展帮扶活动",
                           "values": values})
    rng.shuffle(bodies)
    return people, bodies


def browser_login(base: str, login: str, password: str) -> tuple[urllib.request.OpenerDirector, CookieJar, str]:
    """Log in like a browser: the form's CSRF cookie, the password, then the CSRF token of a page.
    Returns the opener holding the session cookie, its jar, and the token for write requests."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(base + "/login", timeout=10).read()
    anon = next(c.value for c in jar if c.name == "szt_csrf")
    form = urllib.parse.urlencode({"login": login, "password": password, "csrf_token": anon, "next": "/"}).encode()
    page = opener.open(urllib.request.Request(base + "/login", data=form), timeout=30).read().decode()
    match = CSRF_IN_PAGE.search(page)
    if not any(c.name == "szt_session" for c in jar) or match is None:
        raise SystemExit(f"login of {login} failed")
    return opener, jar, match.group(1)


def log_in(base: str, login: str) -> tuple[str, str]:
    """A bench account's Cookie header and CSRF token."""
    _, jar, csrf = browser_login(base, login, PASSWORD)
    return "; ".join(f"{c.name}={c.value}" for c in jar if c.name in ("szt_session", "szt_csrf")), csrf


def run_load(spec: dict, path: Path) -> tuple[dict, float]:
    """bench/load.py's figures, and the CPU seconds the client itself used."""
    path.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "load.py"), str(path)],
                          capture_output=True, text=True, timeout=spec["seconds"] + 120, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"load client failed:\n{done.stdout}\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return json.loads(done.stdout), cpu


def _processes() -> dict[int, tuple[str, int, float, float]]:
    """Every process we can see: pid -> (name, parent pid, user and system CPU seconds so far)."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        name, rest = stat.split("(", 1)[1].rsplit(")", 1)
        fields = rest.split()
        found[int(entry.name)] = (name, int(fields[1]), int(fields[11]) / tick, int(fields[12]) / tick)
    return found


def process_cpu(pid: int) -> dict:
    """CPU seconds (user, system) used so far by the process ``pid`` with all its descendants (uvicorn's
    worker processes) under "server", and by every PostgreSQL process under "postgres"; under
    "postgres_by_pid" each PostgreSQL process's own (``postgres_cpu`` takes the difference by process:
    a backend that ended in between would otherwise take its whole time off the sum)."""
    procs = _processes()
    tree, grew = {pid}, True
    while grew:
        more = {p for p, (_, parent, _, _) in procs.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    groups = {"server": [p for p in tree if p in procs],
              "postgres": [p for p, (name, *_) in procs.items() if name.startswith("postgres")]}
    found: dict = {key: (sum(procs[p][2] for p in pids), sum(procs[p][3] for p in pids)) for key, pids in groups.items()}
    found["postgres_by_pid"] = {p: procs[p][2] + procs[p][3] for p in groups["postgres"]}
    return found


def postgres_cpu(before: dict, after: dict) -> float:
    """CPU seconds PostgreSQL's processes used between two ``process_cpu`` readings: each process alive at
    the second counted from the first (or from its start); one that ended in between is not counted."""
    was = before["postgres_by_pid"]
    return sum(now - was.get(p, 0.0) for p, now in after["postgres_by_pid"].items())


def count_activities(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM activity")).scalar_one()
    finally:
        engine.dispose()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=int, default=20, help="length of each measured run")
    p.add_argument("--warmup", type=int, default=3, help="length of the warm-up before each run")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--accounts", type=int, default=32, help="member accounts the load is spread over")
    p.add_argument("--activities", type=int, default=20_000,
                   help="demo activities already there (the duplicate look-ups and the flags' histories read them)")
    p.add_argument("--flags", choices=("both", "on", "off"), default="both",
                   help="both: one server with the quality checks on and one with them off "
                        "(SZT_QUALITY_CHECKS), measured in turn in the same run; on / off: one server")
    p.add_argument("--rounds", type=int, default=2,
                   help="with --flags both: rounds of (on, off), the order alternating (off, on) every other round")
    p.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite",
                   help="sqlite: a file; postgresql: a throw-away database next to TEST_POSTGRES_URL")
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    p.add_argument("--scale", type=int, default=0, metavar="WORKERS",
                   help="add a server with WORKERS uvicorn workers (quality checks on) on the same database, "
                        "measured in turn with the one of --workers: the throughput it adds (PostgreSQL: "
                        "bound ≥ 1.2× with 2 workers against 1)")
    p.add_argument("--serve", action="store_true",
                   help="start the server with `python -m app serve` (its request log on) instead of uvicorn")
    p.add_argument("--keep", action="store_true",
                   help="keep the SQLite database, the server log and the client's spec")
    p.add_argument("--switch-interval", type=float, default=0.0, metavar="SECONDS",
                   help="serve with SZT_SWITCH_INTERVAL=SECONDS, the GIL's switch interval the serving process "
                        "sets (default: 0.0001 on SQLite, Python's 0.005 on PostgreSQL)")
    p.add_argument("--no-rollup", action="store_true",
                   help="add a server that does not maintain the boards' rollup (flags on), measured in turn "
                        "with the others: what keeping the rollup costs the write path (bound ≤ 10 %%)")
    p.add_argument("--no-floor", action="store_true",
                   help="leave out bench/floor_apps.py's FastAPI floor (by default measured in turn with the "
                        "application, the same client and bodies: the app/floor ratio, bound ≥ 0.16)")
    p.add_argument("--profile", metavar="FILE",
                   help="sample the server with py-spy during the run (raw stacks holding the GIL) into FILE")
    args = p.parse_args()
    if args.workers < 1:
        p.error("--workers must be at least 1")
    if args.scale and (args.scale <= args.workers or args.serve):
        p.error("--scale takes more workers than --workers, with uvicorn (not --serve)")
    if args.no_rollup and args.serve:
        p.error("--no-rollup patches the uvicorn command: not with --serve")
    if args.profile and (args.flags == "both" or args.no_rollup or not args.no_floor):
        p.error("--profile samples one server: use it with --flags on or off and --no-floor")
    if args.rounds < 1:
        p.error("--rounds must be at least 1")

    tmp = Path(tempfile.mkdtemp(prefix="szt-bench-"))
    databases = throwaway(args.database, "bench")
    try:
        if args.database == "sqlite":
            url = f"sqlite:///{tmp / 'bench.db'}"  # in tmp, so --keep keeps it with the log
        else:
            url = next(databases, ("", ""))[1]
            if not url:
                raise SystemExit("PostgreSQL is needed for --database postgresql (TEST_POSTGRES_URL)")
        return measure(args, tmp, url)
    finally:
        databases.close()  # drops the PostgreSQL database
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def start_server(args: argparse.Namespace, tmp: Path, url: str, flags: str) -> tuple[subprocess.Popen, str, Path]:
    """A server with the quality checks ``flags`` (on / off; "scaled": on, with ``--scale`` workers);
    (process, base URL, log) once it answers."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    if flags == "floor":
        return start_floor(tmp, port)
    log_path = tmp / f"server-flags-{flags}.log"
    env = {**os.environ, "DATABASE_URL": url, "SZT_UPLOAD_DIR": str(tmp / "uploads"), "SZT_LOG_FORMAT": "text",
           "SZT_QUALITY_CHECKS": "0" if flags == "off" else "1"}
    if args.switch_interval:  # the serving process sets it as it starts serving (app/ops/interpreter.py)
        env["SZT_SWITCH_INTERVAL"] = str(args.switch_interval)
    env.pop("SZT_RATE_LIMIT_BACKEND", None)  # the default (database), as deployed
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    workers = args.scale if flags == "scaled" else args.workers
    if workers > 1 and not args.serve:  # what `serve --workers N` does (app/ops/metrics.py)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp / f"metrics-{flags}")
        (tmp / f"metrics-{flags}").mkdir()
    with log_path.open("w") as log:
        prelude = ""
        if flags == "no-rollup":  # what keeping the boards' rollup costs the write path
            prelude += "import app.rollup.service as r; r.apply = lambda *a, **k: None; "
        if args.serve:
            command = ["-m", "app", "serve", "--no-demo", "--host", "127.0.0.1", "--port", str(port),
                       "--workers", str(args.workers)]
        else:
            command = [*(["-c", prelude + "import uvicorn.main; uvicorn.main.main()"] if prelude else ["-m", "uvicorn"]),
                       "app.main:serving_app", "--factory", "--host", "127.0.0.1", "--port", str(port),
                       "--workers", str(workers), "--no-access-log", "--log-level", "warning"]
        server = subprocess.Popen([sys.executable, *command], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        if server.poll() is not None:
            raise SystemExit("server exited:\n" + log_path.read_text())
        try:
            urllib.request.urlopen(base + "/healthz", timeout=1).read()
            return server, base, log_path
        except OSError:
            if time.monotonic() > deadline:
                server.kill()
                raise
            time.sleep(0.2)


def start_floor(tmp: Path, port: int) -> tuple[subprocess.Popen, str, Path]:
    """bench/floor_apps.py's FastAPI floor (a pydantic body, one SQLite row per request in a BEGIN
    IMMEDIATE transaction, WAL, synchronous=FULL) on one uvicorn worker, as bench/floor.py runs it."""
    base = f"http://127.0.0.1:{port}"
    log_path = tmp / "server-floor.log"
    env = {**os.environ, "FLOOR_DB": str(tmp / "floor.db")}
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "floor_apps:fastapi", "--host", "127.0.0.1", "--port", str(port),
             "--workers", "1", "--no-access-log", "--log-level", "warning"],
            cwd=ROOT / "bench", env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server, base, log_path
        except OSError as exc:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise SystemExit("the floor server did not start:\n" + log_path.read_text()) from exc
            time.sleep(0.2)


def floor_rows(tmp: Path) -> int:
    import sqlite3

    path = tmp / "floor.db"
    if not path.exists():
        return 0
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT count(*) FROM submission").fetchone()[0]


STATEMENTS = re.compile(r"^szt_db_statement_duration_seconds_count(?:\{[^}]*\})?\s+([0-9.e+]+)", re.MULTILINE)
BATCHES = re.compile(r"^szt_group_commit_batch_size_(count|sum)\s+([0-9.e+]+)", re.MULTILINE)


def scrape(base: str) -> tuple[float | None, dict[str, float]]:
    """From the server's /metrics, summed over its workers: (its own count of SQL statements so far —
    every cursor execute, app/ops/metrics.py — or None when /metrics cannot be read; the group
    commit's transactions and the writes they carried so far, {"count", "sum"}: empty on PostgreSQL,
    which has none)."""
    try:
        text_ = urllib.request.urlopen(base + "/metrics", timeout=10).read().decode()
    except OSError:
        return None, {}
    found = STATEMENTS.findall(text_)
    batches: dict[str, float] = {}
    for kind, n in BATCHES.findall(text_):
        batches[kind] = batches.get(kind, 0.0) + float(n)
    return (sum(float(n) for n in found) if found else None), batches


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()


class Supply:
    """Hands out the distinct submissions, each once: a run's spec gets the next ones, as many as it
    could send at ``RATE_CAP`` requests/s (load.py walks its entries once in that order)."""

    RATE_CAP = 800

    def __init__(self, bodies: list[dict], logins: dict[str, tuple[str, str]], people: list[dict]) -> None:
        self.bodies, self.logins, self.people, self.next = bodies, logins, people, 0

    def entries(self, seconds: int) -> list[dict]:
        n = seconds * self.RATE_CAP + 64
        if self.next + n > len(self.bodies):
            raise SystemExit(f"out of distinct submissions ({len(self.bodies):,}): fewer --rounds or --seconds")
        out = []
        for k, body in enumerate(self.bodies[self.next:self.next + n]):
            login = self.people[k % len(self.people)]["login"]
            cookie, csrf = self.logins[login]
            out.append({"login": login, "cookie": cookie, "csrf": csrf, "body": json.dumps(body, ensure_ascii=False)})
        self.next += n
        return out


def measure(args: argparse.Namespace, tmp: Path, url: str) -> int:
    label = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[args.database]
    print(f"{label} database {url}: loading the demo province with {args.activities:,} activities …", flush=True)
    started = time.perf_counter()
    people, bodies = prepare_database(url, args.accounts, args.activities)
    print(f"  ready in {time.perf_counter() - started:.1f} s; {len(people)} member accounts, "
          f"{len(bodies):,} distinct submissions prepared", flush=True)

    modes = (["on", "off"] if args.flags == "both" else [args.flags]) + (["no-rollup"] if args.no_rollup else []) \
        + ([] if args.no_floor else ["floor"]) + (["scaled"] if args.scale else [])
    servers: dict[str, tuple[subprocess.Popen, str, Path]] = {}
    runs: list[dict] = []
    try:
        for mode in modes:
            servers[mode] = start_server(args, tmp, url, mode)
        # One login per account serves both servers: they share the database and the secret.
        base = servers[modes[0]][1]
        logins = {person["login"]: log_in(base, person["login"]) for person in people}
        supply = Supply(bodies, logins, people)
        print(f"server(s): {workers_label(args)}, quality checks {' and '.join(modes)} "
              f"({', '.join(servers[m][1] for m in modes)}), {len(logins)} accounts logged in", flush=True)
        rounds = args.rounds if len(modes) > 1 else 1
        for r in range(rounds):
            for mode in (modes if r % 2 == 0 else modes[::-1]):
                runs.append(one_run(args, tmp, url, servers[mode], supply, mode, r + 1))
    finally:
        for server, _, _ in servers.values():
            stop_server(server)

    print(f"\nPOST /api/v1/activities — {label}, {args.connections} connections, {args.seconds} s runs, "
          f"{workers_label(args)}, {args.activities:,} demo activities"
          + (f", switch interval {args.switch_interval * 1000:g} ms" if args.switch_interval else ""))
    print("| server | round | requests/s | p50 | p95 | p99 | errors | rows / accepted | server CPU | "
          "CPU per submission | statements per submission | writes per transaction | load before |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for x in runs:
        stmts = "–" if x["statements"] is None else f"{x['statements']:.2f}"
        batch = "–" if x["batch"] is None else f"{x['batch']:.1f}"
        print(f"| {x['flags']} | {x['round']} | {x['rps']:.1f} | {x['p50']:.0f} ms | {x['p95']:.0f} ms | "
              f"{x['p99']:.0f} ms | {x['errors']} | {x['rows']:,} / {x['accepted']:,} | {x['server_cpu']:.0f} % | "
              f"{x['cpu_ms']:.2f} ms | {stmts} | {batch} | {x['load']:.2f} |")
    print("  server: on / off = the application with the quality checks on / off; no-rollup = on, without the "
          "boards' rollup; scaled = on, with --scale workers; floor = bench/floor_apps.py's FastAPI route. Statements: the server's own count "
          "(/metrics, every cursor execute: BEGIN, SAVEPOINT and RELEASE included, COMMIT not) per answer; writes per "
          "transaction: the group commit's (szt_group_commit_batch_size, SQLite only)")
    for x in runs:
        if x["statuses"].keys() - {201}:
            print(f"  answers of {x['flags']} round {x['round']}: {dict(sorted(x['statuses'].items()))} "
                  f"{x['socket_errors'] or ''}")
    apps = [m for m in modes if m != "floor"]
    locked = {m: servers[m][2].read_text(errors="replace").count("database is locked") for m in apps}
    unhandled = {m: servers[m][2].read_text(errors="replace").count("unhandled error") for m in apps}
    print(f"  'database is locked'    {locked}   (unhandled errors in the server logs: {unhandled})")
    if args.database == "postgresql":
        print("  PostgreSQL CPU per run  " + ", ".join(f"{x['flags']}/{x['round']} {x['pg_cpu']:.0f} % "
                                                    f"({x['pg_cpu_ms']:.2f} ms a submission)" for x in runs))
    print(f"  machine: {os.cpu_count()} cores shared by server(s), client and database; the load average "
          "before each run is printed: other work on these cores skews the figures")

    # The rate and the tail are SQLite's one-worker bounds; on PostgreSQL the bound is what a second
    # worker adds (--scale).
    sqlite_bounds = args.database == "sqlite"
    ok = all((x["flags"] in ("floor", "scaled") or not sqlite_bounds
              or (x["rps"] >= BOUNDS["rps"] and x["p99"] <= BOUNDS["p99_ms"]))
             and x["errors"] == 0 and x["rows"] == x["created"] == x["accepted"] for x in runs) \
        and not any(locked.values())

    def mean_of(mode: str, key: str = "rps") -> float:
        picked = [x[key] for x in runs if x["flags"] == mode]
        return sum(picked) / len(picked)

    first = apps[0]
    if "floor" in modes:
        pairs = [(x["rps"], y["rps"]) for x in runs for y in runs
                 if x["flags"] == first and y["flags"] == "floor" and x["round"] == y["round"]]
        ratios = [a / b for a, b in pairs]
        ratio = mean_of(first) / mean_of("floor")
        print(f"\nApplication ({first}) against the FastAPI floor, round by round: "
              + ", ".join(f"{r:.3f}" for r in ratios)
              + f"; means {mean_of(first):.1f} / {mean_of('floor'):.1f} requests/s → app/floor {ratio:.3f} "
              f"(bound ≥ {BOUNDS['floor_ratio']:.2f})")
        ok = ok and ratio >= BOUNDS["floor_ratio"]
    if "no-rollup" in modes:
        with_rollup = mean_of("on")
        upkeep = (mean_of("no-rollup") - with_rollup) / mean_of("no-rollup") * 100
        print(f"Rollup upkeep: on {with_rollup:.1f} requests/s, without the rollup {mean_of('no-rollup'):.1f} "
              f"→ {upkeep:.1f} % of write throughput (bound ≤ {BOUNDS['rollup_cost_pct']:.0f} %); CPU per submission "
              f"{mean_of('on', 'cpu_ms'):.2f} ms against {mean_of('no-rollup', 'cpu_ms'):.2f} ms")
        ok = ok and upkeep <= BOUNDS["rollup_cost_pct"]
    if "scaled" in modes:
        pairs = [y["rps"] / x["rps"] for x in runs for y in runs
                 if x["flags"] == first and y["flags"] == "scaled" and x["round"] == y["round"]]
        scale = mean_of("scaled") / mean_of(first)
        print(f"\n{args.scale} workers against {args.workers}, round by round: "
              + ", ".join(f"{r:.2f}×" for r in pairs)
              + f"; means {mean_of('scaled'):.1f} / {mean_of(first):.1f} requests/s → {scale:.2f}× "
              f"(bound ≥ {BOUNDS['scale']:.1f}×); CPU per submission {mean_of('scaled', 'cpu_ms'):.2f} ms against "
              f"{mean_of(first, 'cpu_ms'):.2f} ms")
        ok = ok and scale >= BOUNDS["scale"]
    if args.flags == "both":
        mean = {m: sum(x["rps"] for x in runs if x["flags"] == m) / sum(x["flags"] == m for x in runs) for m in modes}
        cpu = {m: sum(x["cpu_ms"] for x in runs if x["flags"] == m) / sum(x["flags"] == m for x in runs) for m in modes}
        cost = (mean["off"] - mean["on"]) / mean["off"] * 100
        cpu_cost = (cpu["on"] - cpu["off"]) / cpu["off"] * 100
        print(f"\nQuality checks on: {mean['on']:.1f} requests/s (mean of {rounds}), off: {mean['off']:.1f} requests/s "
              f"→ cost {cost:.1f} % of throughput (bound ≤ {BOUNDS['flags_cost_pct']:.0f} %); "
              f"server CPU per submission {cpu['on']:.2f} ms against {cpu['off']:.2f} ms (+{cpu_cost:.1f} %)")
        ok = ok and cost <= BOUNDS["flags_cost_pct"]
    print("OK: every bound met" if ok else "FAILED: a bound was missed")
    return 0 if ok else 1


def one_run(args: argparse.Namespace, tmp: Path, url: str, server_of: tuple[subprocess.Popen, str, Path],
            supply: Supply, mode: str, round_: int) -> dict:
    server, base, _ = server_of
    port = int(base.rsplit(":", 1)[1])
    spec = {"host": "127.0.0.1", "port": port, "connections": args.connections}
    # Each submission once to the application (a second copy would be its 409 likely_duplicate); the
    # floor checks nothing and may come round to them again (it answers three times as many).
    once = mode != "floor"
    if args.warmup:
        result, _ = run_load({**spec, "seconds": args.warmup, "prefix": f"warmup-{mode}-{round_}", "once": once,
                              "sessions": supply.entries(args.warmup)}, tmp / "warmup.json")
        print(f"flags {mode}, round {round_}: warm-up {result['requests']} requests in {result['wall_s']:.1f} s",
              flush=True)
    floor = mode == "floor"
    rows_before = floor_rows(tmp) if floor else count_activities(url)
    # A scrape reads a few tables itself (app/ops/metrics.py's gauges): two in a row give its own share.
    first_scrape = None if floor else scrape(base)[0]
    statements_before, batches_before = (None, {}) if floor else scrape(base)
    per_scrape = (statements_before - first_scrape) if first_scrape is not None and statements_before is not None else 0
    load_before = os.getloadavg()[0]
    profiler = None
    if args.profile:  # py-spy is a developer's tool, not a dependency: pip install py-spy
        profiler = subprocess.Popen(
            [shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy"), "record", "--gil",
             "-r", "200", "-f", "raw", "-o", args.profile, "-d", str(args.seconds), "-p", str(server.pid)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cpu_before = process_cpu(server.pid)
    result, client_cpu = run_load({**spec, "seconds": args.seconds, "prefix": f"run-{mode}-{round_}", "once": once,
                                   "sessions": supply.entries(args.seconds)}, tmp / "run.json")
    cpu_after = process_cpu(server.pid)
    if profiler is not None:
        profiler.wait(timeout=60)
    server_cpu = sum(cpu_after["server"]) - sum(cpu_before["server"])
    pg_cpu = postgres_cpu(cpu_before, cpu_after)
    # Every request sent was answered (the client waits for its last answers): nothing in flight.
    rows = (floor_rows(tmp) if floor else count_activities(url)) - rows_before
    statements_after, batches_after = (None, {}) if floor else scrape(base)
    transactions = batches_after.get("count", 0) - batches_before.get("count", 0)
    seconds = result["wall_s"]
    statuses = {int(k): v for k, v in result["statuses"].items()}
    accepted = sum(n for code, n in statuses.items() if 200 <= code < 300)
    socket_errors = sum(result["errors"].values())
    x = {"flags": mode, "round": round_, "rps": result["requests"] / seconds, "p50": result["p50_ms"],
         "p95": result["p95_ms"], "p99": result["p99_ms"], "statuses": statuses, "accepted": accepted,
         "created": statuses.get(201, 0), "errors": result["requests"] - accepted + socket_errors,
         "socket_errors": result["errors"], "rows": rows, "server_cpu": server_cpu / seconds * 100,
         "cpu_ms": server_cpu / max(1, accepted) * 1000, "client_cpu": client_cpu / seconds * 100,
         "pg_cpu": pg_cpu / seconds * 100, "pg_cpu_ms": pg_cpu / max(1, accepted) * 1000, "load": load_before,
         "statements": None if statements_before is None or statements_after is None
         else (statements_after - statements_before - per_scrape) / max(1, result["requests"]),
         "batch": (batches_after["sum"] - batches_before.get("sum", 0)) / transactions if transactions else None}
    print(f"  measured: {x['rps']:.1f} requests/s, p99 {x['p99']:.0f} ms, errors {x['errors']}, "
          f"server CPU {x['server_cpu']:.0f} %, client CPU {x['client_cpu']:.0f} %", flush=True)
    return x


def workers_label(args: argparse.Namespace) -> str:
    workers = "one worker" if args.workers == 1 else f"{args.workers} workers"
    return f"`python -m app serve`, {workers}" if args.serve else f"uvicorn, {workers}"


if __name__ == "__main__":
    raise SystemExit(main())
