"""The life of an activity after recording: its states and transitions, verification, returning, reopening, participant requests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy import (
    select,
)
from sqlmodel import Session

from app.activities.months import _check_month_open
from app.activities.scope import activity_for_review, reviewable_by
from app.audit.service import record as audit
from app.auth.principal import Principal
from app.clock import now_utc
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.models import (
    Activity,
    ActivityParticipant,
    ActivityStatus,
    Member,
    ParticipantStatus,
    UserAccount,
)
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
}

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

def verify(session: Session, *, by: Principal, activity_id: int) -> Activity:
    """审核通过. Commits."""
    activity = activity_for_review(session, by, activity_id)
    _move(session, activity, "verify", by=by)
    session.commit()
    return activity


def return_activity(session: Session, *, by: Principal, activity_id: int, reason: str) -> Activity:
    """退回 with a reason the member sees. Commits."""
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("请填写退回理由", errors={"reason": "请填写退回理由"})
    activity = activity_for_review(session, by, activity_id)
    _move(session, activity, "return", by=by, reason=reason[:500])
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


def bulk_verify(session: Session, *, by: Principal, activity_ids: Sequence[int]) -> tuple[int, int]:
    """Verify the pending ones among ``activity_ids`` that the caller reviews; (verified, skipped). Commits."""
    ids = sorted(set(activity_ids))[:1000]
    rows = list(session.scalars(select(Activity).where(
        Activity.id.in_(ids), reviewable_by(by), Activity.status == ActivityStatus.pending).with_for_update()))
    figures: list = []
    before = rollup.contributions(session, rows)
    for activity in rows:
        _move(session, activity, "verify", by=by, figures=figures, was=before[activity.id])
    rollup.apply(session, figures)
    session.commit()
    return len(rows), len(set(activity_ids)) - len(rows)


# --- participant requests ----------------------------------------------------------------------

def request_to_join(session: Session, *, by: Principal, activity_id: int) -> ActivityParticipant:
    """申请加入: a member who was at an activity already recorded joins it instead of recording it
    again. They are added at once (they were there), so the activity counts them; the addition is
    in its history and its verifier can remove it (:func:`remove_participant`). Commits."""
    if by.member_id is None or by.member_org_id is None:
        raise Forbidden("只有在任委员可以申请加入活动")
    activity = session.get(Activity, activity_id, with_for_update=True)
    if activity is None or activity.status not in (ActivityStatus.pending, ActivityStatus.verified):
        raise NotFound()
    _check_month_open(session, by, activity.credited_org_id, activity.occurred_on)
    row = session.get(ActivityParticipant, (activity.id, by.member_id))
    if row is not None and row.status == ParticipantStatus.confirmed:
        raise Conflict("您已在这条活动的参与名单中", code="already_participant")
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
    audit(session, actor=by.actor, action="activity.join_" + ("confirm" if accept else "refuse"),
          target_type="activity", target_id=activity.id, org_id=activity.credited_org_id,
          after={"member_id": member_id})
    session.commit()


def pending_requests(session: Session, by: Principal, *, limit: int = 200) -> list[tuple[Activity, Member]]:
    stmt = (select(Activity, Member)
            .join(ActivityParticipant, ActivityParticipant.activity_id == Activity.id)
            .join(Member, Member.id == ActivityParticipant.member_id)
            .where(ActivityParticipant.status == ParticipantStatus.requested, reviewable_by(by))
            .order_by(Activity.occurred_on.desc()).limit(limit))
    return [(a, m) for a, m in session.execute(stmt).all()]
