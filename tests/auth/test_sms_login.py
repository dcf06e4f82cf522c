"""Signing in and resetting a password with an SMS code: hashed, single use, 5 minutes, guesses capped,
throttled per phone and per address, and never revealing whether a phone is registered."""

from __future__ import annotations

import json
import re
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from app.accounts.schemas import UserStatus, status_of
from app.auth import service, sms
from app.clock import CN
from app.config import get_settings
from app.deps import SESSION_COOKIE
from app.errors import TooManyRequests, Unauthorized
from app.models import AuditLog, LoginAttempt, Notification, SmsCode, UserSession
from tests import factories as f

pytestmark = pytest.mark.dates

UNKNOWN = "19912345678"


def _code(session, phone: str, kind: str = "login_code") -> str:
    """The code the outbox holds for ``phone`` (what the SMS will say)."""
    row = session.scalar(select(Notification).where(Notification.recipient == phone, Notification.kind == kind)
                         .order_by(Notification.id.desc()))
    return json.loads(row.params)["code"]


def _csrf(client) -> str:
    client.get("/login")
    return client.cookies.get("szt_csrf")


def test_code_is_hashed_single_use_and_a_first_sign_in_activates(session):
    user = f.persona(session, "member")  # no password: never activated
    assert status_of(user) is UserStatus.unactivated
    answer = sms.request_code(session, phone=user.login, purpose="login", ip="10.0.0.1")
    assert answer == "如果该手机号已登记，验证码已发送，5 分钟内有效"
    code = _code(session, user.login)
    stored = session.scalar(select(SmsCode).where(SmsCode.phone == user.login))
    assert len(code) == 6 and code.isdigit()
    assert code not in (stored.code_hash, str(stored.attempts)) and stored.user_id == user.id
    outbox = session.scalar(select(Notification).where(Notification.kind == "login_code"))
    assert outbox.channel == "sms" and outbox.event_key == f"code:{stored.id}" and code in outbox.body
    audit = session.scalar(select(AuditLog).where(AuditLog.action == "auth.sms_code"))
    assert code not in (audit.after or "")

    signed_in = sms.login_with_code(session, phone=user.login, code=code, ip="10.0.0.1", user_agent="phone")
    assert signed_in.user.id == user.id and signed_in.activated
    assert session.get(UserSession, service.token_hash(signed_in.token)).method == "sms"
    assert status_of(user) is UserStatus.activated and user.password_hash is None
    with pytest.raises(Unauthorized, match="验证码不正确"):  # single use
        sms.login_with_code(session, phone=user.login, code=code, ip="10.0.0.1")


def test_a_new_code_makes_the_earlier_one_useless(session, clock):
    user = f.persona(session, "member")
    sms.request_code(session, phone=user.login, purpose="login", ip="10.0.0.1")
    first = _code(session, user.login)
    clock.freeze(clock.now() + timedelta(seconds=get_settings().sms_code_resend_seconds))
    sms.request_code(session, phone=user.login, purpose="login", ip="10.0.0.1")
    second = _code(session, user.login)
    if first != second:  # one in a million they are equal
        with pytest.raises(Unauthorized):
            sms.login_with_code(session, phone=user.login, code=first, ip="10.0.0.1")
    assert sms.login_with_code(session, phone=user.login, code=second, ip="10.0.0.1").user.id == user.id


def test_a_code_expires_after_five_minutes(session, clock):
    user = f.persona(session, "member")
    start = clock.now()
    clock.freeze(start)
    sms.request_code(session, phone=user.login, purpose="login", ip="10.0.0.1")
    clock.freeze(start + timedelta(minutes=4, seconds=59))
    assert sms.login_with_code(session, phone=user.login, code=_code(session, user.login), ip="10.0.0.1")
    sms.request_code(session, phone=user.login, purpose="login", ip="10.0.0.1")
    clock.freeze(start + timedelta(minutes=4, seconds=59) + timedelta(minutes=5))
    with pytest.raises(Unauthorized, match="已过期"):
        sms.login_with_code(session, phone=user.login, code=_code(session, user.login), ip="10.0.0.1")


