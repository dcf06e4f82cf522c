"""The display-link pages: the staff page, the address shown once, revoking with a confirmation,
and /d/{token} (the boards' meeting view, behind ScreenScope) answering a screen without a login
and refusing dead links with a Chinese page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.models import AuditLog, ScreenLink
from app.models.base import utcnow
from app.screens import service
from tests import factories as f
from tests.accounts.helpers import KUNMING, QUJING, WUHUA, who

pytestmark = pytest.mark.dates

URL = re.compile(r"http://testserver/d/([A-Za-z0-9_-]{40,})")


def _staff(client, session, kind: str = "county_staff"):
    user = f.persona(session, kind)
    f.login_as(client, session, user)
    return user


def _create(client, session, *, code: str = WUHUA, name: str = "三楼会议室大屏", days: str = "30"):
    return client.post("/display", data={"name": name, "org_id": str(f.org(session, code).id), "days": days})


def _link(session, name: str) -> ScreenLink:
    session.expire_all()
    return session.scalar(select(ScreenLink).where(ScreenLink.name == name))


def test_the_page_lists_links_and_offers_the_form(client, session):
    service.create_screen(session, who(session, "county_staff"), name="五华区大屏", org_id=f.org(session, WUHUA).id)
    service.create_screen(session, who(session, "outsider_staff"), name="曲靖市大屏", org_id=f.org(session, QUJING).id)
    _staff(client, session, "prefecture_staff")
    r = client.get("/display")
    assert r.status_code == 200 and "大屏只读链接" in r.text
    assert "五华区大屏" in r.text and "曲靖市大屏" not in r.text
    assert 'name="csrf_token"' in r.text and 'name="days"' in r.text and 'value="30"' in r.text
    assert "尚未使用" in r.text and "有效" in r.text and 'data-label="状态"' in r.text
    assert 'href="/display"' in r.text  # the staff navigation leads here


def test_members_and_viewers_are_refused_and_strangers_asked_to_log_in(client, session):
    assert client.get("/display", follow_redirects=False).headers["location"].startswith("/login")
    for kind in ("member", "viewer"):
        _staff(client, session, kind)
        r = client.get("/display")
        assert r.status_code == 403 and "「双助推」办公室" in r.text
        r = _create(client, session)
        assert r.status_code == 403
    assert _link(session, "三楼会议室大屏") is None


def test_creating_shows_the_address_once_and_stores_only_its_hash(client, session):
    _staff(client, session)
    r = _create(client, session)
    assert r.status_code == 200 and "链接已生成" in r.text and "只显示这一次" in r.text
    assert r.headers["cache-control"] == "no-store"
    token = URL.search(r.text).group(1)
    link = _link(session, "三楼会议室大屏")
    assert link.token_hash == service.token_hash(token)
    # Nowhere else: not in the table, not in the log, not on the list page.
    stored = " ".join(str(v) for v in session.execute(select(ScreenLink.__table__)).all())
    logged = " ".join(str(v) for v in session.execute(select(AuditLog.__table__)).all())
    assert token not in stored and token not in logged
    listing = client.get("/display").text
    assert "三楼会议室大屏" in listing and token not in listing
    # And the address works without anyone logged in.
    client.cookies.clear()
    shown = client.get(f"/d/{token}", follow_redirects=False)
    assert shown.status_code == 200 and "三楼会议室大屏" in shown.text


def test_bad_input_re_renders_the_form_with_the_reasons(client, session):
    _staff(client, session)
    r = _create(client, session, name="保留的名字", days="400")
    assert r.status_code == 422 and "<html" in r.text
    assert "有效期为 1 到 366 天" in r.text and 'value="保留的名字"' in r.text and 'aria-invalid="true"' in r.text
    r = client.post("/display", data={"name": "", "org_id": "", "days": "x"})
    assert r.status_code == 422 and "请填写名称" in r.text and "请选择大屏显示的组织范围" in r.text
    r = client.post("/display", data={"name": "太长", "org_id": "1" * 40, "days": "30"})
    assert r.status_code == 422 and "服务器出错" not in r.text
    assert _link(session, "保留的名字") is None


def test_outsiders_cannot_create_outside_their_subtree(client, session):
    _staff(client, session, "county_staff")
    r = _create(client, session, code=KUNMING, name="越级")
    assert r.status_code == 404 and "不在您的管辖范围内" in r.text
    _staff(client, session, "outsider_staff")
    assert _create(client, session, code=WUHUA, name="越级").status_code == 404
    assert _link(session, "越级") is None


def test_a_post_without_the_csrf_token_is_refused(client, session):
    _staff(client, session)
    del client.headers["X-CSRF-Token"]
    assert _create(client, session, name="无令牌").status_code == 403
    assert _link(session, "无令牌") is None


def test_revoking_asks_first_then_ends_the_link(client, session):
    _staff(client, session)
    token = URL.search(_create(client, session).text).group(1)
    link = _link(session, "三楼会议室大屏")
    listing = client.get("/display").text
    assert f'action="/display/{link.id}/revoke"' in listing and 'data-confirm="撤销大屏链接「三楼会议室大屏」' in listing
    # Without JavaScript the form posts unconfirmed: a confirmation page, nothing changes yet.
    r = client.post(f"/display/{link.id}/revoke", data={})
    assert r.status_code == 200 and "确认撤销" in r.text and 'name="confirmed" value="1"' in r.text
    assert _link(session, "三楼会议室大屏").revoked_at is None
    r = client.post(f"/display/{link.id}/revoke", data={"confirmed": "1"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/display?done=revoked"
    assert _link(session, "三楼会议室大屏").revoked_at is not None
    page = client.get("/display?done=revoked").text
    assert "链接已撤销" in page and "已撤销" in page
    assert session.scalar(select(AuditLog).where(AuditLog.action == "display.revoke",
                                                 AuditLog.target_id == str(link.id))) is not None
    r = client.get(f"/d/{token}", follow_redirects=False)
    assert r.status_code == 404 and "该大屏链接已失效" in r.text


def test_outsiders_cannot_revoke(client, session):
    _, raw = service.create_screen(session, who(session, "prefecture_staff"), name="昆明市大屏",
                                 org_id=f.org(session, KUNMING).id)
    link = _link(session, "昆明市大屏")
    for kind in ("outsider_staff", "county_staff"):
        _staff(client, session, kind)
        for data in ({}, {"confirmed": "1"}):
            r = client.post(f"/display/{link.id}/revoke", data=data, follow_redirects=False)
            assert r.status_code == 404 and "找不到该大屏链接" in r.text
    _staff(client, session, "member")
    assert client.post(f"/display/{link.id}/revoke", data={"confirmed": "1"}).status_code == 403
    assert _link(session, "昆明市大屏").revoked_at is None
    assert client.get(f"/d/{raw}").status_code == 200


def test_dead_links_answer_a_chinese_page_not_a_login_prompt(client, session):
    by = who(session, "county_staff")
    expired, expired_raw = service.create_screen(session, by, name="过期的", org_id=f.org(session, WUHUA).id, days=1)
    expired.expires_at = utcnow() - timedelta(minutes=1)
    session.flush()
    for path in (f"/d/{expired_raw}", "/d/not-a-token", "/d/" + "x" * 300):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 404, path
        assert "该大屏链接已失效" in r.text and "location" not in r.headers
        assert r.headers["referrer-policy"] == "no-referrer" and r.headers["cache-control"] == "no-store"
    fragment = client.get("/d/not-a-token", headers={"HX-Request": "true"})
    assert fragment.status_code == 404 and "<html" not in fragment.text and "该大屏链接已失效" in fragment.text


def test_opening_the_screen_marks_the_link_used(client, session):
    _, raw = service.create_screen(session, who(session, "county_staff"), name="大屏",
                                 org_id=f.org(session, WUHUA).id)
    assert _link(session, "大屏").last_used_at is None
    assert client.get(f"/d/{raw}", follow_redirects=False).status_code == 200
    assert _link(session, "大屏").last_used_at is not None
