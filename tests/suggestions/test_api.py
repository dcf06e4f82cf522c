"""意见建议的跟踪 in the JSON API: read and update an activity's state (404 outside, 403 reading only,
409 stale), a subtree's list by state, 采纳率 for a period."""

from __future__ import annotations

from datetime import date

import pytest

from tests import factories as f
from tests.api.conftest import bearer, make_token
from tests.suggestions.conftest import YEAR

pytestmark = pytest.mark.dates
SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def _body(**kw):
    return {"state": "adopted", "department": "县农业农村局", "state_on": date(YEAR, 6, 1).isoformat(), "version": 0,
            **kw}


@SQLITE
def test_the_office_updates_and_reads_a_state(client, session, world):
    a = world.made(3)
    f.login_as(client, session, world.staff)
    got = client.get(f"/api/v1/suggestions/{a.id}")
    assert got.status_code == 200 and got.json()["state"] is None and got.json()["version"] == 0
    assert got.json()["items"] == 3 and got.json()["may_change"] is True
    made = client.post(f"/api/v1/suggestions/{a.id}", json=_body())
    assert made.status_code == 200, made.text
    assert made.json()["state"] == "adopted" and made.json()["state_label"] == "已采纳" and made.json()["version"] == 1
    assert client.post(f"/api/v1/suggestions/{a.id}", json=_body()).json()["version"] == 1  # a retry
    stale = client.post(f"/api/v1/suggestions/{a.id}", json=_body(state="implemented"))
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    bad = client.post(f"/api/v1/suggestions/{a.id}", json=_body(state="lost"))
    assert bad.status_code == 422
    adoption = client.get(f"/api/v1/orgs/530100/suggestions/adoption?period={YEAR}-ytd11").json()
    assert (adoption["made"], adoption["adopted"], adoption["rate"]) == (3, 3, 1.0)
    listed = client.get("/api/v1/orgs/530100/suggestions?state=adopted").json()
    assert listed["total"] == 1 and listed["items"][0]["department"] == "县农业农村局"
    assert listed["items"][0]["org"] == world.wuhua.name
    summary = client.get(f"/api/v1/reports/summary?org=530100&from={YEAR}-01&to={YEAR}-11").json()
    assert summary["suggestions"] == {"made": 3, "reported": 0, "adopted": 3, "implemented": 0, "declined": 0,
                                      "untracked": 0, "rate": 1.0}


@SQLITE
def test_scoped_like_the_rest(client, session, world):
    a = world.made(2)
    f.login_as(client, session, world.outsider)
    assert client.get(f"/api/v1/suggestions/{a.id}").status_code == 404
    assert client.post(f"/api/v1/suggestions/{a.id}", json=_body()).status_code == 404
    assert client.get("/api/v1/orgs/530100/suggestions").status_code == 404
    assert client.get("/api/v1/orgs/530100/suggestions/adoption").status_code == 404
    f.login_as(client, session, world.kunming_viewer)
    assert client.get(f"/api/v1/suggestions/{a.id}").status_code == 200
    refused = client.post(f"/api/v1/suggestions/{a.id}", json=_body())
    assert refused.status_code == 403 and refused.json()["code"] == "staff_only"
    empty = client.get(f"/api/v1/orgs/530300/suggestions/adoption?period={YEAR}")
    assert empty.status_code == 404


@SQLITE
def test_tokens_read_but_never_write(client, session, world):
    a = world.made(2)
    _, aggregate = make_token(session, code="530100", level="aggregate")
    _, records = make_token(session, code="530100", level="records")
    got = client.get(f"/api/v1/orgs/530100/suggestions/adoption?period={YEAR}", headers=bearer(aggregate))
    assert got.status_code == 200 and got.json()["made"] == 2 and got.json()["rate"] == 0.0
    assert client.get("/api/v1/orgs/530100/suggestions", headers=bearer(aggregate)).status_code == 403
    assert client.get("/api/v1/orgs/530100/suggestions", headers=bearer(records)).status_code == 200
    assert client.post(f"/api/v1/suggestions/{a.id}", json=_body(), headers=bearer(records)).status_code == 403
