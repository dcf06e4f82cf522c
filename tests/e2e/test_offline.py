"""A member's phone (360×740) without a network (issue 18), in Chromium: submit offline with two photos,
reload the page offline, come back online — exactly one activity with both photos, and nothing left
queued; a draft that survives closing the page; a submission the server refuses comes back as a draft
with its reason; one queued while signed out waits until the member signs in again.

The first test lets the page register its service worker (which keeps the recording pages for use
offline); the others block it, as WeChat's browser and iOS lack Background Sync: the page itself
must send the queue. The server is this module's own: the tests read its SQLite file.
"""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.e2e.conftest import Server, serve_app
from tests.e2e.test_member_flow import PHONE, _free_task, _log_in, _no_sideways_scroll, _rows

QUEUED = "已保存在手机上，有网络时自动提交"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    with serve_app(tmp_path_factory.mktemp("offline"), demo_activities=300) as running:
        yield running


@pytest.fixture
def photos(tmp_path) -> list[Path]:
    made = []
    for n, colour in enumerate([(30, 120, 60), (200, 160, 40)], start=1):
        path = tmp_path / f"现场{n}.jpg"
        buf = io.BytesIO()
        Image.new("RGB", (640, 480), colour).save(buf, "JPEG")
        path.write_bytes(buf.getvalue())
        made.append(path)
    return made


def _fill(page, server: Server, description: str, photos: list[Path], value: str = "2") -> str:
    """Task (its value inputs come from the page itself), a count, a description and the photos;
    returns the value field's name once the photos are in place and the draft is saved."""
    page.select_option("#f-task", _free_task(page, server))
    first_value = page.locator("#values input[name^=value_][inputmode=numeric]").first
    first_value.wait_for()
    name = first_value.get_attribute("name")
    first_value.fill(value)
    page.fill("#f-desc", description)
    page.set_input_files("#f-photos", [str(p) for p in photos])
    _until(page, "!document.getElementById('f-photos').hasAttribute('data-shrinking')")
    _draft_saved(page, description)
    return name


def _draft_saved(page, description: str) -> None:
    """Wait until the phone's draft holds ``description`` and the photos (saved a moment after typing)."""
    _until(page, """(d) => sztOutbox.draft(document.body.dataset.user + ':activity-new').then((s) =>
                      !!s && s.fields.some((f) => f[0] === 'description' && f[1] === d) && s.photos.length > 0)""",
           description)


def _until(page, script: str, arg=None, seconds: float = 30) -> None:
    """Poll ``script`` (which may answer with a promise: Playwright's wait_for_function does not wait
    for one) until it is true."""
    deadline = time.monotonic() + seconds
    while not page.evaluate(script, arg):
        assert time.monotonic() < deadline, f"not true within {seconds} s: {script}"
        page.wait_for_timeout(100)


def _queued(page) -> list[dict]:
    return page.evaluate("sztOutbox.items(document.body.dataset.user)")


def _submit_offline(context, page, server: Server, description: str, photos: list[Path], value: str = "2") -> str:
    """Sign in, open the form, go offline, fill it and press 提交: the activity waits on the phone.
    Returns the value field's name."""
    _log_in(page, server)
    page.goto(server.base + "/activities/new")
    page.wait_for_selector("#activity-form[data-draft-ready]", state="attached")
    context.set_offline(True)
    value_field = _fill(page, server, description, photos, value=value)
    page.click("#activity-form .submit")
    page.locator("[data-queued]").wait_for()
    return value_field


def test_offline_submit_reload_and_back_online_make_one_activity(server, browser, artifacts, photos):
    # The real Content-Security-Policy: the worker is registered and runs under it.
    context = browser.new_context(viewport=PHONE, service_workers="allow", bypass_csp=False)
    page = context.new_page()
    try:
        _log_in(page, server)
        page.goto(server.base + "/activities/new")
        # The worker keeps the recording pages and their files (the page waits for it).
        page.wait_for_selector("html[data-offline-ready]", state="attached", timeout=30_000)

        context.set_offline(True)
        page.wait_for_selector("[data-offline-note]", state="visible")  # 当前没有网络 …
        description = f"离线记录 {uuid.uuid4().hex[:8]}"
        _fill(page, server, description, photos)
        page.click("#activity-form .submit")
        state = page.locator("[data-queued] [data-queued-state]")
        state.wait_for()
        assert QUEUED in state.inner_text()
        [item] = _queued(page)
        assert item["state"] == "waiting" and len(item["files"]) == 2
        page.screenshot(path=str(artifacts / "offline-queued-360x740.png"), full_page=True)

        page.reload()  # still offline: the worker's copy of the page
        page.wait_for_selector("#activity-form[data-draft-ready]", state="attached")
        expect(page.locator("#queue-banner")).to_contain_text("有 1 条活动保存在手机上，有网络时自动提交")
        # The kept page's submission key is used already: the form was given a new one.
        assert page.input_value("[name=idempotency_key]") != item["key"]
        page.goto(server.base + "/activities/mine")  # offline too
        queued = page.locator("[data-queue-list] .queued-item")
        queued.wait_for()
        assert description in queued.inner_text() and "2 张照片" in queued.inner_text()
        assert queued.locator("[data-queue-retry]").is_visible() and queued.locator("[data-queue-delete]").is_visible()
        assert _rows(server, description) == []  # nothing has reached the server
        assert _no_sideways_scroll(page)
        page.screenshot(path=str(artifacts / "offline-mine-queued-360x740.png"), full_page=True)

        page.goto(server.base + "/messages")  # a page the worker does not keep: its offline page
        assert page.locator("h1").inner_text() == "当前没有网络"
        page.goto(server.base + "/activities/mine")

        context.set_offline(False)  # `online`: the page sends the queue
        page.locator("[data-queue-list]").wait_for(state="hidden", timeout=30_000)
        page.locator(f"#mine-list :text('{description}')").wait_for(timeout=30_000)
        [(_activity_id, photo_count)] = _rows(server, description)
        assert photo_count == 2
        assert [i["state"] for i in _queued(page)] == ["done"]
    finally:
        context.close()


