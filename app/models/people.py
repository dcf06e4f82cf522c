"""Members (政协委员), terms (届) and memberships: 换届 ends memberships, never deletes people."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    ColumnElement,
    ForeignKeyConstraint,
    FromClause,
    Index,
    String,
    UniqueConstraint,
    and_,
    or_,
)
from sqlmodel import Field, SQLModel, col

from app.models.base import UtcDateTime, in_list, utcnow


class MemberRole(StrEnum):
    member = "member"  # 委员
    standing = "standing"  # 常委
    chair_council = "chair_council"  # 主席会议成员 (主席, 副主席, 秘书长)


class Member(SQLModel, table=True):
    __tablename__ = "member"

    id: int = Field(default=None, primary_key=True)
    name: str = Field(max_length=32)
    # Personal data: never leaves through an API token (accounts issue).
    phone: str = Field(sa_column=Column(String(20), nullable=False, unique=True))
    sector: str = Field(max_length=32)  # 界别
    enterprise: str | None = Field(default=None, max_length=128)  # 委员企业
    industry: str | None = Field(default=None, max_length=32)  # 行业 (补位匹配), optional
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class Term(SQLModel, table=True):
    """One organisation's 第N届."""

    __tablename__ = "term"
    __table_args__ = (
        UniqueConstraint("org_id", "number"),
        UniqueConstraint("id", "org_id"),
        CheckConstraint("number > 0", name="number_positive"),
        CheckConstraint("end_date IS NULL OR end_date >= start_date", name="dates_ordered"),
    )

    id: int = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organisation.id")
    number: int
    start_date: date
    end_date: date | None = None


class Membership(SQLModel, table=True):
    """A member's seat in one organisation for one term, with role and 专委会."""

    __tablename__ = "membership"
    __table_args__ = (
        CheckConstraint(in_list("role", MemberRole), name="role"),
        CheckConstraint("end_date IS NULL OR end_date >= start_date", name="dates_ordered"),
        UniqueConstraint("member_id", "term_id"),
        # The term and the committee must belong to the membership's own organisation.
        ForeignKeyConstraint(["term_id", "org_id"], ["term.id", "term.org_id"]),
        ForeignKeyConstraint(["committee_id", "org_id"], ["committee.id", "committee.org_id"]),
        Index("ix_membership_org_id_end_date", "org_id", "end_date"),
    )

    id: int = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    org_id: int = Field(foreign_key="organisation.id")
    term_id: int
    role: MemberRole = Field(sa_column=Column(String(16), nullable=False))
    title: str | None = Field(default=None, max_length=32)  # e.g. 副主席, 秘书长
    committee_id: int | None = None
    start_date: date
    end_date: date | None = None


# --- a membership in force: the one home of this rule -----------------------------------------------
# A membership's start and end dates are both days served (end_date = the last day, inclusive; None =
# open). Every query about who serves when uses these conditions instead of comparing the dates itself.
# They sit beside the table, not in a service, because every layer asks them (the rollup included,
# which the services import).

Day = date | ColumnElement[date]


# ``seat`` may be the Membership class, an ORM alias of it (``aliased``) or a Core alias of its table:
# queries that compare two of a member's seats (the current one among several) alias it.
def _dates(seat: Any) -> tuple[Any, Any]:
    cols = seat.c if isinstance(seat, FromClause) else seat
    return col(cols.start_date), col(cols.end_date)


def seat_open_on(day: Day, *, seat: Any = None) -> ColumnElement[bool]:
    """SQL condition: the membership (``seat``: an alias of the table, default the table) has not
    ended before ``day`` (begun or not)."""
    _, end = _dates(Membership if seat is None else seat)
    return or_(end.is_(None), end >= day)


def serving_during(first: Day, last: Day, *, seat: Any = None) -> ColumnElement[bool]:
    """SQL condition: the membership is in force on at least one day of ``first``..``last`` (both inclusive)."""
    start, _ = _dates(Membership if seat is None else seat)
    return and_(start <= last, seat_open_on(first, seat=seat))


def serving_on(day: Day, *, seat: Any = None) -> ColumnElement[bool]:
    """SQL condition: the membership is in force on ``day``."""
    return serving_during(day, day, seat=seat)


def serves_on(membership: Membership, day: date) -> bool:
    """Python twin of :func:`serving_on`, for memberships already loaded."""
    return membership.start_date <= day and (membership.end_date is None or membership.end_date >= day)
