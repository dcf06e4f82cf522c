"""Request dependencies: the caller, CSRF, and sessions for reading and for writing.

Permissions are loaders: feature modules build on ``CurrentUser`` and the scope helpers of
``Principal`` to load an object *for this user* or answer 404 before the handler body runs.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from sqlmodel import Session

from app.auth import csrf
from app.auth.principal import Principal
from app.auth.service import principal_for
from app.db import get_session, get_write_session
from app.errors import Unauthorized

SESSION_COOKIE = "szt_session"

# An id in a URL: refused (422) before the database sees a number beyond BIGINT.
Id = Annotated[int, Path(ge=1, le=2**63 - 1)]

SessionDep = Annotated[Session, Depends(get_session)]
WriteSessionDep = Annotated[Session, Depends(get_write_session)]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def get_principal(request: Request, session: SessionDep) -> Principal | None:
    principal = principal_for(session, request.cookies.get(SESSION_COOKIE), ip=client_ip(request))
    request.state.principal = principal
    return principal


OptionalUser = Annotated[Principal | None, Depends(get_principal)]


async def require_user(principal: OptionalUser) -> Principal:
    if principal is None:
        raise Unauthorized()
    return principal


CurrentUser = Annotated[Principal, Depends(require_user)]


async def csrf_protect(request: Request, principal: OptionalUser) -> None:
    await csrf.check(request, principal)
