"""Server-side login sessions, login attempts (throttling) and one-time activation codes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, String
from sqlmodel import Field, SQLModel

from app.models.base import UtcDateTime, utcnow


class UserSession(SQLModel, table=True):
    """A login. The cookie holds a random token; only its SHA-256 is stored (``id``)."""

    __tablename__ = "user_session"

    id: str = Field(sa_column=Column(String(64), primary_key=True))
    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    expires_at: datetime = Field(sa_type=UtcDateTime)  # absolute timeout
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    ip: str = Field(default="", max_length=64)
    user_agent: str = Field(default="", max_length=255)
    # 记住我: a long session on the member's own phone (its own idle and absolute timeouts).
    remember: bool = Field(default=False)
    # How it began: password | sms | code (activation) — shown on the account's list of sessions.
    method: str = Field(default="password", max_length=8)


class LoginAttempt(SQLModel, table=True):
    """Every login or activation attempt; throttling counts recent failures per login and per address."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        Index("ix_login_attempt_login_at", "login", "at"),
        Index("ix_login_attempt_ip_at", "ip", "at"),
    )

    id: int = Field(default=None, primary_key=True)
    login: str = Field(max_length=20)
    ip: str = Field(max_length=64)
    at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    succeeded: bool = False


class ActivationCode(SQLModel, table=True):
    """A one-time code staff hand a member (printed sheet / Excel) to set a first or new password."""

    __tablename__ = "activation_code"

    id: int = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    code_hash: str = Field(max_length=64)  # HMAC-SHA256 of the code with the app secret
    issued_by_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    expires_at: datetime = Field(sa_type=UtcDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
