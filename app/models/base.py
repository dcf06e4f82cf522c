"""Shared pieces of the tables: constraint naming, timestamps, id types."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import BigInteger, DateTime, Integer
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
UtcDateTime = DateTime(timezone=True)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def in_list(column: str, values) -> str:  # noqa: ANN001
    """SQL text of a CHECK that ``column`` holds one of ``values`` (portable, no native enums)."""
    return f"{column} IN ({', '.join(repr(v.value if hasattr(v, 'value') else v) for v in values)})"
