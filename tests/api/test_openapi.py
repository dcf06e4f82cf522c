"""The OpenAPI document is complete: what a team integrating with us reads before writing a line."""

from __future__ import annotations

import pytest

from app.main import create_app

SPEC = create_app().openapi()
SCHEMAS = SPEC["components"]["schemas"]
OPERATIONS = [(method.upper(), path, op) for path, ops in SPEC["paths"].items() for method, op in ops.items()]


def _resolve(schema: dict) -> dict:
    if "anyOf" in schema:
        schema = next(s for s in schema["anyOf"] if "$ref" in s)
    while "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _has_example(media: dict) -> bool:
    return bool(media.get("example") or media.get("examples") or _resolve(media.get("schema", {})).get("examples"))


def test_only_the_api_is_documented():
    assert OPERATIONS and all(path.startswith("/api/v1/") for _, path, _ in OPERATIONS)
    assert {"/api/v1/orgs", "/api/v1/catalogue", "/api/v1/progress", "/api/v1/rankings", "/api/v1/links",
            "/api/v1/activities", "/api/v1/reports/summary", "/api/v1/counties/{code}/progress"} <= set(SPEC["paths"])


@pytest.mark.parametrize(("method", "path", "op"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
def test_every_operation_is_documented(method, path, op):
    assert op.get("summary") and op.get("description") and op.get("operationId")
    for parameter in op.get("parameters", []):
        assert parameter.get("description") or parameter["schema"].get("description"), parameter["name"]
    ok = [code for code in op["responses"] if code.startswith("2")]
    assert ok
    for code in ok:
        content = op["responses"][code].get("content", {}).get("application/json")
        assert content and _has_example(content), code
    if "requestBody" in op:
        assert _has_example(op["requestBody"]["content"]["application/json"])
        assert "400" in op["responses"]
    # Every error a caller can meet is documented with our error body.
    for code in ("401", "403", "429"):
        assert _resolve(op["responses"][code]["content"]["application/json"]["schema"]) is SCHEMAS["ErrorBody"]
    if op.get("parameters") or "requestBody" in op:
        assert _resolve(op["responses"]["422"]["content"]["application/json"]["schema"]) is SCHEMAS["ErrorBody"]
    assert op.get("security") == [{"apiToken": []}, {"sessionCookie": []}]


def test_token_access_is_declared_and_reads_never_need_more_than_records():
    access = {(m, p): op.get("x-token-access") for m, p, op in OPERATIONS}
    assert access[("GET", "/api/v1/progress")] == "aggregate"
    assert access[("GET", "/api/v1/activities")] == "records"
    assert access[("POST", "/api/v1/activities")] == "write"
    assert access[("POST", "/api/v1/activities/{activity_id}/verify")] is None  # people only
    # 站内消息 are a person's own inbox: no token reads them (people only), every other read admits a token.
    assert access[("GET", "/api/v1/messages")] is None
    assert all(a in ("aggregate", "records") for (m, p), a in access.items() if m == "GET" and p != "/api/v1/messages")
    assert {a for (m, _), a in access.items() if m != "GET"} == {"write", None}


def test_docs_are_served_from_our_own_files(client):
    page = client.get("/docs")
    assert page.status_code == 200
    assert "/static/vendor/swagger-ui-bundle-" in page.text and "cdn" not in page.text.lower()
    assert client.get("/openapi.json").json()["info"]["title"] == "双助推行动平台 API"


def test_schema_names_are_plain():
    """Generated clients name their classes after these: no module-qualified duplicates."""
    assert all("__" not in name for name in SCHEMAS)
