"""Security headers on every answer, and the one test of "this request came over https".

The policy is strict: scripts only from this site's files (no inline script, no ``on…=``
attribute, no ``javascript:`` link, no ``eval`` — templates/ hands data to static/js/app.js through
``data-*`` attributes and ``<script type="application/json">`` blocks, which are never executed;
tests/test_security_headers.py scans the templates). Inline *styles* are allowed: htmx and ECharts
set ``style`` attributes. The Swagger UI page (/docs) sets its own policy naming its one inline
script by hash (app/main.py); a response's own header wins over the default here.

Behind a reverse proxy the scheme and client address are those uvicorn's ProxyHeadersMiddleware
took from X-Forwarded-Proto/-For of a trusted proxy (``SZT_FORWARDED_ALLOW_IPS``, app/cli.py and
the Dockerfile), so ``is_https`` and the login throttle's address need nothing more here.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import get_settings

HSTS = "max-age=31536000"  # a year; no includeSubDomains: other services may share the parent domain
# Features no page uses are switched off (a photo is chosen through <input type=file capture>,
# which opens the camera app without the page holding the camera permission).
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
# The big screen's meeting view and its slides: the only pages SZT_FRAME_ANCESTORS may let a portal frame.
FRAMEABLE_PREFIX = "/d/"


def content_security_policy(*, script_src: str = "'self'", frame_ancestors: str = "'none'") -> str:
    return "; ".join((
        "default-src 'self'", f"script-src {script_src}", "object-src 'none'", "base-uri 'self'",
        f"frame-ancestors {frame_ancestors}", "form-action 'self'", "img-src 'self' data: blob:",
        "style-src 'self' 'unsafe-inline'",
    ))


def inline_script_hashes(html: str) -> str:
    """The CSP source list naming each inline <script> of ``html`` by its SHA-256 (for /docs)."""
    bodies = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", html, flags=re.DOTALL | re.IGNORECASE)
    digests = (base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() for body in bodies)
    return " ".join(f"'sha256-{d}'" for d in digests)


def is_https(scope: Mapping[str, Any]) -> bool:
    """Did this request reach the site over https (as a trusted proxy says), or is the site https only?"""
    return scope.get("scheme") == "https" or get_settings().https_only


class SecurityHeadersMiddleware:
    """Pure ASGI: adds the headers to every response start, keeping any a handler set itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        settings = get_settings()
        framers = settings.frame_ancestors.split()
        self._common: list[tuple[bytes, bytes]] = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"strict-origin-when-cross-origin"),
            (b"permissions-policy", PERMISSIONS_POLICY.encode()),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]
        self._framed_nowhere = [(b"content-security-policy", content_security_policy().encode()),
                                (b"x-frame-options", b"DENY")]
        # X-Frame-Options cannot name several origins; browsers that know frame-ancestors ignore it anyway.
        self._frameable = ([(b"content-security-policy",
                             content_security_policy(frame_ancestors=" ".join(framers)).encode())]
                           if framers else self._framed_nowhere)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self._common + (self._frameable if scope["path"].startswith(FRAMEABLE_PREFIX) else self._framed_nowhere)
        if is_https(scope):
            extra = [*extra, (b"strict-transport-security", HSTS.encode())]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                message["headers"] = headers + [(name, value) for name, value in extra if name not in present]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class HardenedFastAPI(FastAPI):
    """FastAPI whose every answer carries the security headers — the 500 page too, which Starlette's
    ServerErrorMiddleware sends from outside every middleware added with ``add_middleware``."""

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeadersMiddleware(super().build_middleware_stack())
