"""Reminder campaigns (提醒): the office picks a group of the inactive list, previews the message, the
count and the cost, sends, and sees what came of it. One service for the pages and the JSON API.

- :func:`preview` — who the group holds now, who will be skipped and why (opted out, reminded
  already today, no way to reach them), the message as the member reads it and the SMS bill.
- :func:`send` — one ``reminder_campaign`` row and every outbox row (in-app + SMS, event
  ``campaign:{id}``) in one transaction, audited (``notify.campaign``). A retried submission (same
  sender, same submission key) answers the campaign it already made.
- :func:`results` — delivered / failed / waiting / skipped SMS, in-app messages read, and the members
  who recorded something within 7 and 30 days of the send.

A member is reminded at most once per Beijing day: a second campaign the same day skips them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import case, func, literal, select, union_all
from sqlmodel import Session

from app import submissions
from app.audit.service import record as audit
from app.auth.principal import Principal
from app.boards import service as boards
from app.boards.periods import Period
from app.clock import CN, now_utc, start_of_day_cn
from app.config import Settings, get_settings
from app.errors import Invalid, NotFound
from app.models import (
    Activity,
    ActivityParticipant,
    ActivityStatus,
    Committee,
    Member,
    Notification,
    Organisation,
    ReminderCampaign,
    UserAccount,
)
from app.models.notify import CODE_KINDS
from app.notify import providers
from app.notify.rules import quiet_until
from app.notify.service import Recipient, rows_for, write
from app.notify.templates import render, sms_parts
from app.orgs.service import is_within, subtree_ids

MAX_MESSAGE = 120  # characters of the office's message (the provider's variable limit, and two SMS parts)
EVENT = "campaign:{id}"
DEFAULT_MESSAGES = {
    "never_activated": "您的双助推行动平台账号还没有使用过。请用手机号和短信验证码登录，记录您参加的助推活动。",
    "returned": "您记录的助推活动被退回了。请登录双助推行动平台查看退回原因，修改后重新提交。",
    "pending": "您记录的助推活动正在审核。参加了新的助推活动，也请及时登录双助推行动平台记录。",
    "idle": "本期间还没有看到您的助推活动记录。参加了活动请登录双助推行动平台记录，一分钟即可完成。",
}
SKIP_REASONS = {
    "opted_out": "本人已退订提醒",
    "reminded_today": "今天已经提醒过",
    "over_cap": "今天收到的短信已达上限，又没有账号收站内消息",
    "no_phone": "没有可用的手机号，又没有账号收站内消息",
    "no_account": "只发站内消息，但没有账号",
}
_MOBILE = re.compile(r"^1\d{10}$")


# --- what the office asks for ---------------------------------------------------------------------

@dataclass(frozen=True)
class Draft:
    """A campaign as the form describes it: the group, the message, and whether SMS goes too."""

    org: Organisation
    period: Period
    segment: str
    committee_id: int | None = None
    message: str = ""
    with_sms: bool = True


def checked(session: Session, draft: Draft) -> Draft:
    """The draft with its message cleaned (the group's default when blank); refused in Chinese when wrong."""
    errors: dict[str, str] = {}
    if draft.segment not in boards.SEGMENTS:
        errors["segment"] = "请选择要提醒的一组委员"
    if draft.committee_id is not None:
        committee = session.get(Committee, draft.committee_id)
        if committee is None or not is_within(session, committee.org_id, draft.org.id):
            errors["committee_id"] = "专委会不在本组织范围内"
    message = " ".join(draft.message.split()) or DEFAULT_MESSAGES.get(draft.segment, "")
    if len(message) > MAX_MESSAGE:
        errors["message"] = f"提醒内容最多 {MAX_MESSAGE} 个字（现在 {len(message)} 个）"
    if errors:
        raise Invalid(next(iter(errors.values())), errors=errors)
    return Draft(draft.org, draft.period, draft.segment, draft.committee_id, message, draft.with_sms)


# --- who will get it --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Addressee:
    member_id: int
    name: str
    phone: str | None  # None: no SMS to them (none wanted, none possible, or over today's cap)
    user_id: int | None  # None: no 站内消息 (no active account)


@dataclass
class Plan:
    recipients: int  # members of the group
    addressees: list[Addressee]
    skipped: dict[str, int]  # reason → members nothing is sent to
    sms: int
    inapp: int
    sms_parts: int  # billed SMS parts, 签名 included
    sample: str  # the SMS (or 站内消息) as the first addressee reads it
    quiet_until: datetime | None  # SMS written now wait for the end of quiet hours

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())


