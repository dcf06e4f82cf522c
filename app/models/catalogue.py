"""The campaign catalogue (data, never code): campaign → 助推 areas → 实事 tasks → indicators."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKeyConstraint,
    Index,
    String,
    UniqueConstraint,
    false,
    text,
)
from sqlmodel import Field, SQLModel

from app.models.base import UtcDateTime, in_list, utcnow


class IndicatorKind(StrEnum):
    count = "count"  # whole number ≥ 0, stored as is
    money = "money"  # 万元 to 2 decimals, stored as hundredths of 万元


class Campaign(SQLModel, table=True):
    __tablename__ = "campaign"
    __table_args__ = (
        CheckConstraint("end_year IS NULL OR end_year >= start_year", name="years_ordered"),
        # At most one current campaign.
        Index(
            "uq_campaign_current",
            "is_current",
            unique=True,
            sqlite_where=text("is_current"),
            postgresql_where=text("is_current"),
        ),
    )

    id: int = Field(default=None, primary_key=True)
    code: str = Field(sa_column=Column(String(32), nullable=False, unique=True))
    name: str = Field(max_length=128)
    start_year: int
    end_year: int | None = None
    is_current: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))


class BoostArea(SQLModel, table=True):
    """One of the 「5项助推」 focus areas."""

    __tablename__ = "boost_area"
    __table_args__ = (UniqueConstraint("campaign_id", "name"), UniqueConstraint("id", "campaign_id"))

    id: int = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id")
    name: str = Field(max_length=64)
    sort_order: int = 0


class Task(SQLModel, table=True):
    """One 实事; ``narrative_prefix`` opens its report sentence (e.g. 帮助脱贫地区)."""

    __tablename__ = "task"
    __table_args__ = (
        UniqueConstraint("campaign_id", "owner_org_id", "name"),
        # The area must belong to the task's campaign.
        ForeignKeyConstraint(["area_id", "campaign_id"], ["boost_area.id", "boost_area.campaign_id"]),
    )

    id: int = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    area_id: int
    name: str = Field(max_length=128)
    short_name: str = Field(max_length=32)
    narrative_prefix: str = Field(default="", max_length=64)
    # The organisation that added the task (the province for the campaign's own); shows in its subtree.
    owner_org_id: int = Field(foreign_key="organisation.id")
    sort_order: int = 0


class Indicator(SQLModel, table=True):
    """A measured figure of a task. ``narrative`` is its phrase, e.g. 发展产业项目{value}{unit}."""

    __tablename__ = "indicator"
    __table_args__ = (
        CheckConstraint(in_list("kind", IndicatorKind), name="kind"),
        UniqueConstraint("task_id", "name"),
        UniqueConstraint("id", "task_id"),
    )

    id: int = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="task.id")
    name: str = Field(max_length=64)
    unit: str = Field(max_length=8)
    kind: IndicatorKind = Field(sa_column=Column(String(8), nullable=False))
    owner_org_id: int = Field(foreign_key="organisation.id", index=True)
    narrative: str = Field(max_length=128)
    sort_order: int = 0
    # A suggestion (意见建议, 建言献策): its activities carry a follow-up state and count toward 采纳率
    # (app/suggestions/service.py). Catalogue data: "suggestion": true in app/data/catalogue.json.
    is_suggestion: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))
    # An outcome (成效: 受益群众, 带动就业, 带动增收) rather than an effort figure: optional on the form, added
    # by the recorder until verified, stated apart on boards and reports. Catalogue data: "outcome": true.
    is_outcome: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))


class AnnualTarget(SQLModel, table=True):
    """An organisation's target for its whole subtree, for one indicator and calendar year."""

    __tablename__ = "annual_target"
    __table_args__ = (
        UniqueConstraint("org_id", "indicator_id", "year"),
        CheckConstraint("value >= 0", name="value_non_negative"),
        Index("ix_annual_target_indicator_id", "indicator_id"),
    )

    id: int = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organisation.id")
    indicator_id: int = Field(foreign_key="indicator.id")
    year: int
    value: int = Field(sa_column=Column(BigInteger, nullable=False))  # money: hundredths of 万元
    set_by_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
