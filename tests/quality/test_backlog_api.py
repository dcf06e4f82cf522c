"""GET /api/v1/orgs/{code}/backlog: the backlog rows as JSON, for callers who read the organisation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.clock import now_utc, today_cn
from tests import factories as f
from tests.quality.test_backlog import World

pytestmark = pytest.mark.dates


@pytest.fixture
def w(session) -> World:
    return World(session)


def test_the_backlog_as_json(client, w):
    w.activity(w.wuhua, submitted=now_utc() - timedelta(days=9))
    w.activity(w.kunming)
    f.login_as(client, w.session, w.viewer)
    r = client.get("/api/v1/orgs/530100/backlog")
    assert r.status_code == 200
    body = r.json()
    assert (body["code"], body["pending"], body["overdue"], body["oldest_age_days"]) == ("530100", 2, 1, 9)
    own, *children = body["rows"]
    assert own["code"] == "530100" and own["own"] and own["pending"] == 1 and own["sla_days"] == 7
    wuhua = next(c for c in children if c["code"] == "530102")
    assert wuhua["pending"] == 1 and wuhua["overdue"] == 1 and wuhua["oldest_age_days"] == 9
    assert wuhua["oldest_submitted_on"] == (today_cn() - timedelta(days=9)).isoformat()
    client.cookies.clear()
    f.login_as(client, w.session, w.outsider_staff)
    assert client.get("/api/v1/orgs/530100/backlog").json()["code"] == "not_found"
