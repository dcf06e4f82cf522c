"""Login, sessions, throttling, CSRF, activation codes, password change — and the audit trail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.audit.service import Actor
from app.auth import service
from app.config import get_settings
from app.deps import SESSION_COOKIE
from app.models import ActivationCode, AuditLog, UserSession
from tests import factories as f

pytestmark = pytest.mark.dates


def _audit_actions(session, user_id):
    return list(session.scalars(select(AuditLog.action).where(AuditLog.target_id == str(user_id)).order_by(AuditLog.id)))


def _csrf_cookie(client):
    client.get("/login")
    return client.cookies.get("szt_csrf")


def test_login_sets_httponly_session_and_audits(client, session):
    user = f.with_password(session, f.persona(session, "member"))
    token = _csrf_cookie(client)
    r = client.post("/login", data={"login": user.login, "password": f.PASSWORD, "csrf_token": token, "next": "/"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert SESSION_COOKIE in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http in tests; https sets Secure
    assert session.scalar(select(func.count()).select_from(UserSession).where(UserSession.user_id == user.id)) == 1
    assert "auth.login" in _audit_actions(session, user.id)
    # The session works: a page that needs a user answers.
    assert client.get("/account/password").status_code == 200


def test_login_gives_a_fresh_session_id_each_time(client, session):
    user = f.with_password(session, f.persona(session, "member"))
    token = _csrf_cookie(client)
    ids = set()
    for _ in range(2):
        r = client.post("/login", data={"login": user.login, "password": f.PASSWORD, "csrf_token": token},
                        follow_redirects=False)
        ids.add(r.cookies.get(SESSION_COOKIE))
    assert len(ids) == 2


def test_bad_password_is_refused_in_chinese_without_revealing_accounts(client, session):
    user = f.with_password(session, f.persona(session, "member"))
    token = _csrf_cookie(client)
    wrong = client.post("/login", data={"login": user.login, "password": "nope-nope", "csrf_token": token})
    unknown = client.post("/login", data={"login": "19999999999", "password": "nope-nope", "csrf_token": token})
    assert wrong.status_code == unknown.status_code == 401
    assert "手机号或密码不正确" in wrong.text and "手机号或密码不正确" in unknown.text
    assert "auth.login_failed" in _audit_actions(session, user.id)


def test_login_accepts_phones_as_typed(session):
    user = f.with_password(session, f.persona(session, "member"))
    typed = " ".join(user.login[i:i + 4] for i in range(0, 11, 4)).translate(
        {ord(str(d)): 0xFF10 + d for d in range(10)})  # full-width digits with spaces
    logged_in, _ = service.login(session, login=typed, password=f.PASSWORD, ip="1.2.3.4")
    assert logged_in.id == user.id


def test_throttling_per_account_is_short_and_per_address(session, clock):
    user = f.with_password(session, f.persona(session, "member"))
    limit = get_settings().login_account_max_failures
    for _ in range(limit):
        with pytest.raises(service.Unauthorized):
            service.login(session, login=user.login, password="wrong-wrong", ip="10.0.0.1")
    # Now even the right password waits — from any address…
    with pytest.raises(service.TooManyRequests) as exc:
        service.login(session, login=user.login, password=f.PASSWORD, ip="10.0.0.2")
    assert "分钟后再试" in exc.value.message and exc.value.headers["Retry-After"]
    # …but only for the account window: once it has passed, the real member gets in.
    clock.freeze(clock.now() + timedelta(seconds=get_settings().login_account_window_seconds + 1))
    logged_in, _ = service.login(session, login=user.login, password=f.PASSWORD, ip="10.0.0.2")
    assert logged_in.id == user.id


def test_throttling_per_address_covers_many_logins(session):
    limit = get_settings().login_ip_max_failures
    for n in range(limit):
        with pytest.raises(service.Unauthorized):
            service.login(session, login=f"1990000{n:04d}", password="guess-guess", ip="10.9.9.9")
    with pytest.raises(service.TooManyRequests):
        service.login(session, login="19900009999", password="guess-guess", ip="10.9.9.9")
    # Another address is unaffected.
    with pytest.raises(service.Unauthorized):
        service.login(session, login="19900009999", password="guess-guess", ip="10.9.9.10")


def test_throttled_login_page_answers_429_in_chinese(client, session):
    user = f.with_password(session, f.persona(session, "member"))
    token = _csrf_cookie(client)
    for _ in range(get_settings().login_account_max_failures):
        client.post("/login", data={"login": user.login, "password": "wrong-wrong", "csrf_token": token})
    r = client.post("/login", data={"login": user.login, "password": f.PASSWORD, "csrf_token": token})
    assert r.status_code == 429 and "尝试次数过多" in r.text and "retry-after" in r.headers


def test_logout_revokes_the_session(client, session):
    user = f.persona(session, "member")
    f.login_as(client, session, user)
    assert client.get("/account/password").status_code == 200
    r = client.post("/logout", follow_redirects=False)
    assert r.status_code == 303
    raw_cookie_gone = client.get("/account/password", follow_redirects=False)
    assert raw_cookie_gone.status_code == 303 and raw_cookie_gone.headers["location"].startswith("/login")


def test_revoked_disabled_and_timed_out_sessions_end(session, monkeypatch):
    user = f.persona(session, "member")
    row, raw = service.start_session(session, user=user, ip="x", user_agent="y")
    session.flush()
    assert service.principal_for(session, raw) is not None
    # Idle timeout.
    idle = timedelta(minutes=get_settings().session_idle_minutes)
    assert service.principal_for(session, raw, now=row.last_seen_at + idle + timedelta(seconds=1)) is None
    # Absolute timeout even when active.
    assert service.principal_for(session, raw, now=row.expires_at + timedelta(seconds=1)) is None
    # Account disabled.
    user.is_active = False
    session.flush()
    assert service.principal_for(session, raw) is None
    user.is_active = True
    # Revoked (password change elsewhere).
    service.revoke_sessions(session, user_id=user.id)
    session.flush()
    assert service.principal_for(session, raw) is None


def test_password_change_ends_other_sessions(client, session):
    user = f.with_password(session, f.persona(session, "member"))
    _, other_raw = service.start_session(session, user=user, ip="phone", user_agent="other")
    f.login_as(client, session, user)
    r = client.post("/account/password", data={"current": f.PASSWORD, "new": "new-pass-123", "new2": "new-pass-123"})
    assert r.status_code == 200 and "密码已修改" in r.text
    assert service.principal_for(session, other_raw) is None
    assert client.get("/account/password").status_code == 200  # this one stays
    bad = client.post("/account/password", data={"current": "wrong", "new": "x" * 9, "new2": "x" * 9})
    assert bad.status_code == 422 and "当前密码不正确" in bad.text


# --- CSRF ---------------------------------------------------------------------------------------

def test_post_without_csrf_token_is_refused(client, session):
    user = f.persona(session, "member")
    f.login_as(client, session, user)
    del client.headers["X-CSRF-Token"]
    r = client.post("/logout", follow_redirects=False)
    assert r.status_code == 403 and "刷新页面" in r.text
    assert client.get("/account/password").status_code == 200  # still logged in


def test_post_with_another_sessions_token_is_refused(client, session):
    user = f.persona(session, "member")
    f.login_as(client, session, user)
    client.headers["X-CSRF-Token"] = "not-the-token"
    assert client.post("/logout", follow_redirects=False).status_code == 403


def test_each_page_carries_the_token_masked_afresh(client, session):
    """Pages are gzipped: the token must never read the same twice (BREACH), yet each copy works."""
    import re

    from app.auth.csrf import mask, unmask

    user = f.persona(session, "member")
    token = f.login_as(client, session, user)
    del client.headers["X-CSRF-Token"]
    copies = [re.search(r'name="csrf_token" value="([^"]+)"', client.get("/account/password").text).group(1)
              for _ in range(2)]
    assert copies[0] != copies[1] and token not in client.get("/account/password").text
    assert all(unmask(c) == token.encode() for c in copies)
    forged = mask("x" * len(token))  # well formed, another secret
    assert client.post("/logout", headers={"X-CSRF-Token": forged}, follow_redirects=False).status_code == 403
    assert client.post("/logout", headers={"X-CSRF-Token": "%%%"}, follow_redirects=False).status_code == 403
    assert client.post("/logout", headers={"X-CSRF-Token": copies[0]}, follow_redirects=False).status_code == 303


def test_post_from_another_origin_is_refused(client, session):
    user = f.persona(session, "member")
    f.login_as(client, session, user)
    r = client.post("/logout", headers={"Origin": "https://evil.example"}, follow_redirects=False)
    assert r.status_code == 403 and "来源" in r.text
    ok = client.post("/logout", headers={"Origin": "http://testserver"}, follow_redirects=False)
    assert ok.status_code == 303


def test_login_form_needs_the_anonymous_token(client, session):
    user = f.with_password(session, f.persona(session, "member"))
    _csrf_cookie(client)
    r = client.post("/login", data={"login": user.login, "password": f.PASSWORD})
    assert r.status_code == 403


def test_hidden_field_works_without_javascript(client, session):
    user = f.persona(session, "member")
    token = f.login_as(client, session, user)
    del client.headers["X-CSRF-Token"]
    r = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303


def test_htmx_error_is_a_toast_fragment(client, session):
    user = f.persona(session, "member")
    f.login_as(client, session, user)
    client.headers["X-CSRF-Token"] = "wrong"
    r = client.post("/logout", headers={"HX-Request": "true"})
    assert r.status_code == 403 and r.text.strip().startswith('<div class="toast') and "<html" not in r.text


# --- activation codes ---------------------------------------------------------------------------

def test_activation_code_sets_password_once(client, session):
    user = f.persona(session, "member")
    staff = f.persona(session, "county_staff")
    code = service.new_activation_code(session, user=user, actor=Actor(staff.id, "x"), org_id=None)
    session.flush()
    token = _csrf_cookie(client)
    form = {"login": user.login, "code": code.lower(), "password": "first-pass-1", "password2": "first-pass-1",
            "csrf_token": token}
    r = client.post("/activate", data=form, follow_redirects=False)
    assert r.status_code == 303 and SESSION_COOKIE in r.headers["set-cookie"]
    assert service.login(session, login=user.login, password="first-pass-1", ip="a")[0].id == user.id
    # Single use.
    client.cookies.delete(SESSION_COOKIE)
    again = client.post("/activate", data={**form, "password": "other-pass-2", "password2": "other-pass-2"})
    assert again.status_code == 422 and "激活码" in again.text
    assert "auth.activate" in _audit_actions(session, user.id)


def test_activation_code_expires_and_a_new_one_replaces_the_old(session, clock):
    user = f.persona(session, "member")
    old = service.new_activation_code(session, user=user, actor=Actor(None), org_id=None)
    new = service.new_activation_code(session, user=user, actor=Actor(None), org_id=None)
    session.flush()
    with pytest.raises(service.Invalid):
        service.activate(session, login=user.login, code=old, password="pass-word-1", ip="a")
    clock.freeze(clock.now() + timedelta(days=get_settings().activation_code_days, seconds=1))
    with pytest.raises(service.Invalid):
        service.activate(session, login=user.login, code=new, password="pass-word-1", ip="b")
    assert session.scalar(select(func.count()).select_from(ActivationCode).where(
        ActivationCode.user_id == user.id, ActivationCode.used_at.is_(None))) == 1


def test_activation_refuses_short_and_mismatched_passwords(client, session):
    user = f.persona(session, "member")
    code = service.new_activation_code(session, user=user, actor=Actor(None), org_id=None)
    session.flush()
    token = _csrf_cookie(client)
    short = client.post("/activate", data={"login": user.login, "code": code, "password": "short",
                                           "password2": "short", "csrf_token": token})
    assert short.status_code == 422 and "至少 8 位" in short.text
    mismatch = client.post("/activate", data={"login": user.login, "code": code, "password": "long-enough-1",
                                              "password2": "long-enough-2", "csrf_token": token})
    assert mismatch.status_code == 422 and "不一致" in mismatch.text


def test_audit_log_is_append_only(session):
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    user = f.persona(session, "member")
    service.start_session(session, user=user, ip="x", user_agent="y")
    from app.audit.service import record

    entry = record(session, actor=Actor(user.id, "x"), action="test.entry", target_type="user", target_id=user.id)
    session.flush()
    for sql in ("UPDATE audit_log SET action = 'x' WHERE id = :id", "DELETE FROM audit_log WHERE id = :id"):
        with pytest.raises(DBAPIError), session.begin_nested():
            session.execute(text(sql), {"id": entry.id})


def test_safe_next_refuses_other_sites():
    from app.web import safe_next

    assert safe_next("/activities?x=1") == "/activities?x=1"
    for bad in ("https://evil.example/", "//evil.example", "javascript:alert(1)", ""):
        assert safe_next(bad) == "/"


def test_account_events_are_in_the_home_organisations_log(session):
    from app.audit.service import entries_for

    user = f.with_password(session, f.persona(session, "member"))
    service.login(session, login=user.login, password=f.PASSWORD, ip="1.1.1.1")
    wuhua = f.org(session, "530102")
    actions = [e.action for e in session.scalars(entries_for([wuhua.id], action="auth."))]
    assert "auth.login" in actions
    assert list(session.scalars(entries_for([f.org(session, "530300").id], action="auth."))) == []


def test_history_restore_gets_the_whole_page(client, session):
    f.login_as(client, session, f.persona(session, "county_staff"))
    fragment = client.get("/admin/audit", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert fragment.headers["vary"] == "HX-Request"
    restored = client.get("/admin/audit", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in restored.text
