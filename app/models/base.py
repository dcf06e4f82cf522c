"""Shared pieces of the tables: constraint naming, timestamps, id types.

Surrogate keys are declared ``id: int = Field(default=None, primary_key=True)``: the database assigns
the id at the first flush, and every row the code reads or refers to has one, so the type says
``int`` (SQLModel's ``int | None`` would make each of the ~250 places that pass an id on type-check
as possibly ``None``). Reading ``.id`` of a row not yet flushed is the one case this does not cover.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger, DateTime, Integer, TypeDecorator
from sqlmodel import SQLModel

# Stable constraint names: Alembic can drop what it created, on SQLite and PostgreSQL alike.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# 64-bit ids where a national deployment can pass 2^31 rows; on SQLite INTEGER PRIMARY KEY is
# already 64-bit and must stay spelled INTEGER to remain the rowid alias.
BigId = BigInteger().with_variant(Integer(), "sqlite")
# The largest id a BIGINT holds: a larger number in a URL or body is no id of ours (PostgreSQL would
# refuse it as a parameter instead of answering "not found").
MAX_BIGINT = 2**63 - 1


class UtcDateTime(TypeDecorator):
    """A moment, stored in UTC and always read back with its zone.

    PostgreSQL keeps ``timestamptz``; SQLite keeps text without a zone, so a time is converted to UTC
    before it is written and marked UTC when it is read — code and API answers never meet a naive
    time from one database and an aware one from the other.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):  # noqa: ANN001, ANN201
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value

    def process_result_value(self, value, dialect):  # noqa: ANN001, ANN201
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    """Column default for created/updated moments: the app's one clock (``app.clock``)."""
    from app.clock import now_utc

    return now_utc()


def in_list(column: str, values) -> str:  # noqa: ANN001
    """SQL text of a CHECK that ``column`` holds one of ``values`` (portable, no native enums)."""
    return f"{column} IN ({', '.join(repr(v.value if hasattr(v, 'value') else v) for v in values)})"
