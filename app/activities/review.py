"""The life of an activity after recording: its states and transitions, verification, returning, reopening, participant requests."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import (
    select,
)
from sqlmodel import Session

from app.activities.months import _check_month_open
from app.activities.scope import activity_for_review, reviewable_by
from app.audit.service import record as audit
from app.auth.principal import Principal
from app.clock import now_utc, to_cn
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.models import (
    Activity,
    ActivityParticipant,
    ActivityStatus,
    AuditLog,
    Member,
    Membership,
    ParticipantStatus,
    UserAccount,
)
from app.models.people import serving_on
from app.notify import events
from app.orgs.service import subtree_ids
from app.quality.flags import flags_of
from app.rollup import service as rollup

STATUS_LABELS = {
    ActivityStatus.pending: "待审核",
    ActivityStatus.verified: "已通过",
    ActivityStatus.returned: "已退回",
    ActivityStatus.withdrawn: "已撤回",
}

# The life of an activity: action → (states it may start from, state it ends in, label).
TRANSITIONS: dict[str, tuple[frozenset[ActivityStatus], ActivityStatus, str]] = {
    "verify": (frozenset({ActivityStatus.pending}), ActivityStatus.verified, "审核通过"),
    "return": (frozenset({ActivityStatus.pending}), ActivityStatus.returned, "退回"),
    "reopen": (frozenset({ActivityStatus.verified}), ActivityStatus.pending, "重新打开"),
    "withdraw": (frozenset({ActivityStatus.pending}), ActivityStatus.withdrawn, "撤回"),
    "resubmit": (frozenset({ActivityStatus.returned, ActivityStatus.pending}), ActivityStatus.pending, "修改后重新提交"),
    # A reviewer merges a duplicate into the original (:func:`merge`): verified ones too, so that
    # their figures leave the totals exactly once.
    "merge": (frozenset({ActivityStatus.pending, ActivityStatus.verified}), ActivityStatus.withdrawn, "合并"),
}

# 退回 picks one of these (the member reads it first) and/or writes its own words.
RETURN_REASONS = ["数值有误", "重复记录", "缺少照片", "照片与活动不符", "活动地点有误", "活动日期有误", "描述不清"]
FLAG_NOTE_MIN = 2  # characters of the confirmation note a flagged activity needs to be verified

# --- correcting, withdrawing -------------------------------------------------------------------

def _move(session: Session, activity: Activity, action: str, *, by: Principal, reason: str | None = None,
          audited: bool = True, figures: list | None = None, was: rollup.Contribution | None = None) -> dict:
    """Apply one transition of TRANSITIONS to a loaded activity, its figures and its audit (no commit).

    ``audited=False`` when the caller writes one fuller entry itself (a correction's before/after).
    ``figures``: a list to collect the rollup change in (the caller applies a batch at once), with
    ``was``, the activity's contribution read for the whole batch beforehand.
    """
    allowed_from, target, label = TRANSITIONS[action]
    if activity.status not in allowed_from:
        raise Conflict(f"这条活动当前为「{STATUS_LABELS[ActivityStatus(activity.status)]}」，不能{label}",
                       code="bad_transition")
    was = was or rollup.contribution(session, activity)
    change = (was, was.with_status(ActivityStatus(target).value))
    if figures is None:
        rollup.apply(session, [change])
    else:
        figures.append(change)
    before = {"status": activity.status, "status_reason": activity.status_reason, "version": activity.version}
    now = now_utc()
    activity.status = target
    activity.status_reason = reason
    activity.version += 1
    activity.updated_at = now
    if action in ("verify", "return"):
        activity.reviewer_user_id, activity.reviewed_at = by.user_id, now
    if audited:
        audit(session, actor=by.actor, action=f"activity.{action}", target_type="activity", target_id=activity.id,
              org_id=activity.credited_org_id, before=before,
              after={"status": target, "status_reason": reason, "version": activity.version})
    return before


# --- verification ------------------------------------------------------------------------------

def verify(session: Session, *, by: Principal, activity_id: int, note: str | None = None) -> Activity:
    """审核通过. An activity with flags (app/quality/flags.py) needs the reviewer's confirmation
    note, kept in the audit entry with the flags it answers. Commits."""
    activity = activity_for_review(session, by, activity_id)
    flagged = [f.code for f in flags_of(session, [activity.id]).get(activity.id, [])]
    note = (note or "").strip()[:500] or None
    if flagged and len(note or "") < FLAG_NOTE_MIN:
        raise Invalid("这条活动有需要核实的提示，请填写核实说明后再通过", code="flag_note_required",
                      errors={"note": "请填写核实说明（至少 2 个字）"})
    if not flagged:
        _move(session, activity, "verify", by=by)
    else:
        before = _move(session, activity, "verify", by=by, audited=False)
        audit(session, actor=by.actor, action="activity.verify", target_type="activity", target_id=activity.id,
              org_id=activity.credited_org_id, before=before,
              after={"status": activity.status, "version": activity.version, "note": note, "flags": flagged})
    session.commit()
    return activity


def return_reason(standard: str | None, text: str | None) -> str:
    """The reason the member reads: a standard one, own words, or both (「数值有误：投入资金应为 1.2 万元」)."""
    standard, text = (standard or "").strip(), (text or "").strip()
    if standard and standard not in RETURN_REASONS:
        raise Invalid("请从列表中选择退回理由", code="bad_reason", errors={"standard_reason": "请从列表中选择"})
    if standard and text and text != standard:
        return f"{standard}：{text}"
    return standard or text


def return_activity(session: Session, *, by: Principal, activity_id: int, reason: str,
                    standard_reason: str | None = None) -> Activity:
    """退回 with a reason the member sees: ``standard_reason`` (one of RETURN_REASONS) and/or own
    words in ``reason``. Commits."""
    reason = return_reason(standard_reason, reason)
    if not reason:
        raise Invalid("请填写退回理由", errors={"reason": "请填写退回理由"})
    activity = activity_for_review(session, by, activity_id)
    _move(session, activity, "return", by=by, reason=reason[:500])
    events.activity_returned(session, activity, reason[:500])  # commits with the return, or neither
    session.commit()
    return activity


def reopen(session: Session, *, by: Principal, activity_id: int, reason: str) -> Activity:
    """Take a verified activity back to 待审核 (it leaves the verified totals). Commits."""
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("请填写重新打开的理由", errors={"reason": "请填写理由"})
    activity = activity_for_review(session, by, activity_id)
    _move(session, activity, "reopen", by=by, reason=reason[:500])
    session.commit()
    return activity


@dataclass(frozen=True)
class BulkResult:
    """What 批量通过 did: how many it verified, how many it left for a look one by one because they
    carry flags (with how many of each flag code), and how many were not its to verify."""

    verified: int
    skipped_flagged: int
    skipped_other: int
    flag_counts: dict[str, int] = field(default_factory=dict)  # flag code → flagged items left that carry it


def bulk_verify(session: Session, *, by: Principal, activity_ids: Sequence[int]) -> BulkResult:
    """Verify the pending ones among ``activity_ids`` that the caller reviews and that carry no flag
    (a flagged one needs its own confirmation note: :func:`verify`). Commits."""
    ids = sorted(set(activity_ids))[:1000]
    rows = list(session.scalars(select(Activity).where(
        Activity.id.in_(ids), reviewable_by(by), Activity.status == ActivityStatus.pending).with_for_update()))
    flagged = flags_of(session, [a.id for a in rows])
    counts: Counter[str] = Counter(f.code for a in rows for f in flagged.get(a.id, []))
    rows = [a for a in rows if not flagged.get(a.id)]
    figures: list = []
    before = rollup.contributions(session, rows)
    for activity in rows:
        _move(session, activity, "verify", by=by, figures=figures, was=before[activity.id])
    rollup.apply(session, figures)
    session.commit()
    skipped_flagged = sum(1 for items in flagged.values() if items)
    return BulkResult(len(rows), skipped_flagged, len(set(activity_ids)) - len(rows) - skipped_flagged, dict(counts))


# --- participant requests ----------------------------------------------------------------------

def request_to_join(session: Session, *, by: Principal, activity_id: int) -> ActivityParticipant:
    """申请加入: a member who was at an activity already recorded joins it instead of recording it
    again. One the recorder could have named (a member of the credited organisation's subtree,
    serving that day) is added at once, so the activity counts them; the addition is in its history
    and its verifier can remove it (:func:`remove_participant`). Anyone else's stays a request the
    verifier decides (:func:`decide_participant`), and reads nothing meanwhile. Commits."""
    if by.member_id is None or by.member_org_id is None:
        raise Forbidden("只有在任委员可以申请加入活动")
    activity = session.get(Activity, activity_id, with_for_update=True)
    if activity is None or activity.status not in (ActivityStatus.pending, ActivityStatus.verified):
        raise NotFound()
    _check_month_open(session, by, activity.credited_org_id, activity.occurred_on)
    row = session.get(ActivityParticipant, (activity.id, by.member_id))
    if row is not None and row.status == ParticipantStatus.confirmed:
        raise Conflict("您已在这条活动的参与名单中", code="already_participant")
    if not session.scalar(select(Membership.id).where(
            Membership.member_id == by.member_id, Membership.org_id.in_(subtree_ids(activity.credited_org_id)),
            serving_on(activity.occurred_on)).limit(1)):
        if row is not None:
            raise Conflict("您已申请加入这条活动，请等待审核", code="already_participant")
        row = ActivityParticipant(activity_id=activity.id, member_id=by.member_id,
                                  status=ParticipantStatus.requested)
        session.add(row)
        entry = audit(session, actor=by.actor, action="activity.join_request", target_type="activity",
                      target_id=activity.id, org_id=activity.credited_org_id, after={"member_id": by.member_id})
        session.flush()
        events.join_requested(session, activity, by.member_id, request_id=entry.id)
        session.commit()
        return row
    was = rollup.contribution(session, activity)
    if row is None:
        row = ActivityParticipant(activity_id=activity.id, member_id=by.member_id, status=ParticipantStatus.confirmed)
        session.add(row)
    else:  # an earlier request still waiting: it is granted now
        row.status = ParticipantStatus.confirmed
    rollup.apply(session, [(was, replace(was, members=was.members | {by.member_id}))])
    activity.updated_at = now_utc()  # its participants changed: incremental sync must see it
    audit(session, actor=by.actor, action="activity.join", target_type="activity", target_id=activity.id,
          org_id=activity.credited_org_id, after={"member_id": by.member_id})
    session.commit()
    return row


def remove_participant(session: Session, *, by: Principal, activity_id: int, member_id: int,
                       reason: str = "") -> None:
    """The verifier removes a participant who joined (or was named) but was not there. The recorder
    stays: removing them would leave an activity nobody took part in. Audited; commits."""
    activity = activity_for_review(session, by, activity_id)
    _check_month_open(session, by, activity.credited_org_id, activity.occurred_on)
    row = session.get(ActivityParticipant, (activity.id, member_id))
    if row is None:
        raise Conflict("该委员不在这条活动的参与名单中", code="not_participant")
    recorder_member = session.scalar(select(UserAccount.member_id).where(UserAccount.id == activity.recorder_user_id))
    if member_id == recorder_member:
        raise Conflict("记录人本人不能从参与名单中移除；如记录有误请退回", code="recorder_stays")
    if row.status == ParticipantStatus.confirmed:
        was = rollup.contribution(session, activity)
        rollup.apply(session, [(was, replace(was, members=was.members - {member_id}))])
    session.delete(row)
    activity.updated_at = now_utc()
    audit(session, actor=by.actor, action="activity.participant_remove", target_type="activity",
          target_id=activity.id, org_id=activity.credited_org_id,
          after={"member_id": member_id, "reason": (reason or "").strip()[:200] or None})
    session.commit()


def decide_participant(session: Session, *, by: Principal, activity_id: int, member_id: int, accept: bool) -> None:
    """The verifier confirms or refuses a participant request. Commits."""
    activity = activity_for_review(session, by, activity_id)
    row = session.get(ActivityParticipant, (activity.id, member_id))
    if row is None or row.status != ParticipantStatus.requested:
        raise Conflict("没有待确认的参与申请", code="no_request")
    if accept:
        was = rollup.contribution(session, activity)
        row.status = ParticipantStatus.confirmed
        rollup.apply(session, [(was, replace(was, members=was.members | {member_id}))])
        activity.updated_at = now_utc()  # its participants changed: incremental sync must see it
    else:
        session.delete(row)
    entry = audit(session, actor=by.actor, action="activity.join_" + ("confirm" if accept else "refuse"),
                  target_type="activity", target_id=activity.id, org_id=activity.credited_org_id,
                  after={"member_id": member_id})
    session.flush()
    events.join_decided(session, activity, member_id, accept=accept, decision_id=entry.id)
    session.commit()


def pending_requests(session: Session, by: Principal, *, limit: int = 200) -> list[tuple[Activity, Member]]:
    stmt = (select(Activity, Member)
            .join(ActivityParticipant, ActivityParticipant.activity_id == Activity.id)
            .join(Member, Member.id == ActivityParticipant.member_id)
            .where(ActivityParticipant.status == ParticipantStatus.requested, reviewable_by(by))
            .order_by(Activity.occurred_on.desc()).limit(limit))
    return [(a, m) for a, m in session.execute(stmt).all()]


# --- merging duplicates --------------------------------------------------------------------------------

@dataclass(frozen=True)
class MergeResult:
    duplicate: Activity
    original: Activity
    added: frozenset[int]  # members who joined the original


def merge(session: Session, *, by: Principal, duplicate_id: int, into_id: int, note: str = "") -> MergeResult:
    """A reviewer merges a duplicate into the original it repeats: the duplicate's recorder (their
    member) and confirmed participants join the original, the duplicate is withdrawn (verified or
    pending) and points at the original. Its values are not added: it was the same activity, so the
    figures move once — the duplicate's leave the totals, the original's change only by the members
    added. Both audited; one transaction; commits."""
    if duplicate_id == into_id:
        raise Invalid("不能把一条活动合并到它自己", code="merge_self")
    # Lock both in id order, so that two reviewers merging the same pair never wait on each other.
    loaded = {i: activity_for_review(session, by, i) for i in sorted((duplicate_id, into_id))}
    dup, original = loaded[duplicate_id], loaded[into_id]
    if dup.merged_into_id is not None:
        raise Invalid(f"这条活动已合并到 #{dup.merged_into_id}", code="already_merged")
    live = (ActivityStatus.pending, ActivityStatus.verified)
    if dup.status not in live or original.status not in live or original.merged_into_id is not None:
        raise Invalid("只能合并待审核或已通过的活动", code="merge_status")
    if dup.task_id != original.task_id or dup.county_id != original.county_id:
        raise Invalid("只能合并同一县（市、区）、同一实事的活动", code="merge_mismatch")
    for activity in (dup, original):
        _check_month_open(session, by, activity.credited_org_id, activity.occurred_on)
    recorder_member = session.scalar(select(UserAccount.member_id).where(UserAccount.id == dup.recorder_user_id))
    coming = set(session.scalars(select(ActivityParticipant.member_id).where(
        ActivityParticipant.activity_id == dup.id, ActivityParticipant.status == ParticipantStatus.confirmed)))
    if recorder_member is not None:
        coming.add(recorder_member)
    there = {row.member_id: row for row in session.scalars(select(ActivityParticipant).where(
        ActivityParticipant.activity_id == original.id))}
    added = frozenset(m for m in coming if m not in there or there[m].status != ParticipantStatus.confirmed)
    was = rollup.contribution(session, original)
    reason = f"与 #{original.id} 重复，已合并"
    before = _move(session, dup, "merge", by=by, reason=reason, audited=False)
    dup.merged_into_id = original.id
    for member_id in sorted(added):
        if member_id in there:  # an earlier request still waiting: granted by the merge
            there[member_id].status = ParticipantStatus.confirmed
        else:
            session.add(ActivityParticipant(activity_id=original.id, member_id=member_id,
                                            status=ParticipantStatus.confirmed))
    if added:
        rollup.apply(session, [(was, replace(was, members=was.members | added))])
        original.updated_at = now_utc()  # its participants changed: incremental sync must see it
    note = (note or "").strip()[:500] or None
    audit(session, actor=by.actor, action="activity.merge", target_type="activity", target_id=dup.id,
          org_id=dup.credited_org_id, before=before,
          after={"status": dup.status, "status_reason": reason, "version": dup.version, "into_id": original.id,
                 "note": note})
    audit(session, actor=by.actor, action="activity.merged_in", target_type="activity", target_id=original.id,
          org_id=original.credited_org_id,
          after={"from_id": dup.id, "members_added": sorted(added), "note": note})
    session.commit()
    return MergeResult(dup, original, added)


@dataclass(frozen=True)
class ParticipantEvent:
    """A line of an activity's participant history: who joined, was removed or came with a merge."""

    at: datetime  # Beijing time
    action: str  # activity.join | activity.participant_remove | activity.merged_in
    text: str


