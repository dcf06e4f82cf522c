"""Reaching members: the notification outbox (in-app messages, SMS, 企业微信 robots), reminder
campaigns, SMS sign-in codes and who was reached in which month (动员面).

``notification`` is the one outbox. A row is written in the transaction of the event that causes it
(an activity returned, a join request decided, a reminder campaign, a sign-in code) and is unique per
(channel, recipient, event): the same event never reaches the same person twice through one channel.
In-app rows are delivered as they are written (``status = 'sent'``) and *are* the member's 站内消息
(``read_at``); SMS and robot rows are sent by the worker (app/notify/worker.py) with retries and
backoff, deferred by quiet hours (``not_before``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from app.models.base import BigId, UtcDateTime, in_list, utcnow

CHANNELS = ("inapp", "sms", "wecom")
NOTIFY_STATES = ("queued", "sending", "sent", "failed", "skipped")
# What caused a notice. Codes (login/reset) are exempt from quiet hours and daily caps.
NOTIFY_KINDS = ("activity_returned", "join_decided", "join_requested", "reminder", "campaign_done",
                "login_code", "reset_code")
CODE_KINDS = ("login_code", "reset_code")
CODE_PURPOSES = ("login", "reset")
SEGMENTS = ("never_activated", "idle", "returned", "pending")


class Notification(SQLModel, table=True):
    __tablename__ = "notification"
    __table_args__ = (
        CheckConstraint(in_list("channel", CHANNELS), name="channel"),
        CheckConstraint(in_list("status", NOTIFY_STATES), name="status"),
        CheckConstraint(in_list("kind", NOTIFY_KINDS), name="kind"),
        # Idempotent per (recipient, event) and channel: a retried event adds nothing.
        UniqueConstraint("channel", "recipient", "event_key"),
        Index("ix_notification_status_not_before", "status", "not_before"),  # the worker's claim
        Index("ix_notification_user_id_channel_id", "user_id", "channel", "id"),  # 站内消息 list and bell
        Index("ix_notification_member_id_created_at", "member_id", "created_at"),  # caps, last contact
        Index("ix_notification_campaign_id", "campaign_id"),
        {"sqlite_autoincrement": True},
    )

    id: int = Field(default=None, sa_column=Column(BigId, primary_key=True))
    channel: str = Field(sa_column=Column(String(6), nullable=False))
    kind: str = Field(sa_column=Column(String(20), nullable=False))
    # "user:12" (in-app), the phone number (SMS) or "robot:3" (企业微信): what the uniqueness is about.
    recipient: str = Field(sa_column=Column(String(40), nullable=False))
    event_key: str = Field(sa_column=Column(String(80), nullable=False))  # e.g. "returned:123:2"
    user_id: int | None = Field(default=None, sa_column=Column(
        Integer, ForeignKey("user_account.id", ondelete="CASCADE"), nullable=True))
    member_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("member.id"), nullable=True))
    robot_id: int | None = Field(default=None, sa_column=Column(
        Integer, ForeignKey("wecom_robot.id", ondelete="CASCADE"), nullable=True))
    campaign_id: int | None = Field(default=None, sa_column=Column(
        Integer, ForeignKey("reminder_campaign.id"), nullable=True))
    template: str = Field(sa_column=Column(String(40), nullable=False))  # app/notify/templates.py
    params: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))  # JSON variables
    title: str = Field(default="", max_length=100)
    body: str = Field(sa_column=Column(Text, nullable=False))  # rendered Chinese text
    link: str | None = Field(default=None, max_length=200)  # in-app: where the message points
    status: str = Field(default="queued", sa_column=Column(String(8), nullable=False, default="queued"))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    not_before: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)  # backoff, quiet hours
    lease_owner: str | None = Field(default=None, max_length=80)
    leased_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    provider: str | None = Field(default=None, max_length=16)  # log | aliyun | tencent | wecom
    provider_message_id: str | None = Field(default=None, max_length=100)
    error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UtcDateTime)  # delivered to the provider / inbox
    read_at: datetime | None = Field(default=None, sa_type=UtcDateTime)  # in-app only


class ReminderCampaign(SQLModel, table=True):
    """A reminder the office sent to a group picked from the inactive list."""

    __tablename__ = "reminder_campaign"
    __table_args__ = (
        CheckConstraint(in_list("segment", SEGMENTS), name="segment"),
        Index("ix_reminder_campaign_org_id_created_at", "org_id", "created_at"),
        # A retried send (the same form submitted twice) finds its campaign instead of sending again.
        UniqueConstraint("created_by_user_id", "submission_key"),
    )

    id: int = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organisation.id")
    segment: str = Field(sa_column=Column(String(16), nullable=False))
    period: str = Field(max_length=16)  # the board period key the group was picked for
    committee_id: int | None = Field(default=None, foreign_key="committee.id")
    body: str = Field(sa_column=Column(Text, nullable=False))  # the message as previewed
    with_sms: bool = True
    recipients: int = 0  # members the campaign was addressed to
    queued: int = 0  # notices written (SMS + in-app)
    skipped: int = 0  # opted out, no phone, over the daily cap, reminded already
    sms_parts: int = 0  # billed SMS segments (70 characters each, 67 when longer)
    created_by_user_id: int = Field(foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    submission_key: str = Field(max_length=64)  # the send form's key, one campaign per key and sender


class WecomRobot(SQLModel, table=True):
    """An office's 企业微信 group robot: its webhook address is a secret (only staff see it, masked)."""

    __tablename__ = "wecom_robot"

    id: int = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organisation.id", index=True)
    name: str = Field(max_length=40)
    webhook_url: str = Field(max_length=300)
    is_active: bool = True
    created_by_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class SmsCode(SQLModel, table=True):
    """A 6-digit code sent by SMS to sign in or reset a password: only its HMAC is kept; single use."""

    __tablename__ = "sms_code"
    __table_args__ = (
        CheckConstraint(in_list("purpose", CODE_PURPOSES), name="purpose"),
        Index("ix_sms_code_phone_created_at", "phone", "created_at"),
        Index("ix_sms_code_ip_created_at", "ip", "created_at"),
    )

    id: int = Field(default=None, primary_key=True)
    phone: str = Field(sa_column=Column(String(20), nullable=False))
    purpose: str = Field(sa_column=Column(String(8), nullable=False))
    user_id: int | None = Field(default=None, sa_column=Column(
        Integer, ForeignKey("user_account.id", ondelete="CASCADE"), nullable=True))  # None: no such account
    code_hash: str = Field(max_length=64)
    ip: str = Field(default="", max_length=64)
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))  # wrong guesses
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    expires_at: datetime = Field(sa_type=UtcDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class MemberReach(SQLModel, table=True):
    """动员面's raw rows: a member was reached in a month (Beijing time) — signed in and made a request,
    or was delivered a notice. One row per member and month, first moment of each kind."""

    __tablename__ = "member_reach"
    __table_args__ = (
        CheckConstraint("month % 100 BETWEEN 1 AND 12 AND month > 200000", name="month_yyyymm"),
    )

    member_id: int = Field(sa_column=Column(Integer, ForeignKey("member.id"), primary_key=True))
    month: int = Field(sa_column=Column(Integer, primary_key=True))
    signed_in_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    notified_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class SmsLog(SQLModel, table=True):
    """The ``log`` provider's mailbox (``SZT_ENV=dev`` only): what would have been sent, never sent."""

    __tablename__ = "sms_log"
    __table_args__ = (Index("ix_sms_log_phone_id", "phone", "id"),)

    id: int = Field(default=None, sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True))
    phone: str = Field(max_length=20)
    template: str = Field(max_length=40)
    params: str = Field(sa_column=Column(Text, nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
