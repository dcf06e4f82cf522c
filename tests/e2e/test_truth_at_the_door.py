"""Truth at the door on a phone (360×740), in Chromium (issue 16's done-when): member A records an
activity; member B of the same county records the same one, is asked, taps 申请加入 and is in it (one
row, two participants); B then records "another activity" with a note — a second row, which the
county's office sees flagged in /review and merges into the first, after which the boards' totals
agree with the records (`rollup --check`). Also: Back after a submission keeps every field (values
loaded by htmx and the chosen site included), and submitting it again says 已提交成功.

The server is this module's own: the test reads its SQLite file (rows, participants, flags) and gives
a second member of the demo member's county the demo password.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import date

import pytest

from app import clock
from tests.e2e.conftest import PROJECT, Server, serve_app

MEMBER_A, COUNTY_STAFF, PASSWORD = "13900000007", "13900000004", "demo2026"  # app/seed/demo.py
PHONE = {"width": 360, "height": 740}
CREATED = re.compile(r"/activities/(\d+)\?created=1(&replayed=1)?$")


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    with serve_app(tmp_path_factory.mktemp("truth-at-the-door"), demo_activities=300) as running:
        yield running


def _sql(server: Server, query: str, *args) -> list[tuple]:
    with sqlite3.connect(server.db) as conn:
        return conn.execute(query, args).fetchall()


@pytest.fixture(scope="module")
def member_b(server) -> str:
    """Another serving member of member A's county organisation, given the demo password."""
    [(org_id, pw_hash)] = _sql(server, "SELECT g.org_id, u.password_hash FROM user_account u JOIN role_grant g "
                                       "ON g.user_id = u.id AND g.role = 'member' WHERE u.login = ?", MEMBER_A)
    today = clock.today_cn().isoformat()
    login = _sql(server, """
        SELECT u.login FROM user_account u JOIN role_grant g ON g.user_id = u.id AND g.role = 'member'
        JOIN membership m ON m.member_id = u.member_id AND m.org_id = g.org_id
        WHERE g.org_id = ? AND u.login != ? AND u.is_active AND m.start_date <= ?
          AND (m.end_date IS NULL OR m.end_date >= ?)
        ORDER BY u.id LIMIT 1""", org_id, MEMBER_A, today, today)[0][0]
    with sqlite3.connect(server.db) as conn:
        conn.execute("UPDATE user_account SET password_hash = ? WHERE login = ?", (pw_hash, login))
    return login


def _log_in(page, server: Server, login: str) -> None:
    page.goto(server.base + "/login")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.form button[type=submit]")
    page.wait_for_url(server.base + "/")


def _submitted(page, artifacts, name: str) -> None:
    """Wait for the submission to land on its activity's page. Every htmx request the form started
    (the site and duplicate look-ups) is let finish first; under load a slow one could otherwise
    swap the form while it is being sent. On a timeout, what the page says is in the failure."""
    try:
        page.wait_for_url(CREATED, timeout=60_000)
    except Exception as exc:
        page.screenshot(path=str(artifacts / f"truth-{name}-failed.png"), full_page=True)
        said = page.locator(".alert, .field-error, .toast").all_inner_texts()
        raise AssertionError(f"{name}: still on {page.url}; the page says {said}") from exc


def _submit(page, selector: str = "#activity-form .submit") -> None:
    page.wait_for_load_state("networkidle")
    page.click(selector)


def _no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def _free_day(server: Server, county_id: str, task_id: str) -> str:
    """A day of this month up to today with no activity of the task in the county (the demo has some)."""
    today = clock.today_cn()
    taken = {d for (d,) in _sql(server, "SELECT occurred_on FROM activity WHERE county_id = ? AND task_id = ?",
                                int(county_id), int(task_id))}
    for day in range(today.day, 0, -1):
        candidate = date(today.year, today.month, day).isoformat()
        if candidate not in taken:
            return candidate
    pytest.skip("every day of this month already has such an activity in the demo")


def _fill(page, *, task_id: str | None, day: str | None, description: str, value: str = "2") -> dict[str, str]:
    """Choose a task (htmx brings its inputs), fill its first value, the date and the description."""
    if task_id is None:
        page.select_option("#f-task", index=1)
    else:
        page.select_option("#f-task", task_id)
    first = page.locator("#values input[name^=value_]").first
    first.wait_for()
    first.fill(value)
    if day is not None:
        page.fill("#f-date", day)
    page.fill("#f-desc", description)
    return {"task_id": page.input_value("#f-task"), "county_id": page.input_value("#f-county"),
            "value_field": first.get_attribute("name"), "day": page.input_value("#f-date")}


def _rows(server: Server, county_id: str, task_id: str, day: str) -> list[tuple[int, str]]:
    return _sql(server, "SELECT id, status FROM activity WHERE county_id = ? AND task_id = ? AND occurred_on = ? "
                        "ORDER BY id", int(county_id), int(task_id), day)


