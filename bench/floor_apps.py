"""Two floors for bench/floor.py: what one uvicorn worker does on this machine without this app.

``raw``: a bare ASGI callable — read the body, `json.loads`, one `INSERT` in a `BEGIN IMMEDIATE`
transaction on a WAL, `synchronous=FULL` SQLite file (as app/db.py sets it), answer 201 with JSON.
``fastapi``: the same write behind a FastAPI route with a pydantic body model and a header
parameter: the framework's own cost, without sessions, permissions, rules or the ORM.

Neither is part of the application; they exist so that bench/README.md can say how far the real
write path (bench/submit.py) is from what the stack and the disk allow on the same machine.
"""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import date

from fastapi import FastAPI, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel

_db = sqlite3.connect(os.environ.get("FLOOR_DB", ":memory:"), check_same_thread=False, isolation_level=None)
_db.execute("PRAGMA journal_mode=WAL")
_db.execute("PRAGMA synchronous=FULL")
_db.execute("CREATE TABLE IF NOT EXISTS submission (id INTEGER PRIMARY KEY, k TEXT UNIQUE, body TEXT)")


def _insert(key: str, body: str) -> int:
    _db.execute("BEGIN IMMEDIATE")
    cur = _db.execute("INSERT INTO submission (k, body) VALUES (?, ?)", (key, body))
    _db.execute("COMMIT")
    return cur.lastrowid


async def raw(scope, receive, send) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    data = json.loads(body or b"{}")
    key = dict(scope["headers"]).get(b"idempotency-key", b"").decode()
    out = json.dumps({"id": _insert(key, json.dumps(data)), **data}).encode()
    await send({"type": "http.response.start", "status": 201,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(out)).encode())]})
    await send({"type": "http.response.body", "body": out})


class Submission(BaseModel):
    task_id: int
    county_id: int
    occurred_on: date
    description: str
    values: dict[int, str]


fastapi = FastAPI()


@fastapi.post("/api/v1/activities", status_code=201)
async def create(data: Submission, idempotency_key: str = Header("")) -> JSONResponse:
    new_id = _insert(idempotency_key, data.model_dump_json())
    return JSONResponse({"id": new_id, **data.model_dump(mode="json")}, status_code=201)


# ``static_page``: a page of a board's size rendered by Jinja without variables (bench/boards.py
# writes the board's HTML to FLOOR_PAGE): the bound "the board serves ≥ 33 % of a static page".
static_page = FastAPI()


@static_page.get("/page")
def page():
    from fastapi.responses import HTMLResponse

    return HTMLResponse(_template().render())


@static_page.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


_cache: dict = {}


def _template():
    if "t" not in _cache:
        from pathlib import Path

        from jinja2 import Environment, FileSystemLoader

        path = Path(os.environ["FLOOR_PAGE"])
        _cache["t"] = Environment(loader=FileSystemLoader(path.parent), autoescape=True).get_template(path.name)
    return _cache["t"]


def app_with_static_page():
    """This application (same middleware, same login) plus ``/bench/static-page``: the static page
    served the way a board is, so that the ratio measures the board's own work."""
    from fastapi import Request
    from fastapi.responses import HTMLResponse

    from app.deps import CurrentUser
    from app.main import create_app

    app = create_app()

    def static(request, by):
        return HTMLResponse(_template().render())

    # This module postpones annotations (strings); FastAPI must see the real types to inject them.
    static.__annotations__ = {"request": Request, "by": CurrentUser, "return": HTMLResponse}
    app.get("/bench/static-page", include_in_schema=False)(static)
    return app


def app_with_board_file():
    """This application, whose own ``/static`` mount also looks in ``FLOOR_STATIC`` (a folder holding
    ``board-page.html``, a board's page as a file): ``/static/board-page.html`` is a static file of the
    board's size served through the same middleware as the board, by the same server (bench/boards.py)."""
    from starlette.routing import Mount

    from app.main import create_app

    app = create_app()
    (mount,) = [r for r in app.routes if isinstance(r, Mount) and r.name == "static"]
    mount.app.all_directories.append(os.environ["FLOOR_STATIC"])  # looked in after static/ itself
    return app
