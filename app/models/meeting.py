"""The monthly 研判 meeting (issue 19): each office's meeting settings, and 督办事项 — the decisions a
meeting takes, carried to the next one until closed."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Column, Index, String, Text
from sqlmodel import Field, SQLModel

from app.models.base import UtcDateTime, utcnow

# The big screen's playlist: which pages, in which order (app/boards meeting view).
PLAYLIST_KINDS = ("overview", "problems", "followups", "lagging", "counties")
DEFAULT_PLAYLIST = "overview,problems,followups,lagging"
FOLLOW_UP_STATUSES = ("open", "done")


class MeetingSetting(SQLModel, table=True):
    """One office's meeting settings; an organisation without a row uses the defaults."""

    __tablename__ = "meeting_setting"

    org_id: int = Field(foreign_key="organisation.id", primary_key=True)
    # Comma-separated PLAYLIST_KINDS, in the order shown.
    playlist: str = Field(default=DEFAULT_PLAYLIST, max_length=200)
    theme: str = Field(default="light", max_length=8)
    # 挂联实效: a linked leader with no activity of their own in the county for this many months is flagged.
    link_idle_months: int = Field(default=3)
    updated_by_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)

    __table_args__ = (
        CheckConstraint("theme IN ('light', 'dark')", name="theme"),
        CheckConstraint("link_idle_months BETWEEN 1 AND 24", name="link_idle_months_range"),
    )


class FollowUp(SQLModel, table=True):
    """督办事项: a meeting's decision — an owner organisation, a due date, what counts as done — open
    until closed with a note. ``source_kind``/``source_ref`` name the 问题清单 item it came from
    (``manual`` when entered by hand); ``figure_then`` is that item's figures when it was decided."""

    __tablename__ = "follow_up"

    id: int = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organisation.id")  # the meeting's organisation (scope)
    period: str = Field(max_length=16)  # the meeting's period key, e.g. 2026-12
    source_kind: str = Field(default="manual", max_length=32)
    source_ref: str = Field(default="", max_length=64)
    title: str = Field(max_length=200)
    figure_then: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    owner_org_id: int = Field(foreign_key="organisation.id")
    due_on: date
    done_criteria: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default="open", sa_column=Column(String(8), nullable=False, default="open"))
    closed_note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    closed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    closed_by_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_by_user_id: int = Field(foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    submission_key: str = Field(max_length=64)  # a retried POST finds its first row
    version: int = Field(default=1)

    __table_args__ = (
        CheckConstraint("status IN ('open', 'done')", name="status"),
        CheckConstraint("status = 'open' OR (closed_note IS NOT NULL AND closed_at IS NOT NULL)", name="closed_has_note"),
        Index("ix_follow_up_org_status_due", "org_id", "status", "due_on"),
        Index("ix_follow_up_owner", "owner_org_id"),
        Index("uq_follow_up_creator_key", "created_by_user_id", "submission_key", unique=True),
    )
