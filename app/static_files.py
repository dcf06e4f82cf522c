"""A light page on a weak network: static files under fingerprinted names, cached for a year, and
answers compressed once.

- ``static_url(path='css/app.css')`` (a template global, app/web.py) names a file under its content
  hash, ``/static/3f2a9c1b/css/app.css``: the hash changes when the bytes do, so the browser may keep
  the file for a year without asking again (``immutable``), and a release never leaves a stale copy.
  The hash is a leading folder rather than part of the file name, so the name stays what
  static/VENDORED.md pins (``htmx-2.0.11.min.js``).
- :class:`FingerprintedStatic` serves that name from the plain file. A plain name (an old link, the
  Swagger page) still works, with ``no-cache`` (revalidated by ETag, usually a 304). A hash that is
  not the current file's — a page from before a release, kept by a phone or a proxy — gets the
  current file with ``no-cache`` rather than a 404: the page keeps its style and scripts, and nothing
  wrong is kept for a year.
- :class:`CompressionMiddleware` is Starlette's gzip (text types, from 500 bytes) that leaves alone
  what is already encoded (the boards' pre-gzipped blocks) or already compressed (photos, xlsx, docx,
  zip), and marks the ETag of what it compressed weak (``W/"…"``): the compressed bytes are another
  representation of the same content; If-None-Match compares weakly (app/api_http.py, StaticFiles),
  so the 304s still come.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from pathlib import Path

from jinja2 import pass_context
from jinja2.runtime import Context
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import PROJECT_ROOT

STATIC_DIR = PROJECT_ROOT / "static"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
HASH_LENGTH = 8
_FINGERPRINTED = re.compile(rf"^(?P<hash>[0-9a-f]{{{HASH_LENGTH}}})/(?P<plain>.+)$")
# Types mimetypes does not name (or names otherwise) on every system.
MEDIA_TYPES = {".webmanifest": "application/manifest+json", ".geojson": "application/geo+json"}

# Already compressed: gzip would spend the CPU for nothing (Starlette's list names images and zip).
ALREADY_COMPRESSED = (
    *DEFAULT_EXCLUDED_CONTENT_TYPES,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",  # xlsx
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",  # docx
    "application/pdf",
    "application/octet-stream",
    "image/heic",
    "image/heif",
)

# path → (mtime_ns, size, hash, monotonic time of the last stat): computed once per file version per
# process, the file looked at again at most once a second, so a file edited while the server runs gets
# its new name within a second. Not a stat per use: a page names a dozen files, and each stat lets go
# of the GIL, which a busy threaded server then takes time to hand back (bench/boards.py: +13 % of a
# board's requests/s).
_hashes: dict[str, tuple[int, int, str, float]] = {}
RECHECK_SECONDS = 1.0


def fingerprint(path: str) -> str | None:
    """The first hex digits of the SHA-256 of static/``path``, or None when there is no such file."""
    now = time.monotonic()  # only a duration matters here, not the wall clock
    known = _hashes.get(path)
    if known and now - known[3] < RECHECK_SECONDS:
        return known[2]
    full = STATIC_DIR / path
    try:
        st = os.stat(full)
    except OSError:
        return None
    if known and known[0] == st.st_mtime_ns and known[1] == st.st_size:
        _hashes[path] = (*known[:3], now)
        return known[2]
    digest = hashlib.sha256(full.read_bytes()).hexdigest()[:HASH_LENGTH]
    _hashes[path] = (st.st_mtime_ns, st.st_size, digest, now)
    return digest


def fingerprinted_name(path: str) -> str:
    """``css/app.css`` → ``3f2a9c1b/css/app.css`` (unchanged when the file is missing: a 404 says so)."""
    digest = fingerprint(path)
    return path if digest is None else f"{digest}/{path}"


@pass_context
def static_url(context: Context, path: str) -> str:
    """The URL of static/``path`` under its fingerprinted name (the template global)."""
    name = fingerprinted_name(path)
    request = context.get("request")
    if request is not None:
        return str(request.url_for("static", path=name))
    return f"/static/{name}"


class FingerprintedStatic(StaticFiles):
    """StaticFiles that also answers fingerprinted names, and says how long each answer may be kept."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        match = _FINGERPRINTED.match(Path(path).as_posix())
        if match:
            plain = match["plain"]
            try:
                response = await super().get_response(plain, scope)
            except HTTPException as exc:
                if exc.status_code != 404:
                    raise
            else:
                current = fingerprint(plain)
                response.headers["Cache-Control"] = IMMUTABLE if match["hash"] == current else REVALIDATE
                return self._typed(response, plain)
        response = await super().get_response(path, scope)
        response.headers["Cache-Control"] = REVALIDATE
        return self._typed(response, path)

    @staticmethod
    def _typed(response: Response, path: str) -> Response:
        media_type = MEDIA_TYPES.get(os.path.splitext(path)[1])
        if media_type and response.status_code == 200:
            response.headers["Content-Type"] = media_type
        return response


class CompressionMiddleware:
    """gzip for text answers when the client takes it; see the module docstring."""

    def __init__(self, app: ASGIApp, *, minimum_size: int = 500, compresslevel: int = 6) -> None:
        self.app = app
        self.minimum_size = minimum_size
        self.compresslevel = compresslevel

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or "gzip" not in Headers(scope=scope).get("accept-encoding", ""):
            await self.app(scope, receive, send)
            return
        encoded_below = False

        async def inner(scope: Scope, receive: Receive, inner_send: Send) -> None:
            async def spy(message: Message) -> None:
                nonlocal encoded_below
                if message["type"] == "http.response.start":
                    encoded_below = "content-encoding" in Headers(raw=message.get("headers", []))
                await inner_send(message)

            await self.app(scope, receive, spy)

        async def weaken_etag(message: Message) -> None:
            if message["type"] == "http.response.start" and not encoded_below:
                headers = MutableHeaders(scope=message)
                etag = headers.get("etag")
                if headers.get("content-encoding") == "gzip" and etag and not etag.startswith("W/"):
                    headers["ETag"] = "W/" + etag
            await send(message)

        gzip = GZipMiddleware(inner, minimum_size=self.minimum_size, compresslevel=self.compresslevel,
                              exclude_content_types=ALREADY_COMPRESSED)
        await gzip(scope, receive, weaken_etag)
