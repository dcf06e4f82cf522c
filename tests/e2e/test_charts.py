"""Charts in a real Chromium: drawn as SVG with the Chinese font, the map registered from our own
files with every outside request blocked, updated in place by htmx, disposed when removed, printable.

The page is a test route mounted on the real application (base.html, static files, charts.js);
it needs no database, so the server runs in this process.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.boards.charts import progress_map_option, trend_option
from app.db import get_session
from app.main import create_app
from app.web import templates
from tests.e2e.conftest import _free_port

MONTHS = [202601, 202602, 202603, 202604]
AREAS = ["助推乡村产业发展", "助推脱贫群众就业", "助推集体经济壮大"]
NAMES = {"530100": "昆明市", "530300": "曲靖市", "530400": "玉溪市", "530500": "保山市", "530600": "昭通市",
         "530700": "丽江市", "530800": "普洱市", "530900": "临沧市", "532300": "楚雄彝族自治州",
         "532500": "红河哈尼族彝族自治州", "532600": "文山壮族苗族自治州", "532800": "西双版纳傣族自治州",
         "532900": "大理白族自治州", "533100": "德宏傣族景颇族自治州", "533300": "怒江傈僳族自治州",
         "533400": "迪庆藏族自治州"}
SCORES = {code: (0.45 + 0.07 * i if i != 5 else None) for i, code in enumerate(sorted(NAMES))}

REGION = """<div data-chart id="trend"><script type="application/json">{{ trend|tojson }}</script>
<p class="chart-fallback">{{ values }}</p></div>"""
PAGE = """{% extends "base.html" %}{% block content %}
<h1 class="page-title">图表</h1>
<div id="region">""" + REGION + """</div>
<button id="refresh" class="btn" hx-get="/test/charts/region?step=2" hx-target="#region">刷新</button>
<div data-chart id="map" class="chart-map"><script type="application/json">{{ map|tojson }}</script></div>
{% endblock %}"""


HOSTILE = "大理<img src=x onerror=window.__xss=1>州"
HOSTILE_PAGE = """{% extends "base.html" %}{% block content %}
<div data-chart id="trend"><script type="application/json">{{ trend|tojson }}</script></div>
<div data-chart id="map" class="chart-map"><script type="application/json">{{ map|tojson }}</script></div>
{% endblock %}"""


def _trend(step: int) -> dict:
    return trend_option(MONTHS, {area: [step * (i + 1) + m for m in range(4)] for i, area in enumerate(AREAS)}, unit="次")


def _page_router() -> APIRouter:
    router = APIRouter()
    env = templates().env

    @router.get("/test/charts")
    def charts_page(request: Request):
        html = env.from_string(PAGE).render(request=request, principal=None, csrf_token="", trend=_trend(1),
                                            values="", map=progress_map_option(SCORES, NAMES))
        return HTMLResponse(html)

    @router.get("/test/charts/hostile")
    def hostile_page(request: Request):
        names = dict(NAMES, **{"532900": HOSTILE})
        html = env.from_string(HOSTILE_PAGE).render(
            request=request, principal=None, csrf_token="", map=progress_map_option(SCORES, names),
            trend=trend_option(MONTHS, {HOSTILE: [1, 2, 3, 4], AREAS[0]: [4, 3, 2, 1]}, kind="bar"))
        return HTMLResponse(html)

    @router.get("/test/charts/region")
    def region(request: Request, step: int = 2):
        return HTMLResponse(env.from_string(REGION).render(trend=_trend(step), values=""))

    return router


async def _no_database():
    yield None  # no cookie, no principal: nothing on these pages reads the database


@pytest.fixture(scope="module")
def chart_server() -> Iterator[str]:
    import uvicorn

    app = create_app()
    app.include_router(_page_router())
    app.dependency_overrides[get_session] = _no_database
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the chart test server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def offline_page(browser, chart_server):
    """A page on which every request away from the test server is recorded and refused."""
    outside: list[str] = []
    local: list[str] = []
    page = browser.new_page(viewport={"width": 1280, "height": 900})

    def guard(route):
        url = route.request.url
        if urlsplit(url).netloc == urlsplit(chart_server).netloc:
            local.append(url)
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    page.route("**/*", guard)
    page.outside, page.local = outside, local
    yield page
    page.close()


def _open(page, base: str) -> None:
    page.goto(base + "/test/charts")
    page.wait_for_function("""() => ['#trend', '#map'].every(s => {
        const el = document.querySelector(s);
        return el && el.classList.contains('chart-ready') && el.querySelector('svg text');
    })""", timeout=20_000)


def _platform_fonts(page, selector: str) -> set[str]:
    """The fonts Chromium really used for the text of ``selector`` (DevTools protocol)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    assert node, selector
    return {f["familyName"] for f in cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]}


