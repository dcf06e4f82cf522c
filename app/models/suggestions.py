"""意见建议的跟踪 (issue 20): what became of a verified suggestion — reported to a department, adopted,
put into effect or not adopted — set by the office. One row per activity; its history is the audit log."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, ForeignKey, String
from sqlmodel import Field, SQLModel

from app.models.base import BigId, UtcDateTime, in_list, utcnow


class SuggestionState(StrEnum):
    reported = "reported"  # 已报送 (to a department)
    adopted = "adopted"  # 已采纳
    implemented = "implemented"  # 已落实
    declined = "declined"  # 未采纳


class SuggestionFollowUp(SQLModel, table=True):
    """The follow-up state of an activity whose task has a suggestion indicator (``Indicator.is_suggestion``):
    the state, the receiving department and the date of the state. ``version`` guards concurrent edits."""

    __tablename__ = "suggestion_follow_up"
    __table_args__ = (
        CheckConstraint(in_list("state", SuggestionState), name="state"),
        CheckConstraint("version > 0", name="version_positive"),
    )

    activity_id: int = Field(
        sa_column=Column(BigId, ForeignKey("activity.id", ondelete="CASCADE"), primary_key=True)
    )
    state: SuggestionState = Field(sa_column=Column(String(12), nullable=False))
    department: str = Field(max_length=100)
    state_on: date
    updated_by_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    version: int = Field(default=1)
