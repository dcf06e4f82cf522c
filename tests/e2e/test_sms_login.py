"""A member who never set a password signs in on a phone (360×740) with an SMS code and records an
activity. The code is read where a developer would read it: the ``log`` provider's mailbox (table
``sms_log``), written by the served process's own sender (app/notify/worker.py) — nothing is read
from the outbox or the code table.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import Server, serve_app
from tests.e2e.test_member_flow import CREATED, PHONE, _fill_the_form, _no_sideways_scroll, photo  # noqa: F401


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    with serve_app(tmp_path_factory.mktemp("sms-login"), demo_activities=300) as running:
        yield running


def _query(server: Server, sql: str, *args: object) -> list[tuple]:
    with sqlite3.connect(server.db) as conn:
        return conn.execute(sql, args).fetchall()


def _member_without_password(server: Server) -> str:
    """The phone of a county's serving member whose account was never activated (the demo's usual
    member; a county's, so the activity form starts at the member's own county)."""
    [(phone,)] = _query(server, "SELECT u.login FROM user_account u JOIN membership m ON m.member_id = u.member_id "
                                "JOIN organisation o ON o.id = m.org_id WHERE o.level = 'county' "
                                "AND u.password_hash IS NULL AND u.last_login_at IS NULL AND u.is_active "
                                "AND m.end_date IS NULL ORDER BY u.id LIMIT 1")
    return phone


def _code_from_the_log_provider(server: Server, phone: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while True:
        rows = _query(server, "SELECT params FROM sms_log WHERE phone = ? AND template = 'login_code' "
                              "ORDER BY id DESC LIMIT 1", phone)
        if rows:
            return json.loads(rows[0][0])["code"]
        assert time.monotonic() < deadline, "the sender put no login code in sms_log"
        time.sleep(0.2)


def test_a_member_without_a_password_signs_in_by_sms_and_records(server, browser, artifacts, photo):  # noqa: F811
    phone = _member_without_password(server)
    page = browser.new_page(viewport=PHONE)
    try:
        page.goto(server.base + "/login")
        page.click("text=短信验证码登录")
        page.fill("input[name=login]", phone)
        page.click("button[formaction='/login/sms-code']")
        notice = page.locator(".alert-ok")
        notice.wait_for()
        assert "如果该手机号已登记，验证码已发送，5 分钟内有效" in notice.inner_text()
        resend = page.locator("button[formaction='/login/sms-code']")
        assert resend.is_disabled() and re.search(r"（\d+ 秒）", resend.inner_text())  # the 60 s countdown
        assert _no_sideways_scroll(page)
        page.screenshot(path=str(artifacts / "sms-login-360x740.png"), full_page=True)

        page.fill("input[name=code]", _code_from_the_log_provider(server, phone))
        page.check("input[name=remember]")
        page.click("form.form button.btn-primary")
        page.wait_for_url(server.base + "/")
        cookie = next(c for c in page.context.cookies() if c["name"] == "szt_session")
        assert cookie["expires"] > time.time() + 100 * 86400  # 记住我: kept for months, not days

        page.goto(server.base + "/activities/new")
        description = f"短信登录后记录 {uuid.uuid4().hex[:8]}"
        _fill_the_form(page, server, description, photo)
        page.click("#activity-form .submit")
        page.wait_for_url(CREATED)
        [(recorder_login,)] = _query(server, "SELECT u.login FROM activity a JOIN user_account u "
                                             "ON u.id = a.recorder_user_id WHERE a.description = ?", description)
        assert recorder_login == phone

        page.goto(server.base + "/account")
        assert "设置密码" in page.inner_text("main") and "短信验证码登录 · 记住我" in page.inner_text("main")
        assert _no_sideways_scroll(page)
        page.screenshot(path=str(artifacts / "account-sessions-360x740.png"), full_page=True)
        # Signed in once: the account is activated, still without a password.
        [(has_password, last_login)] = _query(server, "SELECT password_hash IS NOT NULL, last_login_at "
                                                      "FROM user_account WHERE login = ?", phone)
        assert not has_password and last_login is not None
    finally:
        page.close()
