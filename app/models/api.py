"""Program access: API tokens for third-party systems and their daily usage."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, Column, Date, ForeignKey, Integer, String
from sqlmodel import Field, SQLModel

from app.models.base import UtcDateTime, in_list, utcnow


class TokenLevel(StrEnum):
    aggregate = "aggregate"  # 汇总级: totals, progress, rankings, reports; no personal data
    records = "records"  # 明细级: also activities and 挂联 with names (never phone numbers)


class ApiToken(SQLModel, table=True):
    """A bearer token of another system, scoped to an organisation subtree; only its SHA-256 is stored.

    ``member_id`` set = the token may also submit activities, recorded as that member.
    """

    __tablename__ = "api_token"
    __table_args__ = (
        CheckConstraint(in_list("level", TokenLevel), name="level"),
        CheckConstraint("rate_per_minute > 0", name="rate_positive"),
    )

    id: int = Field(default=None, primary_key=True)
    token_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    prefix: str = Field(max_length=16)  # the first characters, shown to tell tokens apart
    name: str = Field(max_length=64)
    org_id: int = Field(foreign_key="organisation.id", index=True)
    level: TokenLevel = Field(sa_column=Column(String(12), nullable=False))
    member_id: int | None = Field(default=None, foreign_key="member.id")
    rate_per_minute: int = Field(default=120)
    created_by_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    expires_at: datetime = Field(sa_type=UtcDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    revoked_by_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    last_used_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_used_ip: str | None = Field(default=None, max_length=64)


class ApiTokenUsage(SQLModel, table=True):
    """Requests per token and day (Beijing time), flushed from each process at most once a minute."""

    __tablename__ = "api_token_usage"

    token_id: int = Field(sa_column=Column(Integer, ForeignKey("api_token.id", ondelete="CASCADE"),
                                           primary_key=True))
    day: date = Field(sa_column=Column(Date, primary_key=True))
    requests: int = Field(default=0)
    refused: int = Field(default=0)  # answered 429


class ApiTokenRate(SQLModel, table=True):
    """A token's rate limit, shared by every process and machine: the token bucket kept as one moment
    (GCRA's theoretical arrival time, microseconds since the Unix epoch) that each admitted request
    pushes on by one interval (60 s / rate) in one upsert; a request that would push it more than a
    minute past now is refused."""

    __tablename__ = "api_token_rate"

    token_id: int = Field(sa_column=Column(Integer, ForeignKey("api_token.id", ondelete="CASCADE"),
                                           primary_key=True, autoincrement=False))
    tat_us: int = Field(sa_column=Column(BigInteger, nullable=False))