def sms_text(name: str, message: str, settings: Settings | None = None) -> str:
    """The reminder as the member's phone shows it: 【签名】 and the template's text."""
    return providers.sms_text(settings or get_settings(), "reminder", {"name": name, "message": message})


def plan(session: Session, draft: Draft, *, now: datetime | None = None) -> Plan:
    """Who of the group gets what, who is skipped and why, and the SMS bill: one query for the group."""
    settings = get_settings()
    now = now or now_utc()
    day_start = start_of_day_cn(now.astimezone(CN).date())
    seats = boards.inactive_seats(draft.org, draft.period, committee_id=draft.committee_id)
    reminded = select(Notification.member_id).where(
        Notification.kind == "reminder", Notification.created_at >= day_start, Notification.member_id.is_not(None))
    sms_today = (select(Notification.member_id, func.count().label("n"))
                 .where(Notification.channel == "sms", Notification.kind.not_in(CODE_KINDS),
                        Notification.created_at >= day_start, Notification.status != "skipped",
                        Notification.member_id.is_not(None))
                 .group_by(Notification.member_id).subquery())
    rows = session.execute(
        select(Member.id, Member.name, Member.phone, UserAccount.id.label("user_id"), UserAccount.is_active,
               func.coalesce(UserAccount.reminders_opt_out, literal(False)).label("opted_out"),
               case((Member.id.in_(reminded), 1), else_=0).label("reminded"),
               func.coalesce(sms_today.c.n, 0).label("sms_today"))
        .join(seats, seats.c.member_id == Member.id)
        .outerjoin(UserAccount, UserAccount.member_id == Member.id)
        .outerjoin(sms_today, sms_today.c.member_id == Member.id)
        .where(seats.c.segment == draft.segment)
        .order_by(Member.id)).all()
    skipped = dict.fromkeys(SKIP_REASONS, 0)
    addressees: list[Addressee] = []
    parts = 0
    for r in rows:
        if r.opted_out:
            skipped["opted_out"] += 1
            continue
        if r.reminded:
            skipped["reminded_today"] += 1
            continue
        phone_ok = draft.with_sms and bool(r.phone) and bool(_MOBILE.match(r.phone))
        phone = r.phone if phone_ok and r.sms_today < settings.sms_daily_cap else None
        user_id = r.user_id if r.user_id is not None and r.is_active else None
        if phone is None and user_id is None:
            reason = ("no_account" if not draft.with_sms else "no_phone" if not phone_ok else "over_cap")
            skipped[reason] += 1
            continue
        addressees.append(Addressee(r.id, r.name, phone, user_id))
        if phone:
            parts += sms_parts(sms_text(r.name, draft.message, settings))
    first = addressees[0].name if addressees else (rows[0].name if rows else "张三")
    sample = (sms_text(first, draft.message, settings) if draft.with_sms
              else render("reminder", {"name": first, "message": draft.message}))
    sms = sum(1 for a in addressees if a.phone)
    return Plan(recipients=len(rows), addressees=addressees, skipped={k: v for k, v in skipped.items() if v},
                sms=sms, inapp=sum(1 for a in addressees if a.user_id), sms_parts=parts, sample=sample,
                quiet_until=quiet_until(now, settings) if sms else None)


@dataclass
class Preview:
    draft: Draft
    plan: Plan
    price_fen: int

    @property
    def cost_fen(self) -> int:
        return self.plan.sms_parts * self.price_fen

    @property
    def cost_yuan(self) -> str:
        return f"{self.cost_fen / 100:.2f}"


def preview(session: Session, draft: Draft) -> Preview:
    """What a send would do now (nothing is written)."""
    draft = checked(session, draft)
    return Preview(draft, plan(session, draft), get_settings().sms_price_fen)


# --- sending ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Sent:
    campaign: ReminderCampaign
    created: bool  # False: a retried submission, answered with the campaign it already made


