"""Benchmark: activity submissions over HTTP — `POST /api/v1/activities` on uvicorn worker(s).

What it does, from the repository root (after `make install`):

    .venv/bin/python bench/submit.py [--seconds 20] [--connections 32] [--accounts 32] \
        [--database sqlite|postgresql] [--workers 1] [--serve]

1. Builds a fresh database — an SQLite file, or with ``--database postgresql`` a throw-away
   PostgreSQL database next to TEST_POSTGRES_URL (bench/databases.py), dropped at the end — with
   `python -m app demo --activities 0` (migrate, the real province, 30,000 invented members), then
   gives ``--accounts`` county members a password (argon2, directly in the database, as `activate`
   would).
2. Starts the server, `python -m uvicorn app.main:create_app --factory --workers N` (access log off,
   uvicorn's log level warning; with N > 1 prometheus' multiprocess mode in a fresh folder, as
   `python -m app serve --workers N` sets it up), or with ``--serve`` the deployment's own command
   `python -m app serve --no-demo --workers N` (its one request-log line per request goes to the
   server log, text format). Then it logs each account in through /login like a browser, keeping its
   session cookie and CSRF token.
3. Drives `POST /api/v1/activities` from ``--connections`` keep-alive connections with
   bench/load.py (asyncio, raw HTTP/1.1, in its own process): every request a new
   `Idempotency-Key`, the accounts in turn, an activity with two indicator values — first a short
   warm-up, then the measured run, bounded in time. At the deadline the client stops sending and
   waits for the answers in flight, so every request sent is counted.
4. Prints requests/s, p50/p95/p99 latency, errors (non-2xx answers, connection errors and
   timeouts), the number of "database is locked" in the server's log, the activity rows written
   during the run against the 201s received, and the CPU the server (all its worker processes), the
   PostgreSQL server (all its processes on this machine) and the client used. Exits 1
   when a bound is missed: ≥ 600 submissions/s, p99 ≤ 100 ms, no error, no "database is locked",
   rows == accepted.

Only loopback traffic; the client stops after ``--seconds``; the server is stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
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
from http.cookiejar import CookieJar
from pathlib import Path

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from databases import throwaway  # bench/ is not a package

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-password-2026"
BOUNDS = {"rps": 600.0, "p99_ms": 100.0}
CSRF_IN_PAGE = re.compile(r'"X-CSRF-Token": "([^"]+)"')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(args: list[str], env: dict[str, str]) -> str:
    return subprocess.run(args, cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout


def prepare_database(url: str, accounts: int) -> list[dict]:
    """The demo province, no activities; ``accounts`` county members who can log in."""
    env = {**os.environ, "DATABASE_URL": url}
    _run([sys.executable, "-m", "app", "demo", "--activities", "0"], env)
    sys.path.insert(0, str(ROOT))
    from app.accounts.passwords import hash_password

    digest = hash_password(PASSWORD)  # one hash for all: argon2 is slow on purpose
    engine = create_engine(url)
    with engine.begin() as conn:
        # Members of county organisations with a current membership and an account, one per county
        # (its first account): each records an activity in their own county.
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
        # A task with a count and a money indicator (义医义诊 + 医疗设备投入), as most joint events have.
        task_id, count_id, money_id = conn.execute(text(
            """
            SELECT t.id, min(CASE WHEN i.kind = 'count' THEN i.id END), min(CASE WHEN i.kind = 'money' THEN i.id END)
              FROM task t JOIN campaign c ON c.id = t.campaign_id AND c.is_current
              JOIN indicator i ON i.task_id = t.id
             GROUP BY t.id, t.sort_order HAVING count(DISTINCT i.kind) = 2 ORDER BY t.sort_order LIMIT 1
            """)).one()
    engine.dispose()
    from app.clock import today_cn

    day = today_cn().isoformat()  # the demo closes only past quarters: the current month is open
    return [
        {"login": login, "body": json.dumps({
            "task_id": task_id, "county_id": county_id, "occurred_on": day,
            "description": "压力测试：到村卫生室开展义诊，并捐赠医疗设备",
            "values": {str(count_id): "1", str(money_id): "8.5"},
        }, ensure_ascii=False)}
        for _, login, county_id in rows
    ]


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


def process_cpu(pid: int) -> dict[str, tuple[float, float]]:
    """CPU seconds (user, system) used so far by the process ``pid`` with all its descendants (uvicorn's
    worker processes) under "server", and by every PostgreSQL process under "postgres"."""
    procs = _processes()
    tree, grew = {pid}, True
    while grew:
        more = {p for p, (_, parent, _, _) in procs.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    groups = {"server": [p for p in tree if p in procs],
              "postgres": [p for p, (name, *_) in procs.items() if name.startswith("postgres")]}
    return {key: (sum(procs[p][2] for p in pids), sum(procs[p][3] for p in pids)) for key, pids in groups.items()}


def count_activities(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM activity")).scalar_one()
    finally:
        engine.dispose()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=int, default=20, help="length of the measured run")
    p.add_argument("--warmup", type=int, default=3, help="length of the warm-up run")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--accounts", type=int, default=32, help="member accounts the load is spread over")
    p.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite",
                   help="sqlite: a file; postgresql: a throw-away database next to TEST_POSTGRES_URL")
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    p.add_argument("--serve", action="store_true",
                   help="start the server with `python -m app serve` (its request log on) instead of uvicorn")
    p.add_argument("--keep", action="store_true",
                   help="keep the SQLite database, the server log and the client's spec")
    p.add_argument("--switch-interval", type=float, default=0.0, metavar="SECONDS",
                   help="run the server with sys.setswitchinterval(SECONDS) (an experiment; default: Python's 0.005)")
    p.add_argument("--no-rollup", action="store_true",
                   help="run the server without maintaining the boards' rollup (an experiment: its cost)")
    p.add_argument("--profile", metavar="FILE",
                   help="sample the server with py-spy during the run (raw stacks holding the GIL) into FILE")
    args = p.parse_args()
    if args.workers < 1:
        p.error("--workers must be at least 1")
    if (args.switch_interval or args.no_rollup) and (args.workers > 1 or args.serve):
        p.error("--switch-interval and --no-rollup patch one uvicorn process: not with --workers > 1 or --serve")

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


def measure(args: argparse.Namespace, tmp: Path, url: str) -> int:
    log_path = tmp / "server.log"
    label = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[args.database]
    print(f"{label} database {url}: loading the demo province without activities …", flush=True)
    started = time.perf_counter()
    people = prepare_database(url, args.accounts)
    print(f"  ready in {time.perf_counter() - started:.1f} s; {len(people)} member accounts", flush=True)

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DATABASE_URL": url, "SZT_UPLOAD_DIR": str(tmp / "uploads"), "SZT_LOG_FORMAT": "text"}
    env.pop("SZT_RATE_LIMIT_BACKEND", None)  # the default (database), as deployed
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    if args.workers > 1 and not args.serve:  # what `serve --workers N` does (app/ops/metrics.py)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp / "metrics")
        (tmp / "metrics").mkdir()
    with log_path.open("w") as log:
        prelude = ""
        if args.switch_interval:
            prelude += f"import sys; sys.setswitchinterval({args.switch_interval}); "
        if args.no_rollup:  # an experiment: what keeping the boards' rollup costs the write path
            prelude += "import app.rollup.service as r; r.apply = lambda session, changes: None; "
        if args.serve:
            command = ["-m", "app", "serve", "--no-demo", "--host", "127.0.0.1", "--port", str(port),
                       "--workers", str(args.workers)]
        else:
            command = [*(["-c", prelude + "import uvicorn.main; uvicorn.main.main()"] if prelude else ["-m", "uvicorn"]),
                       "app.main:create_app", "--factory", "--host", "127.0.0.1", "--port", str(port),
                       "--workers", str(args.workers), "--no-access-log", "--log-level", "warning"]
        server = subprocess.Popen([sys.executable, *command], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise SystemExit("server exited:\n" + log_path.read_text())
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        sessions = []
        for person in people:
            cookie, csrf = log_in(base, person["login"])
            sessions.append({**person, "cookie": cookie, "csrf": csrf})
        print(f"server: {workers_label(args)} on {base}, {len(sessions)} accounts logged in", flush=True)

        spec = {"host": "127.0.0.1", "port": port, "connections": args.connections, "sessions": sessions}
        if args.warmup:
            result, _ = run_load({**spec, "seconds": args.warmup, "prefix": "warmup"}, tmp / "warmup.json")
            print(f"warm-up: {result['requests']} requests in {result['wall_s']:.1f} s", flush=True)
        rows_before = count_activities(url)
        load_before = os.getloadavg()[0]
        profiler = None
        if args.profile:  # py-spy is a developer's tool, not a dependency: pip install py-spy
            profiler = subprocess.Popen(
                [shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy"), "record", "--gil",
                 "-r", "200", "-f", "raw", "-o", args.profile, "-d", str(args.seconds), "-p", str(server.pid)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cpu_before = process_cpu(server.pid)
        result, client_cpu = run_load({**spec, "seconds": args.seconds, "prefix": "run"}, tmp / "run.json")
        cpu_after = process_cpu(server.pid)
        server_user, server_system = (a - b for a, b in zip(cpu_after["server"], cpu_before["server"], strict=True))
        postgres_cpu = sum(cpu_after["postgres"]) - sum(cpu_before["postgres"])
        if profiler is not None:
            profiler.wait(timeout=60)
        # Every request sent was answered (the client waits for its last answers): nothing in flight.
        rows = count_activities(url) - rows_before
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()

    log_text = log_path.read_text(errors="replace")
    locked = log_text.count("database is locked")
    server_errors = log_text.count("unhandled error")
    seconds = result["wall_s"]
    rps = result["requests"] / seconds
    statuses = {int(k): v for k, v in result["statuses"].items()}
    accepted = sum(n for code, n in statuses.items() if 200 <= code < 300)
    created = statuses.get(201, 0)
    socket_errors = sum(result["errors"].values())
    errors = result["requests"] - accepted + socket_errors
    p50, p95, p99 = result["p50_ms"], result["p95_ms"], result["p99_ms"]

    print(f"\nPOST /api/v1/activities — {label}, {args.connections} connections, {args.seconds} s, "
          f"{workers_label(args)}"
          + (f", switch interval {args.switch_interval * 1000:g} ms" if args.switch_interval else ""))
    print(f"  requests/s              {rps:10.1f}   (bound ≥ {BOUNDS['rps']:.0f})")
    print(f"  latency p50/p95/p99     {p50:6.1f} / {p95:.1f} / {p99:.1f} ms   (p99 bound ≤ {BOUNDS['p99_ms']:.0f})"
          f"; max {result['max_ms']:.1f} ms")
    print(f"  answers                 {dict(sorted(statuses.items()))}")
    print(f"  errors                  {errors}   (non-2xx {result['requests'] - accepted}, "
          f"connection/timeout {socket_errors} {result['errors'] or ''})")
    print(f"  'database is locked'    {locked}   (unhandled errors in the server log: {server_errors})")
    print(f"  activity rows written   {rows}   vs accepted (201) {created}")
    print(f"  CPU used                server {(server_user + server_system) / seconds * 100:.0f}% of a core "
          f"(user {server_user / seconds * 100:.0f}%, system {server_system / seconds * 100:.0f}%), "
          f"load client {client_cpu / seconds * 100:.0f}% (the machine has {os.cpu_count()} cores)")
    if args.database == "postgresql":
        print(f"  PostgreSQL CPU          {postgres_cpu / seconds * 100:.0f}% of a core (all its processes on this "
              "machine, the same cores)")
    print(f"  machine load (1 min)    {load_before:.2f} before the run: other work on these cores skews the figures")

    ok = rps >= BOUNDS["rps"] and p99 <= BOUNDS["p99_ms"] and errors == 0 and locked == 0 \
        and rows == created == accepted
    print("OK: every bound met" if ok else "FAILED: a bound was missed")
    return 0 if ok else 1


def workers_label(args: argparse.Namespace) -> str:
    workers = "one worker" if args.workers == 1 else f"{args.workers} workers"
    return f"`python -m app serve`, {workers}" if args.serve else f"uvicorn, {workers}"


if __name__ == "__main__":
    raise SystemExit(main())
