"""Photos shrink on the phone (issue 18, static/js/photos.js): a 12-megapixel camera photo, stored
sideways with EXIF orientation 6, is put back into the file input as an upright JPEG of at most
1,600 px, far smaller, and that is what the server stores; a file the browser cannot decode goes as
it is. On a slow uplink a bar shows how much of the form was sent. At 360×740, on this module's own
server (the test reads its SQLite file).
"""

from __future__ import annotations

import io
import re
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageFilter

from tests.e2e.conftest import Server, serve_app
from tests.e2e.test_member_flow import CREATED, PHONE, _free_task, _log_in

ORIENTATION = 0x0112
SLOW_UPLINK = {"offline": False, "latency": 150, "downloadThroughput": -1, "uploadThroughput": 750_000 / 8}
NO_LIMIT = {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
# The file now in the input, as the page sees it: its type, size and upright pixel size.
IN_THE_INPUT = """async (input) => Promise.all(Array.from(input.files).map(async (f) => {
  let w = null, h = null;
  try { const b = await createImageBitmap(f, {imageOrientation: "from-image"}); w = b.width; h = b.height; }
  catch (e) { /* not an image */ }
  return {name: f.name, type: f.type, size: f.size, width: w, height: h};
}))"""


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    with serve_app(tmp_path_factory.mktemp("photo-shrink"), demo_activities=300) as running:
        yield running


@pytest.fixture(scope="module")
def sideways_photo(tmp_path_factory) -> Path:
    """4000×3000 pixels with a gradient and a fine grain, as a camera makes them, tagged "rotate 90°
    clockwise to show" (EXIF orientation 6): upright it is a 3000×4000 portrait."""
    w, h = 4000, 3000
    gradient = Image.linear_gradient("L")
    base = Image.merge("RGB", (gradient.resize((w, h)), gradient.rotate(90).resize((w, h)),
                               gradient.rotate(45).resize((w, h))))
    grain = Image.effect_noise((w, h), 16).filter(ImageFilter.GaussianBlur(0.6)).convert("RGB")
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    buf = io.BytesIO()
    ImageChops.add(base, grain, offset=-128).save(buf, "JPEG", quality=92, exif=exif)
    path = tmp_path_factory.mktemp("photos") / "IMG_2046.JPG"
    path.write_bytes(buf.getvalue())
    return path


def test_a_camera_photo_shrinks_upright_on_the_phone(server, browser, artifacts, sideways_photo, tmp_path):
    undecodable = tmp_path / "IMG_2047.HEIC"
    undecodable.write_bytes(b"\x00\x00\x00\x18ftypheic" + bytes(range(256)) * 40)  # no decoder here takes it
    page = browser.new_page(viewport=PHONE)
    try:
        _log_in(page, server)
        page.goto(server.base + "/activities/new")
        photos = page.locator("#f-photos")

        # Both chosen: the photo is shrunk, the file the browser cannot read goes unchanged.
        photos.set_input_files([str(sideways_photo), str(undecodable)])
        page.locator("#f-photos-sizes li", has_text="IMG_2047").wait_for()
        shrunk, kept = photos.evaluate(IN_THE_INPUT)
        original = sideways_photo.stat().st_size
        assert shrunk["name"] == "IMG_2046.jpg" and shrunk["type"] == "image/jpeg"
        assert (shrunk["width"], shrunk["height"]) == (1200, 1600)  # upright, long edge 1,600
        assert shrunk["size"] * 5 < original
        assert kept == {"name": "IMG_2047.HEIC", "type": kept["type"], "size": undecodable.stat().st_size,
                        "width": None, "height": None}
        sizes = page.locator("#f-photos-sizes").inner_text()
        assert "IMG_2046.jpg：" in sizes and " MB → " in sizes and "原样上传" in sizes
        assert page.locator("#activity-form .submit").is_enabled()  # it waited while the photos shrank
        assert page.locator("#activity-form .submit .idle").inner_text() == "提交"

        # The photo alone, then the form sent: the server stores the shrunk, upright one.
        photos.set_input_files(str(sideways_photo))
        page.locator("#f-photos-sizes li", has_text="→").wait_for()
        page.select_option("#f-task", _free_task(page, server))
        first_value = page.locator("#values input[name^=value_][inputmode=numeric]").first
        first_value.wait_for()
        first_value.fill("2")
        description = f"田间农技指导 {uuid.uuid4().hex[:8]}"
        page.fill("#f-desc", description)
        # A slow uplink (750 kbps) for the upload: the bar shows how far it is.
        cdp = page.context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions", SLOW_UPLINK)
        page.click("#activity-form .submit")
        progress = page.locator("#upload-progress")
        progress.wait_for()
        assert re.fullmatch(r"正在上传 \d{1,3}%", progress.inner_text().strip())
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.screenshot(path=str(artifacts / "photo-upload-progress-360x740.png"), full_page=True)
        page.wait_for_url(CREATED)
        cdp.send("Network.emulateNetworkConditions", NO_LIMIT)
        assert "已提交" in page.locator(".alert-ok").inner_text()
        with sqlite3.connect(server.db) as conn:
            stored = conn.execute(
                "SELECT p.width, p.height, p.bytes FROM activity_photo p "
                "JOIN activity a ON a.id = p.activity_id WHERE a.description = ?", (description,)).fetchall()
        assert len(stored) == 1
        width, height, _ = stored[0]
        assert height > width and max(width, height) <= 1600
        link = page.locator(".photos a").first.get_attribute("href")
        served = Image.open(io.BytesIO(page.request.get(server.base + link).body()))
        assert served.height > served.width and served.size == (width, height)
    finally:
        page.close()
