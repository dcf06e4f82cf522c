"""POST /api/v1/activities answered by the hot route (app/hot_routes.py) for the everyday request —
a signed-in member the principal cache holds, the CSRF token, a valid JSON body — and by FastAPI's
own route for every other, with the same answers either way."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app import hot_routes
from app.clock import today_cn
from app.models import Activity, AuditLog
from tests.activities.conftest import as_user

pytestmark = pytest.mark.dates

URL = "/api/v1/activities"


@pytest.fixture
def solved(fastapi_routed) -> list[str]:
    return fastapi_routed


def _body(world, days_ago: int = 3, **overrides) -> dict:
    body = {"task_id": world.task.id, "county_id": world.wuhua.id,
            "occurred_on": (today_cn() - timedelta(days=days_ago)).isoformat(),
            "description": "在五华区开展义诊活动",
            "values": {str(world.count_ind.id): "1", str(world.money_ind.id): "8.5"}}
    body.update(overrides)
    return body


def _signed_in(client, world) -> None:
    """The member signed in, and the principal cache holding them (their first request loads it)."""
    as_user(client, world, world.member_user)
    assert client.get(URL).status_code == 200


def test_the_everyday_submission_skips_fastapis_dependencies_and_answers_as_the_route_does(client, world, solved):
    _signed_in(client, world)
    solved.clear()
    first = client.post(URL, json=_body(world), headers={"Idempotency-Key": "hot-1"})
    assert first.status_code == 201, first.text
    assert solved == []  # answered by the hot route
    created = first.json()
    assert first.headers["location"] == f"{URL}/{created['id']}"
    assert first.headers["content-type"] == "application/json"
    assert created == client.get(f"{URL}/{created['id']}").json()
    assert world.session.scalars(select(AuditLog.action).where(
        AuditLog.target_type == "activity", AuditLog.target_id == str(created["id"]))).all() == ["activity.create"]

    solved.clear()
    again = client.post(URL, json=_body(world), headers={"Idempotency-Key": "hot-1"})
    assert (again.status_code, again.headers["idempotent-replayed"], again.json()) == (200, "true", created)
    assert solved == []
    assert world.session.scalar(select(func.count()).select_from(Activity)) == 1


def test_a_refused_use_case_on_the_hot_route_gets_the_applications_error_answer(client, world, solved):
    _signed_in(client, world)
    assert client.post(URL, json=_body(world), headers={"Idempotency-Key": "one"}).status_code == 201
    solved.clear()
    same_day = client.post(URL, json=_body(world, description="同一天又记一次"), headers={"Idempotency-Key": "two"})
    assert solved == []
    assert same_day.status_code == 409 and same_day.json()["code"] == "likely_duplicate"
    assert same_day.json()["candidates"][0]["occurred_on"] == _body(world)["occurred_on"]
    reused = client.post(URL, json=_body(world, description="另一条内容"), headers={"Idempotency-Key": "one"})
    assert reused.status_code == 409 and reused.json()["code"] == "idempotency_conflict"
    assert world.session.scalar(select(func.count()).select_from(Activity)) == 1


# Requests the hot route declines, each answered by FastAPI's route: (what it is, the request's changes).
DECLINED = [
    ("no CSRF token", {"csrf": None}),
    ("a wrong CSRF token", {"csrf": "forged"}),
    ("a field the model does not know", {"json": {"unknown": 1}}),
    ("a date that is not one", {"json": {"occurred_on": "昨天"}}),
    ("a body that is not JSON", {"content": b"{not json", "content_type": "application/json"}),
    ("a JSON list", {"content": b"[1, 2]", "content_type": "application/json"}),
    ("a form body", {"content": b"task_id=1", "content_type": "application/x-www-form-urlencoded"}),
    ("an empty body", {"content": b"", "content_type": "application/json"}),
]


def _send(client, world, key: str, *, csrf="keep", json=None, content=None, content_type=None):
    headers = {"Idempotency-Key": key}
    token = client.headers.get("X-CSRF-Token")
    if csrf != "keep":
        del client.headers["X-CSRF-Token"]
        if csrf is not None:
            headers["X-CSRF-Token"] = csrf
    try:
        if content is not None:
            headers["Content-Type"] = content_type
            return client.post(URL, content=content, headers=headers)
        return client.post(URL, json=_body(world, **(json or {})), headers=headers)
    finally:
        client.headers["X-CSRF-Token"] = token


@pytest.mark.parametrize(("what", "request_change"), DECLINED, ids=[d[0] for d in DECLINED])
def test_a_request_it_declines_is_answered_by_fastapis_route_exactly_as_before(
        client, world, solved, monkeypatch, what, request_change):
    _signed_in(client, world)
    solved.clear()
    hot = _send(client, world, "declined-1", **request_change)
    assert solved == [URL], what  # handed on, body and all
    # The same request when the hot route is not there to decline it (its resolver finds nobody).
    monkeypatch.setattr(hot_routes, "cached_principal_of", lambda request: None)
    plain = _send(client, world, "declined-2", **request_change)
    assert (hot.status_code, hot.json()) == (plain.status_code, plain.json()), what
    assert hot.status_code in (400, 403, 422), hot.text
    assert world.session.scalar(select(func.count()).select_from(Activity)) == 0


def test_a_caller_the_cache_does_not_hold_goes_fastapis_way_and_is_recorded(client, world, solved):
    as_user(client, world, world.member_user)  # no request yet: the cache has not loaded them
    solved.clear()
    r = client.post(URL, json=_body(world), headers={"Idempotency-Key": "cold"})
    assert r.status_code == 201 and solved == [URL]
    solved.clear()
    r = client.post(URL, json=_body(world, days_ago=4), headers={"Idempotency-Key": "warm"})
    assert r.status_code == 201 and solved == []  # the first request loaded them into the cache
    assert world.session.scalar(select(func.count()).select_from(Activity)) == 2


def test_an_api_token_is_never_answered_from_the_cookie(client, world, solved):
    _signed_in(client, world)
    solved.clear()
    r = client.post(URL, json=_body(world), headers={"Idempotency-Key": "tok", "Authorization": "Bearer szt_nonsense"})
    assert solved == [URL]
    assert r.status_code == 401
    assert world.session.scalar(select(func.count()).select_from(Activity)) == 0


def test_nobody_signed_in_gets_401_from_fastapis_route(client, world, solved):
    r = client.post(URL, json=_body(world), headers={"Idempotency-Key": "anon"})
    assert r.status_code == 401 and solved == [URL]
