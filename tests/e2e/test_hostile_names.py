"""Issue 15's stored XSS, as found: an organisation renamed ``大理<img src=x onerror=…>州`` (the orgs
import sets any name) ran script when the province map's tooltip showed, on /boards/530000 and on
the anonymous meeting-room screen (/d/…). Here the served demo gets that name and Chromium shows
the tooltip on both: the name is shown as the text it is, and no element or script comes of it.

The server is this module's own: the test renames the organisation in its SQLite file before any
board is drawn (so no cached block predates the name).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import Server, serve_app
from tests.e2e.test_boards import VIEWER, _display_link, _log_in

HOSTILE = "大理<img src=x onerror=window.__xss=1>州"
DALI = "532900"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    with serve_app(tmp_path_factory.mktemp("hostile-names"), demo_activities=300) as running:
        with sqlite3.connect(running.db) as conn:
            assert conn.execute("UPDATE organisation SET name = ? WHERE code = ?", (HOSTILE, DALI)).rowcount == 1
        yield running


def _hover_the_region(page, chart: str) -> str:
    """Show the map's tooltip over 大理 (what a hover does) and return the tooltip's HTML."""
    page.locator(f"{chart}.chart-ready svg").first.wait_for(timeout=20_000)
    page.evaluate("""([s, code]) => sztCharts.instance(document.querySelector(s))
        .dispatchAction({type: 'showTip', seriesIndex: 0, name: code})""", [chart, DALI])
    page.wait_for_function("s => document.querySelector(s).textContent.includes('推进进度')", arg=chart,
                           timeout=5_000)
    page.wait_for_timeout(300)  # an <img src=x> would have failed, and fired onerror, by now
    return page.evaluate("""s => [...document.querySelectorAll(s + ' div')]
        .filter(d => !d.querySelector('svg') && d.textContent.includes('推进进度')).map(d => d.innerHTML).join('|')""",
                         chart)


def _assert_shown_as_text(page, chart: str, tooltip: str) -> None:
    assert page.evaluate("window.__xss") is None
    assert page.locator(f"{chart} img").count() == 0
    assert "大理&lt;img src=x onerror=window.__xss=1&gt;州：" in tooltip


def test_the_province_board_shows_a_hostile_name_as_text(server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        _log_in(page, server.base, VIEWER, "/boards/530000")
        _assert_shown_as_text(page, "#progress-map", _hover_the_region(page, "#progress-map"))
        assert HOSTILE in page.locator("table.ranking").inner_text()  # the ranking table: text too
    finally:
        page.close()


def test_the_meeting_room_screen_shows_a_hostile_name_as_text(server, browser):
    url = _display_link(browser, server.base)
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    try:
        page = context.new_page()
        page.goto(url + ("&" if "?" in url else "?") + "every=600")
        # Step to the province's map of the 州市 (a slide of its own in the playlist).
        at = page.evaluate("[...document.querySelectorAll('.meeting-slides li')]"
                           ".findIndex((li) => li.dataset.url.includes('part=map'))")
        assert at >= 0, "the playlist has the 州市 map"
        for n in range(1, at + 1):
            page.keyboard.press("ArrowRight")
            page.locator(f"#meeting[data-loaded='{n}']").wait_for(state="attached", timeout=10_000)
        _assert_shown_as_text(page, "#slide #progress-map", _hover_the_region(page, "#slide #progress-map"))
    finally:
        context.close()
