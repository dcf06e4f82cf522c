"""Reports frozen as presented to a meeting (export jobs are background jobs: app/models/jobs.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Column, Index, LargeBinary, Text
from sqlmodel import Field, SQLModel

from app.models.base import UtcDateTime, utcnow


class FrozenReport(SQLModel, table=True):
    """A report as it was presented: its numbers, its period, who froze it — never recomputed."""

    __tablename__ = "frozen_report"
    __table_args__ = (
        CheckConstraint("first_month BETWEEN 1 AND 12 AND last_month BETWEEN first_month AND 12", name="span"),
        Index("ix_frozen_report_org_id_created_at", "org_id", "created_at"),
    )

    id: int = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organisation.id")
    year: int
    first_month: int
    last_month: int
    period_label: str = Field(max_length=64)
    title: str = Field(max_length=200)
    content: str = Field(sa_column=Column(Text, nullable=False))  # the report's data as JSON (text + tables)
    docx: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    xlsx: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    sha256: str = Field(max_length=64)  # of content: shows the stored report is the one frozen
    frozen_by_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
