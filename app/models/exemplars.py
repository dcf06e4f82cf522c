"""Issue 20: 典型 chosen on evidence, and 补位匹配's invitations.

A 典型 is nominated (推荐) by the office of a 州市 (or any organisation's office) for a year, with a citation
drafted from the member's verified activities; the province selects (选树) or returns it. A 补位 invitation
asks a member to help a key county behind pace on a 实事; later joins are counted from the activities."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import UtcDateTime, in_list, utcnow


class NominationStatus(StrEnum):
    nominated = "nominated"  # 已推荐, waiting for the province
    selected = "selected"  # 已选树 (a 典型)
    returned = "returned"  # 已退回 (with a reason; may be nominated again)
    withdrawn = "withdrawn"  # 已撤回 by the nominating office


class ExemplarNomination(SQLModel, table=True):
    __tablename__ = "exemplar_nomination"
    __table_args__ = (
        CheckConstraint(in_list("status", NominationStatus), name="status"),
        CheckConstraint("version > 0", name="version_positive"),
        # One nomination of a member for a year by one office (a returned one is changed and sent again).
        UniqueConstraint("org_id", "member_id", "year"),
        Index("ix_exemplar_nomination_status_year", "status", "year"),
        Index("uq_exemplar_nomination_creator_key", "created_by_user_id", "submission_key", unique=True),
    )

    id: int = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    org_id: int = Field(foreign_key="organisation.id")  # the nominating organisation (its office)
    year: int
    citation: str = Field(sa_column=Column(Text, nullable=False))  # 推荐事迹, drafted then edited
    status: NominationStatus = Field(sa_column=Column(String(12), nullable=False, default="nominated"))
    decision_note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # why returned
    decided_by_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    decided_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_by_user_id: int = Field(foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    submission_key: str = Field(max_length=64)
    version: int = Field(default=1)


class MatchInvitation(SQLModel, table=True):
    """补位匹配: an office invites a member to help ``county_id`` on ``task_id``. Whether they joined is read
    from the activities (the member a confirmed participant there, on that task, on or after the day)."""

    __tablename__ = "match_invitation"
    __table_args__ = (
        CheckConstraint("channel IN ('inapp', 'sms', 'list')", name="channel"),
        Index("ix_match_invitation_county_task", "county_id", "task_id"),
        Index("ix_match_invitation_member", "member_id"),
        Index("uq_match_invitation_creator_key", "created_by_user_id", "submission_key", "member_id", unique=True),
    )

    id: int = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organisation.id")  # the inviting office's organisation
    county_id: int = Field(foreign_key="organisation.id")
    task_id: int = Field(foreign_key="task.id")
    member_id: int = Field(foreign_key="member.id")
    channel: str = Field(sa_column=Column(String(8), nullable=False))  # inapp / sms / list (exported)
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_by_user_id: int = Field(foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    submission_key: str = Field(max_length=64)
