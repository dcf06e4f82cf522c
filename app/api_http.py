"""HTTP conventions of the JSON API (/api/…), applied once for every route:

- every successful GET/HEAD answer carries a strong ``ETag`` (SHA-256 of the body, so equal bodies
  give equal tags whichever process answers), and a request whose ``If-None-Match`` names it gets
  ``304 Not Modified`` without a body; ``Cache-Control: private, no-cache`` and
  ``Vary: Authorization, Cookie`` keep shared caches from serving one caller's answer to another;
- answers to an API token carry ``X-RateLimit-Limit`` / ``X-RateLimit-Remaining`` (the dependency
  that authenticates the token leaves them in the request state).

``json_answer`` writes a route's answer from a model already validated (or a list of them), once,
instead of FastAPI validating and serialising it again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from pydantic import BaseModel
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_PREFIX = "/api/"


def json_answer(body: BaseModel | Sequence[BaseModel], *, status_code: int = 200,
                headers: dict[str, str] | None = None) -> Response:
    """The JSON answer of ``body`` (a model, or a list of models)."""
    text = body.model_dump_json() if isinstance(body, BaseModel) \
        else "[" + ",".join(b.model_dump_json() for b in body) + "]"
    return Response(text, status_code=status_code, media_type="application/json", headers=headers)


def etag_of(body: bytes | memoryview) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def etag_matches(if_none_match: str, tag: str) -> bool:
    """True when an ``If-None-Match`` header names ``tag`` (weak comparison, as RFC 9110 asks) or is ``*``."""
    wanted = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in wanted or tag in wanted


class ApiHttpMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        cacheable = scope["method"] in ("GET", "HEAD")

        def add_rate_headers(headers: MutableHeaders) -> None:
            limit = (scope.get("state") or {}).get("rate_limit")
            if limit:
                headers["X-RateLimit-Limit"] = str(limit[0])
                headers["X-RateLimit-Remaining"] = str(limit[1])

        if not cacheable:
            async def send_with_limits(message: Message) -> None:
                if message["type"] == "http.response.start":
                    add_rate_headers(MutableHeaders(scope=message))
                await send(message)

            await self.app(scope, receive, send_with_limits)
            return

        start: Message | None = None
        chunks: list[bytes] = []

        async def buffer(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                await self._finish(scope, start, b"".join(chunks), send, add_rate_headers)
                return
            await send(message)

        await self.app(scope, receive, buffer)

    @staticmethod
    async def _finish(scope: Scope, start: Message | None, body: bytes, send: Send,
                      add_rate_headers: Callable[[MutableHeaders], None]) -> None:
        assert start is not None
        headers = MutableHeaders(scope=start)
        add_rate_headers(headers)
        headers["Vary"] = "Authorization, Cookie"
        if start["status"] == 200:
            tag = etag_of(body)
            headers["ETag"] = tag
            headers["Cache-Control"] = "private, no-cache"
            if etag_matches(Headers(scope=scope).get("if-none-match", ""), tag):
                start["status"] = 304
                for name in ("content-length", "content-type"):
                    if name in headers:
                        del headers[name]
                body = b""
        await send(start)
        await send({"type": "http.response.body", "body": body, "more_body": False})
