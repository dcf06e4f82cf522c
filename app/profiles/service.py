"""履职档案 (一人一档): one member's record — identity, seats across terms (换届 history), 专委会, 挂联,
every activity recorded or joined with its status and figures, counts per year — read for one caller.

Who sees a record is decided once, in :func:`member_for_profile`: the member themself (signed in,
holding a member grant), and the offices (viewer/leader/staff/admin) of a subtree the member serves or
served in; anybody else gets the same 404 as for a member who does not exist. Whoever may read a record
reads all of it — the member's activities and 挂联 elsewhere too (an office judging its member at 换届
needs the whole record), as their task, place, date, status and figures, never their description or
photos. An activity's own page keeps its own rule (``activities.scope.visible_to``): the record links
only the activities the caller may open (``ProfileActivity.openable``). The phone goes only to the
member and to staff over one of their seats, never to an API token.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, exists, extract, func, or_, select
from sqlmodel import Session

from app.activities.read import to_read
from app.activities.scope import visible_to as activity_visible_to
from app.auth.principal import READ_ROLES, STAFF_ROLES, Principal
from app.clock import today_cn
from app.errors import NotFound
from app.exemplars import service as exemplars
from app.links import service as links
from app.links.schemas import MAX_ID, LinkRead
from app.models import (
    Activity,
    ActivityParticipant,
    ActivityStatus,
    Committee,
    GrantRole,
    LinkAssignment,
    Member,
    MemberRole,
    Membership,
    Organisation,
    ParticipantStatus,
    Term,
    UserAccount,
)
from app.models.people import serves_on
from app.profiles.schemas import (
    ActivityLogPage,
    Profile,
    ProfileActivity,
    ProfileHonour,
    ProfileIdentity,
    ProfileMembership,
    ProfileYear,
)

PER_PAGE = 50
NOT_FOUND = "找不到该委员，或不在您的管辖范围内"
ROLE_LABELS = {MemberRole.member: "委员", MemberRole.standing: "常委", MemberRole.chair_council: "主席会议成员"}
ACTIVITY_ROLE_LABELS = {"recorder": "记录人", "participant": "参与"}


@dataclass(frozen=True)
class ProfileAccess:
    """A member's record as one caller may read it."""

    member: Member
    own: bool  # the member themself
    sees_phone: bool
    account_ids: tuple[int, ...]  # the member's accounts: an activity they recorded has one as recorder


# --- who sees whose record: the one rule -------------------------------------------------------------

def member_for_profile(session: Session, by: Principal, member_id: int) -> ProfileAccess:
    """The member's record for ``by``: their own (a member grant), or a member who serves or served in a
    subtree ``by`` reads; 404 otherwise (an outsider learns nothing, not even that the member exists)."""
    member = session.get(Member, member_id) if 0 < member_id <= MAX_ID else None  # member.id is an INTEGER
    if member is None:
        raise NotFound(NOT_FOUND, code="member_not_found")
    own = by.token is None and by.member_id == member.id and by.has_role(GrantRole.member)
    if not own and not _seat_within(session, member.id, by, READ_ROLES):
        raise NotFound(NOT_FOUND, code="member_not_found")
    sees_phone = own or (by.token is None and _seat_within(session, member.id, by, STAFF_ROLES))
    accounts = tuple(session.scalars(select(UserAccount.id).where(UserAccount.member_id == member.id)))
    return ProfileAccess(member, own, sees_phone, accounts)


def _seat_within(session: Session, member_id: int, by: Principal, roles: Sequence[GrantRole]) -> bool:
    """True when one of the member's memberships, past or present, lies in a subtree ``by`` holds ``roles`` on."""
    if not by.org_ids(*roles):
        return False
    return bool(session.scalar(select(exists().where(
        Membership.member_id == member_id, Membership.org_id.in_(by.scope(*roles))))))


# --- the parts of a record -----------------------------------------------------------------------------

def memberships(session: Session, member_id: int, *, today: date) -> list[ProfileMembership]:
    """Every seat of the member, most recent first: 换届 ends memberships and keeps them."""
    rows = session.execute(
        select(Membership, Organisation.name, Term.number, Committee.name)
        .join(Organisation, Organisation.id == Membership.org_id)
        .join(Term, Term.id == Membership.term_id)
        .outerjoin(Committee, Committee.id == Membership.committee_id)
        .where(Membership.member_id == member_id)
        .order_by(Membership.start_date.desc(), Membership.id.desc())).all()
    return [ProfileMembership(
        org_id=ms.org_id, org_name=org_name, term_number=number, role=ms.role,
        role_label=ROLE_LABELS[MemberRole(ms.role)], title=ms.title, committee_name=committee,
        start_date=ms.start_date, end_date=ms.end_date, current=serves_on(ms, today))
        for ms, org_name, number, committee in rows]


def _of_member(access: ProfileAccess) -> ColumnElement[bool]:
    """SQL condition: an activity the member recorded (through one of their accounts) or took part in
    (confirmed: a request to join not yet decided is not theirs yet)."""
    joined = select(ActivityParticipant.activity_id).where(
        ActivityParticipant.member_id == access.member.id,
        ActivityParticipant.status == ParticipantStatus.confirmed.value)
    return or_(Activity.recorder_user_id.in_(access.account_ids), Activity.id.in_(joined))


