"""Likely duplicates: an activity already recorded for the same county, task and date (and the same
site when both name one). One definition, asked by the form, the JSON API and the review queue."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import NamedTuple

from sqlalchemy import Integer, Select, bindparam, or_, select
from sqlmodel import Session

from app.db import Prepared
from app.errors import Conflict
from app.models import Activity, ActivityStatus, UserAccount

LIVE = (ActivityStatus.pending, ActivityStatus.verified)


NEAR_DAYS = 1  # a re-entry dated a day off is still flagged (not asked): see near_duplicates


class Nearby(NamedTuple):
    """An activity :func:`nearby` found."""

    id: int
    occurred_on: date
    recorder_user_id: int


def nearby_select() -> Select:
    """(id, occurred_on, recorder_user_id) of the pending or verified activities of a county and 实事
    (``county_id``, ``task_id``) dated ``day_before`` to ``day_after``; with a site (``near_site``),
    those of the same site or of none; not ``exclude_id``; the first ``limit`` by id
    (ix_activity_county_id_task_id_occurred_on finds them). Run alone by :func:`nearby`, and inside the
    write path's one probe (app/activities/facts.py), with the figures of those dated otherwise."""
    site = bindparam("near_site", type_=Integer)
    day = Activity.occurred_on.type
    return select(Activity.id, Activity.occurred_on, Activity.recorder_user_id).where(
        Activity.county_id == bindparam("county_id"), Activity.task_id == bindparam("task_id"),
        Activity.occurred_on.between(bindparam("day_before", type_=day), bindparam("day_after", type_=day)),
        or_(*(Activity.status == s.value for s in LIVE)),
        or_(site.is_(None), Activity.site_id.is_(None), Activity.site_id == site),
        Activity.id != bindparam("exclude_id"),
    ).order_by(Activity.id).limit(bindparam("limit", type_=Integer))


def nearby_params(*, county_id: int, task_id: int, occurred_on: date, site_id: int | None,
                  exclude_id: int | None, limit: int = 10, days: int = 0) -> dict:
    """The parameters of :func:`nearby_select`."""
    return {"county_id": county_id, "task_id": task_id, "day_before": occurred_on - timedelta(days=days),
            "day_after": occurred_on + timedelta(days=days), "near_site": site_id, "exclude_id": exclude_id or 0,
            "limit": limit}


def as_day(value: date | str) -> date:
    """A date column as a driver gives it: SQLite's as stored (text), PostgreSQL's a date."""
    return value if isinstance(value, date) else date.fromisoformat(value)


_NEARBY = Prepared(nearby_select())


def nearby(session: Session, *, county_id: int, task_id: int, occurred_on: date, site_id: int | None = None,
           exclude_id: int | None = None, limit: int = 10, days: int = 0) -> list[Nearby]:
    """:func:`nearby_select`'s activities (a column query compiled once); entities are loaded only for
    what is shown (the form, the 409: :func:`load`)."""
    rows = _NEARBY.execute(session.connection(), nearby_params(
        county_id=county_id, task_id=task_id, occurred_on=occurred_on, site_id=site_id, exclude_id=exclude_id,
        limit=limit, days=days)).fetchall()
    return [Nearby(i, as_day(d), r) for i, d, r in rows]


def load(session: Session, rows: list[Nearby]) -> list[Activity]:
    """The activities of ``nearby`` rows, in their order."""
    if not rows:
        return []
    found = {a.id: a for a in session.scalars(select(Activity).where(Activity.id.in_([r.id for r in rows])))}
    return [found[r.id] for r in rows if r.id in found]


def candidates(session: Session, *, county_id: int, task_id: int, occurred_on: date, site_id: int | None = None,
               exclude_id: int | None = None, limit: int = 10, days: int = 0) -> list[Activity]:
    """The activities :func:`nearby` finds."""
    return load(session, nearby(session, county_id=county_id, task_id=task_id, occurred_on=occurred_on,
                                site_id=site_id, exclude_id=exclude_id, limit=limit, days=days))


def near_duplicates(found: Sequence[Nearby], figures: Mapping[int, Mapping[int, int]], *, occurred_on: date,
                    recorder_user_id: int, values: dict[int, int]) -> list[Nearby]:
    """Of ``found`` (nearby rows within NEAR_DAYS), those dated otherwise that look like a re-entry:
    the same recorder, or exactly the same figures (``figures``: theirs, activity → indicator → value,
    read with them by the write path's probe). They are flagged, not asked about: two activities a day
    apart are common enough that a refusal would be wrong."""
    wanted = {i: v for i, v in values.items() if v}
    return [a for a in found if a.occurred_on != occurred_on and (
        a.recorder_user_id == recorder_user_id
        or {i: v for i, v in figures.get(a.id, {}).items() if v} == wanted)]


def describe(session: Session, found: list[Activity]) -> list[dict]:
    """The candidates as the API's 409 shows them: id, date, site, recorder's name, status."""
    names = dict(session.execute(select(UserAccount.id, UserAccount.display_name).where(
        UserAccount.id.in_({a.recorder_user_id for a in found}))).all())
    return [{"id": a.id, "occurred_on": a.occurred_on.isoformat(), "site_id": a.site_id,
             "recorder": names.get(a.recorder_user_id, ""), "status": str(a.status)} for a in found]


class LikelyDuplicate(Conflict):
    """A new activity matches ones already recorded: the recorder must join one or confirm it is another."""

    code = "likely_duplicate"

    def __init__(self, found: list[Activity], described: list[dict]) -> None:
        super().__init__("已有同一天、同一地点、同一实事的活动记录：请申请加入该活动，或确认这是另一次活动并说明不同之处",
                         code="likely_duplicate", extra={"candidates": described})
        self.candidates = found
