"""One clock per request: ``Server-Timing: app;dur=…`` on every answer (the time the application took
to start answering, database and rendering included, visible in the browser's developer tools and
read by bench/), and — once the answer is sent — the request's log line and metrics (app/ops/).

The request id is set here too (``X-Request-ID``, app/ops/logs.py), before anything below runs, so
every line logged while the request runs carries it.
"""

from __future__ import annotations

import time

from app.ops import logs, metrics


def _caller_of(scope) -> tuple[int | None, int | None]:  # noqa: ANN001
    """(user id, API token id) of the caller the request's dependencies identified, if any."""
    principal = (scope.get("state") or {}).get("principal")
    if principal is None:
        return None, None
    token = getattr(principal, "token", None)
    return principal.user_id or None, token.id if token is not None else None


class ServerTimingMiddleware:
    """Pure ASGI: a clock read at the start, one when the response starts and one when it ends."""

    def __init__(self, app) -> None:  # noqa: ANN001
        self.app = app
        metrics.install_database_timing()

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = logs.request_id_from(_header(scope, b"x-request-id"))
        logs.REQUEST_ID.set(request_id)
        db_seconds = [0.0]
        metrics.REQUEST_DB_SECONDS.set(db_seconds)
        status = 500  # unless an answer starts: an error escaping everything below is answered 500 outside

        async def send_timed(message) -> None:  # noqa: ANN001
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                took = (time.perf_counter() - started) * 1000
                headers = message.setdefault("headers", [])
                headers.append((b"server-timing", f"app;dur={took:.2f}".encode()))
                headers.append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_timed)
        finally:
            seconds = time.perf_counter() - started
            route = metrics.route_of(scope)
            user_id, token_id = _caller_of(scope)
            metrics.observe_request(scope["method"], route, status, seconds)
            logs.log_request(method=scope["method"], route=route, status=status, duration_ms=seconds * 1000,
                             db_ms=db_seconds[0] * 1000, user_id=user_id, token_id=token_id)
            # Not reset: an error escaping to the outermost handler (app/main.py) is logged after this,
            # still with the request's id; the server runs each request in a task (a context) of its own.


def _header(scope, name: bytes) -> str | None:  # noqa: ANN001
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None
