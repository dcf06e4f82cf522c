"""Templates and rendering: one template per page, HTMX fragments are its named blocks."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from fastapi import Request
from jinja2_fragments.fastapi import Jinja2Blocks

from app.config import PROJECT_ROOT


@lru_cache
def templates() -> Jinja2Blocks:
    return Jinja2Blocks(directory=str(PROJECT_ROOT / "templates"))


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def render(request: Request, template: str, context: dict[str, Any], *, block: str | None = None,
           status_code: int = 200):
    """The whole page, or only ``block`` of it when HTMX asks for a fragment."""
    name = block if (block and is_htmx(request)) else None
    return templates().TemplateResponse(
        request, template, context, block_name=name, status_code=status_code
    )
