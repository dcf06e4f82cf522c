"""The figures on the front page: what this database holds, at a glance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlmodel import Session

from app.clock import today_cn
from app.models import AppMeta, Member, Organisation, OrgLevel, Rollup
from app.models.meta import DEMO_KEY
from app.models.rollup import COUNT
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
    today = today or today_cn()
    province = orgs.root(session)
    by_level = dict(session.execute(
        select(Organisation.level, func.count()).group_by(Organisation.level)
    ).all())
    # This year's activities, from the boards' rollup (the province's row covers the whole tree).
    verified = pending = 0
    if province is not None:
        verified, pending = session.execute(
            select(func.coalesce(func.sum(Rollup.verified), 0), func.coalesce(func.sum(Rollup.pending), 0))
            .where(Rollup.scope == "org", Rollup.unit_id == province.id, Rollup.year == today.year,
                   Rollup.indicator_id == COUNT)).one()
    return Overview(
        province=province,
        is_demo=is_demo(session),
        prefectures=by_level.get(OrgLevel.prefecture.value, 0),
        counties=by_level.get(OrgLevel.county.value, 0),
        key_counties=orgs.key_counties(session, province.id) if province else [],
        members=session.scalar(select(func.count()).select_from(Member)) or 0,
        verified_this_year=int(verified),
        pending=int(pending),
        year=today.year,
    )
