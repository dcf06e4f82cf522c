"""Request dependencies: the caller, CSRF, and sessions for reading and for writing.

Permissions are loaders: feature modules build on ``CurrentUser`` and the scope helpers of
``Principal`` to load an object *for this user* or answer 404 before the handler body runs.
An organisation for this caller comes from one set: ``OrgForRead`` / ``OrgForStaff`` / ``OrgForLinks``
(a ``{code}`` in the path), ``OrgIdForStaff`` (an ``{org_id}``), and the plain ``org_for_read`` /
``org_for_staff`` / ``org_for_links`` for an id or code in a query, body or form — 404 outside every
subtree the caller reads, 403 when they read it but may not do this (rule: ``principal.org_in_scope``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app.auth import csrf
from app.auth.principal import Principal, org_for_links, org_for_read, org_for_staff
from app.auth.principals import READ_AHEAD, PrincipalCache
from app.auth.service import cached_principal, principal_for
from app.clock import now_utc
from app.db import get_session, get_write_session, read_session
from app.errors import Unauthorized
from app.models import Organisation
from app.models.base import MAX_BIGINT

SESSION_COOKIE = "szt_session"

# An id in a URL: refused (422) before the database sees a number beyond BIGINT.
Id = Annotated[int, Path(ge=1, le=MAX_BIGINT, description="记录编号（正整数） / the record's id")]

SessionDep = Annotated[Session, Depends(get_session)]
WriteSessionDep = Annotated[Session, Depends(get_write_session)]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


# Documents the Bearer scheme in OpenAPI; the header is read below (a page never takes a token).
bearer_scheme = HTTPBearer(auto_error=False, scheme_name="apiToken", bearerFormat="szt_…",
                           description="API 令牌（由「双助推」办公室在 /tokens 创建）：`Authorization: Bearer szt_…`")


# The other way in: a signed-in person's session cookie (pages, and the API with an X-CSRF-Token header).
cookie_scheme = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, scheme_name="sessionCookie",
                             description="登录后的会话 Cookie；写操作另需 `X-CSRF-Token` 请求头（页面中的 csrf_token）")


async def get_principal(request: Request, session: SessionDep,
                        _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)] = None,
                        _cookie: Annotated[str | None, Depends(cookie_scheme)] = None,
                        ) -> Principal | None:
    """The caller: an API token when the request carries ``Authorization`` (never falling back to the
    cookie), else the session cookie's user.

    On the event loop when the application's principal cache answers with no statement (nearly every
    request of a signed-in person: ``cached_principal``); otherwise in one worker thread."""
    header = request.headers.get("authorization")
    principal: Principal | None
    # Only a Bearer credential is ours: an intranet proxy's Basic auth must not lock people out.
    if header is not None and header.strip().lower().startswith("bearer"):
        principal = await run_in_threadpool(_token_principal, request, session, header)
    else:
        principal = cached_principal_of(request)
        raw = request.cookies.get(SESSION_COOKIE)
        if principal is None and raw:
            principal = await run_in_threadpool(principal_for, session, raw, ip=client_ip(request),
                                                cache=_principal_cache(request))
    request.state.principal = principal
    return principal


def cached_principal_of(request: Request) -> Principal | None:
    """The session cookie's caller when the application's principal cache answers with no statement
    (``cached_principal``), else None; sets ``request.state.principal`` when found. Not for a request
    carrying ``Authorization`` (an API token is never answered from the cookie)."""
    principal = cached_principal(_principal_cache(request), request.cookies.get(SESSION_COOKIE),
                                 ip=client_ip(request))
    if principal is not None:
        request.state.principal = principal
    return principal


def _principal_cache(request: Request) -> PrincipalCache:
    return principal_cache(request.app)


def principal_cache(app: Any) -> PrincipalCache:
    """The application's principal cache (app/auth/principals.py), made on first use; a second made by
    a racing first request is only a cache lost."""
    cache = getattr(app.state, "szt_principals", None)
    if cache is None:
        cache = app.state.szt_principals = PrincipalCache()
    return cache


def read_principal_version(cache: PrincipalCache) -> None:
    """``principals.keep_fresh``'s read, in a session of its own on the configured database."""
    with read_session() as session:
        cache.version(session, now_utc(), due_after=READ_AHEAD)


def _token_principal(request: Request, session: Session, header: str) -> Principal:
    from app.tokens import service as tokens

    token = tokens.authenticate(session, tokens.bearer_of(header))
    route = request.scope.get("route")
    access = (getattr(route, "openapi_extra", None) or {}).get(tokens.TOKEN_ACCESS)
    principal = tokens.principal_for(session, token, ip=client_ip(request))
    tokens.check_access(principal.token, access)
    limit, remaining = tokens.admit(session, token, ip=client_ip(request))
    request.state.rate_limit = (limit, remaining)
    return principal


OptionalUser = Annotated[Principal | None, Depends(get_principal)]


async def require_user(principal: OptionalUser) -> Principal:
    if principal is None:
        raise Unauthorized()
    return principal


CurrentUser = Annotated[Principal, Depends(require_user)]


async def csrf_protect(request: Request, principal: OptionalUser) -> None:
    await csrf.check(request, principal)


# --- this organisation, for this caller ---------------------------------------------------------------

CodeInPath = Annotated[str, Path(alias="code", pattern=r"^\d{6}$",
                                 description="组织的 6 位行政区划代码，如 530000 / the organisation's code",
                                 examples=["532930"])]
OrgIdInPath = Annotated[int, Path(alias="org_id", ge=1, le=MAX_BIGINT, description="组织编号 / the organisation's id")]


def _org_for_read(session: SessionDep, by: CurrentUser, code: CodeInPath) -> Organisation:
    return org_for_read(session, by, code)


def _org_for_staff(session: SessionDep, by: CurrentUser, code: CodeInPath) -> Organisation:
    return org_for_staff(session, by, code)


def _org_for_links(session: SessionDep, by: CurrentUser, code: CodeInPath) -> Organisation:
    return org_for_links(session, by, code)


def _org_id_for_staff(session: SessionDep, by: CurrentUser, org_id: OrgIdInPath) -> Organisation:
    return org_for_staff(session, by, org_id)


# Loaded in the request's read session: a write handler takes the row again in its own session by id.
OrgForRead = Annotated[Organisation, Depends(_org_for_read)]
OrgForStaff = Annotated[Organisation, Depends(_org_for_staff)]
OrgForLinks = Annotated[Organisation, Depends(_org_for_links)]
OrgIdForStaff = Annotated[Organisation, Depends(_org_id_for_staff)]

__all__ = [
    "SESSION_COOKIE", "CurrentUser", "Id", "OptionalUser", "OrgForLinks", "OrgForRead", "OrgForStaff", "OrgIdForStaff", "SessionDep",
    "WriteSessionDep", "client_ip", "csrf_protect", "get_principal", "org_for_links", "org_for_read",
    "org_for_staff", "require_user",
]
