"""Sessions one can end: 记住我's timeouts, the account's list with 退出 / 退出其他所有设备, and the
office's 强制下线 — each refused at the very next request."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.accounts import service as accounts
from app.auth import service
from app.config import get_settings
from app.errors import NotFound
from app.models import AuditLog
from tests import factories as f

pytestmark = pytest.mark.dates

IPHONE_WECHAT = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                 "Mobile/15E148 MicroMessenger/8.0.47(0x18002f2f) NetType/WIFI Language/zh_CN")


def test_remembered_sessions_take_the_long_timeouts(session):
    s = get_settings()
    user = f.persona(session, "member")
    row, raw = service.start_session(session, user=user, ip="x", user_agent="phone", method="sms", remember=True)
    session.flush()
    assert row.expires_at - row.created_at == timedelta(days=s.remember_absolute_days)
    past_short_idle = row.last_seen_at + timedelta(minutes=s.session_idle_minutes, seconds=1)
    assert service.principal_for(session, raw, now=past_short_idle) is not None
    long_idle = timedelta(days=s.remember_idle_days)
    assert service.principal_for(session, raw, now=row.last_seen_at + long_idle) is None
    # A normal session beside it keeps the short ones.
    normal, normal_raw = service.start_session(session, user=user, ip="x", user_agent="pc")
    session.flush()
    assert normal.expires_at - normal.created_at == timedelta(minutes=s.session_absolute_minutes)
    assert service.principal_for(session, normal_raw, now=past_short_idle) is None


def test_the_account_lists_sessions_and_ends_one_or_all_others(client, session):
    user = f.persona(session, "member")
    other = f.persona(session, "member")
    f.login_as(client, session, user)
    phone, phone_raw = service.start_session(session, user=user, ip="10.0.0.7", user_agent=IPHONE_WECHAT,
                                             method="sms", remember=True)
    _, pc_raw = service.start_session(session, user=user, ip="10.0.0.8", user_agent="Windows NT Chrome/120")
    theirs, theirs_raw = service.start_session(session, user=other, ip="x", user_agent="y")
    session.flush()
    page = client.get("/account")
    assert page.status_code == 200
    assert "iPhone · 微信" in page.text and "短信验证码登录 · 记住我" in page.text and "当前设备" in page.text
    assert "退出其他所有设备" in page.text and 'data-confirm="除当前设备外' in page.text
    r = client.post(f"/account/sessions/{phone.id}/end", follow_redirects=False)
    assert r.status_code == 303 and service.principal_for(session, phone_raw) is None  # at once
    # Someone else's session id ends nothing: 404, as for an id that never was.
    assert client.post(f"/account/sessions/{theirs.id}/end").status_code == 404
    assert service.principal_for(session, theirs_raw) is not None
    client.post("/account/sessions/end-others")
    assert service.principal_for(session, pc_raw) is None
    assert client.get("/account").status_code == 200  # this one stays
    assert "auth.sessions_end" in session.scalars(select(AuditLog.action).where(AuditLog.target_id == str(user.id)))


def test_the_office_signs_a_member_out_everywhere_within_its_subtree(client, session):
    member = f.persona(session, "member")  # 五华区
    f.login_as(client, session, member)
    assert client.get("/account").status_code == 200
    outsider = service.build_principal(session, f.persona(session, "outsider_staff"))  # 曲靖
    with pytest.raises(NotFound):
        accounts.force_logout(session, outsider, user_id=member.id)
    assert client.get("/account").status_code == 200
    staff = service.build_principal(session, f.persona(session, "county_staff"))
    assert accounts.force_logout(session, staff, user_id=member.id) == 1
    refused = client.get("/account", follow_redirects=False)  # the very next request
    assert refused.status_code == 303 and refused.headers["location"].startswith("/login")
    entry = session.scalar(select(AuditLog).where(AuditLog.action == "user.sessions_revoke"))
    assert entry.actor_user_id == staff.user_id and entry.target_id == str(member.id)


def test_the_office_page_offers_and_does_force_logout(client, session):
    member = f.persona(session, "member")
    _, raw = service.start_session(session, user=member, ip="x", user_agent=IPHONE_WECHAT, remember=True)
    staff = f.persona(session, "prefecture_staff")  # 昆明, above 五华区
    f.login_as(client, session, staff)
    page = client.get(f"/admin/users/{member.id}")
    assert "强制下线" in page.text
    r = client.post(f"/admin/users/{member.id}/sessions/revoke", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("done=signed_out")
    assert service.principal_for(session, raw) is None
    outsider = f.persona(session, "outsider_staff")
    f.login_as(client, session, outsider)
    assert client.post(f"/admin/users/{member.id}/sessions/revoke").status_code == 404


@pytest.mark.parametrize(("user_agent", "named"), [
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 MicroMessenger/8.0.49", "iPhone · 微信"),
    ("Mozilla/5.0 (Linux; Android 13; V2203A) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36", "安卓手机 · Chrome"),
    ("Mozilla/5.0 (Linux; HarmonyOS 4.0; ALN-AL00) AppleWebKit/537.36 Chrome/114.0 DingTalk/7.5", "鸿蒙手机 · 钉钉"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36 Edg/120.0", "Windows 电脑 · Edge"),
    ("curl/8.5.0", "未知设备"),
])
def test_a_device_is_named_as_its_owner_would(user_agent, named) -> None:
    from app.auth.service import describe_device

    assert describe_device(user_agent) == named