def test_wrong_guesses_spend_the_code(session, settings_env):
    settings_env(sms_code_max_guesses="3")
    user = f.persona(session, "member")
    sms.request_code(session, phone=user.login, purpose="login", ip="10.0.0.1")
    code = _code(session, user.login)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(3):
        with pytest.raises(Unauthorized):
            sms.login_with_code(session, phone=user.login, code=wrong, ip="10.0.0.1")
    with pytest.raises(Unauthorized):  # the right code, too late: the third wrong guess spent it
        sms.login_with_code(session, phone=user.login, code=code, ip="10.0.0.1")
    row = session.scalar(select(SmsCode).where(SmsCode.phone == user.login))
    assert row.attempts == 3 and row.used_at is not None
    # Every failure is a LoginAttempt: the login throttles count SMS guesses too.
    failures = session.scalar(select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.login == user.login, LoginAttempt.succeeded.is_(False)))
    assert failures == 4


def test_throttled_per_phone_and_per_address_alike_for_unknown_phones(session, clock, settings_env):
    settings_env(sms_code_per_phone_hour="2", sms_code_per_ip_hour="3")
    user = f.persona(session, "member")
    start = clock.now()
    clock.freeze(start)
    address = {user.login: "10.1.0.1", UNKNOWN: "10.1.0.2"}  # one each: the address limit is not this part's
    for phone in (user.login, UNKNOWN):
        sms.request_code(session, phone=phone, purpose="login", ip=address[phone])
        with pytest.raises(TooManyRequests, match="60 秒后") as soon:  # another code within a minute
            sms.request_code(session, phone=phone, purpose="reset", ip="10.2.0.1")
        assert soon.value.headers["Retry-After"] == "60"
    clock.freeze(start + timedelta(seconds=61))
    for phone in (user.login, UNKNOWN):
        sms.request_code(session, phone=phone, purpose="login", ip=address[phone])
    clock.freeze(start + timedelta(seconds=122))
    for phone in (user.login, UNKNOWN):  # the phone's hourly count, from any address
        with pytest.raises(TooManyRequests, match="次数过多") as hourly:
            sms.request_code(session, phone=phone, purpose="login", ip="10.3.0.1")
        assert int(hourly.value.headers["Retry-After"]) == 3600 - 122
    # Per address: three phones from one address in the hour, the fourth refused; another address is not.
    for n in range(3):
        sms.request_code(session, phone=f"1880000000{n}", purpose="login", ip="10.9.9.9")
    with pytest.raises(TooManyRequests, match="此网络"):
        sms.request_code(session, phone="18800000009", purpose="login", ip="10.9.9.9")
    sms.request_code(session, phone="18800000009", purpose="login", ip="10.9.9.10")


def test_pages_answer_registered_and_unknown_phones_alike(client, session):
    user = f.persona(session, "member")
    token = _csrf(client)

    def ask(phone):
        return client.post("/login/sms-code", data={"login": phone, "purpose": "login", "csrf_token": token})

    def sign_in(phone):
        return client.post("/login/sms", data={"login": phone, "code": "000000", "csrf_token": token})

    def page(response, phone):  # the CSRF token is masked afresh on every page (app/auth/csrf.py)
        text = re.sub(r'("X-CSRF-Token": "|name="csrf_token" value=")[^"]+', r"\1TOKEN", response.text)
        return text.replace(phone, "PHONE")

    def same(a, b):
        assert a.status_code == b.status_code
        assert a.headers.get("retry-after") == b.headers.get("retry-after")
        assert page(a, user.login) == page(b, UNKNOWN)

    known, unknown = ask(user.login), ask(UNKNOWN)
    same(known, unknown)
    assert known.status_code == 200 and "如果该手机号已登记，验证码已发送" in known.text
    assert 'data-countdown="60"' in known.text
    known, unknown = ask(user.login), ask(UNKNOWN)  # too soon: throttled alike
    same(known, unknown)
    assert known.status_code == 429 and "秒后再重新获取" in known.text
    known, unknown = sign_in(user.login), sign_in(UNKNOWN)  # a wrong code
    same(known, unknown)
    assert known.status_code == 401 and "手机号或验证码不正确，或验证码已过期" in known.text
    # Both wrote a code; only the registered phone's SMS was queued.
    assert session.scalar(select(func.count()).select_from(SmsCode).where(SmsCode.phone.in_([user.login, UNKNOWN]))) == 2
    assert session.scalar(select(func.count()).select_from(Notification).where(Notification.recipient == UNKNOWN)) == 0


