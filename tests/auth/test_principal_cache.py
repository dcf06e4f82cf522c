"""The principal cache (app/auth/principals.py): one per application, served while the database's
principal version stands; a change made in this process is seen at once, one made elsewhere (here:
plain SQL, which the in-process listener does not see, as another process's write) within 2 s."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, text

from app.auth import service
from app.auth.principals import PrincipalCache
from app.config import get_settings
from app.db import get_session, get_write_session
from app.deps import SESSION_COOKIE
from app.main import create_app
from app.models import GrantRole
from tests import factories as f

pytestmark = pytest.mark.dates


@contextmanager
def _client(new_app, session):
    app = new_app()
    app.dependency_overrides[get_session] = lambda: session
    app.dependency_overrides[get_write_session] = lambda: session
    with TestClient(app, base_url="http://testserver") as c:
        yield c


def _sign_in(client, raw: str, csrf: str) -> None:
    client.cookies.set(SESSION_COOKIE, raw)
    client.headers["X-CSRF-Token"] = csrf


def _elsewhere(session, sql: str, **params) -> None:
    """A write the way another process's would reach this one: only through the database."""
    session.connection().execute(text(sql), params)


def test_two_apps_keep_their_own_caches_and_a_sign_out_in_one_is_refused_at_once_in_both(session, clock, new_app):
    clock.freeze(clock.now())
    user = f.persona(session, "member")
    row, raw = service.start_session(session, user=user, ip="testclient", user_agent="pytest")
    session.flush()
    with _client(new_app, session) as a, _client(new_app, session) as b:
        for c in (a, b):
            _sign_in(c, raw, row.csrf_token)
            assert c.get("/account").status_code == 200
        assert a.app.state.szt_principals is not b.app.state.szt_principals
        assert len(a.app.state.szt_principals) == len(b.app.state.szt_principals) == 1
        assert a.post("/logout", follow_redirects=False).status_code == 303
        _sign_in(a, raw, row.csrf_token)  # the cookie kept, as a thief would
        for c in (a, b):  # the clock has not moved: no second passed, yet refused in both
            assert c.get("/account", follow_redirects=False).status_code == 303


def test_a_session_revoked_elsewhere_is_refused_within_two_seconds(session, clock, new_app):
    clock.freeze(clock.now())
    user = f.persona(session, "member")
    row, raw = service.start_session(session, user=user, ip="testclient", user_agent="pytest")
    session.flush()
    with _client(new_app, session) as a, _client(new_app, session) as b:
        for c in (a, b):
            _sign_in(c, raw, row.csrf_token)
            assert c.get("/account").status_code == 200
        _elsewhere(session, "UPDATE user_session SET revoked_at = last_seen_at WHERE id = :id", id=row.id)
        assert a.get("/account").status_code == 200  # cached, the version read this second
        clock.freeze(clock.now() + timedelta(seconds=1))
        for c in (a, b):
            assert c.get("/account", follow_redirects=False).status_code == 303


def test_a_grant_removed_here_is_gone_at_once_and_one_removed_elsewhere_within_two_seconds(session, clock):
    clock.freeze(clock.now())
    user = f.make_user(session, grants=((GrantRole.staff, f.org(session, "530102")),
                                        (GrantRole.viewer, f.org(session, "530000"))))
    _, raw = service.start_session(session, user=user, ip="x", user_agent="y")
    session.flush()
    cache = PrincipalCache()
    assert service.principal_for(session, raw, cache=cache).roles == {GrantRole.staff, GrantRole.viewer}
    _elsewhere(session, "DELETE FROM role_grant WHERE user_id = :u AND role = 'viewer'", u=user.id)
    assert GrantRole.viewer in service.principal_for(session, raw, cache=cache).roles  # within the second
    clock.freeze(clock.now() + timedelta(milliseconds=1500))
    assert service.principal_for(session, raw, cache=cache).roles == {GrantRole.staff}
    # Through the ORM in this process: at once, the clock standing still.
    grant = session.scalars(text("SELECT id FROM role_grant WHERE user_id = :u").bindparams(u=user.id)).one()
    from app.models import RoleGrant

    session.delete(session.get(RoleGrant, grant))
    session.flush()
    assert service.principal_for(session, raw, cache=cache).roles == frozenset()