def test_charts_draw_as_svg_offline_with_the_chinese_font(offline_page, chart_server, artifacts):
    page = offline_page
    _open(page, chart_server)
    assert page.outside == []
    assert any(re.search(r"/static/([0-9a-f]{8}/)?vendor/echarts-6\.1\.0\.min\.js$", u) for u in page.local)
    assert sum(bool(re.search(r"/static/([0-9a-f]{8}/)?data/yunnan-prefectures\.geojson$", u)) for u in page.local) == 1
    assert page.evaluate("!!(window.echarts && echarts.getMap('yunnan'))")
    # The trend: Chinese month labels and the legend, in SVG text.
    trend_text = page.evaluate("[...document.querySelectorAll('#trend svg text')].map(t => t.textContent)")
    assert {"1月", "4月", AREAS[0]} <= set(trend_text)
    # The map: every prefecture's name with its percentage written on it, readable without colour.
    map_text = " ".join(page.evaluate("[...document.querySelectorAll('#map svg text')].map(t => t.textContent)"))
    assert "昆明市" in map_text and "45%" in map_text and "无目标" in map_text and "明显滞后" in map_text
    # ARIA: a description for screen readers; decal patterns on.
    assert "昆明市45%" in page.get_attribute("#map", "aria-label")
    aria = page.evaluate("sztCharts.instance(document.querySelector('#trend')).getOption().aria")
    assert (aria[0] if isinstance(aria, list) else aria)["decal"]["show"] is True
    assert page.locator("#trend svg pattern").count() > 0  # the series' decal patterns
    # The page's own font stack, and Chromium really drew the Chinese with Noto CJK (not boxes).
    family = page.evaluate("getComputedStyle(document.querySelector('#trend svg text')).fontFamily")
    assert "Noto Sans CJK SC" in family
    assert any("CJK" in name for name in _platform_fonts(page, "#map svg text"))
    page.screenshot(path=str(artifacts / "charts-1280.png"), full_page=True)


def test_a_swap_updates_the_drawn_chart_in_place_and_removal_disposes(offline_page, chart_server):
    page = offline_page
    _open(page, chart_server)
    page.evaluate("""() => {
        window.trendEl = document.querySelector('#trend');
        window.trendSvg = trendEl.querySelector('svg');
        window.trendChart = sztCharts.instance(trendEl);
    }""")
    # An htmx swap of the region around the chart brings a new element with the same id and new data.
    page.click("#refresh")
    page.wait_for_function("sztCharts.instance(document.querySelector('#trend'))"
                           ".getOption().series[0].data[0] === 2", timeout=10_000)
    kept = page.evaluate("""() => [document.querySelector('#trend') === trendEl,
        document.querySelector('#trend svg') === trendSvg,
        sztCharts.instance(document.querySelector('#trend')) === trendChart, !!trendChart.isDisposed()]""")
    assert kept == [True, True, True, False]
    assert page.evaluate("document.querySelectorAll('#trend').length") == 1
    # The JSON rewritten in place: same chart, new figures.
    page.evaluate("""(option) => {
        document.querySelector('#trend script[type="application/json"]').textContent = JSON.stringify(option);
    }""", _trend(5))
    page.wait_for_function("trendChart.getOption().series[0].data[0] === 5", timeout=10_000)
    assert page.evaluate("document.querySelector('#trend svg') === trendSvg")
    # A chart whose element leaves the page is disposed.
    page.evaluate("window.mapChart = sztCharts.instance(document.querySelector('#map')); "
                  "document.querySelector('#map').remove()")
    page.wait_for_function("mapChart.isDisposed()", timeout=5_000)
    assert page.outside == []


@pytest.mark.parametrize(("width", "height"), [(360, 740), (1920, 1080)])
def test_charts_fit_the_screen_and_the_printed_page(offline_page, chart_server, artifacts, width, height):
    page = offline_page
    page.set_viewport_size({"width": width, "height": height})
    _open(page, chart_server)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    widths = page.evaluate("""['#trend', '#map'].map(s => [document.querySelector(s).clientWidth,
        document.querySelector(s + ' svg').getBoundingClientRect().width])""")
    assert all(abs(box - svg) <= 1 for box, svg in widths)
    page.screenshot(path=str(artifacts / f"charts-{width}x{height}.png"), full_page=True)
    page.emulate_media(media="print")
    page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    page.wait_for_timeout(200)
    fits = page.evaluate("""['#trend', '#map'].every(s => {
        const r = document.querySelector(s + ' svg').getBoundingClientRect();
        return r.width > 100 && r.right <= document.documentElement.clientWidth + 1;
    })""")
    assert fits
    assert page.outside == []



def _tooltip_html(page, selector: str) -> str:
    """The HTML ECharts put into the chart's tooltip (the one element of the chart outside its SVG)."""
    return page.evaluate("""s => [...document.querySelectorAll(s + ' > div > div, ' + s + ' > div')]
        .filter(d => !d.querySelector('svg') && d.textContent.trim()).map(d => d.innerHTML).join('|')""", selector)


def test_a_hostile_name_shows_as_text_in_the_tooltips_and_runs_nothing(browser, chart_server):
    """Issue 15: an organisation renamed ``<img onerror=…>`` ran script when the map's tooltip showed."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(chart_server + "/test/charts/hostile")
        page.wait_for_function("['#trend', '#map'].every(s => document.querySelector(s).classList.contains('chart-ready'))",
                               timeout=20_000)
        # Hover the region, then the bars of the first month.
        box = page.locator("#map").bounding_box()
        page.evaluate("sztCharts.instance(document.querySelector('#map'))"
                      ".dispatchAction({type: 'showTip', seriesIndex: 0, name: '532900'})")
        page.wait_for_function("document.querySelector('#map').textContent.includes('推进进度')", timeout=5_000)
        map_tip = _tooltip_html(page, "#map")
        trend = page.locator("#trend").bounding_box()
        page.mouse.move(trend["x"] + trend["width"] * 0.25, trend["y"] + trend["height"] * 0.6)
        page.wait_for_function("document.querySelector('#trend').textContent.includes('1月')", timeout=5_000)
        trend_tip = _tooltip_html(page, "#trend")
        page.wait_for_timeout(300)  # an <img src=x> would have failed and fired onerror by now
        assert page.evaluate("window.__xss") is None
        assert page.locator("#map img, #trend img").count() == 0
        assert box and "大理&lt;img src=x onerror=window.__xss=1&gt;州：推进进度" in map_tip
        assert "&lt;img src=x onerror=window.__xss=1&gt;" in trend_tip
    finally:
        page.close()
