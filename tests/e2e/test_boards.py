"""The boards in a real browser: drill-down, a live figure moving when someone else verifies, the
meeting room's rotation, and no sideways scrolling at 1920×1080 or 360×740 (screenshots kept)."""

from __future__ import annotations

import re

import pytest

PASSWORD = "demo2026"
PROVINCE_STAFF, VIEWER = "13900000002", "13900000008"


def _log_in(page, base: str, login: str, next_url: str) -> None:
    page.goto(f"{base}/login?next={next_url}")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{next_url}**")


def _no_sideways_scroll(page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px"


def test_drill_down_province_prefecture_key_county(live_server, browser, artifacts):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        _log_in(page, live_server, VIEWER, "/boards")
        page.wait_for_url(re.compile(r".*/boards/530000$"))
        assert "云南省政协 · 工作进度" in page.locator("h1").inner_text()
        # Served from its parts (app/boards/pages.py): one gzip stream, the board's kept block inside.
        answer = page.goto(f"{live_server}/boards/530000")
        assert answer.headers["content-encoding"] == "gzip" and answer.headers["etag"].startswith('"p-')
        assert "云南省政协 · 工作进度" in page.locator("h1").inner_text()
        assert page.locator("table.ranking tbody tr").count() == 16
        prefectures = page.locator("table.ranking tbody tr td:nth-child(2) > a:first-child")
        count = prefectures.count()
        assert count == 16
        for n in range(count):
            page.locator("table.ranking tbody tr td:nth-child(2) > a:first-child").nth(n).click()
            page.wait_for_url(re.compile(r".*/boards/53\d\d00\?period=.*"))
            tags = page.locator("table.ranking a.tag")
            if tags.count():
                name = page.locator("h1").inner_text()
                tags.first.click()
                page.wait_for_url(re.compile(r".*/c/53\d{4}\?period=.*"))
                assert "重点帮扶县看板" in page.locator("h1").inner_text()
                page.locator("#county-trend svg").first.wait_for()  # the trend chart drew (vendored ECharts)
                page.screenshot(path=str(artifacts / "county-board-1280.png"))
                assert name.endswith("工作进度")
                break
            page.go_back()
        else:
            pytest.fail("no prefecture of the demo lists a key county")
    finally:
        page.close()


def test_a_verification_elsewhere_moves_the_open_board(live_server, browser):
    watcher = browser.new_context(viewport={"width": 1280, "height": 900})
    office = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        review = office.new_page()
        _log_in(review, live_server, PROVINCE_STAFF, "/review")
        row = review.locator("tr.review-row[data-status=pending]").first
        row_id = row.get_attribute("id")
        # The board shows the year of the activity about to be verified: on 1 January the queue's
        # first pending activity is most likely from last year, outside this year's board.
        year = row.locator("td[data-label=日期]").inner_text().strip()[:4]

        board = watcher.new_page()
        _log_in(board, live_server, VIEWER, f"/boards/530000?period={year}")
        board.evaluate("window.__boardMarker = 'no-reload'")
        before = int(board.locator("#verified-activities").inner_text().replace(",", ""))

        row.locator("button", has_text="通过").click()
        review.locator(f"#{row_id}[data-status=verified]").wait_for()

        board.wait_for_function(
            "n => Number(document.getElementById('verified-activities').textContent.replace(/,/g, '')) === n",
            arg=before + 1, timeout=10_000)
        assert board.evaluate("window.__boardMarker") == "no-reload"  # swapped in place, not reloaded
    finally:
        watcher.close()
        office.close()


def _display_link(browser, base: str) -> str:
    context = browser.new_context()
    try:
        page = context.new_page()
        _log_in(page, base, PROVINCE_STAFF, "/display")
        page.fill("input[name=name]", "测试会议室大屏")
        page.select_option("select[name=org_id]", label="云南省政协")
        page.click("button:has-text('生成链接')")
        return page.locator("#display-url").inner_text().strip()
    finally:
        context.close()


def test_meeting_mode_rotates_and_pauses_without_a_login(live_server, browser, artifacts):
    url = _display_link(browser, live_server)
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    try:
        page = context.new_page()
        page.goto(url + ("&" if "?" in url else "?") + "every=5")
        page.locator("#slide #board h1").wait_for()
        assert "云南省政协" in page.locator("#slide h1").inner_text()
        assert "/login" not in page.url
        page.wait_for_function("document.getElementById('meeting').dataset.slide === '1'", timeout=12_000)
        page.locator("#slide [data-part='figures']").wait_for()  # the playlist: tests/e2e/test_meeting_screen.py
        page.screenshot(path=str(artifacts / "meeting-1920x1080.png"))
        _no_sideways_scroll(page)
        page.click("#meeting-pause")
        page.wait_for_timeout(7_000)
        assert page.evaluate("document.getElementById('meeting').dataset.slide") == "1"
    finally:
        context.close()


@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (360, 740)])
def test_boards_fit_the_screen(live_server, browser, artifacts, width, height):
    page = browser.new_page(viewport={"width": width, "height": height})
    try:
        _log_in(page, live_server, VIEWER, "/boards/530000")
        _no_sideways_scroll(page)
        page.screenshot(path=str(artifacts / f"overview-{width}x{height}.png"), full_page=True)
        county = page.locator("table.ranking a.tag").first
        if county.count() == 0:
            page.goto(live_server + "/boards/" + page.locator("table.ranking tbody tr td:nth-child(2) > a").first
                      .get_attribute("href").split("/boards/")[1])
        href = page.evaluate("""() => { const a = [...document.querySelectorAll('a')].find(a => /\\/c\\/53\\d{4}/.test(a.href));
                                         return a ? a.getAttribute('href') : null; }""")
        if href is None:
            page.goto(live_server + "/boards/532500")  # 红河州: key counties
            href = page.locator("table.ranking a.tag").first.get_attribute("href")
        page.goto(live_server + href)
        page.locator("#board").wait_for()
        _no_sideways_scroll(page)
        page.screenshot(path=str(artifacts / f"county-{width}x{height}.png"), full_page=True)
    finally:
        page.close()
