"""A reminder campaign on a 360 px phone: the key county's office opens its inactive list, picks 从未激活,
previews and sends a reminder; the server's sender delivers it through the log provider (SZT_ENV=dev),
and the campaign's page shows every SMS delivered."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import Server, serve_app

COUNTY_STAFF, PASSWORD = "13900000004", "demo2026"  # app/seed/demo.py
MESSAGE = "请用手机号和短信验证码登录双助推行动平台，记录您参加的助推活动。"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    # Quiet hours off: the test must not depend on the hour it runs at.
    with serve_app(tmp_path_factory.mktemp("reminders"), demo_activities=300,
                   env={"SZT_SMS_QUIET_START": "0", "SZT_SMS_QUIET_END": "0"}) as running:
        yield running


def test_the_office_sends_a_reminder_and_sees_it_delivered(server, browser, artifacts) -> None:
    page = browser.new_page(viewport={"width": 360, "height": 740})
    page.on("dialog", lambda dialog: dialog.accept())  # the send button's 「确定向 N 名委员发送提醒？」
    try:
        page.goto(server.base + "/login?next=/boards")
        page.fill("input[name=login]", COUNTY_STAFF)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/boards/**")
        code = page.url.split("/boards/")[1].split("?")[0]
        page.goto(f"{server.base}/boards/{code}/inactive")
        page.locator(".review-tabs a", has_text="从未激活").click()
        page.wait_for_url("**segment=never_activated**")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scrolling
        page.locator("a.btn-primary", has_text="发提醒").click()
        page.wait_for_url("**/reminders/new**")
        page.fill("#f-message", MESSAGE)
        page.locator("button", has_text="预览").click()
        sample = page.locator("[data-testid=sample]")
        sample.filter(has_text=MESSAGE).wait_for()
        assert sample.inner_text().startswith("【") and "委员您好：" in sample.inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        page.screenshot(path=str(artifacts / "reminder-preview-360x740.png"), full_page=True)
        page.locator("button", has_text="发送提醒").click()
        page.wait_for_url("**/reminders/*")
        campaign_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
        with sqlite3.connect(server.db) as conn:
            sms = conn.execute("SELECT count(*) FROM notification WHERE campaign_id = ? AND channel = 'sms'",
                               (campaign_id,)).fetchone()[0]
        assert sms > 0
        # The page polls itself while SMS wait; the sender delivers within a few seconds.
        page.locator("[data-testid=delivered]").filter(has_text=f"{sms:,}（100.0%）").wait_for(timeout=60_000)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        page.screenshot(path=str(artifacts / "reminder-results-360x740.png"), full_page=True)
        with sqlite3.connect(server.db) as conn:
            logged = conn.execute("SELECT count(*) FROM sms_log WHERE template = 'reminder' AND body LIKE ?",
                                  (f"%{MESSAGE}%",)).fetchone()[0]
        assert logged == sms  # the log provider kept each one, once
    finally:
        page.close()
