"""Clients for the observability tests: one inside the test's rolled-back session, one on a real
database (committed writes, the app's own sessions and worker)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

LOOPBACK = ("127.0.0.1", 50000)


@pytest.fixture
def local_client(session) -> Iterator[TestClient]:
    """Like ``client``, but from the loopback address (what /metrics lets in by default)."""
    from app.db import get_session, get_write_session
    from app.main import create_app

    app = create_app()
    app.dependency_overrides[get_session] = lambda: session
    app.dependency_overrides[get_write_session] = lambda: session
    with TestClient(app, base_url="http://testserver", client=LOOPBACK) as c:
        yield c
