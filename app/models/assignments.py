"""挂联: a leader linked to a county (optionally one site in it) for a span of dates."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, ForeignKeyConstraint, Index, String, text
from sqlmodel import Field, SQLModel

from app.models.base import UtcDateTime, in_list, utcnow


class LinkRole(StrEnum):
    lead = "lead"  # 挂联领导
    liaison = "liaison"  # 联络员


class LinkAssignment(SQLModel, table=True):
    __tablename__ = "link_assignment"
    __table_args__ = (
        CheckConstraint(in_list("role", LinkRole), name="role"),
        CheckConstraint("end_date IS NULL OR end_date >= start_date", name="dates_ordered"),
        # A site, when named, must lie in the assignment's county.
        ForeignKeyConstraint(["site_id", "county_id"], ["site.id", "site.county_id"]),
        Index("ix_link_assignment_county_id_end_date", "county_id", "end_date"),
        # One open-ended link per leader and place: a retried or doubled submission cannot make a
        # second row (app/links/service.py checks overlapping date ranges; this is the backstop).
        # Two partial indexes rather than one on COALESCE(site_id, 0): plain columns, the same on
        # SQLite and PostgreSQL, and nothing for Alembic to misread.
        Index("uq_link_assignment_open_county", "leader_member_id", "county_id", unique=True,
              sqlite_where=text("end_date IS NULL AND site_id IS NULL"),
              postgresql_where=text("end_date IS NULL AND site_id IS NULL")),
        Index("uq_link_assignment_open_site", "leader_member_id", "site_id", unique=True,
              sqlite_where=text("end_date IS NULL AND site_id IS NOT NULL"),
              postgresql_where=text("end_date IS NULL AND site_id IS NOT NULL")),
    )

    id: int = Field(default=None, primary_key=True)
    leader_member_id: int = Field(foreign_key="member.id", index=True)
    county_id: int = Field(foreign_key="organisation.id")
    site_id: int | None = None
    role: LinkRole = Field(sa_column=Column(String(12), nullable=False))
    start_date: date
    end_date: date | None = None
    note: str = Field(default="", max_length=500)
    assigned_by_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
