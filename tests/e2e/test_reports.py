"""The report page in a real browser at 360 px: the pickers update the preview in place (HTMX),
nothing scrolls sideways, and staff freeze a report after confirming."""

from __future__ import annotations

import re

PASSWORD = "demo2026"
PROVINCE_STAFF = "13900000002"


def _no_sideways_scroll(page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px"


def test_report_page_on_a_phone(live_server, browser, artifacts):
    page = browser.new_page(viewport={"width": 360, "height": 740})
    try:
        page.goto(f"{live_server}/login?next=/reports")
        page.fill("input[name=login]", PROVINCE_STAFF)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/reports**")
        assert "据统计" in page.locator(".report-text").inner_text()
        _no_sideways_scroll(page)
        page.evaluate("window.__same_page = true")
        page.select_option("select[name=org]", "530100")
        page.wait_for_url(re.compile(r".*/reports\?org=530100.*"))
        page.locator(".report-text h2", has_text="昆明市政协").wait_for()
        assert page.evaluate("window.__same_page === true")  # swapped in place, no reload
        assert "全市政协" in page.locator(".report-text").inner_text()
        _no_sideways_scroll(page)
        page.screenshot(path=str(artifacts / "report-360.png"), full_page=True)
        page.once("dialog", lambda d: d.accept())
        page.click("text=冻结（提交会议的版本）")
        page.wait_for_url("**/reports/frozen**")
        assert "昆明市政协「双助推」行动工作情况" in page.locator("table").inner_text()
        _no_sideways_scroll(page)
    finally:
        page.close()
