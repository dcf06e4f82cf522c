"""挂联 in a real browser on the demo province: the office links a leader to a key county that has none,
in place on the coverage page, and sees the county leave the uncovered list without a page reload;
the coverage table and the form on a 360 px phone."""

from __future__ import annotations

import json

import pytest

PASSWORD = "demo2026"
PROVINCE_STAFF, LEADER = "13900000002", "13900000005"
UNCOVERED = "tr.coverage-row[data-status=uncovered]"


def _log_in(page, base: str, login: str, target: str = "/links/coverage") -> None:
    page.goto(f"{base}/login?next={target}")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{target}")


def _end_link(page, base: str, county_id: str) -> None:
    """Put the demo back as it was: end the link the test made (it stays as history)."""
    token = json.loads(page.evaluate("document.body.getAttribute('hx-headers')"))["X-CSRF-Token"]
    links = page.request.get(f"{base}/api/v1/links?county_id={county_id}&state=open").json()["items"]
    for link in links:
        if link["site_id"] is None and link["note"] == "e2e":
            r = page.request.post(f"{base}/api/v1/links/{link['id']}/end", headers={"X-CSRF-Token": token},
                                  data={"reason": "e2e clean-up"})
            assert r.ok, r.text()


def test_office_links_a_leader_to_an_uncovered_key_county_in_place(live_server, browser, artifacts):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    county_id = None
    try:
        _log_in(page, live_server, PROVINCE_STAFF)
        assert page.locator("h1").inner_text() == "重点帮扶县挂联覆盖情况"
        # The demo leaves four key counties without a leader, and lists them first.
        before = page.locator(UNCOVERED).count()
        assert before == 4 and int(page.locator("#uncovered-count").inner_text()) == 4
        statuses = page.locator("tr.coverage-row").evaluate_all("rows => rows.map(r => r.dataset.status)")
        assert statuses[:4] == ["uncovered"] * 4 and "uncovered" not in statuses[4:]
        page.evaluate("window.__marker = 'still-here'")  # a full page load would wipe this out

        row = page.locator(UNCOVERED).first
        county_id = row.get_attribute("id").removeprefix("county-")
        county = row.locator(".county-name").inner_text()
        row.locator("a", has_text="安排挂联").click()
        form = page.locator("#assign-panel form#link-form")
        form.wait_for()
        assert form.locator("#f-county").input_value() == county_id
        # The leaders who may take this county (the province's first), by type-ahead.
        first_leader = form.locator("#leader-options input[name=leader_member_id]").first
        first_leader.wait_for()
        name = form.locator("#leader-options label.option").first.inner_text().split()[0]
        # The list is fetched again 300 ms after typing and swapped in: a leader ticked in the old list
        # before the swap would be unticked by it, so the tick waits for the new list.
        page.evaluate("""() => { window.__leadersSettled = false;
            document.querySelector('#leader-options').addEventListener(
                'htmx:afterSettle', () => { window.__leadersSettled = true; }, {once: true}); }""")
        form.locator("#f-leader-q").fill(name)
        page.wait_for_function("window.__leadersSettled")
        chosen = form.locator("#leader-options label.option", has_text=name).first
        chosen.locator("input").check()
        form.locator("#f-note").fill("e2e")
        form.locator("button.submit").click()

        page.locator("#link-done").wait_for()
        assert "已安排" in page.locator("#link-done").inner_text() and county in page.locator("#link-done").inner_text()
        # The table fetched itself again: the county left the uncovered list.
        page.locator(f"#county-{county_id}[data-status=covered]").wait_for()
        assert page.locator(UNCOVERED).count() == before - 1
        assert page.locator("#uncovered-count").inner_text() == str(before - 1)
        assert name in page.locator(f"#county-{county_id}").inner_text()
        assert page.evaluate("window.__marker") == "still-here"  # no full page reload
        assert page.url.endswith("/links/coverage")
        page.screenshot(path=str(artifacts / "links-coverage-1280x900.png"), full_page=False)

        # Stored: a real reload shows the same.
        page.reload()
        assert page.locator(f"#county-{county_id}").get_attribute("data-status") == "covered"
    finally:
        if county_id:
            _end_link(page, live_server, county_id)
        page.close()


@pytest.mark.parametrize(("width", "height"), [(360, 740)])
def test_coverage_and_the_form_fit_a_phone(live_server, browser, artifacts, width, height):
    page = browser.new_page(viewport={"width": width, "height": height})
    try:
        _log_in(page, live_server, LEADER)
        assert page.locator(UNCOVERED).count() >= 3
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.screenshot(path=str(artifacts / f"links-coverage-{width}x{height}.png"), full_page=False)
        page.locator(UNCOVERED).first.locator("a", has_text="安排挂联").click()
        page.locator("#assign-panel form#link-form").wait_for()
        assert page.locator("#assign-panel button.submit").is_visible()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.screenshot(path=str(artifacts / f"links-form-{width}x{height}.png"), full_page=False)
        # 我的挂联: the demo leader's counties and the activities there.
        page.goto(live_server + "/links/mine")
        assert page.locator(".my-links li").count() >= 1
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.screenshot(path=str(artifacts / f"links-mine-{width}x{height}.png"), full_page=True)
    finally:
        page.close()
