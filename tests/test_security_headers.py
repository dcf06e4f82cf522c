"""Security headers on every answer (app/security.py), and templates a strict CSP can serve."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app.config import PROJECT_ROOT, Settings
from app.db import get_session, get_write_session
from app.main import create_app

TEMPLATES = PROJECT_ROOT / "templates"


def _client(session, base_url: str = "http://testserver") -> TestClient:
    app = create_app()
    app.dependency_overrides[get_session] = lambda: session
    app.dependency_overrides[get_write_session] = lambda: session

    @app.get("/test-boom")
    def boom() -> None:
        raise RuntimeError("a fault no handler expects")

    return TestClient(app, base_url=base_url, raise_server_exceptions=False)


def _directives(csp: str) -> dict[str, str]:
    return {part.split()[0]: " ".join(part.split()[1:]) for part in csp.split(";") if part.strip()}


def _assert_strict(headers) -> None:
    csp = _directives(headers["content-security-policy"])
    assert csp["default-src"] == "'self'"
    assert csp["script-src"] == "'self'", "no inline script, no eval"
    assert csp["object-src"] == "'none'" and csp["base-uri"] == "'self'" and csp["form-action"] == "'self'"
    assert csp["frame-ancestors"] == "'none'"
    assert csp["img-src"] == "'self' data: blob:"
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert "camera=()" in headers["permissions-policy"]
    assert headers["cross-origin-opener-policy"] == "same-origin"


def test_every_answer_carries_the_security_headers(session):
    c = _client(session)
    answers = {
        "page": c.get("/login"),
        "static file": c.get("/static/js/app.js"),
        "json error": c.get("/api/v1/orgs"),
        "missing page": c.get("/no-such-page"),
        "redirect": c.get("/", follow_redirects=False),
        "server error": c.get("/test-boom"),
        "health": c.get("/healthz"),
    }
    assert answers["server error"].status_code == 500 and answers["missing page"].status_code == 404
    for what, r in answers.items():
        try:
            _assert_strict(r.headers)
        except (AssertionError, KeyError) as exc:
            raise AssertionError(f"{what} ({r.status_code}): {exc!r} in {dict(r.headers)}") from exc
        assert "strict-transport-security" not in r.headers, f"{what}: HSTS over plain http"


def test_hsts_only_over_https_or_when_the_site_is_https_only(session, settings_env):
    assert _client(session, "https://testserver").get("/login").headers["strict-transport-security"] == \
        "max-age=31536000"
    assert "strict-transport-security" not in _client(session).get("/login").headers
    settings_env(https_only="true")
    assert "strict-transport-security" in _client(session).get("/login").headers


def test_api_docs_allow_only_their_own_inline_script_by_hash(session):
    r = _client(session).get("/docs")
    assert r.status_code == 200
    script_src = _directives(r.headers["content-security-policy"])["script-src"]
    assert "unsafe-inline" not in script_src and "unsafe-eval" not in script_src
    inline = re.findall(r"<script>(.*?)</script>", r.text, flags=re.DOTALL)
    assert len(inline) == 1
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    assert script_src == f"'self' 'sha256-{digest}'"
    assert "validatorUrl" in r.text and "validator.swagger.io" not in r.text


def test_frame_ancestors_let_named_portals_frame_the_big_screen_only(session, settings_env):
    settings_env(frame_ancestors="https://portal.example.gov.cn http://10.1.2.3:8080")
    c = _client(session)
    screen = c.get("/d/no-such-token")
    assert _directives(screen.headers["content-security-policy"])["frame-ancestors"] == \
        "https://portal.example.gov.cn http://10.1.2.3:8080"
    assert "x-frame-options" not in screen.headers
    _assert_strict(c.get("/login").headers)  # every other page still refuses any frame


@pytest.mark.parametrize("value", ["*", "https://a.example; script-src *", "portal.example.gov.cn", "'self'"])
def test_frame_ancestors_accept_plain_origins_only(value):
    with pytest.raises(ValidationError, match="SZT_FRAME_ANCESTORS"):
        Settings(frame_ancestors=value)


# What a strict script-src refuses (the browser test checks the pages really run under it):
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.IGNORECASE)
HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
JS_URL = re.compile(r"javascript:", re.IGNORECASE)
# htmx features that evaluate strings as code (need 'unsafe-eval'): hx-on, hx-vars, js: values, trigger filters.
HTMX_EVAL = re.compile(r"hx-on\b|hx-on:|hx-vars|hx-vals=['\"]\s*(js|javascript):|hx-trigger=\"[^\"]*\[", re.IGNORECASE)


def _offences(text: str) -> list[str]:
    found = []
    for pattern, what in ((INLINE_SCRIPT, "inline <script>"), (HANDLER, "on…= handler"),
                          (JS_URL, "javascript: URL"), (HTMX_EVAL, "htmx eval feature")):
        for m in pattern.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            found.append(f"{what} at line {line}: {text.splitlines()[line - 1].strip()[:100]}")
    return found


def test_scanner_finds_each_kind_of_inline_code():
    samples = ['<button onclick="go()">', "<form\n  onsubmit='return confirm(1)'>", "<script>alert(1)</script>",
               '<a href="javascript:history.back()">', '<div hx-on:click="x()">', '<input hx-trigger="keyup[ctrlKey]">']
    assert all(_offences(s) for s in samples)
    assert not _offences('<script src="/static/js/app.js" defer></script>'
                         '<script type="application/json">{"a": 1}</script><form data-confirm="确定？">')


def test_templates_hold_no_inline_script_or_handler():
    offences = {str(p.relative_to(TEMPLATES)): found for p in sorted(Path(TEMPLATES).rglob("*.html"))
                if (found := _offences(p.read_text(encoding="utf-8")))}
    assert not offences, "move these to static/js/app.js (data-* attributes): " + repr(offences)
