"""Lists of activities: a member's own, the review queue, the visible ones, cursor pages, likely duplicates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import (
    and_,
    func,
    or_,
    select,
)
from sqlalchemy.sql import Select
from sqlmodel import Session

from app.activities.scope import _confirmed_activities_of, reviewable_by, visible_to
from app.auth.principal import Principal
from app.models import (
    Activity,
    ActivityFlag,
    ActivityParticipant,
    ActivityStatus,
    Member,
    UserAccount,
)
from app.orgs.service import subtree_ids
from app.quality import duplicates

_SelectT = TypeVar("_SelectT", bound=Select[*tuple[Any, ...]])

# --- lists ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ActivityFilters:
    status: ActivityStatus | None = None
    county_id: int | None = None
    task_id: int | None = None
    member: str | None = None  # name, or phone as typed
    date_from: date | None = None
    date_to: date | None = None
    site_id: int | None = None
    org_id: int | None = None  # credited to this organisation or below
    updated_since: datetime | None = None  # changed at or after (incremental sync)
    by_name_only: bool = False  # ``member`` never matches phone numbers (API tokens)
    flag: str | None = None  # "any": carries a flag; a FlagCode: carries that flag


def _filtered(stmt: _SelectT, f: ActivityFilters) -> _SelectT:
    if f.status:
        stmt = stmt.where(Activity.status == f.status)
    if f.county_id:
        stmt = stmt.where(Activity.county_id == f.county_id)
    if f.task_id:
        stmt = stmt.where(Activity.task_id == f.task_id)
    if f.date_from:
        stmt = stmt.where(Activity.occurred_on >= f.date_from)
    if f.date_to:
        stmt = stmt.where(Activity.occurred_on <= f.date_to)
    if f.site_id:
        stmt = stmt.where(Activity.site_id == f.site_id)
    if f.org_id:
        stmt = stmt.where(Activity.credited_org_id.in_(subtree_ids(f.org_id)))
    if f.updated_since:
        stmt = stmt.where(Activity.updated_at >= f.updated_since)
    if f.flag:  # ix_activity_flag_code_activity_id answers both
        flagged = select(ActivityFlag.activity_id).where(ActivityFlag.activity_id == Activity.id)
        if f.flag != "any":
            flagged = flagged.where(ActivityFlag.code == f.flag)
        stmt = stmt.where(flagged.exists())
    if f.member:
        q = f.member.strip()
        matches = Member.name.contains(q) if f.by_name_only else or_(Member.name.contains(q), Member.phone.startswith(q))
        people = select(Member.id).where(matches)
        stmt = stmt.where(or_(
            Activity.id.in_(select(ActivityParticipant.activity_id).where(ActivityParticipant.member_id.in_(people))),
            Activity.recorder_user_id.in_(select(UserAccount.id).where(UserAccount.member_id.in_(people))),
        ))
    return stmt


def _page(session: Session, stmt: Select[Activity], page: int, per_page: int) -> tuple[list[Activity], int]:
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    page = max(1, page)
    rows = list(session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)))
    return rows, total


def my_activities(session: Session, by: Principal, *, page: int = 1, per_page: int = 20) -> tuple[list[Activity], int]:
    """我的活动: recorded by me or taken part in (once confirmed), newest first."""
    mine = [Activity.recorder_user_id == by.user_id]
    if by.member_id is not None:
        mine.append(Activity.id.in_(_confirmed_activities_of(by.member_id)))
    stmt = select(Activity).where(or_(*mine)).order_by(Activity.occurred_on.desc(), Activity.id.desc())
    return _page(session, stmt, page, per_page)


def review_queue(session: Session, by: Principal, filters: ActivityFilters, *, page: int = 1,
                 per_page: int = 50) -> tuple[list[Activity], int]:
    """Activities the caller verifies, filtered; oldest first so nothing waits forever."""
    stmt = _filtered(select(Activity).where(reviewable_by(by)), filters)
    return _page(session, stmt.order_by(Activity.occurred_on, Activity.id), page, per_page)


def list_visible(session: Session, by: Principal, filters: ActivityFilters, *, page: int = 1,
                 per_page: int = 50) -> tuple[list[Activity], int]:
    stmt = _filtered(select(Activity).where(visible_to(by)), filters)
    return _page(session, stmt.order_by(Activity.occurred_on.desc(), Activity.id.desc()), page, per_page)


# Orders of a list walked by cursor: the key columns and their direction.
CURSOR_ORDERS = {"occurred": ((Activity.occurred_on, Activity.id), "desc"),
                 "updated": ((Activity.updated_at, Activity.id), "asc")}


def list_by_cursor(session: Session, by: Principal, filters: ActivityFilters, *, order: str = "occurred",
                   after: tuple | None = None, limit: int = 50, with_total: bool = True,
                   ) -> tuple[list[Activity], bool, int | None]:
    """A page of the visible activities after the key ``after`` (None: from the start) in ``order``:
    ``occurred`` newest activity date first, ``updated`` oldest change first (incremental sync).
    Returns the rows, whether more follow, and the total (first page only, when asked)."""
    (first, second), direction = CURSOR_ORDERS[order]
    total = None
    if with_total:
        # Changed since a time: few rows, found by the updated_at index; otherwise the scope's indexes.
        counted = _filtered(select(Activity.id).where(visible_to(by, walk=filters.updated_since is not None)), filters)
        total = session.scalar(select(func.count()).select_from(counted.subquery())) or 0
    # The page walks the (key, id) index of its order and keeps the visible rows (bench/api.py).
    stmt = _filtered(select(Activity).where(visible_to(by, walk=True)), filters)
    if after is not None:
        key, last_id = after
        if direction == "desc":
            stmt = stmt.where(or_(first < key, and_(first == key, second < last_id)))
        else:
            stmt = stmt.where(or_(first > key, and_(first == key, second > last_id)))
    ordering = (first.desc(), second.desc()) if direction == "desc" else (first.asc(), second.asc())
    rows = list(session.scalars(stmt.order_by(*ordering).limit(limit + 1)))
    return rows[:limit], len(rows) > limit, total


def likely_duplicates(session: Session, *, county_id: int, task_id: int, occurred_on: date,
                      site_id: int | None = None, exclude_id: int | None = None, limit: int = 5) -> list[Activity]:
    """Activities already recorded for the same place, date and task: the one definition of
    app/quality/duplicates.py, which recording also asks before it writes."""
    return duplicates.candidates(session, county_id=county_id, task_id=task_id, occurred_on=occurred_on,
                                 site_id=site_id, exclude_id=exclude_id, limit=limit)
