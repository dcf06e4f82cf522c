"""Templates and rendering: one template per page, HTMX fragments are its named blocks."""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from jinja2_fragments.fastapi import Jinja2Blocks
from markupsafe import Markup

from app.auth.csrf import page_token
from app.config import PROJECT_ROOT
from app.static_files import static_url


@lru_cache
def templates() -> Jinja2Blocks:
    t = Jinja2Blocks(directory=str(PROJECT_ROOT / "templates"))
    t.env.filters["money"] = format_money
    t.env.globals["static_url"] = static_url  # fingerprinted, long-cached names (app/static_files.py)
    return t


def format_money(hundredths: int | None) -> str:
    """Hundredths of 万元 as 万元 without spurious decimals: 1250 → 12.5, 15230600 → 152306."""
    if hundredths is None:
        return ""
    whole, frac = divmod(int(hundredths), 100)
    return f"{whole}" if frac == 0 else f"{whole}.{frac:02d}".rstrip("0")


def grouped(number_text: str) -> str:
    """A number as written (``152306.5``, ``1234``) with thousands separators: ``152,306.5``, ``1,234``."""
    whole, dot, fraction = number_text.partition(".")
    return f"{int(whole.replace(',', '')):,}{dot}{fraction}"


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def wants_fragment(request: Request) -> bool:
    """HTMX asks for a piece of the page; a history-restore request (back button after a cache miss)
    needs the whole page."""
    return is_htmx(request) and request.headers.get("HX-History-Restore-Request") != "true"


def render(request: Request, template: str, context: dict[str, Any], *, block: str | None = None,
           status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    """The whole page, or only ``block`` of it when HTMX asks for a fragment."""
    principal = getattr(request.state, "principal", None)
    ctx = {"principal": principal, "csrf_token": page_token(request, principal), **context}
    name = block if (block and wants_fragment(request)) else None
    response = templates().TemplateResponse(
        request, template, ctx, block_name=name, status_code=status_code, headers=headers
    )
    if block:
        response.headers["Vary"] = "HX-Request"
    return response


def render_page_html(request: Request, template: str, context: dict[str, Any]) -> str:
    """The whole page as :func:`render` would send it, as text (for a page assembled from cached parts:
    app/boards/pages.py)."""
    principal = getattr(request.state, "principal", None)
    ctx = {"request": request, "principal": principal, "csrf_token": page_token(request, principal), **context}
    return templates().get_template(template).render(ctx)


def render_block_html(request: Request, template: str, block: str, context: dict[str, Any]) -> Markup:
    """One block of a template as HTML (for a page that caches its expensive block)."""
    from jinja2_fragments import render_block

    html = render_block(templates().env, template, block, {"request": request, **context})
    return Markup(html)


def safe_next(target: str | None, default: str = "/") -> str:
    """A redirect target on this site only (no //evil.example, no scheme)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def message_header(message: str) -> dict[str, str]:
    """The answer's Chinese message as a header (``X-Message``, percent-encoded: headers are Latin-1),
    for a client that reads no HTML — the phone's queue of submissions sent without their page
    (static/js/outbox.js) — on a refused form (422) and on an HTMX error answer."""
    return {"X-Message": quote(message[:500], safe="")}


def redirect(request: Request, url: str) -> Response:
    """Post/redirect/get for plain forms; HX-Redirect for HTMX."""
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)