def send(session: Session, *, by: Principal, draft: Draft, submission_key: str) -> Sent:
    """Write the campaign and its outbox rows in one transaction, audited. Commits.

    ``draft.org`` comes from the staff loader (``OrgForStaff``, app.deps)."""
    key = submissions.submission_key(by, submission_key)
    found = submissions.made_by(session, ReminderCampaign, by, key)
    if found is not None:
        return Sent(found, created=False)
    draft = checked(session, draft)
    now = now_utc()
    got = plan(session, draft, now=now)
    if not got.addressees:
        raise Invalid("这一组没有可以提醒的委员（都已跳过）", code="nobody_to_remind")
    campaign = ReminderCampaign(
        org_id=draft.org.id, segment=draft.segment, period=draft.period.key, committee_id=draft.committee_id,
        body=draft.message, with_sms=draft.with_sms, recipients=got.recipients, skipped=got.skipped_total,
        sms_parts=got.sms_parts, created_by_user_id=by.user_id, created_at=now, submission_key=key)
    campaign, created = submissions.add_once(session, campaign, by, key)
    if not created:  # the same submission, sent at the same moment by a second request
        return Sent(campaign, created=False)
    event, link = EVENT.format(id=campaign.id), "/activities/new"
    rows: list[dict] = []
    for a in got.addressees:
        rows += rows_for(kind="reminder", event_key=event, template="reminder",
                         params={"name": a.name, "message": draft.message},
                         to=Recipient(user_id=a.user_id, member_id=a.member_id, phone=a.phone),
                         channels=("inapp", "sms"), link=link, campaign_id=campaign.id,
                         not_before=got.quiet_until, now=now)
    campaign.queued = write(session, rows)
    audit(session, actor=by.actor, action="notify.campaign", target_type="reminder_campaign",
          target_id=campaign.id, org_id=draft.org.id,
          after={"segment": draft.segment, "period": draft.period.key, "committee_id": draft.committee_id,
                 "recipients": got.recipients, "sms": got.sms, "inapp": got.inapp, "skipped": got.skipped,
                 "sms_parts": got.sms_parts, "message": draft.message})
    session.commit()
    from app.notify import worker  # wake this process's sender (others find the rows within a second)

    worker.wake()
    return Sent(campaign, created=True)


# --- reading ------------------------------------------------------------------------------------------

def campaign_for_staff(session: Session, by: Principal, campaign_id: int) -> ReminderCampaign:
    """The campaign if ``by`` is staff over its organisation; else 404 (403 to a mere reader)."""
    from app.auth.principal import org_for_staff

    campaign = session.get(ReminderCampaign, campaign_id)
    if campaign is None:
        raise NotFound("没有这次提醒")
    org_for_staff(session, by, campaign.org_id)
    return campaign


@dataclass
class Results:
    campaign: ReminderCampaign
    org_name: str
    sender: str
    committee: str | None
    addressed: int  # members something was written to
    delivered: int  # SMS sent
    failed: int
    waiting: int  # SMS queued or being sent (quiet hours included)
    skipped: int  # members skipped at send, and SMS the sender skipped later
    inapp: int
    read: int  # 站内消息 read
    recorded_7: int  # addressed members who recorded (or were confirmed in) an activity within 7 days
    recorded_30: int
    days_since: float
    by_status: dict[str, int] = field(default_factory=dict)

    @property
    def segment_label(self) -> str:
        return boards.SEGMENT_LABELS[self.campaign.segment]

    def pct(self, n: int) -> str:
        return f"{100 * n / self.addressed:.1f}%" if self.addressed else "—"


def _recorded_within(session: Session, campaign: ReminderCampaign) -> tuple[int, int]:
    """Of the campaign's members, how many recorded or were confirmed in an activity (not withdrawn)
    within 7 and within 30 days after the send."""
    sent = campaign.created_at
    addressed = select(Notification.member_id).where(Notification.campaign_id == campaign.id,
                                                     Notification.member_id.is_not(None))
    window = [Activity.status != ActivityStatus.withdrawn, Activity.created_at >= sent,
              Activity.created_at < sent + timedelta(days=30)]
    acts = union_all(
        select(UserAccount.member_id.label("member_id"), Activity.created_at.label("at"))
        .join(Activity, Activity.recorder_user_id == UserAccount.id)
        .where(*window, UserAccount.member_id.in_(addressed)),
        select(ActivityParticipant.member_id.label("member_id"), Activity.created_at.label("at"))
        .join(Activity, Activity.id == ActivityParticipant.activity_id)
        .where(*window, ActivityParticipant.status == "confirmed", ActivityParticipant.member_id.in_(addressed)),
    ).subquery()
    week = sent + timedelta(days=7)
    row = session.execute(select(
        func.count(func.distinct(case((acts.c.at < week, acts.c.member_id)))),
        func.count(func.distinct(acts.c.member_id)))).one()
    return int(row[0] or 0), int(row[1] or 0)