def test_re_entry_is_joined_another_is_flagged_and_merged_and_back_keeps_every_field(
        server, member_b, browser, artifacts):
    a_page = browser.new_page(viewport=PHONE)
    b_page = browser.new_page(viewport=PHONE)
    staff = browser.new_page(viewport=PHONE)
    try:
        # --- member A records it, with a site; Back keeps every field -------------------------------
        _log_in(a_page, server, MEMBER_A)
        a_page.goto(server.base + "/activities/new")
        a_page.select_option("#f-task", index=1)
        task_id, county_id = a_page.input_value("#f-task"), a_page.input_value("#f-county")
        day = _free_day(server, county_id, task_id)
        description = f"到村里开展技术培训 {uuid.uuid4().hex[:6]}"
        typed = _fill(a_page, task_id=task_id, day=day, description=description)
        # A figure over its plausibility bound is pointed out while it is typed (never refused).
        field = a_page.locator(f"[name={typed['value_field']}]")
        hint = a_page.locator(f"#f-{typed['value_field']}-over")
        field.fill("99999")
        assert hint.is_visible() and "超过单次活动上限" in hint.inner_text()
        field.fill("2")
        assert hint.is_hidden()
        [(site_id, site_name)] = _sql(server, "SELECT id, name FROM site WHERE county_id = ? ORDER BY id LIMIT 1",
                                      int(county_id))
        a_page.fill("#f-site-q", site_name)
        site = a_page.locator(f"#site-options input[name=site_id][value='{site_id}']")
        site.wait_for()
        site.check()
        # Away and Back before submitting: every field comes back (the phone's draft, static/js/offline.js).
        a_page.goto(server.base + "/activities/mine")
        a_page.go_back()
        a_page.locator("#values input[name^=value_]").first.wait_for()
        a_page.wait_for_function("document.getElementById('f-desc').value !== ''")
        assert a_page.input_value("#f-task") == task_id and a_page.input_value(f"[name={typed['value_field']}]") == "2"
        assert a_page.input_value("#f-desc") == description and a_page.input_value("#f-date") == day
        assert a_page.locator("#site-options input[name=site_id]:checked").get_attribute("value") == str(site_id)
        assert site_name in a_page.locator("#site-options").inner_text()
        assert _no_sideways_scroll(a_page)
        a_page.screenshot(path=str(artifacts / "truth-back-keeps-fields-360x740.png"), full_page=True)
        _submit(a_page)
        _submitted(a_page, artifacts, "first")
        assert "已提交成功" in a_page.locator(".alert-ok").inner_text()
        [(first_id, status)] = _rows(server, county_id, task_id, day)
        assert status == "pending"

        a_page.go_back()  # accepted: the draft is gone and the form starts afresh, so no second row
        a_page.wait_for_selector("#activity-form[data-draft-ready]", state="attached")
        assert a_page.input_value("#f-desc") == "" and a_page.locator("[data-draft-note]").is_hidden()
        assert len(_rows(server, county_id, task_id, day)) == 1

        # --- member B records the same activity: asked, 申请加入, one row with two participants --------
        _log_in(b_page, server, member_b)
        b_page.goto(server.base + "/activities/new")
        _fill(b_page, task_id=task_id, day=day, description="同一次培训，我也去了")
        _submit(b_page)
        decision = b_page.locator("#decision")
        decision.wait_for()
        assert "申请加入" in decision.inner_text() and "这是另一次活动" in decision.inner_text()
        assert _no_sideways_scroll(b_page)
        b_page.screenshot(path=str(artifacts / "truth-decision-360x740.png"), full_page=True)
        decision.locator(".join").first.click()  # one tap
        b_page.wait_for_url(re.compile(rf"/activities/{first_id}\?joined=1$"))
        assert "已加入这次活动" in b_page.locator(".alert-ok").inner_text()
        assert len(_rows(server, county_id, task_id, day)) == 1
        [(participants,)] = _sql(server, "SELECT count(*) FROM activity_participant WHERE activity_id = ? "
                                         "AND status = 'confirmed'", first_id)
        assert participants == 2

        # --- B records "another activity" with a note: a second row, flagged --------------------------
        b_page.goto(server.base + "/activities/new")
        _fill(b_page, task_id=task_id, day=day, description="下午在另一个村又办了一场")
        _submit(b_page)
        decision = b_page.locator("#decision")
        decision.wait_for()
        assert "您已在这次活动的参与名单中" in decision.inner_text()
        b_page.fill("#f-distinct-note", "下午在另一个村，另一场培训")
        _submit(b_page, "#decision .distinct-submit")
        _submitted(b_page, artifacts, "distinct")
        second_id = int(CREATED.search(b_page.url).group(1))
        assert [r[0] for r in _rows(server, county_id, task_id, day)] == [first_id, second_id]
        assert ("duplicate",) in _sql(server, "SELECT code FROM activity_flag WHERE activity_id = ?", second_id)

        # --- the county's office sees the flag beside it in /review, and merges ---------------------
        _log_in(staff, server, COUNTY_STAFF)
        staff.goto(server.base + "/review?flag=duplicate")
        row = staff.locator(f"#activity-{second_id}")
        assert "疑似重复" in row.locator(".flag-badge.flag-duplicate").inner_text()
        assert "另一场培训" in row.inner_text()  # the recorder's note beside it
        assert _no_sideways_scroll(staff)
        staff.screenshot(path=str(artifacts / "truth-review-flag-360x740.png"), full_page=True)
        row.locator("a[href^='/review/']").filter(has_text="对比疑似重复").click()
        staff.wait_for_url(re.compile(rf"/review/{second_id}/duplicates"))
        staff.on("dialog", lambda dialog: dialog.accept())
        staff.click(f"form:has(input[name=into_id][value='{first_id}']) button[type=submit]")
        staff.wait_for_load_state()
        staff.wait_for_function("document.body.innerText.includes('已合并')")
        statuses = dict(_rows(server, county_id, task_id, day))
        assert statuses[first_id] == "pending" and statuses[second_id] == "withdrawn"
        check = subprocess.run([sys.executable, "-m", "app", "rollup", "--check"], check=False, cwd=PROJECT,
                               env={**os.environ, "DATABASE_URL": f"sqlite:///{server.db}"},
                               capture_output=True, text=True, timeout=300)
        assert check.returncode == 0, check.stdout + check.stderr
    finally:
        for page in (a_page, b_page, staff):
            page.close()
