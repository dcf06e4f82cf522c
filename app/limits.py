"""How much a request may send: one limit for every body, larger ones only where a route declares them;
and how large an uploaded .xlsx may unpack (:func:`check_xlsx`).

:class:`BodyLimitMiddleware` sits outside the CSRF cookie, the form parser and authentication and
holds every body to a limit: a declared Content-Length over it is refused before one byte is read,
a streamed body (chunked, no length) as soon as its bytes pass it. Nobody makes the server read and
spool a gigabyte to disk for a request it would refuse anyway.

- The global limit is ``settings.max_body_bytes`` (``SZT_MAX_BODY_BYTES``, 1 MB): every form and
  JSON body fits (the largest, the targets grid of ~150 organisations, is a few hundred KB).
- A router that takes files declares its own with ``route_class=bounded_body_route(...)``, beside
  the code that knows why — the one way a limit is raised: activities (``activities.pages.MAX_BODY``:
  6 photos × 10 MB + the form), imports (20 MB), targets and terms files (2 MB). The route raises
  the request's allowance once routing has chosen it, before its body is parsed — and only for a
  caller presenting credentials (a session cookie or an Authorization header): an anonymous upload
  stays at the global limit and is answered as not signed in (401 / to the login page).

A refused request gets the application's own 413 (JSON ``body_too_large`` under /api/, the error
page or the HTMX toast otherwise) saying how much this form takes.

An .xlsx is a zip: what openpyxl unpacks, not what was uploaded, costs the memory and the time. A
0.7 MB file of shared strings took 600 MB; the sizes its parts declare are checked before openpyxl
opens it (zipfile never inflates a part past its declared size: the CRC check fails first).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable

from fastapi import Request
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import get_settings
from app.errors import Invalid

ALLOWANCE = "szt.body_allowance"


class _Allowance:
    """The bytes this request may still send in all (a route may raise it before reading)."""

    __slots__ = ("limit", "raised")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.raised = False  # the route takes files: it would raise the limit for a signed-in caller


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` instead of reading past the limit. An HTTPException, so FastAPI's body
    parsing passes it on (anything else it answers with 400) and the error handler answers it."""

    def __init__(self) -> None:
        super().__init__(status_code=413)


def bounded_body_route(limit: Callable[[], int]) -> type[APIRoute]:
    """A route class whose requests may send up to ``limit()`` bytes instead of the global limit
    (asked per request, so settings and tests can change it)."""

    class BoundedBodyRoute(APIRoute):
        def get_route_handler(self) -> Callable:
            handler = super().get_route_handler()

            async def with_own_limit(request: Request) -> Response:
                allowance = request.scope.get(ALLOWANCE)
                if allowance is not None:
                    allowance.raised = True
                    # Only a caller who presents credentials (a session cookie, an API token) may send
                    # more: an anonymous POST is held to the global limit and, past it, answered as
                    # not signed in — it cannot make the server read 62 MB before the 401.
                    if has_credentials(request.scope):
                        allowance.limit = limit()
                return await handler(request)

            return with_own_limit

    return BoundedBodyRoute


def has_credentials(scope: Scope) -> bool:
    """The request presents a session cookie or an Authorization header (checked later, as always)."""
    from starlette.requests import cookie_parser

    from app.deps import SESSION_COOKIE

    for name, value in scope.get("headers", ()):
        if name == b"authorization" and value.strip():
            return True
        if name == b"cookie" and cookie_parser(value.decode("latin-1")).get(SESSION_COOKIE):
            return True
    return False


def refused_as_anonymous(scope: Scope) -> bool:
    """Over the global limit on a route that takes files, without credentials: the answer is 401
    (sign in), not 「太大」 — the same upload from a signed-in member would have been accepted."""
    allowance = scope.get(ALLOWANCE)
    return allowance is not None and allowance.raised and not has_credentials(scope)


def body_limit(scope: Scope) -> int:
    """The limit this request is held to (its route's, else the global one)."""
    allowance = scope.get(ALLOWANCE)
    return allowance.limit if allowance is not None else get_settings().max_body_bytes


def size_text(limit: int) -> str:
    """A limit as a person reads it: 1 MB, 62 MB, 48 KB."""
    mb = 1024 * 1024
    return f"{limit // mb} MB" if limit >= mb else f"{max(1, limit // 1024)} KB"


def too_large_message(scope: Scope) -> str:
    return f"上传的内容太大（最多 {size_text(body_limit(scope))}），请缩小文件或减少照片后重试"


MB = 1024 * 1024
# All parts together: the imports' 100,000 rows (their row limit) written with inline strings are
# ~90 MB of XML; with shared strings (as Excel and WPS write) about half.
XLSX_MAX_UNPACKED = 100 * MB
# openpyxl holds every shared string in memory, several times its XML's size; 100,000 rows of real
# names, phones and companies need under 10 MB.
XLSX_MAX_SHARED_STRINGS = 20 * MB
# Sheet XML compresses 5–30×; a part of repeated bytes a thousandfold (checked on parts over 1 MB).
XLSX_MAX_RATIO = 200
XLSX_MAX_PARTS = 1_000  # a workbook has a dozen parts, a few more per sheet


def check_xlsx(data: bytes, *, max_unpacked: int = XLSX_MAX_UNPACKED, max_shared: int = XLSX_MAX_SHARED_STRINGS,
               advice: str = "请删除多余的空行、空列和工作表后另存，或分成几个文件导入") -> None:
    """Refuse an .xlsx whose parts would unpack too large, before openpyxl opens it (Invalid
    ``xlsx_too_large``). Bytes that are not a zip pass: the reader's own refusal says what they are."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError):
        return
    unpacked = sum(p.file_size for p in parts)
    shared = sum(p.file_size for p in parts if p.filename.lower().endswith("sharedstrings.xml"))
    packed_tight = any(p.file_size > MB and p.file_size > XLSX_MAX_RATIO * max(p.compress_size, 1) for p in parts)
    if len(parts) > XLSX_MAX_PARTS or unpacked > max_unpacked or shared > max_shared or packed_tight:
        raise Invalid(f"文件解压后过大（最多 {size_text(max_unpacked)}，其中文字最多 {size_text(max_shared)}），"
                      f"无法读取：{advice}", code="xlsx_too_large")


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


class BodyLimitMiddleware:
    """Hold every request body to its limit (pure ASGI: nothing buffered, no task per request).

    ``refuse(request)`` builds the 413 when :class:`BodyTooLarge` reaches here unanswered (the
    application's error handler answers it first whenever it can).
    """

    def __init__(self, app: ASGIApp, *, refuse: Callable[[Request], Response]) -> None:
        self.app = app
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        allowance = scope[ALLOWANCE] = _Allowance(get_settings().max_body_bytes)
        declared = _declared_length(scope)
        seen, started = 0, False

        async def counting_receive() -> Message:
            nonlocal seen
            # Asked at each read, not on arrival: the route may have raised the limit meanwhile.
            if (declared or 0) > allowance.limit:
                raise BodyTooLarge()  # not one byte of it read
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > allowance.limit:
                    raise BodyTooLarge()
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge:
            if started:
                raise
            # A plain response never reads ``receive``: the rest of the body stays unread.
            await self.refuse(Request(scope))(scope, receive, send)