def test_a_cached_caller_costs_no_statement_and_is_never_another_sessions(session, clock):
    clock.freeze(clock.now())
    user, other = f.persona(session, "member"), f.persona(session, "county_staff")
    mine, mine_raw = service.start_session(session, user=user, ip="x", user_agent="y")
    second, second_raw = service.start_session(session, user=user, ip="x", user_agent="y")
    theirs, theirs_raw = service.start_session(session, user=other, ip="x", user_agent="y")
    session.flush()
    cache = PrincipalCache()
    for raw in (mine_raw, second_raw, theirs_raw):
        service.principal_for(session, raw, ip="10.0.0.1", cache=cache)
    statements: list[str] = []
    conn = session.connection()
    event.listen(conn, "before_cursor_execute", lambda *a: statements.append(a[2]))
    got = {raw: service.principal_for(session, raw, ip="10.0.0.2", cache=cache)
           for raw in (mine_raw, second_raw, theirs_raw)}
    assert statements == []
    assert (got[mine_raw].session_id, got[mine_raw].csrf_token) == (mine.id, mine.csrf_token)
    assert (got[second_raw].session_id, got[second_raw].csrf_token) == (second.id, second.csrf_token)
    assert got[theirs_raw].user_id == other.id and got[theirs_raw].csrf_token == theirs.csrf_token
    assert {p.ip for p in got.values()} == {"10.0.0.2"}  # the request's own address, not the first one's
    assert service.principal_for(session, "not-a-session", cache=cache) is None


def test_timeouts_apply_to_a_cached_session(session, clock):
    s = get_settings()
    clock.freeze(clock.now())
    user = f.persona(session, "member")
    row, raw = service.start_session(session, user=user, ip="x", user_agent="y")
    session.flush()
    cache = PrincipalCache()
    assert service.principal_for(session, raw, cache=cache) is not None
    idle = timedelta(minutes=s.session_idle_minutes)
    assert service.principal_for(session, raw, cache=cache, now=row.last_seen_at + idle) is None
    assert service.principal_for(session, raw, cache=cache, now=row.expires_at) is None
    # A request inside the idle time moves last seen (the touch) in the cached entry too.
    later = row.last_seen_at + service.TOUCH_EVERY
    assert service.principal_for(session, raw, cache=cache, now=later) is not None
    session.refresh(row)
    assert row.last_seen_at == later
    assert service.principal_for(session, raw, cache=cache, now=later + idle - timedelta(seconds=1)) is not None


def test_a_cached_caller_is_answered_without_the_database_until_a_read_is_due(session, clock, new_app):
    """``cached_principal`` is what runs on the event loop (app/deps.py): it answers from the cache or
    says it cannot (None) — then, when the version's second is up, the worker thread reads again."""
    clock.freeze(clock.now())
    user = f.persona(session, "member")
    row, raw = service.start_session(session, user=user, ip="testclient", user_agent="pytest")
    session.flush()
    with _client(new_app, session) as a:
        _sign_in(a, raw, row.csrf_token)
        assert service.cached_principal(PrincipalCache(), raw, ip="testclient") is None  # nothing loaded yet
        assert a.get("/account").status_code == 200
        cache = a.app.state.szt_principals
        hit = service.cached_principal(cache, raw, ip="testclient")
        assert hit is not None and hit.user_id == user.id and hit.csrf_token == row.csrf_token
        assert service.cached_principal(cache, "another-token", ip="testclient") is None
        clock.freeze(clock.now() + timedelta(seconds=1))
        assert service.cached_principal(cache, raw, ip="testclient") is None  # the version read is due


def _versions(url: str) -> tuple[Callable[[], str | None], Callable[[str], None]]:
    """(the version now, set a new one) on ``url``'s database, each in a transaction of its own."""
    from sqlalchemy import create_engine

    engine = create_engine(url)

    def now() -> str | None:
        with engine.connect() as conn:
            return conn.execute(text("SELECT value FROM app_meta WHERE key = 'principal_version'")).scalar()

    def bump(value: str) -> None:
        with engine.begin() as conn:  # as another process's grant change would: only through the database
            conn.execute(text("UPDATE app_meta SET value = :v WHERE key = 'principal_version'"), {"v": value})

    return now, bump


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_serving_application_reads_the_version_ahead_so_a_request_never_finds_it_due(
        fresh_url, use_database, settings_env):
    """The lifespan's ``keep_fresh`` reads the version before each second is out: a cached caller is
    answered on the event loop at any moment, and a change made elsewhere is still seen within the
    second (here: real time, a served application on its own database)."""
    import time

    from app.clock import now_utc

    use_database(fresh_url)
    settings_env(SZT_JOB_WORKERS="0")
    version_now, bump = _versions(fresh_url)
    with TestClient(create_app()) as client:
        cache = client.app.state.szt_principals
        due = []
        deadline = time.monotonic() + 2.5  # more than twice CHECK_EVERY
        time.sleep(0.3)  # the first read
        while time.monotonic() < deadline:
            due.append(not cache.fresh_version(now_utc())[0])
            time.sleep(0.02)
        assert len(due) > 50 and not any(due)
        assert cache.fresh_version(now_utc()) == (True, version_now())
        bump("changed-elsewhere")
        deadline = time.monotonic() + 1.5
        while cache.fresh_version(now_utc())[1] != "changed-elsewhere" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert cache.fresh_version(now_utc()) == (True, "changed-elsewhere")
    time.sleep(1.2)  # the application stopped: nothing reads ahead any more
    assert cache.fresh_version(now_utc()) == (False, None)
