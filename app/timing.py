"""``Server-Timing: app;dur=…`` on every answer: the time the application took to start answering
(database and rendering included), visible in the browser's developer tools and read by bench/."""

from __future__ import annotations

import time


class ServerTimingMiddleware:
    """Pure ASGI: a clock read at the start and one when the response starts."""

    def __init__(self, app) -> None:  # noqa: ANN001
        self.app = app

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def send_timed(message) -> None:  # noqa: ANN001
            if message["type"] == "http.response.start":
                took = (time.perf_counter() - started) * 1000
                message.setdefault("headers", []).append((b"server-timing", f"app;dur={took:.2f}".encode()))
            await send(message)

        await self.app(scope, receive, send_timed)
