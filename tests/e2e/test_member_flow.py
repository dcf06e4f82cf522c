"""A member on a phone (360×740) records an activity in Chromium: pick the task, fill the values, a
description and a photo, submit over a network that loses the answer — the phone keeps the submission
and sends it again by itself, and exactly one activity exists. Also: errors come back beside their field with everything (photos included)
kept, and the whole form works with JavaScript off.

Each test records a task that has no pending or verified activity in the member's county on the
form's date (today by the app's clock) — neither the demo's nor an earlier test's — so the submission
is not a likely duplicate and no decision (申请加入 / 这是另一次活动, issue 16) stands in its way.

The server is this module's own (not the session's ``live_server``): the test reads its SQLite file
to count rows, and its photos go to a throw-away folder.
"""

from __future__ import annotations

import io
import re
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from tests.e2e.conftest import Server, serve_app

MEMBER, PASSWORD = "13900000007", "demo2026"  # app/seed/demo.py DEMO_ACCOUNTS
PHONE = {"width": 360, "height": 740}
CREATED = re.compile(r"/activities/(\d+)\?created=1$")


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    """A small demo province in a SQLite file this module reads, photos in a throw-away folder."""
    with serve_app(tmp_path_factory.mktemp("member-flow"), demo_activities=300) as running:
        yield running


@pytest.fixture
def photo(tmp_path) -> Path:
    path = tmp_path / "义诊现场.jpg"
    buf = io.BytesIO()
    Image.new("RGB", (800, 600), (180, 35, 24)).save(buf, "JPEG")
    path.write_bytes(buf.getvalue())
    return path


def _rows(server: Server, description: str) -> list[tuple[int, int]]:
    """(activity id, photo count) of each activity with this description, read from the server's file."""
    with sqlite3.connect(server.db) as conn:
        return conn.execute(
            "SELECT a.id, (SELECT count(*) FROM activity_photo p WHERE p.activity_id = a.id) "
            "FROM activity a WHERE a.description = ?", (description,)).fetchall()


def _with_file_bytes(body: bytes, content: bytes) -> bytes:
    """The intercepted multipart body with the photo's bytes put back into its (empty) part.

    Chromium does not hand a body built from a file to request interception (microsoft/playwright
    #6479): ``route.fetch()`` would forward the photo part empty. The browser's own second attempt
    (``route.continue_()``) carries the real file, so both attempts are the same submission.
    """
    head, marker, rest = body.partition(b'name="photos"; filename=')
    assert marker, "the form sent no photo part"
    part_headers_end = rest.index(b"\r\n\r\n") + 4
    assert rest[part_headers_end:].startswith(b"\r\n--"), "the photo part was not empty"
    return head + marker + rest[:part_headers_end] + content + rest[part_headers_end:]


def _free_task(page, server: Server) -> str:
    """A task of the form's list with no pending or verified activity in the form's county on its
    date, read from the server's file: recording it asks no duplicate question."""
    county, day = page.input_value("#f-county"), page.input_value("#f-date")
    assert county != "" and day != ""  # pre-filled: the member's county, today
    with sqlite3.connect(server.db) as conn:
        taken = {str(task_id) for (task_id,) in conn.execute(
            "SELECT DISTINCT task_id FROM activity WHERE county_id = ? AND occurred_on = ? "
            "AND status IN ('pending', 'verified')", (int(county), day))}
    tasks = [v for v in page.locator("#f-task option").evaluate_all("(os) => os.map((o) => o.value)") if v]
    free = [t for t in tasks if t not in taken]
    assert free, f"every task already has an activity in county {county} on {day}"
    return free[0]


def _log_in(page, server: Server) -> None:
    page.goto(server.base + "/login")
    page.fill("input[name=login]", MEMBER)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.form button[type=submit]")
    page.wait_for_url(server.base + "/")


def _no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def _fill_the_form(page, server: Server, description: str, photo: Path) -> str:
    """Choose a free task (HTMX brings its indicators), fill its first count, describe, attach a photo."""
    page.select_option("#f-task", _free_task(page, server))
    first_value = page.locator("#values input[name^=value_][inputmode=numeric]").first
    first_value.wait_for()
    name = first_value.get_attribute("name")
    first_value.fill("2")
    page.fill("#f-desc", description)
    page.set_input_files("#f-photos", str(photo))
    return name


