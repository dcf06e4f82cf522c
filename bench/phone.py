"""Benchmark: three camera photos sent from a phone on a weak mobile link (issue 18).

What it does, from the repository root (after `make install`, with Debian's Chromium):

    .venv/bin/python bench/phone.py [--no-shrink] [--both]

1. Makes three 12-megapixel photos (4000×3000, a blurred gradient with shapes plus a fine grain, as a
   camera makes them; JPEG quality 92, about 5.7 MB each) with Pillow.
2. Serves the application as the browser tests do (tests/e2e/conftest.py: `python -m app serve` on a
   fresh SQLite file with a small demo province) and opens Chromium at 360×740 under the real
   Content-Security-Policy; a demo member signs in and fills a new activity (a task with no activity
   of the county on the day, so no duplicate question comes in the way).
3. Throttles the link through the DevTools protocol (`Network.emulateNetworkConditions`): 1.6 Mbps
   down, 750 kbps up, 150 ms latency. Attaches the three photos and waits until static/js/photos.js
   has shrunk them (or, with ``--no-shrink``, serves photos.js as an empty script: the originals go).
4. Clicks 提交 and takes the time until the activity's page shows 「已提交成功」; the bytes sent are
   the POST's Content-Length (the multipart body).

Prints, per run: the time to shrink, the bytes sent, the time from 提交 to 已提交. Exits 1 when the
shrinking run misses a bound: ≤ 1.2 MB (1,200,000 bytes) sent and ≤ 15 s.
"""

from __future__ import annotations

import argparse
import io
import re
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.e2e.conftest import CHROMIUM_ARGS, Server, serve_app  # served as in the browser tests

MEMBER, PASSWORD = "13900000007", "demo2026"  # app/seed/demo.py DEMO_ACCOUNTS
PHONE = {"width": 360, "height": 740}
LINK = {"offline": False, "latency": 150, "downloadThroughput": 1_600_000 / 8, "uploadThroughput": 750_000 / 8}
BOUNDS = {"bytes": 1_200_000, "seconds": 15.0}
CREATED = re.compile(r"/activities/\d+\?created=1")
PHOTOS_JS = re.compile(r"/static/(?:[0-9a-f]{8}/)?js/photos\.js")  # the fingerprinted name, or the plain one


def camera_photo(seed: int, w: int = 4000, h: int = 3000) -> bytes:
    """A photo-like JPEG: smooth colour gradients and blurred shapes under a fine sensor grain."""
    gradient = Image.linear_gradient("L")
    base = Image.merge("RGB", (gradient.resize((w, h)), gradient.rotate(90).resize((w, h)),
                               gradient.rotate(45 + seed * 30).resize((w, h))))
    draw = ImageDraw.Draw(base)
    for i in range(12):
        x, y = (seed * 977 + i * 613) % w, (seed * 331 + i * 419) % h
        draw.ellipse((x - 300, y - 200, x + 300, y + 200),
                     fill=((i * 40) % 256, (i * 90 + seed * 50) % 256, (i * 20) % 256))
    base = base.filter(ImageFilter.GaussianBlur(6))
    grain = Image.effect_noise((w, h), 16).convert("RGB")
    buf = io.BytesIO()
    ImageChops.add(base, grain, offset=-128).save(buf, "JPEG", quality=92)
    return buf.getvalue()


def _free_task(page, server: Server) -> str:
    county, day = page.input_value("#f-county"), page.input_value("#f-date")
    with sqlite3.connect(server.db) as conn:
        taken = {str(t) for (t,) in conn.execute(
            "SELECT DISTINCT task_id FROM activity WHERE county_id = ? AND occurred_on = ? "
            "AND status IN ('pending', 'verified')", (int(county), day))}
    return next(v for v in page.locator("#f-task option").evaluate_all("(os) => os.map((o) => o.value)")
                if v and v not in taken)


