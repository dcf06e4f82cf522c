"""The meeting view's loader: the display link behind the ``token`` path parameter, or 404.

No login: the token is the credential. Pages served under it should answer with
``DISPLAY_HEADERS``, so that the token is neither cached nor sent on as a Referer.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.deps import SessionDep
from app.display.service import resolve
from app.errors import NotFound
from app.models import DisplayLink

INVALID_MESSAGE = "该大屏链接已失效（已撤销、已过期或地址不完整），请向「双助推」办公室索取新的链接"

DISPLAY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}


def display_link(token: str, session: SessionDep) -> DisplayLink:
    """The active link for ``token`` (a path parameter), or NotFound with a page that says why."""
    link = resolve(session, token)
    if link is None:
        raise NotFound(INVALID_MESSAGE, code="display_link_invalid", headers=dict(DISPLAY_HEADERS))
    return link


DisplayScope = Annotated[DisplayLink, Depends(display_link)]
