"""Hot routes: the one request every member sends, answered without FastAPI's dependency solving.

At the month's end thousands of members submit at once, and the activity POST's own work (the rules,
seven statements, one fsync per batch) had become the smaller part of a request's CPU: FastAPI's
dependency solving for the caller, the CSRF check and two sessions, the JSON body's validation and
the routing through every router in turn took a third of it (bench/submit.py with --profile).

``HotRoute`` stands first in the application's routes and answers one (method, path) of an
``APIRoute`` by calling that route's own endpoint with arguments it resolves itself — but only for
the everyday request, the one whose every argument it can resolve with no statement and no doubt:

- the caller comes from the application's principal cache (``deps.cached_principal_of``), a person
  signed in with the session cookie;
- the CSRF check passes (``csrf.check``, the same function the app-wide dependency calls);
- the body is a JSON object that the endpoint's body model accepts, validated as FastAPI validates it.

Any other request — an API token, a cache miss, a missing CSRF token, a body that is not valid — is
handed, body included, to the ``APIRoute`` itself, which answers it exactly as before: its error
(401, 403, 422 …) comes from the one place that always made it. The endpoint is the route's own
function, so the use case, its answer and its headers live in one place; only the resolving of the
everyday arguments is done here. The read session comes from the same provider FastAPI would use
(``get_session``, or a test's override of it).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette._exception_handler import wrap_app_handling_exceptions
from starlette._utils import get_route_path
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import URLPath
from starlette.requests import Request
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Message, Receive, Scope, Send

from app.auth import csrf
from app.auth.principal import Principal
from app.db import get_session
from app.deps import cached_principal_of
from app.errors import DomainError

_DECLINED = "szt.hot_route_declined"

# (request, the caller from the principal cache) → the endpoint's keyword arguments other than the
# body and the read session, or None when the request is not an everyday one. The request's path
# parameters are in ``request.path_params``.
Resolver = Callable[[Request, Principal], dict[str, Any] | None]


class HotRoute(BaseRoute):
    """``route``'s ``method`` requests, the everyday ones answered here, the rest by ``route`` itself.

    ``body_model``: the JSON body's model, passed as ``body_arg`` (None: a request without a body).
    ``read_arg``: the endpoint's argument for the read session. An endpoint that is a plain function
    runs in the thread pool, as FastAPI runs it — its one thread hop."""

    def __init__(self, route: APIRoute, method: str, *, resolve: Resolver, read_arg: str,
                 body_arg: str = "", body_model: type[BaseModel] | None = None) -> None:
        self.route, self.method = route, method
        self.path = self.path_format = route.path  # what metrics, logs and FastAPI's telemetry read
        self.body_arg, self.body_model, self.read_arg, self.resolve = body_arg, body_model, read_arg, resolve
        self._is_async = inspect.iscoroutinefunction(route.endpoint)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or scope["method"] != self.method or _DECLINED in scope:
            return Match.NONE, {}
        found = self.route.path_regex.match(get_route_path(scope))
        if found is None:
            return Match.NONE, {}
        params = {k: self.route.param_convertors[k].convert(v) for k, v in found.groupdict().items()}
        return Match.FULL, {"endpoint": self.route.endpoint, "route": self.route,
                            "path_params": {**scope.get("path_params", {}), **params}}

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        raise NoMatchFound(name, path_params)  # the route's URL is the APIRoute's, found where it is included

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        body = await request.body() if self.body_model is not None else b""
        arguments = await self._everyday(request, body)
        if arguments is None:
            # Routed again as if this route were not there: FastAPI's own way to the APIRoute, with
            # the dependencies its inclusion gives it (the app-wide CSRF check among them).
            scope[_DECLINED] = True
            taken = self.body_model is not None  # the body was taken from the client: give it again, empty or not
            await scope["app"].router.app(scope, _replaying(body, receive) if taken else receive, send)
            return

        async def answer(scope: Scope, receive: Receive, send: Send) -> None:
            app: FastAPI = scope["app"]
            provider = app.dependency_overrides.get(get_session, get_session)
            async with _provided(provider) as read:
                arguments[self.read_arg] = read
                if self._is_async:
                    response = await self.route.endpoint(**arguments)
                else:
                    response = await run_in_threadpool(self.route.endpoint, **arguments)
            await response(scope, receive, send)

        # The application's exception handlers, as for any route: a refused use case's DomainError
        # becomes the same {"detail", "code"} answer.
        await wrap_app_handling_exceptions(answer, request)(scope, receive, send)

    async def _everyday(self, request: Request, body: bytes) -> dict[str, Any] | None:
        if self.body_model is not None:
            content_type = request.headers.get("content-type", "")
            if not content_type.startswith("application/json") or not body:
                return None
        # Only a person signed in with the session cookie whose caller the principal cache holds: an API
        # token is never answered from the cookie, and a cache miss needs the database (FastAPI's way).
        if "authorization" in request.headers:
            return None
        by = cached_principal_of(request)
        if by is None:
            return None
        arguments = self.resolve(request, by)
        if arguments is None:
            return None
        try:
            await csrf.check(request, by)  # (a GET passes at once)
            if self.body_model is not None:
                # What FastAPI does with a JSON body: json.loads, then the model validates the Python value.
                value = json.loads(body)
                if not isinstance(value, dict):
                    return None
                arguments[self.body_arg] = self.body_model.model_validate(value)
        except (DomainError, ValueError, ValidationError):  # json's errors are ValueErrors
            return None
        return arguments


def query_int(request: Request, name: str, *, maximum: int) -> tuple[bool, int | None]:
    """An optional integer query parameter as FastAPI would read it, when it plainly is one: (True, value
    or None when absent); (False, None) for anything else — a sign, spaces, too large — which the
    APIRoute then answers (its 422)."""
    raw = request.query_params.get(name)
    if raw is None:
        return True, None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18 or int(raw) > maximum:
        return False, None
    return True, int(raw)


@asynccontextmanager
async def _provided(provider: Callable[[], Any]) -> AsyncIterator[Any]:
    """The value of a dependency with no arguments, as FastAPI provides it: an async or plain
    generator's one yield (its code after the yield run at the end), or a function's return value
    (a test's ``lambda: session``)."""
    if inspect.isasyncgenfunction(provider):
        async with asynccontextmanager(provider)() as value:
            yield value
    elif inspect.isgeneratorfunction(provider):
        with contextmanager(provider)() as value:
            yield value
    else:
        value = provider()
        yield await value if inspect.isawaitable(value) else value


def _replaying(body: bytes, receive: Receive) -> Receive:
    """``receive`` for a request whose body was already read: the body once, then the client's own
    messages (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def install(app: FastAPI, route: HotRoute, *, app_dependencies: tuple[Callable, ...]) -> None:
    """Put ``route`` before every other route of ``app`` (the router tries them in order).

    ``app_dependencies``: the application-wide dependencies the resolver stands in for (the CSRF
    check). Refused when the route would be given any other — by the application, or by the route
    itself — since the hot path would skip it."""
    given = tuple(d.dependency for d in app.router.dependencies)
    if given != app_dependencies or route.route.dependencies:
        raise RuntimeError(f"{route.path}: the hot route stands in for {app_dependencies}, not {given} "
                           f"and {route.route.dependencies}")
    app.router.routes.insert(0, route)