def run_once(browser, server: Server, photos: list[Path], *, shrink: bool,
             link: dict | None = LINK) -> dict[str, float]:
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    try:
        if not shrink:
            page.route(PHOTOS_JS, lambda route: route.fulfill(
                status=200, content_type="text/javascript", body="/* photos.js off */"))
        page.goto(server.base + "/login")
        page.fill("input[name=login]", MEMBER)
        page.fill("input[name=password]", PASSWORD)
        page.click("form.form button[type=submit]")
        page.wait_for_url(server.base + "/")
        page.goto(server.base + "/activities/new")
        page.select_option("#f-task", _free_task(page, server))
        first_value = page.locator("#values input[name^=value_][inputmode=numeric]").first
        first_value.wait_for()
        first_value.fill("2")
        page.fill("#f-desc", f"现场照片三张（{'压缩' if shrink else '原图'}）{time.monotonic_ns()}")

        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        if link:
            cdp.send("Network.emulateNetworkConditions", link)
        started = time.monotonic()
        page.set_input_files("#f-photos", [str(p) for p in photos])
        if shrink:
            page.locator("#f-photos-sizes li", has_text="→").nth(len(photos) - 1).wait_for(timeout=120_000)
            page.wait_for_function("!document.querySelector('#activity-form .submit').disabled")
        shrunk = time.monotonic() - started

        # The POST's Content-Length as the network stack sent it (DevTools' extra info: Playwright's
        # own view of the request leaves it out when the body comes from files on disk).
        posts: set[str] = set()
        lengths: dict[str, int] = {}
        cdp.on("Network.requestWillBeSent", lambda e: posts.add(e["requestId"])
               if e["request"]["method"] == "POST" and e["request"]["url"].endswith("/activities") else None)
        cdp.on("Network.requestWillBeSentExtraInfo", lambda e: lengths.__setitem__(e["requestId"], int(
            next((v for k, v in e["headers"].items() if k.lower() == "content-length"), "0"))))
        clicked = time.monotonic()
        page.click("#activity-form .submit")
        page.wait_for_url(CREATED, timeout=600_000)
        page.locator(".alert-ok", has_text="已提交成功").wait_for(timeout=600_000)
        done = time.monotonic() - clicked
        sent = [lengths.get(request_id, 0) for request_id in posts]
        if not posts or 0 in sent:
            raise RuntimeError(f"no Content-Length seen for the POST: {posts} {lengths}")
        return {"shrink_s": shrunk, "bytes": float(sum(sent)), "submit_s": done}
    finally:
        context.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-shrink", action="store_true", help="photos.js off: the originals are sent")
    parser.add_argument("--both", action="store_true", help="with and without shrinking, in turn")
    args = parser.parse_args()
    modes = [True, False] if args.both else [not args.no_shrink]

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="szt-phone-") as tmp:
        folder = Path(tmp)
        photos = []
        for seed in range(3):
            path = folder / f"IMG_{2046 + seed}.JPG"
            path.write_bytes(camera_photo(seed))
            photos.append(path)
        sizes = ", ".join(f"{p.stat().st_size / 1e6:.2f} MB" for p in photos)
        print(f"photos: 3 × 4000×3000 JPEG q92 ({sizes}); link 1.6 Mbps down / 750 kbps up / 150 ms; 360×740")
        failed = False
        with serve_app(folder, demo_activities=100) as server, sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
            for shrink in modes:
                r = run_once(browser, server, photos, shrink=shrink)
                label = "shrunk on the phone" if shrink else "originals (photos.js off)"
                print(f"{label:27}  shrink {r['shrink_s']:5.1f} s  sent {r['bytes'] / 1e6:6.2f} MB  "
                      f"提交 → 已提交 {r['submit_s']:6.1f} s")
                if shrink and (r["bytes"] > BOUNDS["bytes"] or r["submit_s"] > BOUNDS["seconds"]):
                    print(f"  MISSED: bounds are ≤ {BOUNDS['bytes'] / 1e6:.1f} MB and ≤ {BOUNDS['seconds']:.0f} s")
                    failed = True
            browser.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
