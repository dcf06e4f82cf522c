"""Test databases, built the way production builds them: ``alembic upgrade head``.

Every database test runs twice, on SQLite and on PostgreSQL (``TEST_POSTGRES_URL``, default the
local server's ``test`` database, used only to create throw-away databases next to it). Without a
reachable PostgreSQL those runs skip with the reason — unless ``CI=true``, where they fail.

- ``session``: a Session inside a transaction that is rolled back after the test, on a database
  that already holds the real province (``init``), so tests add only what they are about.
- ``fresh_url``: an empty, migrated database whose data is really committed — for tests of the
  loaders, of concurrency, of several processes and of the browser.

Dates: every test starts at the run's instant — ``SZT_TODAY`` when set (``make test`` runs the tests
marked ``dates`` again as of three year-end and leap-day instants), else now — on ``app.clock``,
which ticks from there. Test data is built relative to ``today_cn()``, never from year literals;
the ``clock`` fixture moves or freezes time inside one test. ``--db sqlite|postgresql`` keeps the
database tests of one backend only.
"""

from __future__ import annotations

import functools
import itertools
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, make_url
from sqlmodel import Session

from app import clock as app_clock
from app.config import get_settings
from app.db import get_engine, make_engine, migrate, write_session

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def _pg_problem() -> str | None:
    import psycopg

    url = make_url(PG_ADMIN_URL)
    try:
        with psycopg.connect(
            host=url.host, port=url.port or 5432, user=url.username, password=url.password,
            dbname=url.database, connect_timeout=3,
        ):
            return None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}".strip()


def require_postgres() -> None:
    problem = _pg_problem()
    if problem is None:
        return
    message = (f"PostgreSQL is not reachable at {PG_ADMIN_URL} ({problem}); "
               "start it or set TEST_POSTGRES_URL to run these tests on PostgreSQL")
    if IN_CI:
        pytest.fail("CI=true: " + message, pytrace=False)
    pytest.skip(message)


@contextmanager
def temporary_database(backend: str, tmp_dir: Path) -> Iterator[str]:
    """An empty database of ``backend`` that exists only inside the block; yields its URL."""
    if backend == "sqlite":
        path = tmp_dir / f"szt-{uuid.uuid4().hex[:8]}.db"
        yield f"sqlite:///{path}"
        return
    require_postgres()
    import psycopg

    admin = make_url(PG_ADMIN_URL)
    name = f"szt_test_{uuid.uuid4().hex[:12]}"
    conninfo = {"host": admin.host, "port": admin.port or 5432, "user": admin.username,
                    "password": admin.password, "dbname": admin.database, "autocommit": True}
    with psycopg.connect(**conninfo) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(**conninfo) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


BACKENDS = ("sqlite", "postgresql")
# The instant this run lives at: SZT_TODAY's, else the moment the run started.
RUN_INSTANT = app_clock.configured_start()


def pytest_addoption(parser) -> None:
    parser.addoption("--db", choices=BACKENDS, default=None,
                     help="run the database tests on this backend only (default: both)")


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers", "dates: depends on the calendar (periods, months, history, targets, boards, 挂联, "
        "closing months, sessions, token expiry); `make test` reruns these as of year-end and leap-day instants")


