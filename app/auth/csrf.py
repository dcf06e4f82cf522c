"""CSRF protection for every state-changing request.

Logged in: the token stored on the server-side session (synchroniser token). Anonymous (login,
activation): a random cookie echoed back (double submit). HTMX sends it as the X-CSRF-Token header
(``hx-headers`` on <body>); plain forms as the hidden field ``csrf_token``. The Origin (or
Referer) must be this site. Requests with a bearer token (programs, API issue) carry no cookies
and are not subject to it.

Pages are gzipped (app/static_files.py), so the token never appears twice the same: each page
carries it under a fresh random mask (:func:`mask`: the mask, then the token XOR the mask), and
:func:`check` takes it back off (:func:`unmask`). A compressed page with a fixed secret beside text an
attacker can put in it would let the sizes of answers spell the secret out (BREACH).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import Request
from starlette.requests import cookie_parser

from app.errors import Forbidden
from app.security import is_https

ANON_COOKIE = "szt_csrf"
HEADER = "x-csrf-token"
FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class AnonCsrfCookieMiddleware:
    """Give every browser an anonymous CSRF cookie (pure ASGI: no per-request task overhead)."""

    def __init__(self, app) -> None:  # noqa: ANN001
        self.app = app

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Starlette's own parser (what ``request.cookies`` reads): it skips what it cannot read.
        existing = ""
        for name, value in scope.get("headers", []):
            if name == b"cookie":
                existing = cookie_parser(value.decode("latin-1")).get(ANON_COOKIE) or existing
        if existing:
            scope.setdefault("state", {})["anon_csrf"] = existing
            await self.app(scope, receive, send)
            return
        token = secrets.token_urlsafe(32)
        scope.setdefault("state", {})["anon_csrf"] = token
        secure = is_https(scope)

        async def send_with_cookie(message) -> None:  # noqa: ANN001
            if message["type"] == "http.response.start":
                cookie = f"{ANON_COOKIE}={token}; Path=/; SameSite=Lax; HttpOnly" + ("; Secure" if secure else "")
                message.setdefault("headers", []).append((b"set-cookie", cookie.encode()))
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def expected_token(request: Request, principal) -> str:  # noqa: ANN001
    if principal is not None and principal.csrf_token:
        return principal.csrf_token
    return getattr(request.state, "anon_csrf", "")


def mask(token: str) -> str:
    """``token`` as a page carries it: a fresh random mask and the token XOR the mask, base64url."""
    raw = token.encode()
    pad = secrets.token_bytes(len(raw))
    return base64.urlsafe_b64encode(pad + bytes(a ^ b for a, b in zip(pad, raw, strict=True))).decode().rstrip("=")


def unmask(sent: str) -> bytes:
    """The token under a :func:`mask` (b"" when ``sent`` is no masked token)."""
    try:
        data = base64.urlsafe_b64decode(sent + "=" * (-len(sent) % 4))
    except (ValueError, binascii.Error):
        return b""
    half = len(data) // 2
    if not data or len(data) % 2:
        return b""
    return bytes(a ^ b for a, b in zip(data[:half], data[half:], strict=True))


def page_token(request: Request, principal) -> str:  # noqa: ANN001
    """The token for one page (masked afresh); remembered on the request so that the page's ETag can be
    taken of the page as it would read with the token itself (app/boards/pages.py)."""
    token = expected_token(request, principal)
    masked = mask(token) if token else ""
    request.state.csrf_masked = (masked, token)
    return masked


def _same_origin(request: Request) -> bool:
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        # Older in-app browsers omit both on same-origin posts; the token still guards them.
        return not source
    parts = urlsplit(source)
    # An https-only site is https to its visitors even when the proxy did not say so.
    scheme = "https" if is_https(request.scope) else request.url.scheme
    return (parts.scheme, parts.netloc) == (scheme, request.url.netloc)


async def check(request: Request, principal) -> None:  # noqa: ANN001
    """Raise Forbidden unless a state-changing request carries the right token from this site."""
    if request.method in SAFE_METHODS:
        return
    if request.headers.get("authorization", "").lower().startswith("bearer "):
        return
    if principal is None and request.url.path.startswith("/api/"):
        return  # nobody is signed in: the API answers 401 (no cookie session to ride on)
    if not _same_origin(request):
        raise Forbidden("请求来源不被信任", code="bad_origin")
    sent = request.headers.get(HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            sent = (await request.form()).get(FIELD)
    expected = expected_token(request, principal).encode()
    sent_bytes = str(sent or "").encode()
    # The page's masked token, or the token itself (a program holding the session's token).
    if not sent or not expected or not (hmac.compare_digest(sent_bytes, expected)
                                         or hmac.compare_digest(unmask(str(sent)), expected)):
        raise Forbidden("页面已过期或来源无法验证，请刷新页面后重试", code="csrf_failed")
