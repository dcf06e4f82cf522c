"""站内消息 on a 360 px phone: the office returns one of the member's activities with a reason, and the
member sees it under 消息 — the bell counts 1, the list shows the reason, opening it marks it read
and leads to the activity."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from app.clock import today_cn
from tests.e2e.conftest import Server, log_in_http, serve_app

MEMBER, PROVINCE_STAFF, PASSWORD = "13900000007", "13900000002", "demo2026"  # app/seed/demo.py
REASON = "佐证照片看不清，请补充现场照片"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    with serve_app(tmp_path_factory.mktemp("messages"), demo_activities=2000) as running:
        yield running


def _recorded_by_member(server: Server) -> int:
    """The demo member records an activity today (through the API, as the app would), one the office
    can then return: the demo member has none pending of their own."""
    with sqlite3.connect(server.db) as conn:
        assert conn.execute("SELECT count(*) FROM notification n JOIN user_account u ON u.id = n.user_id "
                            "WHERE u.login = ?", (MEMBER,)).fetchone()[0] == 0
        county_id, task_id = conn.execute(
            "SELECT a.county_id, a.task_id FROM activity a JOIN user_account u ON u.id = a.recorder_user_id "
            "WHERE u.login = ? ORDER BY a.id LIMIT 1", (MEMBER,)).fetchone()
        indicator = conn.execute("SELECT id FROM indicator WHERE task_id = ? AND kind = 'count' ORDER BY id LIMIT 1",
                                 (task_id,)).fetchone()[0]
    member, token = log_in_http(server.base, MEMBER, PASSWORD)
    body = {"task_id": task_id, "county_id": county_id, "occurred_on": today_cn().isoformat(),
            "description": "走访脱贫户，了解产业发展情况", "values": {str(indicator): "2"}}
    answer = member.post("/api/v1/activities", json=body, headers={"X-CSRF-Token": token, "Idempotency-Key": "e2e-msg"})
    if answer.status_code == 409:  # the demo has one like it today: say it is another
        body |= {"distinct_from": [c["id"] for c in answer.json()["candidates"]], "distinct_note": "另一次走访"}
        answer = member.post("/api/v1/activities", json=body,
                             headers={"X-CSRF-Token": token, "Idempotency-Key": "e2e-msg-2"})
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def test_a_returned_activity_reaches_the_member(server, browser, artifacts) -> None:
    activity_id = _recorded_by_member(server)
    staff, token = log_in_http(server.base, PROVINCE_STAFF, PASSWORD)
    returned = staff.post(f"/api/v1/activities/{activity_id}/return", json={"reason": REASON},
                          headers={"X-CSRF-Token": token})
    assert returned.status_code == 200, returned.text

    page = browser.new_page(viewport={"width": 360, "height": 740})
    try:
        page.goto(server.base + "/login?next=/activities/mine")
        page.fill("input[name=login]", MEMBER)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/activities/mine**")
        badge = page.locator(".topbar .bell .badge")
        badge.wait_for()
        assert badge.inner_text() == "1"

        page.locator(".topbar .bell").click()
        page.wait_for_url("**/messages")
        item = page.locator(".message-item.unread")
        assert item.count() == 1 and REASON in item.inner_text() and "活动被退回" in item.inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scrolling
        page.screenshot(path=str(artifacts / "messages-360x740.png"), full_page=True)

        item.locator("button.message-open").click()
        page.wait_for_url(f"**/activities/{activity_id}")
        page.goto(server.base + "/messages")
        assert page.locator(".message-item.unread").count() == 0
        page.locator(".topbar .bell").wait_for()
        assert page.locator(".topbar .bell .badge").count() == 0
    finally:
        page.close()
