"""Notices of an activity's events, written in the event's own transaction (app/activities/review.py
calls these before it commits: the event and its notices commit or roll back together).

Event keys make a retry harmless: a repeated request finds the notice already written. A second
return of the same activity (after the member corrected it) is a new event — the activity's version
moved — and notifies again.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlmodel import Session

from app.models import Activity, Member, Task, UserAccount
from app.notify import robots
from app.notify.service import Recipient, notify

REASON_MAX = 60  # an SMS variable has a length limit; the full reason is on the activity's page


def _day(d: date) -> str:
    return f"{d.month}月{d.day}日"


def _task(session: Session, activity: Activity) -> str:
    task = session.get(Task, activity.task_id)
    return (task.short_name or task.name) if task else ""


def _member_recipient(session: Session, member_id: int, user: UserAccount | None = None) -> Recipient:
    member = session.get(Member, member_id)
    if user is None:
        user = session.scalars(select(UserAccount).where(UserAccount.member_id == member_id)).first()
    return Recipient(user_id=user.id if user else None, member_id=member_id, phone=member.phone if member else None)


def activity_returned(session: Session, activity: Activity, reason: str) -> int:
    """To the recorder (in-app and SMS): the activity was returned, with the reason."""
    recorder = session.get(UserAccount, activity.recorder_user_id)
    if recorder is None:
        return 0
    to = (_member_recipient(session, recorder.member_id, recorder) if recorder.member_id is not None
          else Recipient(user_id=recorder.id))
    short = reason if len(reason) <= REASON_MAX else reason[:REASON_MAX - 1] + "…"
    return notify(session, kind="activity_returned", event_key=f"returned:{activity.id}:{activity.version}",
                  template="activity_returned",
                  params={"date": _day(activity.occurred_on), "task": _task(session, activity), "reason": short},
                  to=to, link=f"/activities/{activity.id}")


def join_decided(session: Session, activity: Activity, member_id: int, *, accept: bool, decision_id: int) -> int:
    """To the member who asked to join: 已同意 / 未同意. ``decision_id`` (its audit entry) keys the event."""
    return notify(session, kind="join_decided", event_key=f"join_decided:{activity.id}:{member_id}:{decision_id}",
                  template="join_decided",
                  params={"date": _day(activity.occurred_on), "task": _task(session, activity),
                          "decision": "已同意" if accept else "未同意"},
                  to=_member_recipient(session, member_id), link=f"/activities/{activity.id}")


def join_requested(session: Session, activity: Activity, member_id: int, *, request_id: int) -> int:
    """To the 企业微信 robots of the credited organisation: a join request waits for the office."""
    member = session.get(Member, member_id)
    return robots.notify_robots(
        session, activity.credited_org_id, kind="join_requested",
        event_key=f"join_requested:{activity.id}:{member_id}:{request_id}", template="join_requested",
        params={"name": member.name if member else "", "date": _day(activity.occurred_on),
                "task": _task(session, activity)},
        link="/review/requests")
