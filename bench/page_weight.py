"""Benchmark: what a member's phone downloads to open the recording page (issue 18, "a light page").

What it does, from the repository root (after `make install`):

    .venv/bin/python bench/page_weight.py [--demo-activities 200] [--width 360] [--height 740]

1. Serves the demo province with `python -m app serve` on a fresh SQLite file (the e2e suite's
   ``serve_app``, tests/e2e/conftest.py) and opens Debian's Chromium (/usr/bin/chromium) through
   Playwright at 360×740.
2. Signs in as the demo member (13900000007), then empties the browser's cache
   (CDP ``Network.clearBrowserCache``) and opens /activities/new: the first visit, cold cache.
3. Opens /activities/new again: the repeat visit, warm cache.
4. For each visit prints every response with the bytes it took on the wire (CDP
   ``Network.loadingFinished``'s ``encodedDataLength``: headers plus the body as sent, compressed when
   it was) and whether it came from the cache, and the total; exits 1 when a goal is missed:
   ≤ 200 KB cold, ≤ 30 KB repeat. These two visits block the service worker: the page's own bytes.
5. Then a fresh phone with the service worker: every byte the context fetches (the page's and the
   worker's) from /login to the recording page with the worker settled, and the recording page again;
   held to the same goals.

Only loopback traffic; the server is stopped at the end.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from tests.e2e.conftest import CHROMIUM_ARGS, DEMO_PASSWORD, serve_app

MEMBER = "13900000007"
COLD_GOAL, REPEAT_GOAL = 200 * 1024, 30 * 1024


def _visit(page, cdp, url: str) -> list[tuple[str, int, bool, str]]:
    """Open ``url`` and wait until the network is quiet: (url, bytes on the wire, from cache, encoding)."""
    requests: dict[str, dict] = {}

    def sent(e: dict) -> None:
        requests[e["requestId"]] = {"url": e["request"]["url"], "cached": False, "encoding": ""}

    def received(e: dict) -> None:
        if e["requestId"] in requests:
            headers = {k.lower(): v for k, v in e["response"]["headers"].items()}
            requests[e["requestId"]]["encoding"] = headers.get("content-encoding", "")
            requests[e["requestId"]]["cached"] |= bool(e["response"].get("fromDiskCache")
                                                       or e["response"].get("fromMemoryCache"))

    def cached(e: dict) -> None:
        if e["requestId"] in requests:
            requests[e["requestId"]]["cached"] = True

    def finished(e: dict) -> None:
        if e["requestId"] in requests:
            requests[e["requestId"]]["bytes"] = int(e["encodedDataLength"])

    cdp.on("Network.requestWillBeSent", sent)
    cdp.on("Network.responseReceived", received)
    cdp.on("Network.requestServedFromCache", cached)
    cdp.on("Network.loadingFinished", finished)
    page.goto(url, wait_until="networkidle")
    page.wait_for_timeout(500)  # the bell's request after load
    cdp.remove_listener("Network.requestWillBeSent", sent)
    cdp.remove_listener("Network.responseReceived", received)
    cdp.remove_listener("Network.requestServedFromCache", cached)
    cdp.remove_listener("Network.loadingFinished", finished)
    return [(r["url"], r.get("bytes", 0), r["cached"], r["encoding"]) for r in requests.values()]


def _report(title: str, rows: list[tuple[str, int, bool, str]], base: str) -> int:
    total = sum(b for _, b, _, _ in rows)
    print(f"\n{title}: {len(rows)} responses, {total:,} bytes ({total / 1024:.1f} KB) transferred")
    for url, size, cached, encoding in rows:
        where = "cache" if cached else (encoding or "identity")
        shown = url.removeprefix(base)
        print(f"  {size:>9,}  {where:<8}  {shown if len(shown) <= 72 else shown[:69] + '...'}")
    return total


def _with_worker(browser, base: str, args) -> tuple[int, int]:
    """A fresh phone with the service worker: every byte the context fetches — the page's and the
    worker's (installing it, its copies of 记录活动 and 我的活动, which it keeps for use offline) — from
    opening /login until the recording page is open and the worker has kept what it keeps; then the
    recording page again. Playwright reports a worker's requests on the context (Chromium)."""
    context = browser.new_context(viewport={"width": args.width, "height": args.height}, locale="zh-CN",
                                  is_mobile=True, has_touch=True, service_workers="allow")
    rows: list[tuple[str, int, bool, str]] = []

    def finished(request) -> None:
        sizes = request.sizes()
        response = request.response()
        encoding = (response.headers.get("content-encoding", "") if response else "")
        worker = " (worker)" if request.service_worker else ""
        rows.append((request.url + worker, sizes["responseBodySize"] + sizes["responseHeadersSize"],
                     response is not None and response.from_service_worker, encoding))

    context.on("requestfinished", finished)
    page = context.new_page()
    page.goto(base + "/login")
    page.fill("input[name=login]", MEMBER)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("form.form button[type=submit]")
    page.wait_for_url(base + "/")
    page.goto(base + "/activities/new", wait_until="networkidle")
    page.wait_for_selector("html[data-offline-ready]", state="attached", timeout=60_000)
    page.wait_for_timeout(500)
    first = _report("with the service worker: sign in, then the recording page, everything fetched "
                    "(\"cache\" = answered by the worker)", rows[:], base)
    rows.clear()
    page.goto(base + "/activities/new", wait_until="networkidle")
    page.wait_for_timeout(500)
    again = _report("with the service worker: the recording page again", rows[:], base)
    context.close()
    return first, again


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo-activities", type=int, default=200)
    parser.add_argument("--width", type=int, default=360)
    parser.add_argument("--height", type=int, default=740)
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="szt-weight-") as folder, \
            serve_app(Path(folder), demo_activities=args.demo_activities) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
        # The page alone, as a browser without service workers loads it (the worker's own fetches are
        # not the page's: they are counted in the second part).
        context = browser.new_context(viewport={"width": args.width, "height": args.height}, locale="zh-CN",
                                      is_mobile=True, has_touch=True, service_workers="block")
        page = context.new_page()
        page.goto(server.base + "/login")
        page.fill("input[name=login]", MEMBER)
        page.fill("input[name=password]", DEMO_PASSWORD)
        page.click("form.form button[type=submit]")
        page.wait_for_url(server.base + "/")

        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.clearBrowserCache")
        url = server.base + "/activities/new"
        cold = _report("first visit, cold cache", _visit(page, cdp, url), server.base)
        repeat = _report("repeat visit, warm cache", _visit(page, cdp, url), server.base)
        context.close()
        first_all, repeat_all = _with_worker(browser, server.base, args)
        browser.close()

    ok = cold <= COLD_GOAL and repeat <= REPEAT_GOAL and first_all <= COLD_GOAL and repeat_all <= REPEAT_GOAL
    print(f"\ncold {cold / 1024:.1f} KB (goal ≤ {COLD_GOAL // 1024} KB), "
          f"repeat {repeat / 1024:.1f} KB (goal ≤ {REPEAT_GOAL // 1024} KB); with the worker, sign-in to "
          f"recording page {first_all / 1024:.1f} KB, again {repeat_all / 1024:.1f} KB: {'ok' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
