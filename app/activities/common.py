"""Pieces every part of the activities shares: the session's Core connection and expanding bind parameters."""

from __future__ import annotations

from sqlalchemy import (
    BindParameter,
    Connection,
    bindparam,
)
from sqlmodel import Session


def _core(session: Session) -> Connection:
    """The session's connection, for Core statements on the write path and in read models.

    Column queries and inserts sent here skip the ORM's compile and unit-of-work layers, which
    cost several times the statement itself (bench/submit.py); they run in the session's own
    transaction, so a use case still commits once.
    """
    return session.connection()


def _ids(name: str) -> BindParameter[list[int]]:
    return bindparam(name, expanding=True)
