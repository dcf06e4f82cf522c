"""Truth at the door: plausibility rules (catalogue data), flags stored with each activity, the
history baselines they are measured against, and each organisation's 报送 confirmation per month."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlmodel import Field, SQLModel

from app.models.base import BigId, UtcDateTime, in_list, utcnow


class RuleKind(StrEnum):
    bound = "bound"  # one activity's value of the indicator is at most max_value
    ratio = "ratio"  # indicator ÷ per_indicator (display units, e.g. 万元 per 人) within [min_ratio, max_ratio]


class PlausibilityRule(SQLModel, table=True):
    """A plausibility rule set by an organisation for its subtree (the province's are the defaults).

    Every rule of the activity's credited organisation and its ancestors applies, so a prefecture's
    own rule can only tighten what the province set, never loosen it.
    """

    __tablename__ = "plausibility_rule"
    __table_args__ = (
        CheckConstraint(in_list("kind", RuleKind), name="kind"),
        CheckConstraint("kind <> 'bound' OR (max_value IS NOT NULL AND max_value >= 0)", name="bound_has_max"),
        CheckConstraint(
            "kind <> 'ratio' OR (per_indicator_id IS NOT NULL AND per_indicator_id <> indicator_id"
            " AND (min_ratio IS NOT NULL OR max_ratio IS NOT NULL))", name="ratio_has_terms"),
        CheckConstraint("min_ratio IS NULL OR max_ratio IS NULL OR min_ratio <= max_ratio", name="ratio_ordered"),
        Index("ix_plausibility_rule_indicator_id", "indicator_id"),
        Index("ix_plausibility_rule_org_id", "org_id"),
    )

    id: int = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organisation.id")
    indicator_id: int = Field(sa_column=Column(Integer, ForeignKey("indicator.id", ondelete="CASCADE"), nullable=False))
    kind: RuleKind = Field(sa_column=Column(String(8), nullable=False))
    # bound: the stored integer (money in hundredths of 万元), as activity_value.value
    max_value: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    per_indicator_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("indicator.id", ondelete="CASCADE"), nullable=True))
    min_ratio: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    max_ratio: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    source: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))  # where the number came from
    updated_by_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class FlagCode(StrEnum):
    duplicate = "duplicate"
    over_bound = "over_bound"
    ratio = "ratio"
    outlier_history = "outlier_history"
    outlier_member = "outlier_member"
    money_no_photo = "money_no_photo"
    late_entry = "late_entry"
    closed_month = "closed_month"


class ActivityFlag(SQLModel, table=True):
    """Why an activity deserves a second look, said in Chinese; recomputed when the rules change."""

    __tablename__ = "activity_flag"
    __table_args__ = (
        CheckConstraint(in_list("code", FlagCode), name="code"),
        Index("ix_activity_flag_code_activity_id", "code", "activity_id"),
    )

    activity_id: int = Field(
        sa_column=Column(BigId, ForeignKey("activity.id", ondelete="CASCADE"), primary_key=True))
    code: FlagCode = Field(sa_column=Column(String(20), primary_key=True))
    message: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class IndicatorBaseline(SQLModel, table=True):
    """An indicator's per-activity values over the province's last 12 months (verified), summarised
    robustly: median and MAD. Computed at most once a day per indicator, not on every write."""

    __tablename__ = "indicator_baseline"

    indicator_id: int = Field(
        sa_column=Column(Integer, ForeignKey("indicator.id", ondelete="CASCADE"), primary_key=True))
    as_of: date
    samples: int
    median: float
    mad: float
    computed_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class ReportConfirmation(SQLModel, table=True):
    """An organisation's office confirms its 报送 for a month is complete (已确认报送完成)."""

    __tablename__ = "report_confirmation"
    __table_args__ = (
        CheckConstraint("month % 100 BETWEEN 1 AND 12 AND month > 200000", name="month_yyyymm"),
    )

    org_id: int = Field(foreign_key="organisation.id", primary_key=True)
    month: int = Field(primary_key=True)  # yyyymm
    confirmed_by_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    confirmed_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
