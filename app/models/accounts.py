"""User accounts (separate from members) and their org-scoped role grants."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, ForeignKey, Integer, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import UtcDateTime, in_list, utcnow


class GrantRole(StrEnum):
    member = "member"  # 委员: own activities
    staff = "staff"  # 助推办 staff of the organisation's subtree
    leader = "leader"  # 领导 / 专委会负责人: 挂联 in the subtree
    admin = "admin"  # 省级管理员
    viewer = "viewer"  # read-only boards


class UserAccount(SQLModel, table=True):
    __tablename__ = "user_account"

    id: int = Field(default=None, primary_key=True)
    login: str = Field(sa_column=Column(String(20), nullable=False, unique=True))  # phone
    # NULL until the person activates the account with a one-time code (accounts issue).
    password_hash: str | None = Field(default=None, max_length=255)
    display_name: str = Field(max_length=64)
    is_active: bool = Field(default=True)
    member_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("member.id"), unique=True, nullable=True)
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    last_login_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # The member asked for no reminder campaigns (app/notify); events about their own work still reach them.
    reminders_opt_out: bool = Field(default=False)


class RoleGrant(SQLModel, table=True):
    """(role, organisation): the grant covers the organisation's whole subtree."""

    __tablename__ = "role_grant"
    __table_args__ = (
        CheckConstraint(in_list("role", GrantRole), name="role"),
        UniqueConstraint("user_id", "role", "org_id"),
    )

    id: int = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False)
    )
    role: GrantRole = Field(sa_column=Column(String(12), nullable=False))
    org_id: int = Field(foreign_key="organisation.id", index=True)
    granted_by_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
