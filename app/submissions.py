"""One row per (author, submission key): a retried POST — the same form sent again, or the same
request racing itself — finds the row its first attempt made. The model has ``created_by_user_id``
and ``submission_key`` columns under a unique index (reminder campaigns, 督办事项)."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.auth.principal import Principal
from app.errors import Invalid

T = TypeVar("T")


def submission_key(by: Principal, raw: str | None) -> str:
    """The key as given, stripped; Invalid when missing, too long, or the caller is no person."""
    key = (raw or "").strip()
    if not key or len(key) > 64 or not by.user_id:
        raise Invalid("提交编号缺失或过长，请刷新页面后重试", code="bad_submission_key")
    return key


def made_by(session: Session, model: type[T], by: Principal, key: str) -> T | None:
    """The row ``by`` made with ``key``, if any."""
    cols: Any = model
    return session.scalar(select(model).where(cols.created_by_user_id == by.user_id, cols.submission_key == key))


def add_once(session: Session, row: T, by: Principal, key: str) -> tuple[T, bool]:
    """Add and flush ``row``; (row, True) — or, when a second request with the same key won the race
    (the unique index refused this one), the rollback and (its row, False)."""
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        found = made_by(session, type(row), by, key)
        if found is None:
            raise
        return found, False
    return row, True