def test_quiet_hours_do_not_delay_codes(session, clock):
    user = f.persona(session, "member")
    clock.freeze(datetime.combine(clock.today, time(23, 30), CN))
    sms.request_code(session, phone=user.login, purpose="login", ip="10.0.0.1")
    row = session.scalar(select(Notification).where(Notification.kind == "login_code"))
    assert row.not_before == clock.now() and row.status == "queued"


def test_sms_sign_in_page_with_remember_me_and_a_first_password(client, session):
    user = f.persona(session, "member")
    token = _csrf(client)
    client.post("/login/sms-code", data={"login": user.login, "purpose": "login", "csrf_token": token})
    r = client.post("/login/sms", data={"login": user.login, "code": _code(session, user.login), "remember": "true",
                                        "next": "/account", "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/account"
    assert f"Max-Age={get_settings().remember_absolute_days * 86400}" in r.headers["set-cookie"]
    page = client.get("/account")
    assert "设置密码" in page.text and "短信验证码登录" in page.text and "记住我" in page.text
    form = client.get("/account/password")
    assert 'name="current"' not in form.text
    done = client.post("/account/password", data={"new": "my-own-pass-1", "new2": "my-own-pass-1",
                                                 "csrf_token": client.cookies.get("szt_csrf")},
                       headers={"X-CSRF-Token": session.scalar(select(UserSession.csrf_token).where(
                           UserSession.user_id == user.id))})
    assert done.status_code == 200 and "密码已设置" in done.text
    assert service.login(session, login=user.login, password="my-own-pass-1", ip="10.0.0.1")[0].id == user.id
    assert "auth.password_set" in session.scalars(select(AuditLog.action).where(AuditLog.target_id == str(user.id)))


def test_reset_by_sms_sets_the_password_and_ends_every_other_session(client, session):
    user = f.with_password(session, f.persona(session, "member"))
    _, elsewhere = service.start_session(session, user=user, ip="x", user_agent="old phone", remember=True)
    session.flush()
    token = _csrf(client)
    sent = client.post("/login/sms-code", data={"login": user.login, "purpose": "reset", "csrf_token": token})
    assert sent.status_code == 200 and "如果该手机号已登记" in sent.text and "重设密码" in sent.text
    code = _code(session, user.login, "reset_code")
    short = client.post("/login/reset", data={"login": user.login, "code": code, "password": "short",
                                              "password2": "short", "csrf_token": token})
    assert short.status_code == 422 and "密码至少 8 位" in short.text
    # A login code does not reset, nor a reset code sign in: the purpose is part of the code.
    with pytest.raises(Unauthorized):
        sms.login_with_code(session, phone=user.login, code=code, ip="10.0.0.1")
    r = client.post("/login/reset", data={"login": user.login, "code": code, "password": "brand-new-pass",
                                          "password2": "brand-new-pass", "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/account?done=reset"
    assert service.principal_for(session, elsewhere) is None
    assert "密码已重设" in client.get(r.headers["location"]).text
    assert service.login(session, login=user.login, password="brand-new-pass", ip="10.0.0.1")[0].id == user.id
    assert client.cookies.get(SESSION_COOKIE)
