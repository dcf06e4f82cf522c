"""Reports frozen as presented to a meeting, and background export jobs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Column, Index, Integer, LargeBinary, String, Text
from sqlmodel import Field, SQLModel

from app.models.base import UtcDateTime, in_list, utcnow


class FrozenReport(SQLModel, table=True):
    """A report as it was presented: its numbers, its period, who froze it — never recomputed."""

    __tablename__ = "frozen_report"
    __table_args__ = (
        CheckConstraint("first_month BETWEEN 1 AND 12 AND last_month BETWEEN first_month AND 12", name="span"),
        Index("ix_frozen_report_org_id_created_at", "org_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
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


JOB_STATES = ("queued", "running", "done", "failed")


class ExportJob(SQLModel, table=True):
    """A long export written off the request (e.g. 1,000,000 activities to XLSX), with progress."""

    __tablename__ = "export_job"
    __table_args__ = (
        CheckConstraint(in_list("status", JOB_STATES), name="status"),
        CheckConstraint("rows_done >= 0", name="rows_done_non_negative"),
        Index("ix_export_job_user_id_created_at", "user_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id")
    org_id: int = Field(foreign_key="organisation.id")
    kind: str = Field(sa_column=Column(String(16), nullable=False))  # e.g. "activities.xlsx"
    params: str = Field(sa_column=Column(Text, nullable=False, default="{}"))  # JSON
    status: str = Field(default="queued", sa_column=Column(String(8), nullable=False, default="queued"))
    rows_total: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    rows_done: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    file_name: str | None = Field(default=None, max_length=200)  # under the configured export dir
    error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
