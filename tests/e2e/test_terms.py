"""换届 in Chromium on a phone (360×740): a county office opens its term page, leaves one member out,
sees the confirmation (how many continue, how many end, who), confirms, and the new term is there —
the ended membership kept with its end date, and the boards' rollup still equal to its recount.

The server is this module's own: the test changes the demo's memberships and reads the SQLite file.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta

import pytest

from app.clock import today_cn
from tests.e2e.conftest import PROJECT, Server, serve_app

COUNTY_STAFF, PASSWORD = "13900000004", "demo2026"  # app/seed/demo.py DEMO_ACCOUNTS
PHONE = {"width": 360, "height": 740}


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    with serve_app(tmp_path_factory.mktemp("terms"), demo_activities=300) as running:
        yield running


def _no_sideways_scroll(page) -> None:
    assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"] + 1


def test_county_office_changes_its_term_on_a_phone(server, browser, artifacts):
    page = browser.new_page(viewport=PHONE)
    try:
        page.goto(f"{server.base}/login?next=/terms")
        page.fill("input[name=login]", COUNTY_STAFF)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/terms/*")
        code = page.url.rsplit("/", 1)[1]
        assert "届次与换届" in page.locator("h1").inner_text()
        seats = int(page.locator("#seat-count").inner_text())
        term = page.locator("#term-number").inner_text()
        boxes = page.locator("input[name=keep]")
        assert seats > 1 and boxes.count() == seats
        assert boxes.evaluate_all("bs => bs.every(b => b.checked)")  # everybody continues by default
        _no_sideways_scroll(page)

        leaving = page.locator("table.seats tbody tr").first.locator("td").nth(1).inner_text()
        boxes.first.uncheck()
        start = today_cn() + timedelta(days=1)
        page.fill("input[name=start_date]", start.isoformat())
        page.click("button:has-text('下一步')")
        page.wait_for_url(f"**/terms/{code}/preview")
        assert page.locator("#continuing").inner_text() == str(seats - 1)
        assert page.locator("#ending").inner_text() == "1"
        assert leaving in page.locator("main").inner_text()
        _no_sideways_scroll(page)
        page.screenshot(path=str(artifacts / "terms-confirm-360.png"), full_page=True)

        page.click("button:has-text('确认换届')")
        page.wait_for_url(f"**/terms/{code}?changed=1")
        assert "换届完成" in page.locator(".alert-ok").inner_text()
        number = int(term.removeprefix("第").removesuffix("届")) + 1
        assert page.locator("#term-number").inner_text() == f"第{number}届"
    finally:
        page.close()

    with sqlite3.connect(server.db) as conn:
        ended = conn.execute(
            "SELECT count(*) FROM membership m JOIN organisation o ON o.id = m.org_id "
            "WHERE o.code = ? AND m.end_date = ?", (code, (start - timedelta(days=1)).isoformat())).fetchone()[0]
        new = conn.execute(
            "SELECT count(*) FROM membership m JOIN term t ON t.id = m.term_id JOIN organisation o ON o.id = m.org_id "
            "WHERE o.code = ? AND t.number = ?", (code, number)).fetchone()[0]
    assert (ended, new) == (seats, seats - 1)
    check = subprocess.run([sys.executable, "-m", "app", "rollup", "--check"], cwd=PROJECT, capture_output=True, check=False,
                           text=True, env={**os.environ, "DATABASE_URL": f"sqlite:///{server.db}"}, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
