"""Fast bulk loading: COPY on PostgreSQL, driver-level executemany on SQLite.

The ORM costs ~10x per row; the demo loader writes millions of rows, so it goes through here.
Rows are tuples in the order of ``columns``. Loading an *empty* SQLite database also goes through
:func:`loading_connection` (no journal on disk, no fsync until the end, a large page cache) and
:func:`indexes_deferred` (secondary indexes built once, by sorting, after the rows are in).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime

from sqlalchemy import Connection, Engine, text

from app.db import write_engine

# Page cache of the loading connection (KiB): the big tables' unique indexes stay in memory. And
# the file read through a memory map (as much as SQLite's build allows: 2 GiB in CPython's), so the
# index builds and the recount scan the tables without copying every page.
LOAD_CACHE_KIB = 2 * 1024 * 1024
LOAD_MMAP_BYTES = 8 << 30


def bulk_insert(conn: Connection, table: str, columns: Sequence[str], rows: Iterable[tuple]) -> int:
    """Insert ``rows`` into ``table`` inside the connection's current transaction; return the count."""
    cols = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        n = 0
        raw = conn.connection.driver_connection
        assert raw is not None
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


@contextmanager
def loading_connection(engine: Engine) -> Iterator[Connection]:
    """A write connection (BEGIN IMMEDIATE) for loading an empty database in one transaction.

    On SQLite, while it is open: rollback journal in memory (WAL would write every page twice, to
    the log and then at the checkpoint; an empty file has almost nothing to journal), no fsync,
    foreign keys not checked (the demo's rows are made consistent; the tests load it with them
    checked), a 2 GiB page cache, the file memory-mapped and temporary B-trees in memory. Afterwards WAL and synchronous=FULL again
    and one fsync of the file: the load is durable once this returns. A crash half-way leaves a
    file to delete (it was empty). Leaving WAL needs the only connection to the file: when another
    one holds it, the load runs in the usual modes. PostgreSQL: a plain write connection."""
    if engine.dialect.name != "sqlite":
        with write_engine(engine).connect() as conn:
            yield conn
        return
    engine.dispose()  # our own pooled connections would keep the file in WAL
    with write_engine(engine).connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None  # a live connection: SQLAlchemy's typing allows a closed one
        fast = raw.execute("PRAGMA journal_mode=MEMORY").fetchone()[0] == "memory"
        if fast:
            for pragma in ("foreign_keys=OFF", "synchronous=OFF", f"cache_size=-{LOAD_CACHE_KIB}",
                           f"mmap_size={LOAD_MMAP_BYTES}", "temp_store=MEMORY"):
                raw.execute(f"PRAGMA {pragma}")
        try:
            yield conn
        finally:
            if conn.in_transaction():
                conn.rollback()
            if fast:
                raw.execute("PRAGMA synchronous=FULL")
                raw.execute("PRAGMA journal_mode=WAL")
    engine.dispose()  # the loading connection's pragmas go with it
    if fast and engine.url.database:
        fd = os.open(engine.url.database, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextmanager
def indexes_deferred(conn: Connection, tables: Sequence[str]) -> Iterator[None]:
    """On SQLite, when ``tables`` are all empty: drop their secondary indexes, create them again
    (the same SQL) once the body has inserted the rows — a sort, instead of a B-tree insertion per
    row and index. Unique constraints stay (they are part of the tables). Inside the caller's
    transaction: a failure rolls the drop back with the rest. Elsewhere: does nothing."""
    if conn.dialect.name != "sqlite" or any(
            conn.exec_driver_sql(f"SELECT 1 FROM {t} LIMIT 1").first() for t in tables):
        yield
        return
    marks = ", ".join("?" for _ in tables)
    indexes = conn.exec_driver_sql(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({marks})"
        " ORDER BY name", tuple(tables)).all()
    for name, _sql in indexes:
        conn.exec_driver_sql(f'DROP INDEX "{name}"')
    yield
    for _name, sql in indexes:
        conn.exec_driver_sql(sql)