def test_a_lost_answer_is_sent_again_by_the_phone_and_makes_one_activity(server, browser, artifacts, photo):
    """The connection is cut after the server accepted the submission: the phone keeps it in its
    queue, sends it again by itself, and the member sees 「已提交成功」 — one row, with its photo."""
    page = browser.new_page(viewport=PHONE)
    try:
        _log_in(page, server)
        page.goto(server.base + "/activities/new")
        assert page.evaluate("typeof window.htmx") == "object"
        assert not page.locator(".nojs").first.is_visible()  # the reload buttons are for no-JavaScript only
        description = f"到洱源县开展农技培训 {uuid.uuid4().hex[:8]}"
        _fill_the_form(page, server, description, photo)

        posts: list[str] = []

        def lose_first_answer(route) -> None:
            posts.append(route.request.method)
            if len(posts) == 1:
                body = _with_file_bytes(route.request.post_data_buffer, photo.read_bytes())
                route.fetch(post_data=body)  # the server receives and records it …
                route.abort("internetdisconnected")  # … and the answer never reaches the phone
            else:
                route.continue_()

        page.route("**/activities", lose_first_answer)
        page.click("#activity-form .submit")
        state = page.locator("[data-queued] [data-queued-state]")
        state.wait_for()
        assert len(_rows(server, description)) == 1  # it did arrive
        # The phone sends it again by itself (a second or so later): the key finds the first result.
        page.wait_for_function("document.querySelector('[data-queued-state]').textContent.includes('已提交成功')",
                               timeout=30_000)
        assert posts == ["POST", "POST"]
        assert page.locator("#toasts .toast").count() == 0  # the queue said it; no error toast
        [(activity_id, photos)] = _rows(server, description)  # exactly one, with its one photo
        assert photos == 1
        assert _no_sideways_scroll(page)
        page.screenshot(path=str(artifacts / "member-form-sent-again-360x740.png"), full_page=True)

        page.click("[data-queued-link]")  # 查看已提交的活动
        page.wait_for_url(f"**/activities/{activity_id}")
        assert description in page.content()
        thumb = page.locator(".photos img").first
        thumb.wait_for()
        assert page.evaluate("(img) => img.complete && img.naturalWidth > 0", thumb.element_handle())
        assert _no_sideways_scroll(page)
        page.screenshot(path=str(artifacts / "member-activity-360x740.png"), full_page=True)

        page.goto(server.base + "/activities/mine")
        assert description[:8] in page.locator(".activity-list").inner_text()
        assert page.locator("[data-queue-list]").is_hidden()  # nothing waits on the phone
        assert _no_sideways_scroll(page)
    finally:
        page.close()


def test_errors_come_back_beside_the_field_keeping_what_was_typed(server, browser, artifacts, photo):
    page = browser.new_page(viewport=PHONE)
    try:
        _log_in(page, server)
        page.goto(server.base + "/activities/new")
        description = f"义诊 {uuid.uuid4().hex[:8]}"
        value_field = _fill_the_form(page, server, description, photo)
        page.fill(f"[name={value_field}]", "1.5")  # counts are whole numbers
        page.click("#activity-form .submit")
        error = page.locator("#activity-form .field-error").first
        error.wait_for()
        assert "整数" in error.inner_text()
        assert page.input_value(f"[name={value_field}]") == "1.5" and page.input_value("#f-desc") == description
        # hx-preserve kept the chosen photo through the re-render.
        assert page.evaluate("document.getElementById('f-photos').files.length") == 1
        assert _no_sideways_scroll(page)
        page.screenshot(path=str(artifacts / "member-form-error-360x740.png"), full_page=True)
        page.fill(f"[name={value_field}]", "2")
        page.click("#activity-form .submit")
        page.wait_for_url(CREATED)
        assert [photos for _, photos in _rows(server, description)] == [1]
    finally:
        page.close()


def test_the_form_works_with_javascript_off(server, browser, photo):
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    try:
        _log_in(page, server)
        page.goto(server.base + "/activities/new")
        page.select_option("#f-task", _free_task(page, server))
        page.click("#f-task ~ .nojs")  # 选择: reload the form with the task's indicators
        first_value = page.locator("#values input[name^=value_][inputmode=numeric]").first
        first_value.fill("3")
        description = f"无脚本记录 {uuid.uuid4().hex[:8]}"
        page.fill("#f-desc", description)
        page.set_input_files("#f-photos", str(photo))
        page.click("#activity-form .submit")
        page.wait_for_url(CREATED)
        assert [photos for _, photos in _rows(server, description)] == [1]
    finally:
        context.close()