def test_a_draft_survives_closing_the_page(server, browser, photos):
    context = browser.new_context(viewport=PHONE)
    try:
        page = context.new_page()
        _log_in(page, server)
        page.goto(server.base + "/activities/new")
        description = f"草稿 {uuid.uuid4().hex[:8]}"
        value_field = _fill(page, server, description, photos)
        task = page.input_value("#f-task")
        page.close()  # WeChat closed mid-form

        page = context.new_page()
        page.goto(server.base + "/activities/new")
        note = page.locator("[data-draft-note]")
        note.wait_for()
        assert "已恢复您上次没有提交的内容" in note.inner_text()
        assert page.input_value("#f-task") == task and page.input_value("#f-desc") == description
        assert page.input_value(f"[name={value_field}]") == "2"
        assert page.evaluate("Array.from(document.getElementById('f-photos').files).map((f) => f.size)") == [
            p.stat().st_size for p in photos]
        page.click("#activity-form .submit")
        page.wait_for_url("**/activities/*?created=1")
        assert [n for _, n in _rows(server, description)] == [2]

        page.goto(server.base + "/activities/new")  # accepted: the draft is gone
        page.wait_for_selector("#activity-form[data-draft-ready]", state="attached")
        assert page.locator("[data-draft-note]").is_hidden() and page.input_value("#f-desc") == ""
        # Its key is noted as used: a kept copy of the page that still carries it would get a new one.
        [used] = _queued(page)
        assert used["state"] == "done" and used["key"] != page.input_value("[name=idempotency_key]")
    finally:
        context.close()


def test_a_refused_submission_comes_back_as_a_draft_with_the_reason(server, browser, photos):
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    try:
        description = f"被拒 {uuid.uuid4().hex[:8]}"
        value_field = _submit_offline(context, page, server, description, photos[:1], value="1.5")  # not whole
        context.set_offline(False)
        state = page.locator("[data-queued-state]")
        page.wait_for_function("document.querySelector('[data-queued-state]').textContent.includes('没有提交成功')",
                               timeout=30_000)
        assert "整数" in state.inner_text()  # the server's own words

        page.goto(server.base + "/activities/mine")
        item = page.locator("[data-queue-list] .queued-item")
        assert "整数" in item.inner_text()
        item.locator("a", has_text="修改后提交").click()
        note = page.locator("[data-draft-note]")
        note.wait_for()
        assert "整数" in note.inner_text()
        assert page.input_value("#f-desc") == description and page.input_value(f"[name={value_field}]") == "1.5"
        assert page.evaluate("document.getElementById('f-photos').files.length") == 1
        assert _queued(page) == []  # it is the draft now, not a queued item
        page.fill(f"[name={value_field}]", "2")
        page.click("#activity-form .submit")
        page.wait_for_url("**/activities/*?created=1")
        assert [n for _, n in _rows(server, description)] == [1]
    finally:
        context.close()


def test_a_queued_submission_waits_for_its_member_to_sign_in_again(server, browser, photos):
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    try:
        description = f"登录后提交 {uuid.uuid4().hex[:8]}"
        _submit_offline(context, page, server, description, photos[:1])
        context.clear_cookies()  # the session ended while the phone was offline
        context.set_offline(False)
        # It tried, found nobody signed in, and says so; the item waits.
        expect(page.locator("[data-queued-state]")).to_contain_text("请重新登录，登录后自动提交", timeout=30_000)
        assert [i["state"] for i in _queued(page)] == ["waiting"]
        assert _rows(server, description) == []

        _log_in(page, server)  # signed in again: the next page sends it
        _until(page, "sztOutbox.items().then((l) => l[0].state === 'done')")
        assert [n for _, n in _rows(server, description)] == [1]
    finally:
        context.close()
