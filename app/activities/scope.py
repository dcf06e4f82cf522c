"""Who sees and who reviews which activities: the SQL predicates and the loaders (404 outside, 403 inside)."""

from __future__ import annotations

from sqlalchemy import (
    ColumnElement,
    Select,
    false,
    literal_column,
    or_,
    select,
)
from sqlmodel import Session

from app.auth.principal import READ_ROLES, STAFF_ROLES, Principal
from app.errors import Forbidden, NotFound
from app.models import (
    Activity,
    ActivityParticipant,
    ParticipantStatus,
)

# --- scope and loaders --------------------------------------------------------------------------

def _confirmed_activities_of(member_id: int) -> Select:
    return select(ActivityParticipant.activity_id).where(
        ActivityParticipant.member_id == member_id, ActivityParticipant.status == ParticipantStatus.confirmed.value)


def visible_to(by: Principal, *, walk: bool = False) -> ColumnElement[bool]:
    """SQL condition: the caller may read the activity (the one place this rule lives).

    ``walk``: the same condition, written so that no index serves it (``+column``): a list read by
    cursor then walks its ordering index and tests each row, instead of gathering the whole
    visible set through the scope's indexes and sorting it for every page."""
    def col(column):  # noqa: ANN001, ANN202
        return literal_column(f"+{Activity.__tablename__}.{column.key}") if walk else column

    clauses = [col(Activity.recorder_user_id) == by.user_id]
    if by.member_id is not None:
        # Confirmed participants only: asking to join must not open someone else's record.
        clauses.append(col(Activity.id).in_(_confirmed_activities_of(by.member_id)))
    if by.org_ids(*READ_ROLES):
        scope = by.scope(*READ_ROLES)
        # By organisation (credited) and by place: a county's office reads what was done there.
        clauses += [col(Activity.credited_org_id).in_(scope), col(Activity.county_id).in_(scope)]
    return or_(*clauses)


def reviewable_by(by: Principal) -> ColumnElement[bool]:
    """SQL condition: the caller's 助推办 (or an ancestor's) verifies the activity."""
    if not by.org_ids(*STAFF_ROLES):
        return false()
    return Activity.credited_org_id.in_(by.scope(*STAFF_ROLES))


def activity_for_read(session: Session, by: Principal, activity_id: int) -> Activity:
    found = session.scalar(select(Activity).where(Activity.id == activity_id, visible_to(by)))
    if found is None:
        raise NotFound()
    return found


def activity_for_review(session: Session, by: Principal, activity_id: int) -> Activity:
    """The activity, locked for the transition (PostgreSQL; SQLite's writer already holds the lock)."""
    found = session.scalar(
        select(Activity).where(Activity.id == activity_id, reviewable_by(by)).with_for_update()
    )
    if found is None:
        activity_for_read(session, by, activity_id)  # 404 when not even readable
        raise Forbidden("只有计入单位（或其上级）的「双助推」办公室可以审核这条活动")
    return found


def activity_for_recorder(session: Session, by: Principal, activity_id: int, *, lock: bool = True) -> Activity:
    """The caller's own activity; locked (PostgreSQL) when a change follows, not for showing a form."""
    stmt = select(Activity).where(Activity.id == activity_id, Activity.recorder_user_id == by.user_id)
    found = session.scalar(stmt.with_for_update() if lock else stmt)
    if found is None:
        activity_for_read(session, by, activity_id)
        raise Forbidden("只有记录人可以修改或撤回这条活动")
    return found
