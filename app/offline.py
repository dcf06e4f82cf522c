"""The phone without a network (issue 18): the service worker, the page it shows offline, and the
token a queued submission is sent with.

What the phone keeps — the draft of the recording form and the queue of activities submitted without
a signal — lives in the browser's IndexedDB (static/js/outbox.js, shared by the pages and the service
worker); static/js/offline.js drives the form, the queue's retries and 我的活动's list of queued
items. The server's part is small: the idempotency key every submission carries already makes a
retried POST one row, so the queue may send as often as it likes.

- ``/sw.js``: static/js/sw.js, served from the site's root (a worker only controls pages under its
  own path), never cached by the browser (a new release must reach the phones), with the fingerprinted
  URL of outbox.js and a version written in — any change to either file makes a new worker.
- ``/offline``: what a page the phone never saw shows when there is no network.
- ``/session/token``: the signed-in user and a fresh CSRF token, for a queue sent long after its
  page was rendered (a token of that page may belong to a session since ended). 401 when signed out:
  the queue then waits for the member to sign in again.
"""

from __future__ import annotations

import hashlib

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from app.auth.csrf import page_token
from app.config import PROJECT_ROOT
from app.deps import CurrentUser
from app.static_files import fingerprinted_name
from app.web import render

router = APIRouter(include_in_schema=False)

WORKER = PROJECT_ROOT / "static" / "js" / "sw.js"
NO_STORE = "no-store"


def worker_script() -> str:
    """static/js/sw.js with outbox.js's fingerprinted URL and a version taken of both files."""
    outbox = "/static/" + fingerprinted_name("js/outbox.js")
    source = WORKER.read_text(encoding="utf-8").replace("__OUTBOX_URL__", outbox)
    version = hashlib.sha256(source.encode()).hexdigest()[:10]
    return source.replace("__VERSION__", version)


@router.get("/sw.js")
def service_worker() -> Response:
    return Response(worker_script(), media_type="text/javascript; charset=utf-8",
                    headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"})


@router.get("/offline")
def offline_page(request: Request) -> Response:
    # The same page for everyone (the worker keeps one copy for whoever signs in next): rendered as
    # for nobody — no name, no menu, no token of this session.
    request.state.principal = None
    return render(request, "offline.html", {})


@router.get("/session/token")
def session_token(request: Request, by: CurrentUser) -> Response:
    return JSONResponse({"user_id": by.user_id, "csrf_token": page_token(request, by)},
                        headers={"Cache-Control": NO_STORE})
