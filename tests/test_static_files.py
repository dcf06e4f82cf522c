"""A light page: gzip where it helps and only once, fingerprinted static names kept for a year, the
web app manifest (app/static_files.py)."""

from __future__ import annotations

import json
import re

import pytest

from app.static_files import IMMUTABLE, REVALIDATE, STATIC_DIR
from tests import factories as f
from tests.api.conftest import bearer, make_token
from tests.boards.test_cache import _app, _board, _record, _signed_in

GZIP = {"Accept-Encoding": "gzip"}
IDENTITY = {"Accept-Encoding": "identity"}
CSS = re.compile(r'href="(?:http://testserver)?(/static/[0-9a-f]{8}/css/app\.css)"')


def test_pages_and_json_are_gzipped_when_asked_and_only_then(client):
    page = client.get("/login", headers=GZIP)
    assert page.status_code == 200 and page.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in page.headers["vary"] and "登录" in page.text
    assert "content-encoding" not in client.get("/login", headers=IDENTITY).headers

    spec = client.get("/openapi.json", headers=GZIP)
    assert spec.headers["content-encoding"] == "gzip" and spec.json()["info"]["title"]
    assert "content-encoding" not in client.get("/openapi.json", headers=IDENTITY).headers


def test_photos_are_not_compressed_again(client):
    icon = client.get("/static/icons/icon-192.png", headers=GZIP)
    assert icon.status_code == 200 and "content-encoding" not in icon.headers


@pytest.mark.dates
def test_a_pre_gzipped_board_block_decodes_once(session, new_app):
    _record(session, 4321)
    with _signed_in(_app(new_app, session), session) as (client, _):
        plain = _board(client, htmx=True, **IDENTITY)
        zipped = _board(client, htmx=True, **GZIP)
    assert zipped.headers["content-encoding"] == "gzip"  # one coding, not "gzip, gzip"
    assert zipped.text == plain.text and "4,321" in zipped.text
    assert not zipped.headers["etag"].startswith("W/")  # the board's own tag for its kept bytes


def test_an_api_answer_still_304s_when_gzipped(client, session):
    _, raw = make_token(session, code="530100")
    first = client.get("/api/v1/catalogue", headers=bearer(raw) | GZIP)
    assert first.status_code == 200 and first.headers["content-encoding"] == "gzip"
    tag = first.headers["etag"]
    assert tag.startswith('W/"')  # the compressed bytes are another representation of the same content
    again = client.get("/api/v1/catalogue", headers=bearer(raw) | GZIP | {"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b""
    plain = client.get("/api/v1/catalogue", headers=bearer(raw) | IDENTITY | {"If-None-Match": tag})
    assert plain.status_code == 304 and plain.headers["etag"] == tag.removeprefix("W/")


def test_fingerprinted_static_names_are_kept_a_year_and_plain_names_revalidated(client, session):
    f.login_as(client, session, f.persona(session, "member"))
    page = client.get("/activities/new")
    url = CSS.search(page.text).group(1)
    css = client.get(url)
    assert css.status_code == 200 and css.headers["cache-control"] == IMMUTABLE and "--brand" in css.text
    assert css.headers["content-type"].startswith("text/css")
    plain = client.get("/static/css/app.css")
    assert plain.headers["cache-control"] == REVALIDATE and plain.text == css.text
    assert client.get("/static/css/app.css", headers={"If-None-Match": plain.headers["etag"]}).status_code == 304
    # Every static file base.html names is fingerprinted, the chart script's data-* URLs included;
    # ECharts is only named there (charts.js fetches it where a chart is), never loaded by this page.
    head = page.text.split("</head>")[0]
    assert not re.search(r'"(?:http://testserver)?/static/(?![0-9a-f]{8}/)[^"]+"', head)
    assert re.search(r'data-echarts="[^"]*/static/[0-9a-f]{8}/vendor/echarts-6\.1\.0\.min\.js"', head)
    assert not re.search(r'<script[^>]+src="[^"]*echarts', page.text) and "data-chart" not in page.text


def test_a_stale_hash_gets_the_current_file_not_kept(client):
    stale = client.get("/static/00000000/css/app.css")
    assert stale.status_code == 200 and stale.headers["cache-control"] == REVALIDATE
    assert stale.text == client.get("/static/css/app.css").text
    assert client.get("/static/00000000/css/missing.css").status_code == 404


def test_the_manifest_is_linked_and_served_as_a_manifest(client):
    page = client.get("/login")
    link = re.search(r'<link rel="manifest" href="(?:http://testserver)?([^"]+)"', page.text).group(1)
    assert '<meta name="theme-color" content="#b42318">' in page.text and 'rel="apple-touch-icon"' in page.text
    answer = client.get(link)
    assert answer.headers["content-type"] == "application/manifest+json"
    manifest = json.loads(answer.text)
    assert (manifest["name"], manifest["short_name"], manifest["lang"]) == ("双助推行动平台", "双助推", "zh-CN")
    assert manifest["start_url"] == "/" and manifest["display"] == "standalone"
    icons = {(i["sizes"], i["purpose"]) for i in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= icons
    for icon in manifest["icons"]:
        assert client.get(icon["src"]).headers["content-type"] == "image/png"


def test_a_streamed_file_still_arrives_whole(client):
    """FileResponse streams in chunks: compressed on the fly, decoded to the very bytes."""
    echarts = client.get("/static/vendor/echarts-6.1.0.min.js", headers=GZIP)
    assert echarts.headers["content-encoding"] == "gzip" and "content-length" not in echarts.headers
    assert echarts.content == (STATIC_DIR / "vendor/echarts-6.1.0.min.js").read_bytes()


def test_a_static_file_edited_while_serving_gets_its_new_name_within_a_second(monkeypatch, tmp_path):
    from types import SimpleNamespace

    from app import static_files

    now = [100.0]
    monkeypatch.setattr(static_files, "STATIC_DIR", tmp_path)
    monkeypatch.setattr(static_files, "time", SimpleNamespace(monotonic=lambda: now[0]))
    monkeypatch.setattr(static_files, "_hashes", {})
    (tmp_path / "a.css").write_text("body{}")
    first = static_files.fingerprint("a.css")
    (tmp_path / "a.css").write_text("body{color:red}")
    now[0] += 0.5
    assert static_files.fingerprint("a.css") == first  # not looked at again within the second
    now[0] += 0.6
    assert static_files.fingerprint("a.css") not in (first, None)
    assert static_files.fingerprint("missing.css") is None
