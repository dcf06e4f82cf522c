"""How much a request may send: one limit for every body, larger ones only where a route declares them.

:class:`BodyLimitMiddleware` sits outside the CSRF cookie, the form parser and authentication and
holds every body to a limit: a declared Content-Length over it is refused before one byte is read,
a streamed body (chunked, no length) as soon as its bytes pass it. Nobody makes the server read and
spool a gigabyte to disk for a request it would refuse anyway.

- The global limit is ``settings.max_body_bytes`` (``SZT_MAX_BODY_BYTES``, 1 MB): every form and
  JSON body fits (the largest, the targets grid of ~150 organisations, is a few hundred KB).
- A router that takes files declares its own with ``route_class=bounded_body_route(...)``, beside
  the code that knows why — the one way a limit is raised: activities (``activities.pages.MAX_BODY``:
  6 photos × 10 MB + the form), imports (20 MB), targets and terms files (2 MB). The route raises
  the request's allowance once routing has chosen it, before its body is parsed.

A refused request gets the application's own 413 (JSON ``body_too_large`` under /api/, the error
page or the HTMX toast otherwise) saying how much this form takes.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import get_settings

ALLOWANCE = "szt.body_allowance"


class _Allowance:
    """The bytes this request may still send in all (a route may raise it before reading)."""

    __slots__ = ("limit",)

    def __init__(self, limit: int) -> None:
        self.limit = limit


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
                    allowance.limit = limit()
                return await handler(request)

            return with_own_limit

    return BoundedBodyRoute


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
