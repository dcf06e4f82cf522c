"""The meeting view's loader: the display link behind the ``token`` path parameter, or 404.

No login: the token is the credential. Pages served under it should answer with
``SCREEN_HEADERS``, so that the token is neither cached nor sent on as a Referer.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.deps import SessionDep
from app.errors import NotFound
from app.models import ScreenLink
from app.screens.service import resolve

INVALID_MESSAGE = "该大屏链接已失效（已撤销、已过期或地址不完整），请向「双助推」办公室索取新的链接"

SCREEN_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}


def screen_for_token(token: str, session: SessionDep) -> ScreenLink:
    """The active link for ``token`` (a path parameter), or NotFound with a page that says why."""
    link = resolve(session, token)
    if link is None:
        raise NotFound(INVALID_MESSAGE, code="display_link_invalid", headers=dict(SCREEN_HEADERS))
    return link


ScreenScope = Annotated[ScreenLink, Depends(screen_for_token)]
