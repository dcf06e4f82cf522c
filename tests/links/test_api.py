"""/api/v1/links: status codes, JSON bodies, replays, scope, roles, CSRF, the OpenAPI description."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from app.clock import today_cn
from app.models import AuditLog, GrantRole, LinkAssignment
from tests import factories as f
from tests.links.conftest import YEAR, as_user, assigned

pytestmark = pytest.mark.dates

URL = "/api/v1/links"


def _body(world, **overrides) -> dict:
    body = {"leader_member_id": world.vice_chair.id, "county_id": world.panlong.id, "role": "lead",
            "start_date": f"{YEAR}-03-01", "note": "牵头"}
    body.update(overrides)
    return body


def _count(session, model=LinkAssignment) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_create_answers_201_then_replays_the_same_link_with_200(client, world):
    as_user(client, world, world.province_staff)
    first = client.post(URL, json=_body(world))
    assert first.status_code == 201, first.text
    data = first.json()
    assert first.headers["location"] == f"{URL}/{data['id']}"
    assert (data["leader_name"], data["leader_post"], data["county_name"], data["role_label"]) == (
        "省副主席甲", "云南省政协副主席", "盘龙区", "挂联领导")
    assert data["state"] == "active" and data["needs_reassignment"] is False and data["end_date"] is None
    assert world.vice_chair.phone not in first.text  # phone numbers never leave in JSON

    again = client.post(URL, json=_body(world))
    assert again.status_code == 200 and again.json()["id"] == data["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert _count(world.session) == 1

    clash = client.post(URL, json=_body(world, note="另一条", start_date=f"{YEAR}-05-01"))
    assert clash.status_code == 409
    assert clash.json()["code"] == "link_overlap" and "时间不能重叠" in clash.json()["detail"]
    assert _count(world.session) == 1


def test_bad_input_is_a_chinese_422_and_nothing_is_written(client, world):
    as_user(client, world, world.province_staff)
    r = client.post(URL, json=_body(world, end_date=f"{YEAR}-01-01"))
    assert r.status_code == 422 and r.json()["code"] == "invalid"
    assert r.json()["errors"] == {"end_date": "结束日期须晚于开始日期"}
    r = client.post(URL, json=_body(world, leader_member_id=world.plain_standing.id))
    assert r.status_code == 422 and r.json()["code"] == "not_a_leader" and "主席会议成员" in r.json()["detail"]
    r = client.post(URL, json=_body(world, county_id=2**40))
    assert r.status_code == 422 and r.json()["code"] == "validation_error"
    r = client.post(URL, json=_body(world, role="boss"))
    assert r.status_code == 422
    r = client.post(URL, json=_body(world, unexpected=1))
    assert r.status_code == 422
    assert _count(world.session) == 0


@pytest.mark.parametrize("who", ["member_user", "viewer"])
def test_members_and_viewers_cannot_assign(client, world, who):
    as_user(client, world, getattr(world, who))
    r = client.post(URL, json=_body(world))
    assert r.status_code == 403 and r.json()["code"] == "forbidden" and "安排挂联" in r.json()["detail"]
    assert _count(world.session) == 0


def test_outsiders_cannot_assign_outside_their_subtree(client, world):
    # A county the caller does not even read is not revealed (404), as every organisation loader answers.
    as_user(client, world, world.outsider_staff)  # 曲靖's office
    r = client.post(URL, json=_body(world))
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    as_user(client, world, world.county_staff)  # 五华区's office, into the sibling county
    r = client.post(URL, json=_body(world, leader_member_id=world.kunming_sg.id))
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    # Reads the whole province, makes 挂联 only in 曲靖: may read 盘龙区, may not change it.
    as_user(client, world, f.make_user(world.session, grants=((GrantRole.viewer, world.province),
                                                              (GrantRole.staff, world.qujing))))
    r = client.post(URL, json=_body(world, leader_member_id=world.qujing_vice.id))
    assert r.status_code == 403 and r.json()["code"] == "place_out_of_scope"
    assert _count(world.session) == 0


def test_writes_need_the_csrf_header(client, world):
    as_user(client, world, world.province_staff)
    del client.headers["X-CSRF-Token"]
    r = client.post(URL, json=_body(world))
    assert r.status_code == 403 and r.json()["code"] in ("csrf_failed", "bad_origin")
    assert _count(world.session) == 0


def test_anonymous_callers_are_401(client, world):
    assert client.get(URL).status_code == 401
    # An anonymous write fails the CSRF check (403) before it could ask who is calling (401).
    assert client.post(URL, json=_body(world)).status_code in (401, 403)
    assert _count(world.session) == 0


def test_list_is_scoped_and_filtered(client, world):
    panlong = assigned(world)
    qilin = assigned(world, leader_member_id=world.qujing_vice.id, county_id=world.qilin.id)
    old = assigned(world, county_id=world.wuhua.id, start_date=date(2024, 1, 1), end_date=date(2024, 12, 31))
    as_user(client, world, world.outsider_staff)
    r = client.get(URL)
    assert r.status_code == 200 and [i["id"] for i in r.json()["items"]] == [qilin.id] and r.json()["total"] == 1
    assert client.get(f"{URL}/{panlong.id}").status_code == 404
    as_user(client, world, world.viewer)
    ids = lambda **q: {i["id"] for i in client.get(URL, params=q).json()["items"]}  # noqa: E731
    assert ids() == {panlong.id, qilin.id, old.id}
    assert ids(state="open") == {panlong.id, qilin.id}
    assert ids(active_on="2024-06-01") == {old.id}
    assert ids(county_id=world.wuhua.id) == {old.id}
    assert ids(leader_member_id=world.qujing_vice.id) == {qilin.id}
    assert ids(prefecture_id=world.kunming.id) == {panlong.id, old.id}
    page = client.get(URL, params={"per_page": 1, "page": 2}).json()
    assert (page["total"], page["page"], page["per_page"], len(page["items"])) == (3, 2, 1, 1)
    assert client.get(URL, params={"state": "nonsense"}).status_code == 422
    assert client.get(URL, params={"active_on": "not-a-date"}).status_code == 422
    assert client.get(f"{URL}/{panlong.id}").json()["county_name"] == "盘龙区"


def test_end_keeps_the_link_and_audits_it(client, world):
    link = assigned(world)
    as_user(client, world, world.province_staff)
    today = today_cn()
    r = client.post(f"{URL}/{link.id}/end", json={"reason": "换届"})
    assert r.status_code == 200 and r.json()["end_date"] == today.isoformat()
    assert client.post(f"{URL}/{link.id}/end").status_code == 409
    assert client.get(f"{URL}/{link.id}").json()["end_date"] == today.isoformat()
    entry = world.session.scalar(select(AuditLog).where(AuditLog.action == "link.end"))
    assert entry.target_id == str(link.id) and "换届" in entry.after
    r = client.post(f"{URL}/{assigned(world, county_id=world.wuhua.id).id}/end",
                    json={"end_date": (today + timedelta(days=3)).isoformat()})
    assert r.status_code == 422 and "end_date" in r.json()["errors"]


def test_change_takes_only_the_fields_sent(client, world):
    link = assigned(world)
    as_user(client, world, world.province_staff)
    r = client.patch(f"{URL}/{link.id}", json={"role": "liaison"})
    assert r.status_code == 200 and r.json()["role"] == "liaison" and r.json()["note"] == ""
    assert r.json()["start_date"] == f"{YEAR}-03-01"
    r = client.patch(f"{URL}/{link.id}", json={"end_date": f"{YEAR - 1}-01-01"})
    assert r.status_code == 422 and "end_date" in r.json()["errors"]
    as_user(client, world, world.outsider_staff)
    assert client.patch(f"{URL}/{link.id}", json={"note": "x"}).status_code == 404
    assert client.post(f"{URL}/{link.id}/end").status_code == 404
    as_user(client, world, world.viewer)  # reads it, may not change it
    assert client.patch(f"{URL}/{link.id}", json={"note": "x"}).status_code == 403


def test_coverage_json_lists_the_uncovered_first(client, world):
    assigned(world)
    as_user(client, world, world.viewer)
    r = client.get(f"{URL}/coverage")
    assert r.status_code == 200
    body = r.json()
    assert (body["total"], body["uncovered"], body["covered"]) == (3, 2, 1)
    assert [row["status"] for row in body["rows"]] == ["uncovered", "uncovered", "covered"]
    assert body["rows"][-1]["leaders"][0]["name"] == "省副主席甲"
    r = client.get(f"{URL}/coverage", params={"prefecture_id": world.qujing.id})
    assert [row["county_name"] for row in r.json()["rows"]] == ["麒麟区"]
    as_user(client, world, world.member_user)
    assert client.get(f"{URL}/coverage").status_code == 403


def test_the_api_is_documented(client):
    spec = client.get("/openapi.json").json()
    create = spec["paths"]["/api/v1/links"]["post"]
    assert create["summary"].startswith("安排挂联") and {"200", "201", "401", "403", "409", "422"} <= set(create["responses"])
    assert "时间重叠" in create["responses"]["409"]["description"]
    assert spec["paths"]["/api/v1/links/{link_id}/end"]["post"]["summary"].startswith("结束挂联")
    assert spec["paths"]["/api/v1/links/{link_id}"]["patch"]["responses"]["404"]["description"].startswith("找不到")
    listing = spec["paths"]["/api/v1/links"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"county_id", "site_id", "leader_member_id", "active_on", "state"}
    assert "/api/v1/links/coverage" in spec["paths"]
    assert "/links/coverage" not in spec["paths"]  # the pages are not part of the API
