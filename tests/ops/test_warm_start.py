"""A served worker builds its routes before it accepts a connection, not at its first requests
(app/main.py ``serving_app``).

FastAPI builds an included router's routes (dependants, fields, validators) when a request first
reaches that router: over a second for this application, which the first requests after every start
of every worker would wait for. Counted, not timed: the builder FastAPI calls for each included
route (a private name of FastAPI's, pinned in constraints.txt: a FastAPI that renames it fails here
first, loudly)."""

from __future__ import annotations

import fastapi.routing
import pytest
import uvicorn
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from app import cli


@pytest.fixture
def builds(monkeypatch) -> list[object]:
    """Each route FastAPI builds for an included router, as it builds it."""
    built: list[object] = []
    original = fastapi.routing._IncludedRouter._build_effective_context

    def counted(self, route):
        built.append(route)
        return original(self, route)

    monkeypatch.setattr(fastapi.routing._IncludedRouter, "_build_effective_context", counted)
    return built


def _first_requests(app, session) -> None:
    from app.db import get_session, get_write_session

    app.dependency_overrides[get_session] = lambda: session
    app.dependency_overrides[get_write_session] = lambda: session
    with TestClient(app, base_url="http://testserver") as client:
        for path in ("/healthz", "/login", "/api/v1/activities", "/boards/530000", "/nonexistent"):
            client.get(path, follow_redirects=False)


def test_the_served_application_has_built_every_route_before_its_first_request(builds, session):
    from app.main import serving_app

    app = serving_app()
    at_start = len(builds)
    assert len({id(r) for r in builds if isinstance(r, APIRoute)}) > 100  # the API and the pages, not one router
    assert app.openapi_schema is not None  # /openapi.json answers from it
    _first_requests(app, session)
    assert len(builds) == at_start, "a request built routes the start should have built"


def test_without_it_the_first_requests_build_them(builds, session):
    """The counter sees what it claims to: an application made by ``create_app`` builds at requests."""
    from app.main import create_app

    app = create_app()
    assert builds == []
    _first_requests(app, session)
    assert len(builds) > 100


def test_serve_runs_the_served_application(fresh_url, use_database, monkeypatch):
    use_database(fresh_url)
    seen: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda target, **kwargs: seen.update(target=target, **kwargs))
    assert cli.main(["serve", "--no-demo"]) == 0
    assert seen["target"] == "app.main:serving_app" and seen["factory"] is True
