"""意见建议的跟踪 pages: the subtree's list (fragment for htmx, filters, the form for the office only),
the activity page's part, a form sent wrong or stale, and hostile text shown as text."""

from __future__ import annotations

from datetime import date

import pytest

from app.suggestions import service
from tests import factories as f
from tests.suggestions.conftest import YEAR

pytestmark = pytest.mark.dates
SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
HOSTILE = '<script>alert("x")</script>局'


@SQLITE
def test_list_page_fragment_and_form(client, session, world):
    a = world.made(3)
    world.set(a, "reported", department=HOSTILE)
    f.login_as(client, session, world.staff)
    page = client.get("/suggestions/530100")
    assert page.status_code == 200 and "<html" in page.text and "意见建议跟踪" in page.text
    assert HOSTILE not in page.text and "&lt;script&gt;" in page.text
    assert "采纳率" in page.text and "已报送" in page.text and f'action="/suggestions/activities/{a.id}"' in page.text
    fragment = client.get("/suggestions/530100?state=none", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text and "没有待跟踪的意见建议" in fragment.text
    assert client.get("/suggestions/530100?state=bogus").status_code == 422
    f.login_as(client, session, world.kunming_viewer)
    assert 'action="/suggestions/activities/' not in client.get("/suggestions/530100").text  # reads only
    f.login_as(client, session, world.outsider)
    assert client.get("/suggestions/530100").status_code == 404


@SQLITE
def test_the_form_posts_and_redirects_or_comes_back_with_errors(client, session, world):
    a = world.made(2)
    f.login_as(client, session, world.staff)
    back = "/suggestions/530100?state=all&page=1"
    sent = client.post(f"/suggestions/activities/{a.id}", follow_redirects=False, data={
        "state": "implemented", "department": "县住建局", "state_on": date(YEAR, 7, 1).isoformat(), "version": "0",
        "back": back})
    assert sent.status_code == 303 and sent.headers["location"] == back + "&done=1"
    assert service.state_of(session, world.p(world.staff), a.id).label == "已落实"
    wrong = client.post(f"/suggestions/activities/{a.id}", data={
        "state": "adopted", "department": "", "state_on": "not-a-date", "version": "1"})
    assert wrong.status_code == 422 and "请填写接收部门" in wrong.text and "请填写日期" in wrong.text
    stale = client.post(f"/suggestions/activities/{a.id}", data={
        "state": "declined", "department": "县住建局", "state_on": date(YEAR, 7, 2).isoformat(), "version": "0"})
    assert stale.status_code == 409 and "已被他人更新" in stale.text and "县住建局" in stale.text
    htmx = client.post(f"/suggestions/activities/{a.id}", headers={"HX-Request": "true"}, data={
        "state": "declined", "department": "县住建局", "state_on": date(YEAR, 7, 2).isoformat(), "version": "1",
        "back": "https://evil.example/"})
    assert htmx.status_code == 204 and htmx.headers["HX-Redirect"].startswith(f"/suggestions/activities/{a.id}")


@SQLITE
def test_the_activity_page_shows_the_state_and_the_office_form(client, session, world):
    a = world.made(2)
    world.set(a, "adopted", department=HOSTILE)
    f.login_as(client, session, world.staff)
    page = client.get(f"/activities/{a.id}")
    assert page.status_code == 200 and "意见建议跟踪" in page.text and "已采纳" in page.text
    assert HOSTILE not in page.text and "&lt;script&gt;" in page.text and "更新跟踪情况" in page.text
    f.login_as(client, session, world.member)  # the recorder sees the state, not the form
    page = client.get(f"/activities/{a.id}")
    assert "已采纳" in page.text and "更新跟踪情况" not in page.text
    other = f.make_activity(session, recorder=world.member, credited=world.wuhua, county=world.wuhua,
                            task_=world.other, values={world.other_count.id: 1})
    assert "意见建议跟踪" not in client.get(f"/activities/{other.id}").text
