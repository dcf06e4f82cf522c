"""Throw-away databases for the benchmarks: an SQLite file, and a PostgreSQL database created next
to ``TEST_POSTGRES_URL`` (the local server's ``test`` database by default) and dropped afterwards."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator

from sqlalchemy import make_url

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def throwaway(which: str, stem: str) -> Iterator[tuple[str, str]]:
    """(label, URL) of an empty database per backend in ``which`` (sqlite | postgresql | both), each
    existing only until the caller asks for the next; PostgreSQL is skipped, said, when unreachable."""
    if which in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            yield "SQLite", f"sqlite:///{tmp}/{stem}.db"
    if which not in ("postgresql", "both"):
        return
    try:
        import psycopg

        admin = make_url(PG_ADMIN_URL)
        conninfo = {"host": admin.host, "port": admin.port or 5432, "user": admin.username,
                    "password": admin.password, "dbname": admin.database, "autocommit": True, "connect_timeout": 3}
        name = f"szt_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(**conninfo) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # noqa: BLE001 - any failure means "not here"
        print(f"\nPostgreSQL not reachable ({type(exc).__name__}); skipped")
        return
    try:
        yield "PostgreSQL", admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(**conninfo) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
