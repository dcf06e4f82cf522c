"""牵头统筹 (issue 19): 委员活动小组 — a named group of members under an organisation, with a leader —
and a 实事 (a task of the catalogue) led by one of the organisation's 专委会 or 活动小组, for a span of
dates, like a 挂联 is a leader's for a county."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Column, ForeignKeyConstraint, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import UtcDateTime, utcnow


class ActivityGroup(SQLModel, table=True):
    """委员活动小组: members of the organisation's subtree under one name; ``leader_member_id`` is one of them."""

    __tablename__ = "activity_group"
    __table_args__ = (
        UniqueConstraint("org_id", "name"),
        # Target of the composite key that keeps a lead's group in the lead's organisation.
        UniqueConstraint("id", "org_id"),
    )

    id: int = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organisation.id")
    name: str = Field(max_length=64)
    leader_member_id: int | None = Field(default=None, foreign_key="member.id")
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_by_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    version: int = Field(default=1)


class ActivityGroupMember(SQLModel, table=True):
    __tablename__ = "activity_group_member"
    __table_args__ = (Index("ix_activity_group_member_member", "member_id"),)

    group_id: int = Field(foreign_key="activity_group.id", primary_key=True)
    member_id: int = Field(foreign_key="member.id", primary_key=True)


class TaskLead(SQLModel, table=True):
    """牵头统筹: a task led by exactly one 专委会 or 活动小组 of ``org_id``, from ``start_date`` up to, not
    including, ``end_date`` (the 挂联 rule)."""

    __tablename__ = "task_lead"
    __table_args__ = (
        CheckConstraint("(committee_id IS NULL) <> (group_id IS NULL)", name="one_body"),
        CheckConstraint("end_date IS NULL OR end_date >= start_date", name="dates_ordered"),
        # The leading body belongs to the lead's organisation.
        ForeignKeyConstraint(["committee_id", "org_id"], ["committee.id", "committee.org_id"]),
        ForeignKeyConstraint(["group_id", "org_id"], ["activity_group.id", "activity_group.org_id"]),
        Index("ix_task_lead_org_task", "org_id", "task_id"),
        Index("uq_task_lead_creator_key", "created_by_user_id", "submission_key", unique=True),
    )

    id: int = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organisation.id")
    task_id: int = Field(foreign_key="task.id")
    committee_id: int | None = None
    group_id: int | None = None
    start_date: date
    end_date: date | None = None
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_by_user_id: int = Field(foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    submission_key: str = Field(max_length=64)