def pytest_collection_modifyitems(config, items) -> None:
    only = config.getoption("--db")
    if not only:
        return
    keep, drop = [], []
    for item in items:
        param = getattr(item, "callspec", None) and item.callspec.params.get("backend")
        (drop if param and param != only else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(autouse=True)
def _run_instant() -> Iterator[None]:
    """Each test starts at the run's instant (SZT_TODAY) and ticks from there; else the real clock."""
    app_clock.travel_to(RUN_INSTANT)
    yield
    app_clock.travel_to(RUN_INSTANT)


@pytest.fixture(autouse=True)
def _fresh_quality_caches() -> Iterator[None]:
    """Each test starts without cached rules or baselines: a test's database is rolled back after it,
    so what a process cached from it would describe data that is gone (in service, data only grows)."""
    from app.quality import flags, rules

    flags.forget_baselines()
    rules.forget()
    yield


@pytest.fixture(autouse=True)
def _fresh_reach_memory() -> Iterator[None]:
    """Each test starts with nobody remembered as marked reached this month (its rows roll back)."""
    from app.rollup import reach

    reach.forget()
    yield


class Clock:
    """Move time inside one test: ``clock.freeze(instant)``, ``clock.travel_to(instant)``, ``clock.today``."""

    freeze = staticmethod(app_clock.freeze)
    travel_to = staticmethod(app_clock.travel_to)
    now = staticmethod(app_clock.now_utc)

    @property
    def today(self):
        return app_clock.today_cn()

    def freeze_on(self, day, hour: int = 12) -> None:
        """Stand still at ``hour``:00 Beijing time of ``day``."""
        from datetime import datetime, time

        app_clock.freeze(datetime.combine(day, time(hour, 0), app_clock.CN))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def base_engine(backend, tmp_path_factory) -> Iterator[Engine]:
    """A migrated database holding the real province and catalogue, shared by the whole run."""

    with temporary_database(backend, tmp_path_factory.mktemp(backend)) as url, province_engine(url) as engine:
        yield engine


@contextmanager
def province_engine(url: str) -> Iterator[Engine]:
    """``url`` migrated and holding the real province and catalogue; the engine is disposed after."""
    from app.seed.province import init_province

    migrate(url)
    engine = make_engine(url)
    with write_session(engine) as s:
        init_province(s, "53")
        s.commit()
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def rolled_back_session(engine: Engine) -> Iterator[Session]:
    """A session whose every change, commits included, is rolled back when the block ends."""
    conn = engine.connect()
    outer = conn.begin()
    s = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield s
    finally:
        s.close()
        outer.rollback()
        conn.close()


@pytest.fixture
def session(base_engine) -> Iterator[Session]:
    """A session whose every change, commits included, is rolled back after the test."""
    with rolled_back_session(base_engine) as s:
        yield s


@pytest.fixture
def fresh_url(backend, tmp_path) -> Iterator[str]:
    """An empty, migrated database whose writes are really committed."""
    with temporary_database(backend, tmp_path) as url:
        migrate(url)
        yield url


@pytest.fixture
def settings_env(monkeypatch):
    """Set settings for one test — ``settings_env(https_only="true")`` or by the variable's own name,
    ``settings_env(SZT_JOB_WORKERS="0")`` — read again now and restored afterwards."""
    def _set(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name if name.isupper() else f"SZT_{name.upper()}", value)
        get_settings.cache_clear()

    yield _set
    get_settings.cache_clear()


@pytest.fixture
def use_database(monkeypatch):
    """Point the app's settings and engine at ``url`` (for the CLI and a served app)."""
    def _use(url: str) -> None:
        monkeypatch.setenv("DATABASE_URL", url)
        get_settings.cache_clear()
        get_engine.cache_clear()

    yield _use
    try:
        get_engine().dispose()
    finally:
        get_settings.cache_clear()
        get_engine.cache_clear()


@functools.cache
def _pooled_app(slot: int):
    """This test process's application number ``slot``, made once; ``_as_new`` readies it for a test."""
    from app.main import create_app

    return create_app()


def _as_new(app):
    """``app`` as new for a test as ``create_app()``'s: its state, middleware (rate limits, counters)
    and dependency overrides are made new; its routes are kept.

    FastAPI builds an included route's dependencies, fields and validators at the application's
    first request that reaches its router, not at ``include_router``: a new application per test paid
    that for every route each time (47 % of the samples of a run of the tests marked ``dates``, which
    went from 200 s to 139 s)."""
    from app.main import fresh_state

    app.dependency_overrides.clear()
    fresh_state(app)
    app.middleware_stack = None  # built again at the first request, with today's settings
    return app


def shared_app():
    """The application the ``client`` fixture serves, as new for each test as ``create_app()``'s."""
    return _as_new(_pooled_app(0))


@pytest.fixture
def new_app():
    """Another application at each call within the test: never the ``client`` fixture's nor one
    handed out before in this test (two of them are two processes: two principal caches, two boards'
    caches), each as new as ``create_app()``'s, its routes built once per test process."""
    slots = itertools.count(1)
    return lambda: _as_new(_pooled_app(next(slots)))


@pytest.fixture
def client(session):
    """A TestClient whose requests use the test's rolled-back session."""
    from fastapi.testclient import TestClient

    from app.db import get_session, get_write_session

    app = shared_app()
    app.dependency_overrides[get_session] = lambda: session
    app.dependency_overrides[get_write_session] = lambda: session
    with TestClient(app, base_url="http://testserver") as c:
        yield c


def chromium_path() -> str:
    """Debian's Chromium, or skip (fail under CI) with the reason."""
    path = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if path:
        return path
    message = "Chromium is not installed (apt-get install chromium fonts-noto-cjk); browser tests need it"
    if IN_CI:
        pytest.fail("CI=true: " + message, pytrace=False)
    pytest.skip(message)


@pytest.fixture
def fastapi_routed(monkeypatch) -> list[str]:
    """The paths FastAPI's own routes handled in this test (an app/hot_routes.py route answers its
    everyday request without handing it to one)."""
    import fastapi.routing

    seen: list[str] = []
    original = fastapi.routing.APIRoute.handle

    async def handle(self, scope, receive, send):
        seen.append(scope["path"])
        return await original(self, scope, receive, send)

    monkeypatch.setattr(fastapi.routing.APIRoute, "handle", handle)
    return seen
