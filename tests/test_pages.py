"""The front page."""

from __future__ import annotations

from app.models import AppMeta
from app.models.meta import DEMO_KEY


def test_home_names_the_province(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "云南省政协" in response.text
    assert "演示数据" not in response.text  # `init` data is real
    assert "htmx-2.0.11.min.js" in response.text


def test_home_labels_demo_data(client, session):
    session.add(AppMeta(key=DEMO_KEY, value="1"))
    session.flush()
    assert "演示数据" in client.get("/").text


def test_static_and_health(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/static/js/htmx-2.0.11.min.js").status_code == 200


def test_home_offers_each_role_its_next_step(client, session):
    from tests import factories as f

    anonymous = client.get("/").text
    assert 'href="/login"' in anonymous and "记录一次活动" not in anonymous
    f.login_as(client, session, f.persona(session, "member"))
    member = client.get("/").text
    assert 'href="/activities/new"' in member and 'href="/review"' not in member
    f.login_as(client, session, f.persona(session, "county_staff"))
    staff = client.get("/").text
    assert 'href="/review"' in staff and "代录活动" in staff and "记录一次活动" not in staff
