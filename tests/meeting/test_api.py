"""The meeting's JSON API: the 问题清单 and 督办事项 under /api/v1, scoped like the boards."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.clock import today_cn
from tests import factories as f
from tests.api.conftest import bearer, make_token
from tests.meeting.conftest import YEAR

pytestmark = pytest.mark.dates
SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@SQLITE
def test_problems_are_read_in_scope(client, session, world):
    world.target(world.kunming, 1200)
    f.login_as(client, session, world.kunming_viewer)
    got = client.get(f"/api/v1/orgs/530100/problems?period={YEAR}-ytd11")
    assert got.status_code == 200
    body = got.json()
    assert body["org"] == {"code": "530100", "name": world.kunming.name} and body["period"] == f"{YEAR}-ytd11"
    kinds = {i["kind"] for i in body["items"]}
    assert {"behind_pace", "uncovered_county"} <= kinds
    item = next(i for i in body["items"] if i["kind"] == "behind_pace")
    assert item["figures"]["target"] == 1200 and item["why"] and item["link"].startswith("/boards/530100/activities")
    assert client.get("/api/v1/orgs/530300/problems").status_code == 404  # outside 昆明
    assert client.get("/api/v1/orgs/530100/problems?period=bad").status_code == 422


@SQLITE
def test_tokens_need_the_records_level(client, session, world):
    _, aggregate = make_token(session, code="530100", level="aggregate")
    _, records = make_token(session, code="530100", level="records")
    assert client.get("/api/v1/orgs/530100/problems", headers=bearer(aggregate)).status_code == 403
    assert client.get("/api/v1/orgs/530100/problems", headers=bearer(records)).status_code == 200
    assert client.get("/api/v1/orgs/530100/follow-ups", headers=bearer(records)).status_code == 200
    made = client.post("/api/v1/orgs/530100/follow-ups", headers={**bearer(records), "Idempotency-Key": "t"},
                       json={"owner_org": "530102", "title": "x", "due_on": today_cn().isoformat(),
                             "done_criteria": "y"})
    assert made.status_code == 403  # writing is for people


@SQLITE
def test_create_list_and_close_follow_ups(client, session, world):
    f.login_as(client, session, world.staff)
    due = (today_cn() + timedelta(days=20)).isoformat()
    body = {"period": f"{YEAR}-ytd11", "source_kind": "uncovered_county", "source_ref": "county:530102",
            "owner_org": "530102", "due_on": due, "done_criteria": "落实挂联领导"}
    assert client.post("/api/v1/orgs/530100/follow-ups", json=body).status_code == 422  # no Idempotency-Key
    made = client.post("/api/v1/orgs/530100/follow-ups", json=body, headers={"Idempotency-Key": "abc"})
    assert made.status_code == 201, made.text
    fu = made.json()
    assert fu["status"] == "open" and fu["owner"]["code"] == "530102" and fu["then"]["figures"]["status"] == "uncovered"
    again = client.post("/api/v1/orgs/530100/follow-ups", json=body, headers={"Idempotency-Key": "abc"})
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true" and again.json()["id"] == fu["id"]

    listed = client.get(f"/api/v1/orgs/530100/follow-ups?status=open&period={YEAR}-ytd11").json()
    assert listed["total"] == 1 and listed["items"][0]["still_listed"] is True
    assert listed["items"][0]["now"]["figures"]["status"] == "uncovered"

    close = f"/api/v1/follow-ups/{fu['id']}/close"
    assert client.post(close, json={"note": " ", "version": 1}).status_code == 422
    stale = client.post(close, json={"note": "已落实", "version": 2})
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version" and "他人" in stale.json()["detail"]
    closed = client.post(close, json={"note": "已落实", "version": 1})
    assert closed.status_code == 200 and closed.json()["status"] == "done" and closed.json()["version"] == 2
    assert client.get("/api/v1/orgs/530100/follow-ups?status=done").json()["total"] == 1

    client.cookies.clear()
    f.login_as(client, session, world.outsider)
    assert client.post(close, json={"note": "x", "version": 2}).status_code == 404
    assert client.get("/api/v1/orgs/530100/follow-ups").status_code == 404
