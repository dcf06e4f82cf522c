"""The staff page of API tokens: create (shown once, never cached), list with use, revoke after a confirmation."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.models import ApiToken
from tests.factories import login_as, org, persona


def test_staff_create_see_the_token_once_and_revoke_it(client, session):
    login_as(client, session, persona(session, "prefecture_staff"))  # 昆明
    page = client.get("/tokens")
    assert page.status_code == 200 and "还没有 API 令牌" in page.text
    assert "曲靖" not in page.text  # only the caller's subtree is offered
    made = client.post("/tokens", data={"name": "昆明市乡村振兴局", "org_id": str(org(session, "530100").id),
                                        "level": "records", "days": "90", "rate_per_minute": "60"})
    assert made.status_code == 200 and made.headers["Cache-Control"] == "no-store"
    raw = re.search(r"szt_[A-Za-z0-9_-]{43}", made.text).group(0)
    token = session.scalar(select(ApiToken).where(ApiToken.name == "昆明市乡村振兴局"))
    assert token.level == "records" and token.rate_per_minute == 60
    listing = client.get("/tokens")
    assert "昆明市乡村振兴局" in listing.text and raw not in listing.text and token.prefix in listing.text
    # The token works until revoked.
    assert client.get("/api/v1/orgs", headers={"Authorization": f"Bearer {raw}"}).status_code == 200
    confirm = client.post(f"/tokens/{token.id}/revoke", data={})
    assert confirm.status_code == 200 and "确认撤销" in confirm.text
    session.refresh(token)
    assert token.revoked_at is None
    done = client.post(f"/tokens/{token.id}/revoke", data={"confirmed": "1"}, follow_redirects=False)
    assert done.status_code == 303
    session.refresh(token)
    assert token.revoked_at is not None
    assert client.get("/api/v1/orgs", headers={"Authorization": f"Bearer {raw}"}).status_code == 401


def test_bad_form_is_answered_beside_the_fields(client, session):
    login_as(client, session, persona(session, "prefecture_staff"))
    answer = client.post("/tokens", data={"name": "", "org_id": "", "level": "all", "days": "0"})
    assert answer.status_code == 422
    for message in ("请填写名称", "请选择令牌可读取的组织范围", "请选择令牌级别", "有效期为 1 到"):
        assert message in answer.text
    assert session.scalar(select(ApiToken.id)) is None


def test_members_and_outsiders_cannot_manage_tokens(client, session):
    login_as(client, session, persona(session, "prefecture_staff"))
    client.post("/tokens", data={"name": "看板", "org_id": str(org(session, "530100").id), "level": "aggregate"})
    token = session.scalar(select(ApiToken))
    login_as(client, session, persona(session, "member"))
    assert client.get("/tokens").status_code == 403
    login_as(client, session, persona(session, "outsider_staff"))
    assert client.post(f"/tokens/{token.id}/revoke", data={"confirmed": "1"}).status_code == 404
    assert client.post("/tokens", data={"name": "x", "org_id": str(org(session, "530100").id),
                                        "level": "aggregate"}).status_code == 404
    session.refresh(token)
    assert token.revoked_at is None