PARTICIPANT_ACTIONS = ("activity.join", "activity.join_request", "activity.join_confirm", "activity.join_refuse",
                       "activity.participant_remove", "activity.merged_in")


def participant_history(session: Session, activity_id: int) -> list[ParticipantEvent]:
    """The activity's 申请加入 (granted at once or waiting), its decisions, 移除 and 合并 entries from
    the audit log, oldest first, as sentences (what its verifier checks before removing someone)."""
    rows = list(session.scalars(select(AuditLog).where(
        AuditLog.target_type == "activity", AuditLog.target_id == str(activity_id),
        AuditLog.action.in_(PARTICIPANT_ACTIONS))
        .order_by(AuditLog.at, AuditLog.id)))
    afters = [json.loads(r.after or "{}") for r in rows]
    ids = {a.get("member_id") for a in afters} | {m for a in afters for m in a.get("members_added", [])}
    names = dict(session.execute(select(Member.id, Member.name).where(Member.id.in_(ids - {None}))).all())
    actors = dict(session.execute(select(UserAccount.id, UserAccount.display_name).where(
        UserAccount.id.in_({r.actor_user_id for r in rows} - {None}))).all())
    events = []
    for row, after in zip(rows, afters, strict=True):
        who = names.get(after.get("member_id"), "")
        by_whom = actors.get(row.actor_user_id, "审核人")
        if row.action == "activity.join":
            text = f"{who} 申请加入（已计入参与名单）"
        elif row.action == "activity.join_request":
            text = f"{who} 申请加入（待审核人确认）"
        elif row.action in ("activity.join_confirm", "activity.join_refuse"):
            text = f"{by_whom} {'确认' if row.action.endswith('confirm') else '拒绝'}了 {who} 的参与申请"
        elif row.action == "activity.participant_remove":
            text = f"{by_whom} 将 {who} 移出参与名单" + (
                f"：{after['reason']}" if after.get("reason") else "")
        else:
            joined = "、".join(names.get(m, "") for m in after.get("members_added", [])) or "无新增委员"
            text = f"合并重复记录 #{after.get('from_id')}，加入：{joined}"
        events.append(ParticipantEvent(to_cn(row.at), row.action, text))
    return events