def _activities(access: ProfileAccess):  # noqa: ANN202 - a Select of Activity
    return select(Activity).where(_of_member(access))


def years(session: Session, access: ProfileAccess) -> list[ProfileYear]:
    """Counts per year (by the activity's date), newest year first; withdrawn activities left out."""
    year = extract("year", Activity.occurred_on)
    rows = session.execute(
        select(year, Activity.status, Activity.recorder_user_id, Activity.county_id, func.count())
        .where(_of_member(access), Activity.status != ActivityStatus.withdrawn.value)
        .group_by(year, Activity.status, Activity.recorder_user_id, Activity.county_id)).all()
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    counties: dict[int, set[int]] = defaultdict(set)
    for y, status, recorder, county, n in rows:
        bucket = counts[int(y)]
        bucket["total"] += n
        bucket["verified"] += n if status == ActivityStatus.verified.value else 0
        bucket["recorded" if recorder in access.account_ids else "joined"] += n
        counties[int(y)].add(county)
    return [ProfileYear(year=y, total=c["total"], verified=c["verified"], recorded=c["recorded"],
                        joined=c["joined"], counties=len(counties[y]))
            for y, c in sorted(counts.items(), reverse=True)]


def _rows(session: Session, by: Principal, access: ProfileAccess,
          activities: Sequence[Activity]) -> list[ProfileActivity]:
    ids = [a.id for a in activities]
    openable = set(session.scalars(select(Activity.id).where(Activity.id.in_(ids), activity_visible_to(by)))) \
        if ids else set()
    out = []
    for a in to_read(session, activities):
        role = "recorder" if a.recorder_user_id in access.account_ids else "participant"
        out.append(ProfileActivity(
            id=a.id, occurred_on=a.occurred_on, task_name=a.task_name, county_name=a.county_name,
            site_name=a.site_name, status=a.status, status_label=a.status_label, role=role,
            role_label=ACTIVITY_ROLE_LABELS[role], values=a.values, openable=a.id in openable))
    return out


def activity_log(session: Session, by: Principal, access: ProfileAccess, *, page: int = 1,
                 per_page: int = PER_PAGE) -> ActivityLogPage:
    """One page of the member's activities, newest first (a page past the end is empty)."""
    stmt = _activities(access)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = list(session.scalars(stmt.order_by(Activity.occurred_on.desc(), Activity.id.desc())
                                .limit(per_page).offset((max(1, page) - 1) * per_page)))
    return ActivityLogPage(items=_rows(session, by, access, rows), total=total, page=page, per_page=per_page)


def every_activity(session: Session, by: Principal, access: ProfileAccess, *,
                   batch: int = 500) -> Iterator[ProfileActivity]:
    """All of them, newest first, read in batches (the Word file lists every one)."""
    stmt = _activities(access).order_by(Activity.occurred_on.desc(), Activity.id.desc())
    offset = 0
    while True:
        rows = list(session.scalars(stmt.limit(batch).offset(offset)))
        yield from _rows(session, by, access, rows)
        if len(rows) < batch:
            return
        offset += batch


def member_links(session: Session, access: ProfileAccess, *, today: date) -> list[LinkRead]:
    """The member's 挂联 (as leader or liaison, ended ones too), newest first, with their state."""
    found = session.scalars(select(LinkAssignment).where(LinkAssignment.leader_member_id == access.member.id)
        .order_by(LinkAssignment.start_date.desc(), LinkAssignment.id.desc()))
    return links.to_read(session, list(found), today=today)


def honours(session: Session, access: ProfileAccess) -> list[ProfileHonour]:
    """典型 honours: the member's nominations the province selected (app/exemplars), newest year first."""
    return [ProfileHonour(title=title, year=year) for year, title in exemplars.honours_of(session, access.member.id)]


def build_profile(session: Session, by: Principal, member_id: int, *, page: int = 1, per_page: int = PER_PAGE,
                  today: date | None = None) -> Profile:
    """The whole record as ``by`` may read it (404 outside :func:`member_for_profile`'s rule)."""
    access = member_for_profile(session, by, member_id)
    return profile_of(session, by, access, page=page, per_page=per_page, today=today)


def profile_of(session: Session, by: Principal, access: ProfileAccess, *, page: int = 1, per_page: int = PER_PAGE,
               today: date | None = None) -> Profile:
    today = today or today_cn()
    member = access.member
    seats = memberships(session, member.id, today=today)
    current = next((s for s in seats if s.current), None)
    shown = current or (seats[0] if seats else None)  # the 专委会 of today's seat, else of the last one
    return Profile(
        member=ProfileIdentity(id=member.id, name=member.name, sector=member.sector, enterprise=member.enterprise,
                               industry=member.industry,
                               phone=member.phone if access.sees_phone else None, serving=current is not None),
        memberships=seats,
        committee_name=shown.committee_name if shown else None,
        links=member_links(session, access, today=today),
        years=years(session, access),
        honours=honours(session, access),
        activities=activity_log(session, by, access, page=page, per_page=per_page),
    )
