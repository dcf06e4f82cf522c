"""A real server process on a fresh, committed database, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import fcntl
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from app import clock
from tests.conftest import ARTIFACTS, chromium_path

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

PROJECT = Path(__file__).resolve().parents[2]
# As root in a sandbox without network: no sandboxing, no GPU, no background calls home.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Server:
    base: str
    db: Path


def _run_folder(folder: Path) -> Path:
    """The folder the whole test run shares: pytest's base temporary folder (the parent of every
    ``tmp_path`` and ``mktemp`` folder), or under xdist the one above the workers' own."""
    base = folder.parent
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def demo_template(folder: Path, activities: int) -> Path:
    """The demo province with ``activities`` as `python -m app demo` loads it as of this run's day,
    built once per test run — by the first worker to need it, the others waiting on a lock — and
    copied by each server that serves it (loading it takes 13 s; copying it, a fraction of one)."""
    run = _run_folder(folder)
    template = run / f"demo-{activities}-{clock.today_cn().isoformat()}.db"
    with (run / "demo-templates.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not template.exists():
            building = template.with_suffix(".building")
            building.unlink(missing_ok=True)
            env = {**os.environ, "DATABASE_URL": f"sqlite:///{building}", "SZT_TODAY": clock.now_cn().isoformat()}
            run_demo = subprocess.run([sys.executable, "-m", "app", "demo", "--activities", str(activities)],
                                      cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300, check=False)
            if run_demo.returncode:
                raise RuntimeError(f"python -m app demo failed: {run_demo.stdout}{run_demo.stderr}")
            _copy_sqlite(building, template)
            building.unlink()
    return template


def _copy_sqlite(source: Path, target: Path) -> None:
    """``source``'s whole content (its write-ahead log included) in the file ``target``."""
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


@contextmanager
def serve_app(folder: Path, *, demo_activities: int, env: dict[str, str] | None = None,
              from_empty: bool = False) -> Iterator[Server]:
    """`python -m app serve` — the README's first command — on an SQLite file in ``folder`` holding
    the demo province (``demo_template``'s copy); with ``from_empty`` on an empty file, which it
    migrates and loads the demo into itself. With ``env`` naming another ``DATABASE_URL``, on that
    database as it is.

    The server starts at the test process's time (``SZT_TODAY`` = ``app.clock``'s now) and ticks on
    from there, so a run as of 2028-01-01 serves 2028 too.
    """
    db, port = folder / "szt.db", _free_port()
    if not from_empty and "DATABASE_URL" not in (env or {}):
        _copy_sqlite(demo_template(folder, demo_activities), db)
    log = (folder / "server.log").open("w")
    full_env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}", "SZT_DEMO_ACTIVITIES": str(demo_activities),
                "SZT_UPLOAD_DIR": str(folder / "uploads"), "SZT_TODAY": clock.now_cn().isoformat(),
                **(env or {})}
    proc = subprocess.Popen([sys.executable, "-m", "app", "serve", "--port", str(port)],
                            cwd=PROJECT, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {Path(log.name).read_text()}")
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        yield Server(base, db)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


DEMO_PASSWORD = "demo2026"


@contextmanager
def second_server(folder: Path, env: dict[str, str]) -> Iterator[str]:
    """Another `python -m app serve --no-demo` on the database ``env`` names (a second process or,
    with shared storage, a second machine); yields its base URL once it answers."""
    port = _free_port()
    log_path = folder / "second.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "app", "serve", "--port", str(port), "--no-demo"],
                                cwd=PROJECT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def log_in_http(base: str, login: str, password: str = DEMO_PASSWORD):
    """(an httpx client signed in as ``login``, its CSRF token for X-CSRF-Token)."""
    import re

    import httpx

    client = httpx.Client(base_url=base, timeout=30)
    client.get("/login")
    client.post("/login", data={"login": login, "password": password, "csrf_token": client.cookies["szt_csrf"],
                                "next": "/"})
    token = re.search(r'"X-CSRF-Token": "([^"]+)"', client.get("/").text).group(1)
    return client, token


def verified_count(board_html: str) -> int:
    """The board's 已核实活动 figure."""
    import re

    return int(re.search(r'id="verified-activities">([\d,]+)<', board_html).group(1).replace(",", ""))


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> Iterator[str]:
    """The demo province served for the whole run; yields its base URL."""
    # From an empty file: the README's first command whole, the demo loaded by `serve` itself.
    with serve_app(tmp_path_factory.mktemp("e2e"), demo_activities=2000, from_empty=True) as server:
        yield server.base


class TimedBrowser:
    """Chromium whose every new context (and page) shows ``app.clock``'s time.

    Playwright's clock is installed at the test process's now and then flows at the real speed, so
    the pages' ``Date`` agrees with the server while htmx polling and other timers fire as usual.
    """

    def __init__(self, browser: Browser) -> None:
        self._browser = browser

    def new_context(self, **options: Any) -> BrowserContext:
        # Playwright's wait_for_function evaluates its string with eval, which the application's
        # Content-Security-Policy refuses: contexts bypass the policy unless a test asks for it
        # (tests/e2e/test_csp.py runs every page it visits under the real policy).
        options.setdefault("bypass_csp", True)
        # No service worker unless a test asks for one (tests/e2e/test_offline.py): request
        # interception (page.route) does not see what a worker answers, and a worker registered by
        # one test must not answer for the next.
        options.setdefault("service_workers", "block")
        context = self._browser.new_context(**options)
        context.clock.install(time=clock.now_utc())
        return context

    def new_page(self, **options: Any) -> Page:
        # Like Browser.new_page: a page in a context of its own, closed with the page.
        context = self.new_context(**options)
        page = context.new_page()
        page.on("close", lambda _page: context.close())
        return page

    def __getattr__(self, name: str) -> Any:  # everything else as the real browser
        return getattr(self._browser, name)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield TimedBrowser(b)
        b.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
