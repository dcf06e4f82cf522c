"""The office's review queue in a real browser: return one activity with a reason and verify another,
each row updating in place (HTMX) without reloading the page, then bulk-verify two; and the queue on
a 360 px phone."""

from __future__ import annotations

import pytest

PASSWORD = "demo2026"
COUNTY_STAFF, PROVINCE_STAFF = "13900000004", "13900000002"
PENDING = "tr.review-row[data-status=pending]"


def _log_in(page, base: str, login: str) -> None:
    page.goto(base + "/login?next=/review")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/review**")


def _queue_with_pending(page, base: str, at_least: int) -> None:
    """The county office's queue, or the province's when the demo left the county too few pending."""
    _log_in(page, base, COUNTY_STAFF)
    if page.locator(PENDING).count() < at_least:
        page.context.clear_cookies()
        _log_in(page, base, PROVINCE_STAFF)
    assert page.locator(PENDING).count() >= at_least, "the demo province should have pending activities"


def test_staff_returns_and_verifies_in_place(live_server, browser, artifacts):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        _queue_with_pending(page, live_server, at_least=4)
        assert page.locator("h1").inner_text() == "活动审核"
        # A marker that a full page load would wipe out.
        page.evaluate("window.__reviewMarker = 'still-here'")

        first, second = page.locator(PENDING).nth(0), page.locator(PENDING).nth(1)
        first_id, second_id = first.get_attribute("id"), second.get_attribute("id")

        first.locator("summary", has_text="退回").click()
        first.locator("textarea[name=reason]").fill("佐证照片不清晰，请补充")
        first.locator("button", has_text="退回").click()
        returned = page.locator(f"#{first_id}[data-status=returned]")
        returned.wait_for()
        assert "已退回" in returned.inner_text() and "佐证照片不清晰，请补充" in returned.inner_text()

        page.locator(f"#{second_id}").locator("button", has_text="通过").click()
        verified = page.locator(f"#{second_id}[data-status=verified]")
        verified.wait_for()
        assert "已通过" in verified.inner_text() and "重新打开" in verified.inner_text()

        assert page.evaluate("window.__reviewMarker") == "still-here"  # no full page reload
        assert page.url.endswith("/review")
        page.screenshot(path=str(artifacts / "review-1280x800.png"), full_page=False)

        # Bulk: tick two, confirm the dialog, and the list answers in place with the count.
        ticked = [page.locator(PENDING).nth(n).get_attribute("id") for n in range(2)]
        for row_id in ticked:
            page.locator(f"#{row_id} input[name=activity_ids]").check()
        page.once("dialog", lambda dialog: dialog.accept())
        page.locator("#bulk-form button", has_text="批量通过所选").click()
        page.locator(".alert-ok", has_text="已批量审核通过 2 条").wait_for()
        assert all(page.locator(f"#{row_id}").count() == 0 for row_id in ticked)
        assert page.evaluate("window.__reviewMarker") == "still-here"

        # The same rows after a real reload: the changes were stored.
        page.reload()
        assert page.locator(f"#{first_id}").count() == 0 and page.locator(f"#{second_id}").count() == 0
        for row_id, status in ((first_id, "returned"), (second_id, "verified")):
            stored = page.request.get(f"{live_server}/api/v1/activities/{row_id.removeprefix('activity-')}").json()
            assert stored["status"] == status
    finally:
        page.close()


@pytest.mark.parametrize(("width", "height"), [(360, 740)])
def test_queue_fits_a_phone(live_server, browser, artifacts, width, height):
    page = browser.new_page(viewport={"width": width, "height": height})
    try:
        _log_in(page, live_server, PROVINCE_STAFF)
        assert page.locator(PENDING).count() > 0
        # Rows become cards; nothing scrolls sideways.
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        first = page.locator(PENDING).first
        first.scroll_into_view_if_needed()
        assert first.locator("button", has_text="通过").is_visible()
        page.screenshot(path=str(artifacts / f"review-{width}x{height}.png"), full_page=False)
    finally:
        page.close()
