"""One JSON line per request with its request id and user id; every line of the request carries the
id; never a phone number, token, cookie or query string."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys

import pytest

from app.ops.logs import JsonFormatter, RequestIdFilter
from tests import factories as f

PHONE = "13912345678"
TOKEN = "szt_" + "s3cr3t" * 6


@pytest.fixture
def log_lines():
    """Everything logged (DEBUG and up) while the test runs, as the JSON lines production writes."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    handler.addFilter(lambda record: not record.name.startswith("httpx"))  # the test's client, not the server
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def _requests(lines: list[dict]) -> list[dict]:
    return [line for line in lines if line["logger"] == "app.request"]


def test_one_line_per_request_with_route_template_status_duration_and_user(local_client, session, log_lines):
    user = f.persona(session, "county_staff")
    f.login_as(local_client, session, user)
    org = f.org(session, "530102")
    r = local_client.get(f"/boards/{org.code}", headers={"X-Request-ID": "edge-7f3a-0001"})
    assert r.status_code == 200 and r.headers["X-Request-ID"] == "edge-7f3a-0001"

    [line] = [x for x in _requests(log_lines()) if x["request_id"] == "edge-7f3a-0001"]
    assert line["method"] == "GET" and line["route"] == "/boards/{code}" and line["status"] == 200
    assert line["user_id"] == user.id and line["level"] == "INFO"
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] > 0
    assert line["db_ms"] > 0  # the board read the database, and that time is the request's
    assert line["time"].endswith("+00:00")


def test_a_request_id_that_is_not_sane_is_replaced(local_client, log_lines):
    for bad in ("x" * 65, "a b", 'id","user_id":1', b"caf\xe9-id", ""):
        r = local_client.get("/login", headers={"X-Request-ID": bad})
        given = r.headers["X-Request-ID"]
        assert given != bad and len(given) == 32 and given.isalnum()
    ids = [line["request_id"] for line in _requests(log_lines())]
    assert len(ids) == 5 and len(set(ids)) == 5


def test_every_line_of_a_request_carries_its_id(local_client, log_lines):
    def noisy() -> dict:
        logging.getLogger("app.somewhere").warning("inside the handler")
        return {}

    def noisy_in_a_thread() -> dict:  # a sync handler runs in the thread pool
        logging.getLogger("app.elsewhere").warning("in a worker thread")
        return {}

    async def noisy_async() -> dict:
        return noisy()

    local_client.app.add_api_route("/_test_noisy", noisy_async)
    local_client.app.add_api_route("/_test_noisy_thread", noisy_in_a_thread)
    local_client.get("/_test_noisy", headers={"X-Request-ID": "req-one"})
    local_client.get("/_test_noisy_thread", headers={"X-Request-ID": "req-two"})
    lines = log_lines()
    by_message = {line["message"]: line for line in lines if line["logger"].startswith("app.")}
    assert by_message["inside the handler"]["request_id"] == "req-one"
    assert by_message["in a worker thread"]["request_id"] == "req-two"
    assert {x["route"]: x["request_id"] for x in _requests(lines)} == {"/_test_noisy": "req-one",
                                                                        "/_test_noisy_thread": "req-two"}


def test_no_phone_number_token_cookie_or_query_string_is_ever_logged(local_client, session, log_lines):
    member = f.make_member(session, f.org(session, "530102"))
    member.phone = PHONE
    session.flush()
    f.login_as(local_client, session, f.persona(session, "province_admin"))
    cookie = local_client.cookies.get("szt_session")
    assert PHONE in local_client.get(f"/manage/members/{member.id}?phone={PHONE}").text  # the page shows it
    local_client.get(f"/manage/members?q={PHONE}&token={TOKEN}")
    local_client.get(f"/nowhere/{PHONE}/{TOKEN}")  # a path no route has: not logged as typed
    local_client.get("/api/v1/orgs", headers={"Authorization": f"Bearer {TOKEN}"})  # an unknown token: 401
    local_client.post("/login", data={"login": PHONE, "password": TOKEN})
    lines = log_lines()
    assert len(_requests(lines)) == 5
    assert {x["route"] for x in _requests(lines)} >= {"<unmatched>", "/api/v1/orgs", "/login"}
    text = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines)
    for secret in (PHONE, TOKEN, cookie, "s3cr3t"):
        assert secret not in text


def test_serve_configures_json_or_text_logs_with_the_request_id():
    script = ("import logging, logging.config; from app.ops.logs import logging_config, REQUEST_ID; "
              "logging.config.dictConfig(logging_config(sys.argv[1])); REQUEST_ID.set('abc-1'); "
              "logging.getLogger('app.x').info('hello %s', 'world'); "
              "logging.getLogger('uvicorn.access').info('GET / 200'); "
              "logging.getLogger('uvicorn.error').info('started', extra={'color_message': 'started (coloured)'})")
    run = [sys.executable, "-c", "import sys; " + script]
    out = subprocess.run([*run, "json"], capture_output=True, text=True, check=True).stdout.splitlines()
    lines = [json.loads(line) for line in out]  # uvicorn's access line is not among them: ours is
    assert [{k: v for k, v in line.items() if k != "time"} for line in lines] == [
        {"level": "INFO", "logger": "app.x", "message": "hello world", "request_id": "abc-1"},
        {"level": "INFO", "logger": "uvicorn.error", "message": "started", "request_id": "abc-1"}]
    out = subprocess.run([*run, "text"], capture_output=True, text=True, check=True).stdout.splitlines()
    assert len(out) == 2 and out[0].endswith("INFO app.x [abc-1] hello world")


def test_a_server_error_is_logged_without_the_path_as_typed_or_the_sql_values(session, log_lines):
    from fastapi.testclient import TestClient
    from sqlalchemy import text

    from app.db import get_session
    from app.main import create_app

    def lookup(phone: str) -> dict:
        with session.begin_nested():
            session.execute(text("SELECT * FROM no_such_table WHERE phone = :phone"), {"phone": phone})
        return {}

    app = create_app()
    app.dependency_overrides[get_session] = lambda: session
    app.add_api_route("/_test_lookup/{phone}", lookup)
    r = TestClient(app, raise_server_exceptions=False).get(f"/_test_lookup/{PHONE}",
                                                            headers={"X-Request-ID": "req-500"})
    assert r.status_code == 500
    lines = log_lines()
    [error] = [x for x in lines if x["message"].startswith("unhandled error")]
    assert error["message"] == "unhandled error on GET /_test_lookup/{phone}" and error["request_id"] == "req-500"
    assert "no_such_table" in error["exception"]  # the traceback is there, the value is not
    assert PHONE not in json.dumps(lines, ensure_ascii=False)
