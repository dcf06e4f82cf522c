"""The figures on the front page: what this database holds, at a glance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlmodel import Session

from app.models import Activity, ActivityStatus, AppMeta, Member, Organisation, OrgLevel
from app.models.meta import DEMO_KEY
from app.orgs import service as orgs


@dataclass
class Overview:
    province: Organisation | None
    is_demo: bool
    prefectures: int
    counties: int
    key_counties: list[Organisation]
    members: int
    verified_this_year: int
    pending: int
    year: int


def is_demo(session: Session) -> bool:
    return session.get(AppMeta, DEMO_KEY) is not None


def overview(session: Session, *, today: date | None = None) -> Overview:
    """Counts for the front page (organisations, members, this year's verified activities)."""
    today = today or date.today()
    province = orgs.root(session)
    by_level = dict(session.execute(
        select(Organisation.level, func.count()).group_by(Organisation.level)
    ).all())
    activity_counts = dict(session.execute(
        select(Activity.status, func.count())
        .where(Activity.occurred_on >= date(today.year, 1, 1))
        .group_by(Activity.status)
    ).all())
    return Overview(
        province=province,
        is_demo=is_demo(session),
        prefectures=by_level.get(OrgLevel.prefecture.value, 0),
        counties=by_level.get(OrgLevel.county.value, 0),
        key_counties=orgs.key_counties(session, province.id) if province else [],
        members=session.scalar(select(func.count()).select_from(Member)) or 0,
        verified_this_year=activity_counts.get(ActivityStatus.verified.value, 0),
        pending=activity_counts.get(ActivityStatus.pending.value, 0),
        year=today.year,
    )
