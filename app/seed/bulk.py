"""Fast bulk loading: COPY on PostgreSQL, driver-level executemany on SQLite.

The ORM costs ~10x per row; the demo loader writes hundreds of thousands of rows, so it goes
through here. Rows are tuples in the order of ``columns``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime

from sqlalchemy import Connection, text


def bulk_insert(conn: Connection, table: str, columns: Sequence[str], rows: Iterable[tuple]) -> int:
    """Insert ``rows`` into ``table`` inside the connection's current transaction; return the count."""
    cols = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        n = 0
        raw = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                n += 1
        return n
    rows = rows if isinstance(rows, list) else list(rows)
    if rows:
        marks = ", ".join("?" for _ in columns)
        conn.exec_driver_sql(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)
    return len(rows)


def next_id(conn: Connection, table: str) -> int:
    return (conn.execute(text(f"SELECT COALESCE(MAX(id), 0) FROM {table}")).scalar_one()) + 1


def sync_sequence(conn: Connection, table: str) -> None:
    """After inserting explicit ids, move PostgreSQL's sequence past them (SQLite needs nothing)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"GREATEST((SELECT COALESCE(MAX(id), 0) FROM {table}), 1))"
        ))


def db_datetime(conn: Connection, value: datetime) -> datetime | str:
    """A UTC timestamp in the form SQLAlchemy itself stores (SQLite keeps naive UTC text)."""
    if conn.dialect.name == "postgresql":
        return value
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def db_date(conn: Connection, value: date) -> date | str:
    return value if conn.dialect.name == "postgresql" else value.isoformat()