def delivery_counts(session: Session, campaign_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per campaign: ``sms:<status>`` and ``inapp`` / ``read`` counts of its outbox rows."""
    got: dict[int, dict[str, int]] = {c: {} for c in campaign_ids}
    if not campaign_ids:
        return got
    for cid, channel, status, n, read in session.execute(
            select(Notification.campaign_id, Notification.channel, Notification.status, func.count(),
                   func.count(Notification.read_at))
            .where(Notification.campaign_id.in_(campaign_ids))
            .group_by(Notification.campaign_id, Notification.channel, Notification.status)):
        counts = got[cid]
        if channel == "sms":
            counts[f"sms:{status}"] = counts.get(f"sms:{status}", 0) + n
        else:
            counts["inapp"] = counts.get("inapp", 0) + n
            counts["read"] = counts.get("read", 0) + read
    return got


def results(session: Session, campaign: ReminderCampaign, *, now: datetime | None = None) -> Results:
    """What came of a campaign so far."""
    counts = delivery_counts(session, [campaign.id])[campaign.id]
    addressed = session.scalar(select(func.count(func.distinct(Notification.member_id)))
                               .where(Notification.campaign_id == campaign.id)) or 0
    r7, r30 = _recorded_within(session, campaign)
    org = session.get(Organisation, campaign.org_id)
    sender = session.get(UserAccount, campaign.created_by_user_id)
    committee = session.get(Committee, campaign.committee_id) if campaign.committee_id else None
    elapsed = (now or now_utc()) - campaign.created_at
    return Results(
        campaign=campaign, org_name=org.name if org else "", sender=sender.display_name if sender else "",
        committee=committee.name if committee else None, addressed=int(addressed),
        delivered=counts.get("sms:sent", 0), failed=counts.get("sms:failed", 0),
        waiting=counts.get("sms:queued", 0) + counts.get("sms:sending", 0),
        skipped=campaign.skipped + counts.get("sms:skipped", 0), inapp=counts.get("inapp", 0),
        read=counts.get("read", 0), recorded_7=r7, recorded_30=r30, days_since=elapsed.total_seconds() / 86400,
        by_status={k: v for k, v in counts.items() if k.startswith("sms:")})


@dataclass
class CampaignLine:
    campaign: ReminderCampaign
    org_name: str
    sender: str
    delivered: int
    failed: int
    waiting: int

    @property
    def segment_label(self) -> str:
        return boards.SEGMENT_LABELS[self.campaign.segment]


def campaigns_of(session: Session, org: Organisation, *, page: int = 1,
                 per_page: int = 50) -> tuple[list[CampaignLine], int]:
    """The campaigns of the organisation's subtree, newest first, with their SMS delivery so far."""
    where = [ReminderCampaign.org_id.in_(subtree_ids(org.id))]
    total = session.scalar(select(func.count()).select_from(ReminderCampaign).where(*where)) or 0
    rows = session.execute(
        select(ReminderCampaign, Organisation.name, UserAccount.display_name)
        .join(Organisation, Organisation.id == ReminderCampaign.org_id)
        .join(UserAccount, UserAccount.id == ReminderCampaign.created_by_user_id)
        .where(*where).order_by(ReminderCampaign.created_at.desc(), ReminderCampaign.id.desc())
        .offset((page - 1) * per_page).limit(per_page)).all()
    counts = delivery_counts(session, [c.id for c, _, _ in rows])
    return [CampaignLine(c, org_name, sender, counts[c.id].get("sms:sent", 0), counts[c.id].get("sms:failed", 0),
                         counts[c.id].get("sms:queued", 0) + counts[c.id].get("sms:sending", 0))
            for c, org_name, sender in rows], int(total)
