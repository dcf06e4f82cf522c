"""The append-only audit log: who did what, when (UTC), from where, to what, before/after."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from app.models.base import BigId, UtcDateTime, utcnow


class AuditLog(SQLModel, table=True):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_org_id_at", "org_id", "at"),
        Index("ix_audit_log_target", "target_type", "target_id"),
        Index("ix_audit_log_actor_user_id_at", "actor_user_id", "at"),
    )

    id: int = Field(default=None, sa_column=Column(BigId, primary_key=True))
    at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    actor_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    ip: str = Field(default="", max_length=64)
    action: str = Field(max_length=64)  # e.g. activity.verify, auth.login, grant.create
    target_type: str = Field(default="", max_length=32)
    target_id: str = Field(default="", max_length=64)
    # The organisation whose subtree may read this entry (staff browse their subtree's log).
    org_id: int | None = Field(default=None, foreign_key="organisation.id")
    before: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # JSON
    after: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # JSON
