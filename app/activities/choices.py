"""The recording form's pickers: tasks, sites, members, organisations, counties."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import (
    func,
    or_,
    select,
)
from sqlmodel import Session

from app.activities.recording import recording_org
from app.auth.principal import STAFF_ROLES, Principal
from app.catalogue.service import current_campaign, owners_seen_by
from app.clock import today_cn
from app.errors import Forbidden
from app.models import (
    Activity,
    Indicator,
    Member,
    Membership,
    Organisation,
    OrgLevel,
    Site,
    Task,
)
from app.models.people import serving_on
from app.orgs.service import ancestor_ids, subtrees_ids

# --- pickers for the form ----------------------------------------------------------------------

def task_choices(session: Session, by: Principal, org_id: int) -> list[tuple[Task, list[Indicator]]]:
    """The tasks an organisation works with, the caller's recently used first, with their indicators."""
    from app.catalogue.service import tasks_for

    campaign = current_campaign(session)
    if campaign is None:
        return []
    tasks = tasks_for(session, org_id, campaign.id)
    recent = session.execute(
        select(Activity.task_id, func.max(Activity.id)).where(Activity.recorder_user_id == by.user_id)
        .group_by(Activity.task_id)
    ).all()
    last_used = dict(recent)
    tasks.sort(key=lambda t: (-(last_used.get(t.id) or 0), t.sort_order))
    by_task: dict[int, list[Indicator]] = defaultdict(list)
    for ind in session.scalars(select(Indicator).where(Indicator.task_id.in_([t.id for t in tasks]),
                                                       Indicator.owner_org_id.in_(owners_seen_by(org_id)))
                               .order_by(Indicator.sort_order)):
        by_task[ind.task_id].append(ind)
    return [(t, by_task[t.id]) for t in tasks]


def search_sites(session: Session, *, county_id: int, q: str, limit: int = 20) -> list[Site]:
    q = q.strip()
    stmt = select(Site).where(Site.county_id == county_id)
    if q:
        stmt = stmt.where(Site.name.contains(q))
    return list(session.scalars(stmt.order_by(Site.kind, Site.code).limit(limit)))


def search_members(session: Session, by: Principal, *, q: str, organiser_org_id: int | None = None,
                   on_behalf: bool = False, limit: int = 20) -> list[tuple[Member, Organisation]]:
    """Type-ahead over current members of the recorder's and the organiser's subtrees."""
    q = q.strip()
    if not q:
        return []
    try:
        recorder_org = recording_org(by, on_behalf)
    except Forbidden:
        return []
    orgs = [recorder_org] + ([organiser_org_id] if organiser_org_id else [])
    today = today_cn()
    stmt = (
        select(Member, Organisation)
        .join(Membership, Membership.member_id == Member.id)
        .join(Organisation, Organisation.id == Membership.org_id)
        .where(Membership.org_id.in_(subtrees_ids(orgs)), serving_on(today),
               or_(Member.name.contains(q), Member.phone.startswith(q)))
        .order_by(Member.name).limit(limit)
    )
    return [(m, o) for m, o in session.execute(stmt).all()]


def org_options(session: Session, by: Principal, *, on_behalf: bool = False) -> list[Organisation]:
    """Organisations that may be named as organiser: the recorder's own and its ancestors."""
    try:
        recorder_org = recording_org(by, on_behalf)
    except Forbidden:
        return []
    ancestors = ancestor_ids(recorder_org)
    return list(session.scalars(select(Organisation).where(Organisation.id.in_(ancestors))
                                .order_by(Organisation.code)))


def default_county(session: Session, by: Principal) -> Organisation | None:
    """The member's own county (a county member's organisation); None above county level."""
    org_id = by.member_org_id or next(iter(by.org_ids(*STAFF_ROLES)), None)
    if org_id is None:
        return None
    org = session.get(Organisation, org_id)
    return org if org and org.level == OrgLevel.county else None


def counties_for(session: Session) -> list[Organisation]:
    """All counties (members help anywhere in the province), key-support counties first."""
    return list(session.scalars(select(Organisation).where(Organisation.level == OrgLevel.county)
                                .order_by(Organisation.is_key_county.desc(), Organisation.code)))
