"""The first README command, seen in a real browser: the demo province on a phone and a big screen."""

from __future__ import annotations

import urllib.request

import pytest


def test_served_demo_lists_logins_and_names_province(live_server):
    html = urllib.request.urlopen(live_server + "/").read().decode()
    assert "云南省政协" in html and "演示数据" in html


@pytest.mark.parametrize(("width", "height"), [(360, 740), (1920, 1080)])
def test_home_page_in_chromium(live_server, browser, artifacts, width, height):
    page = browser.new_page(viewport={"width": width, "height": height})
    try:
        page.goto(live_server + "/")
        assert page.locator("h1").inner_text().startswith("云南省政协")
        assert page.locator(".demo-banner").is_visible()
        # htmx loaded from our own static files (no internet on an intranet).
        assert page.evaluate("typeof window.htmx") == "object"
        # 57 key counties listed; nothing scrolls sideways.
        assert page.locator(".chips li").count() == 57
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.screenshot(path=str(artifacts / f"home-{width}x{height}.png"), full_page=True)
    finally:
        page.close()
