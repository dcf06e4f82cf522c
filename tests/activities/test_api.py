"""The JSON API under /api/v1: status codes, JSON bodies, idempotency, scope, CSRF, OpenAPI."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.activities import service as svc
from app.clock import today_cn
from app.models import Activity, ActivityStatus, AuditLog
from tests import factories as f
from tests.activities.conftest import YEAR
from tests.activities.conftest import as_user as _as
from tests.activities.conftest import recorded as _recorded

pytestmark = pytest.mark.dates

URL = "/api/v1/activities"


def _body(world, **overrides) -> dict:
    """A JSON body for POST /api/v1/activities (dated a few days ago: the API's 'today' is real)."""
    body = {
        "task_id": world.task.id, "county_id": world.wuhua.id,
        "occurred_on": (today_cn() - timedelta(days=3)).isoformat(),
        "description": "在五华区开展义诊活动",
        "values": {str(world.count_ind.id): "1", str(world.money_ind.id): "8.5"},
    }
    body.update(overrides)
    return body




# --- recording ------------------------------------------------------------------------------------

def test_record_answers_201_then_replays_with_200_and_refuses_other_content(client, world):
    _as(client, world, world.member_user)
    first = client.post(URL, json=_body(world), headers={"Idempotency-Key": "abc-1"})
    assert first.status_code == 201, first.text
    data = first.json()
    assert data["status"] == "pending" and data["status_label"] == "待审核"
    assert data["credited_org_id"] == world.wuhua.id and data["county_name"] == "五华区"
    assert {v["display"] for v in data["values"]} == {"1", "8.5"}
    assert first.headers["location"] == f"{URL}/{data['id']}"
    assert world.member_user.login not in first.text  # phone numbers never leave in JSON

    again = client.post(URL, json=_body(world), headers={"Idempotency-Key": "abc-1"})
    assert again.status_code == 200 and again.json()["id"] == data["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert world.session.scalar(select(func.count()).select_from(Activity)) == 1

    other = client.post(URL, json=_body(world, description="另一条完全不同的活动"), headers={"Idempotency-Key": "abc-1"})
    assert other.status_code == 409
    assert other.json() == {"detail": other.json()["detail"], "code": "idempotency_conflict"}
    assert "提交编号" in other.json()["detail"]


def test_bad_values_answer_422_with_chinese_field_errors(client, world):
    _as(client, world, world.member_user)
    r = client.post(URL, json=_body(world, values={str(world.count_ind.id): "1.5", str(world.money_ind.id): "8.123"}),
                    headers={"Idempotency-Key": "bad-1"})
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "invalid" and world.count_ind.name in body["detail"]
    assert set(body["errors"]) == {f"value_{world.count_ind.id}", f"value_{world.money_ind.id}"}
    assert "整数" in body["errors"][f"value_{world.count_ind.id}"]
    assert "万元" in body["errors"][f"value_{world.money_ind.id}"]
    assert world.session.scalar(select(func.count()).select_from(Activity)) == 0


def test_future_date_and_schema_errors_are_422(client, world):
    _as(client, world, world.member_user)
    future = client.post(URL, json=_body(world, occurred_on=(today_cn() + timedelta(days=2)).isoformat()),
                         headers={"Idempotency-Key": "future"})
    assert future.status_code == 422 and future.json()["errors"] == {"occurred_on": "活动日期不能晚于今天"}
    shape = client.post(URL, json=_body(world, occurred_on="昨天"), headers={"Idempotency-Key": "shape"})
    assert shape.status_code == 422
    assert shape.json()["code"] == "validation_error" and shape.json()["detail"] == "请求格式不正确"
    assert shape.json()["errors"][0]["loc"] == ["body", "occurred_on"]


def test_missing_idempotency_key_is_refused(client, world):
    _as(client, world, world.member_user)
    r = client.post(URL, json=_body(world))
    assert r.status_code == 422 and r.json()["code"] == "idempotency_key_missing"
    assert "Idempotency-Key" in r.json()["detail"]


def test_staff_without_membership_records_only_on_behalf(client, world):
    _as(client, world, world.county_staff)
    r = client.post(URL, json=_body(world), headers={"Idempotency-Key": "s1"})
    assert r.status_code == 403 and r.json()["code"] == "not_a_member"
    ok = client.post(URL, json=_body(world, on_behalf=True, participant_member_ids=[world.colleague.id]),
                     headers={"Idempotency-Key": "s2"})
    assert ok.status_code == 201 and ok.json()["participants"] == ["同事委员"]


# --- authentication and CSRF ---------------------------------------------------------------------

def test_unauthenticated_requests_get_401_json(client, world):
    a = _recorded(world)
    for path in (URL, f"{URL}/{a.id}"):
        r = client.get(path)
        assert r.status_code == 401
        assert r.json() == {"detail": "请先登录", "code": "unauthenticated"}


def test_post_without_the_csrf_header_is_refused(client, world):
    a = _recorded(world)
    _as(client, world, world.county_staff)
    token = client.headers.pop("X-CSRF-Token")
    r = client.post(f"{URL}/{a.id}/verify")
    assert r.status_code == 403 and r.json()["code"] == "csrf_failed"
    wrong = client.post(f"{URL}/{a.id}/verify", headers={"X-CSRF-Token": "not-" + token})
    assert wrong.status_code == 403 and wrong.json()["code"] == "csrf_failed"
    assert world.session.get(Activity, a.id).status == ActivityStatus.pending


# --- transitions --------------------------------------------------------------------------------------

def test_the_transitions_through_the_api(client, world):
    a = _recorded(world)
    _as(client, world, world.county_staff)
    ok = client.post(f"{URL}/{a.id}/verify")
    assert ok.status_code == 200 and ok.json()["status"] == "verified" and ok.json()["reviewed_at"]
    twice = client.post(f"{URL}/{a.id}/verify")
    assert twice.status_code == 409 and twice.json()["code"] == "bad_transition"
    assert "已通过" in twice.json()["detail"]
    no_reason = client.post(f"{URL}/{a.id}/reopen", json={"reason": "  "})
    assert no_reason.status_code == 422 and no_reason.json()["errors"] == {"reason": "请填写理由"}
    reopened = client.post(f"{URL}/{a.id}/reopen", json={"reason": "数据有误，需核实"})
    assert reopened.status_code == 200 and reopened.json()["status"] == "pending"
    assert reopened.json()["status_reason"] == "数据有误，需核实"
    returned = client.post(f"{URL}/{a.id}/return", json={"reason": "请补充照片"})
    assert returned.status_code == 200
    assert (returned.json()["status"], returned.json()["status_reason"]) == ("returned", "请补充照片")
    assert client.post(f"{URL}/{a.id}/return", json={"reason": "再退一次"}).json()["code"] == "bad_transition"
    assert client.post(f"{URL}/{a.id}/reopen", json={"reason": "已退回的不能重新打开"}).status_code == 409
    assert client.post(f"{URL}/{a.id}/return", json={}).status_code == 422  # the body needs a reason
    actions = world.session.scalars(select(AuditLog.action).where(
        AuditLog.target_type == "activity", AuditLog.target_id == str(a.id)).order_by(AuditLog.id)).all()
    assert actions == ["activity.create", "activity.verify", "activity.reopen", "activity.return"]


@pytest.mark.parametrize(("who", "expected"), [
    ("county_staff", 200), ("prefecture_staff", 200),  # the credited office, or an ancestor's
    ("member_user", 403),  # the recorder reads it but does not verify it
    ("panlong_staff", 403),  # the place's office reads it but does not verify it
    ("viewer", 403),  # reads the province, verifies nothing
    ("outsider_staff", 404), ("outsider_member_user", 404),  # cannot even see it
])
def test_who_may_verify(client, world, who, expected):
    a = _recorded(world, county_id=world.panlong.id)  # a 五华区 member helping in 盘龙区
    user = f.persona(world.session, "viewer") if who == "viewer" else getattr(world, who)
    _as(client, world, user)
    r = client.post(f"{URL}/{a.id}/verify")
    assert r.status_code == expected, r.text
    if expected != 200:
        assert set(r.json()) == {"detail", "code"}
        assert world.session.get(Activity, a.id).status == ActivityStatus.pending


@pytest.mark.parametrize("action", ["verify", "return", "reopen"])
def test_outsiders_get_404_for_every_transition(client, world, action):
    a = _recorded(world)
    _as(client, world, world.outsider_staff)
    r = client.post(f"{URL}/{a.id}/{action}", json=None if action == "verify" else {"reason": "理由"})
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    assert client.post(f"{URL}/999999999/{action}",
                       json=None if action == "verify" else {"reason": "理由"}).status_code == 404


# --- reading --------------------------------------------------------------------------------------------

def test_read_one_in_scope_or_404(client, world):
    a = _recorded(world)
    _as(client, world, world.member_user)
    r = client.get(f"{URL}/{a.id}")
    assert r.status_code == 200 and r.json()["id"] == a.id and r.json()["recorder_name"]
    _as(client, world, world.outsider_member_user)
    assert client.get(f"{URL}/{a.id}").status_code == 404
    _as(client, world, world.outsider_staff)
    assert client.get(f"{URL}/{a.id}").json()["code"] == "not_found"


def test_list_is_scoped_filtered_and_paginated(client, world):
    from datetime import date

    first = _recorded(world, key="a", occurred_on=date(YEAR, 11, 2))
    second = _recorded(world, key="b", occurred_on=date(YEAR, 11, 10), county_id=world.panlong.id,
                       description="在盘龙区开展义诊")
    third = _recorded(world, key="c", occurred_on=date(YEAR, 11, 18), participant_member_ids=[world.colleague.id],
                      description="与同事一起开展义诊")
    svc.verify(world.session, by=world.p(world.county_staff), activity_id=third.id)

    _as(client, world, world.county_staff)
    everything = client.get(URL).json()
    assert everything["total"] == 3 and [i["id"] for i in everything["items"]] == [third.id, second.id, first.id]
    assert world.member_user.login not in str(everything) and world.colleague.phone not in str(everything)
    assert [i["id"] for i in client.get(URL, params={"status": "verified"}).json()["items"]] == [third.id]
    assert [i["id"] for i in client.get(URL, params={"county_id": world.panlong.id}).json()["items"]] == [second.id]
    assert client.get(URL, params={"task_id": world.task.id}).json()["total"] == 3
    assert [i["id"] for i in client.get(URL, params={"member": "同事"}).json()["items"]] == [third.id]
    window = client.get(URL, params={"date_from": f"{YEAR}-11-05", "date_to": f"{YEAR}-11-15"}).json()
    assert [i["id"] for i in window["items"]] == [second.id]
    page = client.get(URL, params={"per_page": 1, "page": 2}).json()
    assert (page["total"], page["page"], page["per_page"], [i["id"] for i in page["items"]]) == (3, 2, 1, [second.id])
    assert client.get(URL, params={"status": "lost"}).status_code == 422

    # 盘龙区's office reads what was done there (by place), and nothing else.
    _as(client, world, world.panlong_staff)
    assert [i["id"] for i in client.get(URL).json()["items"]] == [second.id]
    for outsider in (world.outsider_staff, world.outsider_member_user):
        _as(client, world, outsider)
        assert client.get(URL).json() == {"items": [], "total": 0, "page": 1, "per_page": 50, "next_cursor": None}


# --- documentation ----------------------------------------------------------------------------------------

def test_openapi_documents_the_operations_and_their_errors(client):
    doc = client.get("/openapi.json").json()
    paths = doc["paths"]
    expected = {
        ("/api/v1/activities", "post"): {"200", "201", "401", "403", "409", "422"},
        ("/api/v1/activities", "get"): {"200", "401", "403", "422"},
        ("/api/v1/activities/{activity_id}", "get"): {"200", "401", "403", "404"},
        ("/api/v1/activities/{activity_id}/verify", "post"): {"200", "401", "403", "404", "409"},
        ("/api/v1/activities/{activity_id}/return", "post"): {"200", "401", "403", "404", "409", "422"},
        ("/api/v1/activities/{activity_id}/reopen", "post"): {"200", "401", "403", "404", "409", "422"},
    }
    for (path, method), codes in expected.items():
        op = paths[path][method]
        assert codes <= set(op["responses"]), (path, method, op["responses"].keys())
        assert op["summary"] and op["description"]
        for code in codes - {"200", "201"}:
            schema = op["responses"][code]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (path, method, code)
    error = doc["components"]["schemas"]["ErrorBody"]
    assert {"detail", "code"} <= set(error["required"])
    post = paths["/api/v1/activities"]["post"]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in post["parameters"])
    assert post["responses"]["201"]["content"]["application/json"]["schema"]["$ref"].endswith("/ActivityRead")
    assert "/review" not in paths  # the office's pages are not part of the API


def test_the_201_built_from_the_write_is_what_a_read_gives(client, world):
    """The answer to a new submission is built from what the write held (no read); it must be the
    very body a later GET of the activity gives: participants, names, values with an outcome, flags."""
    outcome = f.outcomes(world.session, world.task)
    _as(client, world, world.member_user)
    body = _body(world, participant_member_ids=[world.colleague.id],
                 values={str(world.count_ind.id): "3", str(world.money_ind.id): "12.5",
                         **{str(i.id): "40" for i in outcome.values()}})
    made = client.post(URL, json=body, headers={"Idempotency-Key": "same-as-read"})
    assert made.status_code == 201, made.text
    read = client.get(f"{URL}/{made.json()['id']}")
    assert read.status_code == 200
    assert made.json() == read.json()
    assert made.json()["participants"] == sorted(made.json()["participants"]) and len(made.json()["participants"]) == 2
    assert any(v["is_outcome"] for v in made.json()["values"])
