"""The targets' JSON API: scoped reads, all-or-nothing writes, errors as {"detail", "code"}."""

from __future__ import annotations

import pytest

from tests import factories as f
from tests.targets.conftest import YEAR

pytestmark = pytest.mark.dates


def test_read_the_targets_of_an_org_and_its_children(client, session, world):
    world.put(world.kunming, world.count, 120)
    world.put(world.wuhua, world.money, 1250)
    f.login_as(client, session, world.kunming_viewer)  # readers may read
    r = client.get("/api/v1/targets", params={"year": YEAR})
    assert r.status_code == 200
    body = r.json()
    assert body["org_code"] == "530100" and body["year"] == YEAR and body["editable"] is False
    assert len(body["indicators"]) == 17
    money = next(i for i in body["indicators"] if i["id"] == world.money.id)
    assert money == {"id": world.money.id, "task": "医疗帮扶", "name": world.money.name, "unit": "万元", "kind": "money"}
    rows = {row["code"]: row for row in body["rows"]}
    assert rows["530100"]["is_self"] and rows["530100"]["targets"] == [
        {"indicator_id": world.count.id, "value": 120, "text": "120"}]
    assert rows["530102"]["targets"] == [{"indicator_id": world.money.id, "value": 1250, "text": "12.5"}]
    assert rows["530103"]["targets"] == []


def test_reading_outside_the_scope_is_not_found(client, session, world):
    f.login_as(client, session, world.county_staff)
    r = client.get("/api/v1/targets", params={"org": "530100"})
    assert r.status_code == 404 and r.json()["code"] == "not_found" and "找不到该组织" in r.json()["detail"]
    assert client.get("/api/v1/targets").json()["org_code"] == "530102"


def test_staff_put_targets(client, session, world):
    world.put(world.wuhua, world.count, 3)
    f.login_as(client, session, world.prefecture_staff)
    r = client.put("/api/v1/targets", json={"year": YEAR, "targets": [
        {"org": "530100", "indicator_id": world.count.id, "value": 40},
        {"org": "530102", "indicator_id": world.money.id, "value": 12.5},
        {"org": "530102", "indicator_id": world.count.id, "value": None},
    ]})
    assert r.status_code == 200, r.text
    assert r.json() == {"created": 2, "updated": 0, "unchanged": 0, "cleared": 1}
    assert world.target(world.kunming, world.count) == 40 and world.target(world.wuhua, world.money) == 1250
    assert world.target(world.wuhua, world.count) is None


def test_put_errors_name_each_target_and_save_nothing(client, session, world):
    f.login_as(client, session, world.prefecture_staff)
    r = client.put("/api/v1/targets", json={"year": YEAR, "targets": [
        {"org": "530100", "indicator_id": world.count.id, "value": "7"},
        {"org": "530102", "indicator_id": world.count.id, "value": "-1"},
    ]})
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "invalid_targets" and "全部未保存" in body["detail"]
    assert body["errors"] == {f"530102:{world.count.id}": f"{world.count.name}：目标不能为负数"}
    assert world.target(world.kunming, world.count) is None


def test_put_is_refused_to_readers_and_outside_the_scope(client, session, world):
    f.login_as(client, session, world.viewer)
    body = {"year": YEAR, "targets": [{"org": "530102", "indicator_id": world.count.id, "value": "1"}]}
    r = client.put("/api/v1/targets", json=body)
    assert r.status_code == 403 and r.json()["code"] == "staff_only"
    f.login_as(client, session, world.county_staff)
    body["targets"][0]["org"] = "530103"
    assert client.put("/api/v1/targets", json=body).status_code == 404
    body["targets"][0]["org"] = "530102"
    body["year"] = 2019
    r = client.put("/api/v1/targets", json=body)
    assert r.status_code == 422 and r.json()["code"] == "bad_year"
    assert world.target(world.wuhua, world.count) is None


def test_put_validates_its_shape(client, session, world):
    f.login_as(client, session, world.county_staff)
    r = client.put("/api/v1/targets", json={"year": YEAR, "targets": [{"org": "5301", "indicator_id": 1}]})
    assert r.status_code == 422 and r.json()["code"] == "validation_error"
    twice = {"org": "530102", "indicator_id": world.count.id, "value": "1"}
    r = client.put("/api/v1/targets", json={"year": YEAR, "targets": [twice, twice]})
    assert r.status_code == 422 and r.json()["code"] == "duplicate_target"


def test_the_api_is_documented(client):
    spec = client.get("/openapi.json").json()
    get, put = spec["paths"]["/api/v1/targets"]["get"], spec["paths"]["/api/v1/targets"]["put"]
    assert get["summary"].startswith("查看年度目标") and put["summary"].startswith("设置年度目标")
    assert "TargetsRead" in get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert {"401", "403", "404", "422"} <= set(put["responses"])
