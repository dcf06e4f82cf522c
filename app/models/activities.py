"""Activities (助推活动/办实事), their participants and indicator values, and closed months."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from app.models.base import BigId, UtcDateTime, in_list, utcnow


class ActivityStatus(StrEnum):
    pending = "pending"  # 待审核
    verified = "verified"  # 已通过
    returned = "returned"  # 已退回
    withdrawn = "withdrawn"  # 已撤回


class Activity(SQLModel, table=True):
    __tablename__ = "activity"
    __table_args__ = (
        CheckConstraint(in_list("status", ActivityStatus), name="status"),
        CheckConstraint(
            "status <> 'returned' OR status_reason IS NOT NULL", name="returned_has_reason"
        ),
        CheckConstraint("version > 0", name="version_positive"),
        # A retried POST finds its first result by (recorder, key) instead of writing a second row.
        UniqueConstraint("recorder_user_id", "idempotency_key"),
        # Target of activity_value's composite key: values belong to the activity's own task.
        UniqueConstraint("id", "task_id"),
        ForeignKeyConstraint(["site_id", "county_id"], ["site.id", "site.county_id"]),
        Index("ix_activity_credited_org_id_occurred_on", "credited_org_id", "occurred_on"),
        Index("ix_activity_county_id_occurred_on", "county_id", "occurred_on"),
        # The likely-duplicate warning: same place, date and task.
        Index("ix_activity_county_id_task_id_occurred_on", "county_id", "task_id", "occurred_on"),
        Index("ix_activity_status_credited_org_id", "status", "credited_org_id"),
        # The activities behind a board figure, newest first (a province's page in milliseconds).
        Index("ix_activity_status_occurred_on", "status", "occurred_on"),
        # The API's lists by cursor walk these: newest activity first, and oldest change first (sync).
        Index("ix_activity_occurred_on_id", "occurred_on", "id"),
        Index("ix_activity_updated_at_id", "updated_at", "id"),
        # A member's own verified history (the outlier_member flag at every write; 我的活动).
        Index("ix_activity_recorder_user_id_status", "recorder_user_id", "status"),
    )

    id: int = Field(default=None, sa_column=Column(BigId, primary_key=True))
    recorder_user_id: int = Field(foreign_key="user_account.id")
    # Fixed at recording: the organiser if named, else the recorder's organisation.
    credited_org_id: int = Field(foreign_key="organisation.id")
    organiser_org_id: int | None = Field(default=None, foreign_key="organisation.id")
    task_id: int = Field(foreign_key="task.id", index=True)
    county_id: int = Field(foreign_key="organisation.id")  # the place, counted by place
    site_id: int | None = None
    occurred_on: date
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    status: ActivityStatus = Field(
        default=ActivityStatus.pending, sa_column=Column(String(12), nullable=False)
    )
    status_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    reviewer_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    reviewed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    idempotency_key: str = Field(max_length=64)
    # Digest of the submitted content: the same key with other content is refused.
    request_hash: str | None = Field(default=None, max_length=64)
    # 「这是另一次活动」: the recorder's note when they confirmed it is not one already recorded.
    distinct_note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # Set on a duplicate a reviewer merged into another activity (it is then withdrawn). No foreign
    # key: the column was added without rebuilding this, the largest table (migration 0012).
    merged_into_id: int | None = Field(default=None, sa_column=Column(BigId, nullable=True))
    version: int = 1
    submitted_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class ParticipantStatus(StrEnum):
    confirmed = "confirmed"  # counts toward 参与率
    requested = "requested"  # asked to be added to an existing activity; its verifier decides


class ActivityParticipant(SQLModel, table=True):
    """A member who took part (the recording member included): each confirmed one counts toward 参与率."""

    __tablename__ = "activity_participant"
    __table_args__ = (CheckConstraint(in_list("status", ParticipantStatus), name="status"),)

    activity_id: int = Field(
        sa_column=Column(BigId, ForeignKey("activity.id", ondelete="CASCADE"), primary_key=True)
    )
    member_id: int = Field(
        sa_column=Column(Integer, ForeignKey("member.id"), primary_key=True, index=True)
    )
    status: ParticipantStatus = Field(
        default=ParticipantStatus.confirmed,
        sa_column=Column(String(12), nullable=False, server_default="confirmed"),
    )


class ActivityPhoto(SQLModel, table=True):
    """Evidence photo: re-encoded (EXIF/GPS stripped), stored outside static/ under a server-made name."""

    __tablename__ = "activity_photo"

    id: int = Field(default=None, primary_key=True)
    activity_id: int = Field(
        sa_column=Column(BigId, ForeignKey("activity.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    storage_key: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    width: int
    height: int
    bytes: int
    sort_order: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class ActivityValue(SQLModel, table=True):
    """One indicator figure of an activity, as an integer (money in hundredths of 万元)."""

    __tablename__ = "activity_value"
    __table_args__ = (
        CheckConstraint("value >= 0", name="value_non_negative"),
        ForeignKeyConstraint(
            ["activity_id", "task_id"], ["activity.id", "activity.task_id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(["indicator_id", "task_id"], ["indicator.id", "indicator.task_id"]),
        Index("ix_activity_value_indicator_id", "indicator_id"),
    )

    activity_id: int = Field(sa_column=Column(BigId, primary_key=True))
    indicator_id: int = Field(sa_column=Column(Integer, primary_key=True))
    task_id: int
    value: int = Field(sa_column=Column(BigInteger, nullable=False))


class ClosedMonth(SQLModel, table=True):
    """A month the organisation's 助推办 has closed after collection (covers its subtree)."""

    __tablename__ = "closed_month"
    __table_args__ = (
        CheckConstraint("month % 100 BETWEEN 1 AND 12 AND month > 200000", name="month_yyyymm"),
    )

    org_id: int = Field(foreign_key="organisation.id", primary_key=True)
    month: int = Field(primary_key=True)  # yyyymm, e.g. 202609
    closed_by_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    closed_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


