"""挂联 (link assignments): who may be linked to which place, by whom, for which dates; the coverage of
the key counties; a leader's own links. The rules of DOMAIN.md's 挂联, written once — the pages, the
JSON API and tests all call these functions.

Who counts as a leader (挂联领导 or 联络员): a member whose membership *today* is 主席会议成员, or who
holds a post (``Membership.title``, e.g. 专委会主任 — a plain 常委 or 委员 without a post does not), in
the place's county or an organisation above it. Whoever assigns must hold a 挂联 role (leader, staff,
admin) over the place *and* over that leader's organisation: a county office cannot dispatch a
provincial vice-chair, the province can.

A link is in force from its start date up to its end date, the end date itself excluded (结束日期：自该日
起不再挂联): a link ended today leaves the coverage at once, and the leader may take the same place again
from that day (another role, say). Ending sets the end date and keeps the row; a link ended on its start
date is one cancelled before it began. An open link whose leader no longer leads there (换届, resignation) is 待调整
(``needs_reassignment``): derived from the memberships when read, never stored, so it cannot go stale.

Each use case commits once at its end and writes its audit entry in the same transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, and_, case, exists, false, func, not_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from app.activities.service import visible_to as activity_visible_to
from app.audit.service import record as audit
from app.auth.principal import LINK_ROLES, READ_ROLES, Principal, org_for_links
from app.clock import today_cn
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.links.schemas import (
    Coverage,
    CoverageLeader,
    CoverageRow,
    LinkChange,
    LinkCreate,
    LinkEffect,
    LinkEffectReport,
    LinkRead,
)
from app.meeting.settings import settings_for
from app.models import (
    Activity,
    ActivityParticipant,
    ActivityStatus,
    LinkAssignment,
    LinkRole,
    Member,
    MemberRole,
    Membership,
    Organisation,
    OrgLevel,
    ParticipantStatus,
    Site,
    UserAccount,
)
from app.models.people import serving_on
from app.orgs.service import ancestor_ids, subtree_ids
from app.rollup import service as rollup

if TYPE_CHECKING:
    from app.boards.periods import Period

ROLE_LABELS = {LinkRole.lead: "挂联领导", LinkRole.liaison: "联络员"}
STATE_LABELS = {"scheduled": "未开始", "active": "挂联中", "ended": "已结束"}
COVERAGE_LABELS = {"uncovered": "无挂联领导", "attention": "挂联领导待调整", "covered": "已覆盖"}
COVERAGE_ORDER = {"uncovered": 0, "attention": 1, "covered": 2}
# The predecessor campaign (脱贫攻坚助推行动) began in 2018: an earlier date is a typo.
EARLIEST = date(2018, 1, 1)
PLAN_AHEAD = timedelta(days=366)  # a link may be planned up to a year ahead
LONGEST_PLAN = timedelta(days=366 * 6)  # an end date beyond a term and a half is a typo
NO_LINK_ROLE = "只有领导、专委会负责人和「双助推」办公室可以安排挂联"


# --- who leads where (SQL conditions: each rule in one place) ----------------------------------

def _holds_post() -> ColumnElement[bool]:
    """SQL condition: the membership is 主席会议成员 or carries a post (title)."""
    return or_(Membership.role == MemberRole.chair_council, func.coalesce(Membership.title, "") != "")


def _leads_place(member_id, county_id, day: date) -> ColumnElement[bool]:  # noqa: ANN001 - column or value
    """SQL condition: on ``day`` the member leads in the county or an organisation above it."""
    return exists().where(
        Membership.member_id == member_id, _holds_post(), serving_on(day),
        Membership.org_id.in_(ancestor_ids(county_id).correlate(LinkAssignment)),
    )


# A link is in force from its start date up to, not including, its end date; one whose end date is its
# start date was cancelled and is never in force. These conditions (and their Python twins below) are
# the one home of that rule: boards, 我的挂联, the import and the API all ask here.

def is_open(day: date) -> ColumnElement[bool]:
    """SQL condition: not ended by ``day`` (in force, or scheduled to start; a cancelled one is ended)."""
    return or_(col(LinkAssignment.end_date).is_(None),
               and_(col(LinkAssignment.end_date) > day, col(LinkAssignment.end_date) > LinkAssignment.start_date))


def active_during(start: date, end: date | None) -> ColumnElement[bool]:
    """SQL condition: the link is in force on at least one day of [``start``, ``end``) (``end`` None: open)."""
    if end is None:
        return is_open(start)
    return and_(col(LinkAssignment.start_date) < end, is_open(start))


def active_on(day: date) -> ColumnElement[bool]:
    """SQL condition: the link is in force on ``day``."""
    return and_(col(LinkAssignment.start_date) <= day, is_open(day))


def has_ended(link: LinkAssignment, day: date) -> bool:
    """Python twin of ``not is_open(day)``: ended by ``day``, or cancelled."""
    return link.end_date is not None and (link.end_date <= day or link.end_date <= link.start_date)


def spans_overlap(a_start: date, a_end: date | None, b_start: date, b_end: date | None) -> bool:
    """Python twin of ``active_during``: two spans [start, end) share a day (None: open-ended)."""
    return (a_end is None or b_start < a_end) and (b_end is None or a_start < b_end)


def needs_reassignment(day: date) -> ColumnElement[bool]:
    """SQL condition: 待调整 — open, but its leader no longer leads in the place or above it."""
    return and_(is_open(day), not_(_leads_place(LinkAssignment.leader_member_id, LinkAssignment.county_id, day)))


# --- scope and loaders -----------------------------------------------------------------------------

def visible_to(by: Principal) -> ColumnElement[bool]:
    """SQL condition: the caller may read the link (its place is in a subtree they read, or it is theirs)."""
    clauses = []
    if by.member_id is not None:
        clauses.append(LinkAssignment.leader_member_id == by.member_id)
    if by.org_ids(*READ_ROLES):
        clauses.append(LinkAssignment.county_id.in_(by.scope(*READ_ROLES)))
    return or_(*clauses) if clauses else false()


def manageable_by(by: Principal) -> ColumnElement[bool]:
    """SQL condition: the caller may change or end the link (place and leader's organisation both in scope)."""
    if not by.org_ids(*LINK_ROLES):
        return false()
    scope = by.scope(*LINK_ROLES)
    leader_in_scope = exists().where(Membership.member_id == LinkAssignment.leader_member_id, _holds_post(),
                                     Membership.org_id.in_(scope))
    return and_(LinkAssignment.county_id.in_(scope), leader_in_scope)


def may_assign(by: Principal) -> bool:
    return bool(by.org_ids(*LINK_ROLES))


def manageable_ids(session: Session, by: Principal, link_ids: Sequence[int]) -> set[int]:
    """Which of ``link_ids`` the caller may change or end (the list shows those buttons)."""
    if not link_ids or not may_assign(by):
        return set()
    return set(session.scalars(select(LinkAssignment.id).where(LinkAssignment.id.in_(list(link_ids)),
                                                                manageable_by(by))))


def link_for_read(session: Session, by: Principal, link_id: int) -> LinkAssignment:
    found = session.scalar(select(LinkAssignment).where(LinkAssignment.id == link_id, visible_to(by)))
    if found is None:
        raise NotFound("找不到该挂联，或无权查看")
    return found


def link_for_change(session: Session, by: Principal, link_id: int, *, lock: bool = True) -> LinkAssignment:
    """The link for a change: 404 outside what the caller reads, 403 when they read it but do not manage it."""
    stmt = select(LinkAssignment).where(LinkAssignment.id == link_id, manageable_by(by))
    found = session.scalar(stmt.with_for_update() if lock else stmt)
    if found is None:
        link_for_read(session, by, link_id)
        raise Forbidden("这条挂联由上级安排，只有上级的领导或「双助推」办公室可以修改或结束")
    return found


# --- checks -------------------------------------------------------------------------------------------

def _check_dates(start: date, end: date | None, today: date) -> None:
    errors = {}
    if start < EARLIEST:
        errors["start_date"] = f"开始日期不能早于 {EARLIEST.year} 年"
    elif start > today + PLAN_AHEAD:
        errors["start_date"] = "开始日期最多提前一年安排"
    if end is not None:
        if end <= start:
            errors["end_date"] = "结束日期须晚于开始日期"
        elif end > today + LONGEST_PLAN:
            errors["end_date"] = "结束日期太远，请核对"
    if errors:
        raise Invalid(next(iter(errors.values())), errors=errors)


def _place(session: Session, by: Principal, county_id: int, site_id: int | None) -> tuple[Organisation, Site | None]:
    """The county (inside the caller's 挂联 scope: 404 outside what they read, 403 when only reading) and
    the site in it; Invalid for a place that is not a county or a site elsewhere."""
    county = org_for_links(session, by, county_id, refused="只能为您管理范围内的县（市、区）安排挂联",
                           refused_code="place_out_of_scope")
    if county.level != OrgLevel.county:
        raise Invalid("请选择挂联的县（市、区）", errors={"county_id": "请选择县（市、区）"})
    site = None
    if site_id is not None:
        site = session.get(Site, site_id)
        if site is None or site.county_id != county.id:
            raise Invalid("所选乡镇/村/示范点不在该县，请重新选择", errors={"site_id": "不在所选的县"})
    return county, site


def _leader_for(session: Session, by: Principal, member_id: int, county_id: int, today: date, *,
                lock: bool = True) -> Member:
    """The leader; ``lock`` (writers): locked on PostgreSQL so two writers for one leader check overlaps
    one after the other (a dry run locks nothing)."""
    eligible = exists().where(
        Membership.member_id == member_id, _holds_post(), serving_on(today),
        Membership.org_id.in_(ancestor_ids(county_id)), Membership.org_id.in_(by.scope(*LINK_ROLES)),
    )
    stmt = select(Member).where(Member.id == member_id, eligible)
    leader = session.scalar(stmt.with_for_update() if lock else stmt)
    if leader is None:
        # The same words whoever it is: an id from outside the caller's reach reveals nothing.
        raise Invalid("所选人员不是该县或其上级政协现任的主席会议成员或领导职务，或不在您的管理范围内",
                      code="not_a_leader", errors={"leader_member_id": "请从列表中选择领导"})
    return leader


def _overlapping(session: Session, *, leader_id: int, county_id: int, site_id: int | None, start: date,
                 end: date | None, exclude_id: int | None = None) -> LinkAssignment | None:
    """Another link of the same leader to the same place in force on some day of [start, end)."""
    stmt = select(LinkAssignment).where(
        LinkAssignment.leader_member_id == leader_id, LinkAssignment.county_id == county_id,
        LinkAssignment.site_id.is_(None) if site_id is None else LinkAssignment.site_id == site_id,
        active_during(start, end),
    )
    if exclude_id is not None:
        stmt = stmt.where(LinkAssignment.id != exclude_id)
    return session.scalar(stmt.order_by(LinkAssignment.start_date).limit(1))


def _overlap_error(session: Session, link: LinkAssignment) -> Conflict:
    name = session.get(Member, link.leader_member_id).name
    span = f"{link.start_date.isoformat()} 起" + (f"至 {link.end_date.isoformat()}" if link.end_date else "")
    return Conflict(f"{name}已挂联该地点（{ROLE_LABELS[LinkRole(link.role)]}，{span}），时间不能重叠；"
                    "如需调整，请修改或结束原来的挂联", code="link_overlap")


def _flush_guarded(session: Session) -> None:
    """Flush; the database's own guard (one open link per leader and place) answers as a friendly 409."""
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict("该领导已挂联该地点，时间不能重叠；请刷新后查看", code="link_overlap") from exc


def _snapshot(link: LinkAssignment) -> dict:
    return {"leader_member_id": link.leader_member_id, "county_id": link.county_id, "site_id": link.site_id,
            "role": link.role, "start_date": link.start_date, "end_date": link.end_date, "note": link.note}


# --- use cases ----------------------------------------------------------------------------------------
# Each use case is a plan (every rule checked, nothing written: the dry run) and an apply (the write,
# its audit entry, the boards told; never committing). The page and the API call the use case, which
# runs both under the lock and commits; the import (app/imports/assignments.py) plans every row of a
# file, then plans again under the lock and applies each in its one transaction — so an imported 挂联
# is checked, locked and audited exactly like one made by hand.

@dataclass(frozen=True)
class LinkPlan:
    """A new 挂联 that passed every rule, not yet written; ``existing``: the identical link already there."""

    leader_member_id: int
    county_id: int
    site_id: int | None
    role: LinkRole
    start_date: date
    end_date: date | None
    note: str
    existing: LinkAssignment | None = None


def overlaps(a: LinkPlan, b: LinkPlan) -> bool:
    """The overlap rule between two planned links (same leader, same place, a day in common), for a batch
    whose links are not stored yet; ``_overlapping`` asks the same of the stored ones."""
    if (a.leader_member_id, a.county_id, a.site_id) != (b.leader_member_id, b.county_id, b.site_id):
        return False
    return spans_overlap(a.start_date, a.end_date, b.start_date, b.end_date)


def link_starting(session: Session, *, leader_member_id: int, county_id: int, site_id: int | None,
                  start_date: date) -> LinkAssignment | None:
    """The link of this leader to this place that starts on ``start_date``, if any (a file's match key)."""
    return session.scalar(select(LinkAssignment).where(
        LinkAssignment.leader_member_id == leader_member_id, LinkAssignment.county_id == county_id,
        col(LinkAssignment.site_id).is_(None) if site_id is None else LinkAssignment.site_id == site_id,
        LinkAssignment.start_date == start_date).order_by(LinkAssignment.id).limit(1))


def plan_link(session: Session, *, by: Principal, data: LinkCreate, today: date | None = None,
              lock: bool = False) -> LinkPlan:
    """Check a new 挂联 against every rule and write nothing: the plan, or the DomainError to show.

    ``lock``: lock the leader (PostgreSQL) so the overlap check holds until the caller writes — for writers.
    """
    if not may_assign(by):
        raise Forbidden(NO_LINK_ROLE)
    today = today or today_cn()
    county, site = _place(session, by, data.county_id, data.site_id)
    start, end, note = data.start_date or today, data.end_date, data.note.strip()
    _check_dates(start, end, today)
    leader = _leader_for(session, by, data.leader_member_id, county.id, today, lock=lock)
    planned = LinkPlan(leader_member_id=leader.id, county_id=county.id, site_id=site.id if site else None,
                       role=LinkRole(data.role), start_date=start, end_date=end, note=note)
    clash = _overlapping(session, leader_id=leader.id, county_id=county.id, site_id=planned.site_id, start=start,
                         end=end)
    if clash is not None:
        if (clash.role, clash.start_date, clash.end_date, clash.note) == (data.role, start, end, note):
            return replace(planned, existing=clash)
        raise _overlap_error(session, clash)
    return planned


def apply_link(session: Session, *, by: Principal, plan: LinkPlan) -> LinkAssignment:
    """Write a planned 挂联 with its ``link.create`` audit entry and tell the county's boards. Never commits."""
    if plan.existing is not None:
        return plan.existing
    link = LinkAssignment(leader_member_id=plan.leader_member_id, county_id=plan.county_id, site_id=plan.site_id,
                          role=plan.role, start_date=plan.start_date, end_date=plan.end_date, note=plan.note,
                          assigned_by_user_id=by.user_id)
    session.add(link)
    _flush_guarded(session)
    audit(session, actor=by.actor, action="link.create", target_type="link_assignment", target_id=link.id,
          org_id=link.county_id, after=_snapshot(link))
    rollup.touch(session, {("place", link.county_id)})  # the county's open boards list its leaders
    return link


@dataclass(frozen=True)
class AssignResult:
    link: LinkAssignment
    created: bool  # False: the same link already existed (a retried submission), answered with it


def assign_leader(session: Session, *, by: Principal, data: LinkCreate, today: date | None = None) -> AssignResult:
    """Link a leader to a county or site. A retry of the same link answers the existing row. Commits."""
    plan = plan_link(session, by=by, data=data, today=today, lock=True)
    if plan.existing is not None:
        return AssignResult(plan.existing, created=False)
    link = apply_link(session, by=by, plan=plan)
    session.commit()
    return AssignResult(link, created=True)


@dataclass(frozen=True)
class ChangePlan:
    """A change of a link that passed every rule, not yet written (``changed`` False: nothing to do)."""

    link: LinkAssignment
    role: LinkRole
    start_date: date
    end_date: date | None
    note: str

    @property
    def changed(self) -> bool:
        return (self.role, self.start_date, self.end_date, self.note) != (
            self.link.role, self.link.start_date, self.link.end_date, self.link.note)

    def as_planned(self) -> LinkPlan:
        """The link as it will be, for the overlap rule between the links of one batch."""
        k = self.link
        return LinkPlan(leader_member_id=k.leader_member_id, county_id=k.county_id, site_id=k.site_id,
                        role=self.role, start_date=self.start_date, end_date=self.end_date, note=self.note)


def plan_change(session: Session, *, by: Principal, link_id: int, data: LinkChange, today: date | None = None,
                lock: bool = False) -> ChangePlan:
    """Check a change of a link's role, dates or note (only the fields sent) against every rule; write nothing.

    ``lock``: lock the link (PostgreSQL) until the caller writes — for writers.
    """
    today = today or today_cn()
    link = link_for_change(session, by, link_id, lock=lock)
    sent = data.model_fields_set
    if "role" in sent and data.role is None:
        raise Invalid("请选择挂联身份", errors={"role": "请选择挂联身份"})
    if "start_date" in sent and data.start_date is None:
        raise Invalid("请填写开始日期", errors={"start_date": "请填写开始日期"})
    plan = ChangePlan(link=link, role=LinkRole(data.role if "role" in sent and data.role else link.role),
                      start_date=data.start_date if "start_date" in sent and data.start_date else link.start_date,
                      end_date=data.end_date if "end_date" in sent else link.end_date,
                      note=(data.note or "").strip() if "note" in sent else link.note)
    if not plan.changed:
        # Nothing to change (a retried form, a file imported again — an ended link's too): no log entry.
        return plan
    if _state(link, today) == "ended":
        raise Conflict("这条挂联已经结束，历史记录不能修改；如需重新挂联，请新增一条", code="link_ended")
    _check_dates(plan.start_date, plan.end_date, today)
    if not session.scalar(select(_leads_place(link.leader_member_id, link.county_id, today))):
        raise Invalid("该领导已不再担任该县或上级政协的领导职务（待调整）：请结束这条挂联，另行安排",
                      code="needs_reassignment")
    clash = _overlapping(session, leader_id=link.leader_member_id, county_id=link.county_id, site_id=link.site_id,
                         start=plan.start_date, end=plan.end_date, exclude_id=link.id)
    if clash is not None:
        raise _overlap_error(session, clash)
    return plan


def apply_change(session: Session, *, by: Principal, plan: ChangePlan) -> LinkAssignment:
    """Write a planned change with its ``link.change`` audit entry (before/after); tell the county's boards.

    Never commits.
    """
    link = plan.link
    if not plan.changed:
        return link
    before = _snapshot(link)
    link.role, link.start_date, link.end_date, link.note = plan.role, plan.start_date, plan.end_date, plan.note
    _flush_guarded(session)
    audit(session, actor=by.actor, action="link.change", target_type="link_assignment", target_id=link.id,
          org_id=link.county_id, before=before, after=_snapshot(link))
    rollup.touch(session, {("place", link.county_id)})  # the county's open boards list its leaders
    return link


def change_link(session: Session, *, by: Principal, link_id: int, data: LinkChange,
                today: date | None = None) -> LinkAssignment:
    """Change an open link's role, dates or note, every rule checked again. Commits."""
    plan = plan_change(session, by=by, link_id=link_id, data=data, today=today, lock=True)
    if not plan.changed:
        return plan.link
    link = apply_change(session, by=by, plan=plan)
    session.commit()
    return link


def end_link(session: Session, *, by: Principal, link_id: int, end_date: date | None = None, reason: str = "",
             today: date | None = None) -> LinkAssignment:
    """End a link on ``end_date`` (default today; a link not yet begun is cancelled on its start date).

    The row stays, with its end date. Commits.
    """
    today = today or today_cn()
    link = link_for_change(session, by, link_id)
    end = end_date or max(today, link.start_date)
    if link.end_date is not None and link.end_date <= end:
        raise Conflict(f"这条挂联已于 {link.end_date.isoformat()} 结束（或已定于该日结束）", code="link_ended")
    if end > today and end != link.start_date:
        raise Invalid("结束日期不能晚于今天；预定的结束日期请在“修改”里填写", errors={"end_date": "不能晚于今天"})
    if end < link.start_date:
        raise Invalid(f"结束日期不能早于开始日期（{link.start_date.isoformat()}）",
                      errors={"end_date": "不能早于开始日期"})
    before = _snapshot(link)
    link.end_date = end
    audit(session, actor=by.actor, action="link.end", target_type="link_assignment", target_id=link.id,
          org_id=link.county_id, before=before, after={**_snapshot(link), "reason": (reason or "").strip()[:200]})
    rollup.touch(session, {("place", link.county_id)})  # the county's open boards list its leaders
    session.commit()
    return link


# --- lists ------------------------------------------------------------------------------------------

STATES = {"open": "在任（含未开始）", "attention": "待调整", "ended": "已结束", "all": "全部"}


@dataclass(frozen=True)
class LinkFilters:
    county_id: int | None = None  # the county, its sites included
    site_id: int | None = None
    prefecture_id: int | None = None
    leader_member_id: int | None = None
    leader_q: str | None = None  # part of the leader's name
    active_on: date | None = None
    state: str = "open"  # a key of STATES


def list_links(session: Session, by: Principal, f: LinkFilters, *, page: int = 1, per_page: int = 50,
               today: date | None = None) -> tuple[list[LinkAssignment], int]:
    """The links the caller may read, filtered; 待调整 first, then by place and start date."""
    today = today or today_cn()
    stmt = select(LinkAssignment).where(visible_to(by))
    if f.county_id:
        stmt = stmt.where(LinkAssignment.county_id == f.county_id)
    if f.site_id:
        stmt = stmt.where(LinkAssignment.site_id == f.site_id)
    if f.prefecture_id:
        stmt = stmt.where(LinkAssignment.county_id.in_(subtree_ids(f.prefecture_id)))
    if f.leader_member_id:
        stmt = stmt.where(LinkAssignment.leader_member_id == f.leader_member_id)
    if f.leader_q and f.leader_q.strip():
        stmt = stmt.where(LinkAssignment.leader_member_id.in_(
            select(Member.id).where(Member.name.contains(f.leader_q.strip()))))
    if f.active_on:
        stmt = stmt.where(active_on(f.active_on))
    if f.state == "open":
        stmt = stmt.where(is_open(today))
    elif f.state == "ended":
        stmt = stmt.where(not_(is_open(today)))
    elif f.state == "attention":
        stmt = stmt.where(needs_reassignment(today))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    flagged_first = case((needs_reassignment(today), 0), else_=1)
    code = select(Organisation.code).where(Organisation.id == LinkAssignment.county_id).scalar_subquery()
    stmt = stmt.order_by(flagged_first, code, LinkAssignment.site_id.is_not(None), LinkAssignment.start_date.desc(),
                         LinkAssignment.id.desc())
    page = max(1, page)
    return list(session.scalars(stmt.limit(per_page).offset((page - 1) * per_page))), total


def my_links(session: Session, by: Principal, *, today: date | None = None) -> list[LinkAssignment]:
    """我的挂联: the caller's own links, open ones first, newest first."""
    if by.member_id is None:
        return []
    today = today or today_cn()
    ended_last = case((is_open(today), 0), else_=1)
    return list(session.scalars(select(LinkAssignment).where(LinkAssignment.leader_member_id == by.member_id)
                                .order_by(ended_last, LinkAssignment.start_date.desc()).limit(200)))


def activities_at(session: Session, by: Principal, links: Sequence[LinkAssignment], *, today: date | None = None,
                  limit: int = 20) -> list[Activity]:
    """Recent activities (verified or pending) at the places of the open links, as far as the caller reads them.

    By place (DOMAIN.md): a county link takes every activity in the county, a site link those at that
    site; whether the caller may read each activity is the activities module's rule.
    """
    today = today or today_cn()
    open_links = [k for k in links if _state(k, today) != "ended"]
    counties = sorted({k.county_id for k in open_links if k.site_id is None})
    sites = sorted({k.site_id for k in open_links if k.site_id is not None})
    if not counties and not sites:
        return []
    place = or_(Activity.county_id.in_(counties), Activity.site_id.in_(sites))
    stmt = (select(Activity)
            .where(place, Activity.status.in_([ActivityStatus.verified, ActivityStatus.pending]),
                   activity_visible_to(by))
            .order_by(Activity.occurred_on.desc(), Activity.id.desc()).limit(limit))
    return list(session.scalars(stmt))


# --- read models (batch: one query per kind) ----------------------------------------------------------

def leader_posts(session: Session, member_ids: Sequence[int], *, today: date) -> dict[int, str]:
    """Each leader's post as people say it (云南省政协副主席): the current one, else the latest."""
    if not member_ids:
        return {}
    current_first = case((serving_on(today), 0), else_=1)
    rows = session.execute(
        select(Membership.member_id, Membership.role, Membership.title, Organisation.name)
        .join(Organisation, Organisation.id == Membership.org_id)
        .where(Membership.member_id.in_(list(set(member_ids))), _holds_post())
        .order_by(Membership.member_id, current_first, Membership.start_date.desc(), Membership.id.desc())
    ).all()
    posts: dict[int, str] = {}
    for member_id, role, title, org_name in rows:
        posts.setdefault(member_id, _post(role, title, org_name))
    return posts


def _post(role: str, title: str | None, org_name: str) -> str:
    return f"{org_name}{title or ('主席会议成员' if role == MemberRole.chair_council else '')}"


def _state(link: LinkAssignment, today: date) -> str:
    if has_ended(link, today):
        return "ended"
    return "scheduled" if link.start_date > today else "active"


def to_read(session: Session, links: Sequence[LinkAssignment], *, today: date | None = None) -> list[LinkRead]:
    if not links:
        return []
    today = today or today_cn()
    ids = [k.id for k in links]
    flagged = set(session.scalars(select(LinkAssignment.id).where(LinkAssignment.id.in_(ids),
                                                                   needs_reassignment(today))))
    leaders = dict(session.execute(select(Member.id, Member.name).where(
        Member.id.in_({k.leader_member_id for k in links}))).all())
    posts = leader_posts(session, list(leaders), today=today)
    counties = {o.id: o for o in session.scalars(select(Organisation).where(
        Organisation.id.in_({k.county_id for k in links})))}
    parents = dict(session.execute(select(Organisation.id, Organisation.name).where(
        Organisation.id.in_({o.parent_id for o in counties.values() if o.parent_id}))).all())
    site_ids = {k.site_id for k in links if k.site_id}
    sites = dict(session.execute(select(Site.id, Site.name).where(Site.id.in_(site_ids))).all()) if site_ids else {}
    user_ids = {k.assigned_by_user_id for k in links if k.assigned_by_user_id}
    users = dict(session.execute(select(UserAccount.id, UserAccount.display_name)
                                 .where(UserAccount.id.in_(user_ids))).all()) if user_ids else {}
    out = []
    for k in links:
        county = counties[k.county_id]
        state = _state(k, today)
        out.append(LinkRead(
            id=k.id, leader_member_id=k.leader_member_id, leader_name=leaders.get(k.leader_member_id, ""),
            leader_post=posts.get(k.leader_member_id, ""), county_id=k.county_id,
            county_name=county.name.removesuffix("政协"), is_key_county=county.is_key_county,
            prefecture_name=parents.get(county.parent_id, "").removesuffix("政协"), site_id=k.site_id,
            site_name=sites.get(k.site_id) if k.site_id else None, role=LinkRole(k.role),
            role_label=ROLE_LABELS[LinkRole(k.role)], start_date=k.start_date, end_date=k.end_date, note=k.note,
            state=state, state_label=STATE_LABELS[state], needs_reassignment=k.id in flagged,
            assigned_by_name=users.get(k.assigned_by_user_id), created_at=k.created_at,
        ))
    return out


# --- coverage of the key counties ------------------------------------------------------------------------

def _require_reader(by: Principal) -> None:
    if not by.org_ids(*READ_ROLES):
        raise Forbidden("只有领导、「双助推」办公室和有查看权限的账号可以查看挂联覆盖情况")


def coverage_prefectures(session: Session, by: Principal) -> list[Organisation]:
    """The prefectures that hold key counties the caller reads (the filter's choices)."""
    _require_reader(by)
    keyed = select(Organisation.parent_id).where(
        Organisation.id.in_(by.scope(*READ_ROLES)), Organisation.is_key_county.is_(True))
    return list(session.scalars(select(Organisation).where(Organisation.id.in_(keyed)).order_by(Organisation.code)))


def coverage(session: Session, by: Principal, *, prefecture_id: int | None = None,
             today: date | None = None) -> Coverage:
    """The key counties of the caller's subtrees with their active county leaders; the uncovered first.

    A county is covered by an active county-level 挂联领导 (a site's link or a 联络员 does not cover
    it) whose leader still leads there; one whose only leaders are 待调整 needs attention.
    """
    _require_reader(by)
    today = today or today_cn()
    stmt = select(Organisation).where(Organisation.id.in_(by.scope(*READ_ROLES)),
                                      Organisation.level == OrgLevel.county, Organisation.is_key_county.is_(True))
    if prefecture_id:
        stmt = stmt.where(Organisation.id.in_(subtree_ids(prefecture_id)))
    counties = list(session.scalars(stmt.order_by(Organisation.code)))
    ids = [c.id for c in counties]
    parents = dict(session.execute(select(Organisation.id, Organisation.name).where(
        Organisation.id.in_({c.parent_id for c in counties if c.parent_id}))).all()) if counties else {}
    county_links: dict[int, list[CoverageLeader]] = defaultdict(list)
    site_links: dict[int, int] = defaultdict(int)
    if ids:
        rows = session.execute(
            select(LinkAssignment, Member.name, needs_reassignment(today).label("flagged"))
            .join(Member, Member.id == LinkAssignment.leader_member_id)
            .where(LinkAssignment.county_id.in_(ids), active_on(today))
            .order_by(LinkAssignment.start_date, LinkAssignment.id)
        ).all()
        posts = leader_posts(session, [k.leader_member_id for k, _, _ in rows], today=today)
        for k, name, flagged in rows:
            if k.site_id is not None:
                site_links[k.county_id] += 1
                continue
            county_links[k.county_id].append(CoverageLeader(
                link_id=k.id, leader_member_id=k.leader_member_id, name=name, post=posts.get(k.leader_member_id, ""),
                role=LinkRole(k.role), start_date=k.start_date, needs_reassignment=bool(flagged)))
    result = []
    for c in counties:
        leads = [x for x in county_links[c.id] if x.role == LinkRole.lead]
        if not leads:
            status = "uncovered"
        elif all(x.needs_reassignment for x in leads):
            status = "attention"
        else:
            status = "covered"
        result.append(CoverageRow(
            county_id=c.id, county_name=c.name.removesuffix("政协"), prefecture_id=c.parent_id,
            prefecture_name=parents.get(c.parent_id, "").removesuffix("政协"), status=status,
            status_label=COVERAGE_LABELS[status], leaders=leads,
            liaisons=[x for x in county_links[c.id] if x.role == LinkRole.liaison], site_links=site_links[c.id]))
    # Stable sort: within each status the counties keep their code order.
    result.sort(key=lambda r: COVERAGE_ORDER[r.status])
    counts = {s: sum(1 for r in result if r.status == s) for s in COVERAGE_ORDER}
    return Coverage(on=today, prefecture_id=prefecture_id, total=len(result), rows=result, **counts)


# --- pickers -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LeaderOption:
    member_id: int
    name: str
    post: str


def leader_options(session: Session, by: Principal, *, county_id: int | None, q: str = "",
                   member_id: int | None = None, today: date | None = None, limit: int = 20) -> list[LeaderOption]:
    """Type-ahead over the leaders the caller may link to ``county_id`` (the higher levels first)."""
    if not may_assign(by):
        return []
    today = today or today_cn()
    stmt = (select(Member.id, Member.name, Membership.role, Membership.title, Organisation.name)
            .join(Membership, Membership.member_id == Member.id)
            .join(Organisation, Organisation.id == Membership.org_id)
            .where(_holds_post(), serving_on(today), Membership.org_id.in_(by.scope(*LINK_ROLES))))
    if county_id:
        stmt = stmt.where(Membership.org_id.in_(ancestor_ids(county_id)))
    if member_id:
        stmt = stmt.where(Member.id == member_id)
    if q.strip():
        stmt = stmt.where(Member.name.contains(q.strip()))
    # The chair (主席) first, then by organisation (province → prefecture → county) and name.
    chair_first = case((Membership.title == "主席", 0), else_=1)
    rows = session.execute(stmt.order_by(Organisation.code, chair_first, Member.name, Member.id).limit(limit * 2)).all()
    seen, out = set(), []
    for mid, name, role, title, org_name in rows:
        if mid in seen:
            continue
        seen.add(mid)
        out.append(LeaderOption(mid, name, _post(role, title, org_name)))
    return out[:limit]


def county_options(session: Session, by: Principal, *, roles: Sequence = LINK_ROLES) -> list[Organisation]:
    """The counties inside the caller's subtrees for ``roles``: key counties first, then by code."""
    if not by.org_ids(*roles):
        return []
    return list(session.scalars(
        select(Organisation).where(Organisation.id.in_(by.scope(*roles)), Organisation.level == OrgLevel.county)
        .order_by(Organisation.is_key_county.desc(), Organisation.code)))


# --- 挂联实效: did the linked leaders go to their counties? ----------------------------------------------
# A leader's own activities in a county: verified activities done there (by place, whoever is credited)
# in which the leader is a confirmed participant — the recorder who took part is always one (代录 staff
# are not), so this is 参与率's rule of "took part", asked per county. Only verified ones count, as on
# the boards and in the reports: a pending activity may still be returned, and a returned or withdrawn
# one did not happen as recorded.

def months_before(day: date, months: int) -> date:
    """The same day ``months`` calendar months earlier; a day past that month's end is its last day."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    following = date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1)
    return date(year, month + 1, min(day.day, (following - timedelta(days=1)).day))


def idle_since(on: date, idle_months: int) -> date:
    """The first day of the idle window: a leader linked since this day or earlier, with no own activity in
    the county on it or after, has been linked but not active there for ``idle_months`` months."""
    return months_before(on, idle_months)


def _effects(session: Session, in_scope: Sequence[ColumnElement[bool]], *, period: Period, on: date,
             idle_months: int) -> list[LinkEffect]:
    """One row per (leader, county) with a link in force on ``on`` among ``in_scope``; one statement for
    the figures (whatever the number of leaders), one for the posts."""
    pairs = (select(LinkAssignment.leader_member_id.label("member_id"), LinkAssignment.county_id.label("county_id"),
                    func.min(LinkAssignment.start_date).label("since"),
                    func.min(LinkAssignment.role).label("role"))  # 'lead' < 'liaison': a lead link wins
             .where(active_on(on), *in_scope)
             .group_by(LinkAssignment.leader_member_id, LinkAssignment.county_id).cte("pairs"))
    # Joined to the pairs, and the counties named once more as a list: SQLite then reads one county's
    # activities by county and date. Filtered by IN lists alone it took 24 s on the 60,000-activity demo
    # (now 0.2 s for the province's 1,289 pairs, 43 ms for one county; PostgreSQL 0.1 s once analysed).
    own = (select(pairs.c.member_id, pairs.c.county_id,
                  func.sum(case((Activity.occurred_on >= period.start, 1), else_=0)).label("n"),
                  func.max(Activity.occurred_on).label("last_on"))
           .join(ActivityParticipant, ActivityParticipant.member_id == pairs.c.member_id)
           .join(Activity, and_(Activity.id == ActivityParticipant.activity_id, Activity.county_id == pairs.c.county_id))
           .where(ActivityParticipant.status == ParticipantStatus.confirmed.value,
                  Activity.county_id.in_(select(pairs.c.county_id)),
                  Activity.status == ActivityStatus.verified.value, Activity.occurred_on <= on)
           .group_by(pairs.c.member_id, pairs.c.county_id).subquery("own"))
    rows = session.execute(
        select(pairs.c.member_id, pairs.c.county_id, pairs.c.since, pairs.c.role, Member.name,
               Organisation.code, Organisation.name.label("county_name"), own.c.n, own.c.last_on)
        .join(Member, Member.id == pairs.c.member_id)
        .join(Organisation, Organisation.id == pairs.c.county_id)
        .outerjoin(own, and_(own.c.member_id == pairs.c.member_id, own.c.county_id == pairs.c.county_id))
    ).all()
    posts = leader_posts(session, [r.member_id for r in rows], today=on)
    window = idle_since(on, idle_months)
    out = [LinkEffect(
        leader_member_id=r.member_id, leader_name=r.name, leader_post=posts.get(r.member_id, ""),
        county_id=r.county_id, county_code=r.code, county_name=r.county_name.removesuffix("政协"),
        role=LinkRole(r.role), since=r.since, activities=int(r.n or 0), last_activity_on=r.last_on,
        idle_months=idle_months,
        # Linked for the whole window, and not once in the county within it: the last day counted is
        # exactly N months ago (today 12-06, N 3: an activity on 09-06 keeps the flag off, 09-05 does not).
        idle=r.since <= window and (r.last_on is None or r.last_on < window),
    ) for r in rows]
    out.sort(key=lambda e: (not e.idle, e.county_code, e.leader_name, e.leader_member_id))
    return out


def _as_of(period: Period, today: date | None) -> date:
    """The day the figures are as of: the period's last day, or today while it runs (as the county board)."""
    return min(period.end, today or today_cn())


def link_effect(session: Session, by: Principal, org: Organisation, period: Period, *,
                today: date | None = None) -> list[LinkEffect]:
    """挂联实效 of the links in force to counties in ``org``'s subtree that the caller reads, the flagged
    first; N is ``org``'s meeting setting (the office asking). ``org`` comes from a loader (``OrgForRead``
    or ``org_for_read``)."""
    return effect_report(session, by, org, period, today=today).rows


def effect_report(session: Session, by: Principal, org: Organisation, period: Period, *,
                  today: date | None = None) -> LinkEffectReport:
    """``link_effect`` with what it is as of and how many are flagged (the API's answer)."""
    on, idle_months = _as_of(period, today), idle_months_of(session, org.id)
    rows = _effects(session, [LinkAssignment.county_id.in_(subtree_ids(org.id)), visible_to(by)], period=period,
                    on=on, idle_months=idle_months)
    return LinkEffectReport(org_code=org.code, period=period.key, period_label=period.label, on=on,
                            idle_months=idle_months, idle_since=idle_since(on, idle_months), total=len(rows),
                            idle=sum(1 for e in rows if e.idle), rows=rows)


def idle_months_of(session: Session, org_id: int) -> int:
    """N of 挂联实效 for the organisation (its office's meeting setting, else the default)."""
    return settings_for(session, org_id).link_idle_months


def coverage_effect(session: Session, by: Principal, period: Period, *, prefecture_id: int | None = None,
                    today: date | None = None) -> tuple[int, list[LinkEffect]]:
    """挂联实效 for the coverage page: the links in force to key counties the caller reads (one prefecture's,
    if named), with N of the caller's highest organisation; (N, rows)."""
    _require_reader(by)
    top = by.grant_orgs(session, *READ_ROLES)[0]
    idle_months = idle_months_of(session, top.id)
    keyed = select(Organisation.id).where(Organisation.id.in_(by.scope(*READ_ROLES)),
                                          Organisation.is_key_county.is_(True))
    scope = [LinkAssignment.county_id.in_(keyed)]
    if prefecture_id:
        scope.append(LinkAssignment.county_id.in_(subtree_ids(prefecture_id)))
    return idle_months, _effects(session, scope, period=period, on=_as_of(period, today), idle_months=idle_months)


def my_link_effect(session: Session, by: Principal, period: Period, *, today: date | None = None) -> list[LinkEffect]:
    """我的挂联's 挂联实效: the caller's own links in force; N of the organisation where they hold their highest
    post (the leader's own office), else of a county they are linked to."""
    if by.member_id is None:
        return []
    on = _as_of(period, today)
    current_first = case((serving_on(on), 0), else_=1)
    post_first = case((_holds_post(), 0), else_=1)
    home = session.scalar(select(Membership.org_id).join(Organisation, Organisation.id == Membership.org_id)
                          .where(Membership.member_id == by.member_id)
                          .order_by(current_first, post_first, Organisation.code).limit(1))
    mine = LinkAssignment.leader_member_id == by.member_id
    home = home or session.scalar(select(LinkAssignment.county_id).where(mine).order_by(LinkAssignment.id).limit(1))
    if home is None:
        return []
    return _effects(session, [mine], period=period, on=on, idle_months=idle_months_of(session, home))


def county_link_effect(session: Session, county: Organisation, period: Period, *,
                       today: date | None = None) -> list[LinkEffect]:
    """挂联实效 on a county's own board (whoever reads the board reads the county): N of the county's office."""
    return _effects(session, [LinkAssignment.county_id == county.id], period=period, on=_as_of(period, today),
                    idle_months=idle_months_of(session, county.id))
