"""One limit on every request body, enforced before CSRF, the form parser or authentication read it
(app/limits.py); routes that take files keep their own larger limits."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import anyio

from app.config import get_settings

CHUNK = b"x" * 65_536
MB = 1024 * 1024
# A file field's head: what follows is its content, which the form parser would spool to disk.
PART_HEAD = b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n\r\n'


def _post_raw(app, path: str, *, chunks: int, headers: list[tuple[bytes, bytes]] = ()) -> tuple[int, int, bytes]:
    """POST a file field of ``chunks`` × 64 KB to ``app`` as a client streaming it would; (status,
    chunks the application pulled, answer body)."""
    pulled, messages = 0, []

    async def receive():
        nonlocal pulled
        if pulled >= chunks:
            return {"type": "http.disconnect"}
        pulled += 1
        return {"type": "http.request", "body": (PART_HEAD if pulled == 1 else b"") + CHUNK,
                "more_body": pulled < chunks}

    async def send(message):
        messages.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", b"multipart/form-data; boundary=b0undary"),
                    *headers],
        "client": ("127.0.0.1", 50_000), "server": ("testserver", 80),
    }
    # In a thread of its own: a browser test's Playwright may keep an event loop running in this one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(anyio.run, app, scope, receive, send).result()
    start = next(m for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return start["status"], pulled, body


def test_a_streamed_body_to_login_is_refused_once_it_passes_the_limit_not_read_to_its_end(client):
    # 8 MB without a Content-Length (chunked): the form parser used to spool all of it before CSRF refused it.
    status, pulled, body = _post_raw(client.app, "/login", chunks=128)
    assert status == 413
    assert pulled * len(CHUNK) <= get_settings().max_body_bytes + len(CHUNK)  # stopped right past 1 MB
    assert "上传的内容太大（最多 1 MB）" in body.decode()


def test_a_declared_length_over_the_limit_is_refused_before_one_byte_is_read(client):
    status, pulled, body = _post_raw(client.app, "/login", chunks=128, headers=[(b"content-length", b"1073741824")])
    assert (status, pulled) == (413, 0)
    assert "上传的内容太大" in body.decode()


def test_under_the_limit_nothing_changes(client):
    # A small anonymous post without a token still meets the CSRF check, as before.
    status, _, body = _post_raw(client.app, "/login", chunks=2)
    assert status == 403 and "页面已过期" in body.decode()


def test_the_api_answers_json_and_htmx_gets_the_toast(client):
    big = b"{" + b" " * (2 * MB) + b"}"
    api = client.post("/api/v1/activities", content=big, headers={"content-type": "application/json"})
    assert api.status_code == 413
    assert api.json() == {"detail": "上传的内容太大（最多 1 MB），请缩小文件或减少照片后重试", "code": "body_too_large"}
    htmx = client.post("/login", content=b"phone=" + b"1" * (2 * MB),
                       headers={"content-type": "application/x-www-form-urlencoded", "HX-Request": "true"})
    assert htmx.status_code == 413 and 'class="toast toast-error"' in htmx.text and "<html" not in htmx.text


def test_the_limit_is_a_setting(monkeypatch):
    from app.main import create_app

    monkeypatch.setenv("SZT_MAX_BODY_BYTES", str(4 * MB))
    get_settings.cache_clear()
    try:
        status, pulled, _ = _post_raw(create_app(), "/login", chunks=48)  # 3 MB: read, then CSRF refuses
        assert status == 403 and pulled == 48
    finally:
        get_settings.cache_clear()


SESSION = [(b"cookie", b"szt_session=whatever-the-dependency-will-check")]


def test_routers_that_take_files_keep_their_own_larger_limit(client):
    # 3 MB to the imports upload with a session cookie is read (its router takes 20 MB): the CSRF
    # check answers, not the limit.
    status, pulled, _ = _post_raw(client.app, "/imports", chunks=48, headers=SESSION)
    assert status == 403 and pulled == 48
    status, pulled, body = _post_raw(client.app, "/imports", chunks=400, headers=SESSION)  # 25 MB
    assert status == 413 and pulled < 400 and "最多 20 MB" in body.decode()


def test_an_anonymous_upload_is_held_to_the_global_limit_and_asked_to_sign_in(client):
    # Without credentials the larger limit is never granted: the server stops right past 1 MB and
    # answers as it answers anyone not signed in (a page: to the login; the API: 401 JSON).
    status, pulled, _ = _post_raw(client.app, "/activities", chunks=400)
    assert status == 303 and pulled * len(CHUNK) <= get_settings().max_body_bytes + len(CHUNK)
    api = client.post("/api/v1/activities", content=b"{" + b" " * (2 * MB) + b"}",
                      headers={"content-type": "application/json"})
    # /api/v1/activities takes JSON only (1 MB): an oversized body is 「太大」 whoever sends it.
    assert api.status_code == 413
    status, pulled, body = _post_raw(client.app, "/imports", chunks=400,
                                     headers=[(b"authorization", b"Bearer szt_not-checked-yet")])
    assert status == 413 and "最多 20 MB" in body.decode()  # a token counts as credentials
