"""大屏只读链接: read-only links for the meeting room's screen (URLs /display and /d/…).

The table keeps its first name, ``display_link``: renaming it would buy nothing but a migration, and
audit entries already name it as their target type.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel

from app.models.base import UtcDateTime, utcnow


class ScreenLink(SQLModel, table=True):
    """A read-only link for the meeting room's screen (大屏), scoped to a subtree, revocable."""

    __tablename__ = "display_link"

    id: int = Field(default=None, primary_key=True)
    token_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    name: str = Field(max_length=64)
    org_id: int = Field(foreign_key="organisation.id", index=True)
    created_by_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
