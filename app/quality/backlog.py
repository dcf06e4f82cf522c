"""Backlog and completeness: what waits for verification where, and whether each office has 报送.

积压 (backlog): the pending activities of an organisation's queue — its own (本级: credited to it)
and each direct child's subtree — with the age of the oldest in Beijing days and how many are past
the 服务时限 (service level, days). The service level of a queue is the setting of the office whose
queue it is, falling back to the nearest ancestor's (so a prefecture's setting is the default of its
counties), falling back to ``DEFAULT_SLA_DAYS``. An activity is overdue when its age in days exceeds
the service level of the organisation it is credited to — a child row made of several queues adds
up each queue's overdue items by that queue's own level.

报送 (reporting) completeness: for some months, each direct child's activities recorded there, how
many still wait for verification, and whether its own office confirmed 已确认报送完成 for every month
(``ReportConfirmation``); the reporting rate is children confirmed ÷ children (DHIS2's "reporting
rate"). An office confirms that everything has been *reported*: verification may still be going on,
so pending items do not block the confirmation; the page shows how many there are.

Only an organisation's own office (a staff/admin grant on that organisation itself, not only on an
ancestor) sets its service level or confirms its 报送: both speak for that office.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import case, func, or_, select
from sqlmodel import Session

from app.audit.service import record as audit
from app.auth.principal import STAFF_ROLES, Principal, org_for_read, org_for_staff
from app.boards import periods
from app.clock import start_of_day_cn, to_cn, today_cn, yyyymm
from app.errors import Forbidden, Invalid
from app.models import Activity, ActivityStatus, Organisation
from app.models.quality import ReportConfirmation
from app.orgs.service import ancestors, subtree, subtree_ids

DEFAULT_SLA_DAYS = 7
MIN_SLA_DAYS, MAX_SLA_DAYS = 1, 90
OWN_OFFICE_ONLY = "只有该组织自己的「双助推」办公室可以办理"


@dataclass(frozen=True)
class BacklogRow:
    """One queue's backlog: the organisation's own (``own``) or a direct child's whole subtree."""

    org: Organisation
    own: bool
    pending: int
    oldest_submitted_on: date | None  # Beijing date the oldest pending item was (re)submitted
    oldest_age_days: int | None
    sla_days: int  # the service level in force for this organisation's queue
    overdue: int  # pending items older than their queue's service level


@dataclass(frozen=True)
class BacklogTotal:
    pending: int
    overdue: int
    oldest_age_days: int | None


@dataclass(frozen=True)
class ReportingRow:
    """One organisation's 报送 for the months asked: the own row (本级) or a direct child's subtree."""

    org: Organisation
    own: bool
    recorded: int  # activities dated in the months, any status but withdrawn
    pending: int  # of which still waiting for verification
    confirmed_months: frozenset[int]  # yyyymm its own office confirmed 报送完成
    months: tuple[int, ...]

    @property
    def confirmed(self) -> bool:
        """Confirmed for every month asked."""
        return all(m in self.confirmed_months for m in self.months)


@dataclass(frozen=True)
class ReportingRate:
    children: int
    confirmed: int

    @property
    def percent(self) -> int | None:
        return None if not self.children else round(100 * self.confirmed / self.children)


# --- the tree, read once -------------------------------------------------------------------------

def _tree(session: Session, org_id: int) -> tuple[list[Organisation], list[Organisation], dict[int, int]]:
    """``org_id``'s subtree (parents first), its direct children, and for every organisation of the
    subtree the row it counts in (``org_id`` itself for its own queue, else the child whose subtree
    holds it). One query: the subtree comes ordered by depth, so each parent is met before its children."""
    orgs = subtree(session, org_id)
    row_of: dict[int, int] = {org_id: org_id}
    children = []
    for o in orgs[1:]:
        if o.parent_id == org_id:
            children.append(o)
            row_of[o.id] = o.id
        else:
            row_of[o.id] = row_of[o.parent_id]  # type: ignore[index]
    return orgs, children, row_of


def _effective_sla(session: Session, org: Organisation, orgs: Iterable[Organisation]) -> dict[int, int]:
    """The service level in force for each of ``orgs`` (``org``'s subtree, parents first): its own
    setting, else the nearest ancestor's, else the default."""
    inherited = next((a.review_sla_days for a in reversed(ancestors(session, org.id))
                      if a.review_sla_days is not None), None)
    level: dict[int | None, int] = {org.parent_id: inherited or DEFAULT_SLA_DAYS}
    for o in orgs:
        level[o.id] = o.review_sla_days or level[o.parent_id]
    return {k: v for k, v in level.items() if k is not None}


def sla_days(org: Organisation) -> int:
    """The organisation's own service level (its office's setting, else the default)."""
    return org.review_sla_days or DEFAULT_SLA_DAYS


def effective_sla_days(session: Session, org: Organisation) -> int:
    """The service level in force for ``org``'s queue: its own, else the nearest ancestor's, else 7."""
    return _effective_sla(session, org, [org])[org.id]


def _own_office(session: Session, by: Principal, org_id: int) -> Organisation:
    """The organisation when ``by`` works in its own office: 404 outside, 403 for other staff."""
    org = org_for_staff(session, by, org_id, refused=OWN_OFFICE_ONLY, refused_code="own_office_only")
    if org.id not in by.org_ids(*STAFF_ROLES):
        raise Forbidden(OWN_OFFICE_ONLY, code="own_office_only")
    return org


def set_sla_days(session: Session, by: Principal, org_id: int, days: int | None) -> Organisation:
    """The office sets its queue's service level, 1–90 days (None: back to the inherited one). Commits."""
    org = _own_office(session, by, org_id)
    if days is not None and not MIN_SLA_DAYS <= days <= MAX_SLA_DAYS:
        raise Invalid(f"服务时限应为 {MIN_SLA_DAYS}–{MAX_SLA_DAYS} 天", code="sla_out_of_range",
                      errors={"days": f"请填写 {MIN_SLA_DAYS}–{MAX_SLA_DAYS} 之间的整数"})
    before = org.review_sla_days
    if before != days:
        org.review_sla_days = days
        audit(session, actor=by.actor, action="org.review_sla", target_type="organisation", target_id=org.id,
              org_id=org.id, before={"review_sla_days": before}, after={"review_sla_days": days})
    session.commit()
    return org


# --- 积压 -------------------------------------------------------------------------------------------

def backlog(session: Session, by: Principal, org_id: int, *, today: date | None = None) -> list[BacklogRow]:
    """The organisation's own queue, then each direct child's subtree: pending items, the oldest's age
    and how many are overdue. Three reads: the subtree, the ancestors' settings and one grouped count."""
    org = org_for_read(session, by, org_id)
    today = today or today_cn()
    everyone, children, row_of = _tree(session, org.id)
    level = _effective_sla(session, org, everyone)
    # One overdue sum per distinct service level in the subtree (a few at most), picked per queue below.
    cutoffs = {d: start_of_day_cn(today - timedelta(days=d)) for d in sorted(set(level.values()))}
    late = {d: func.sum(case((Activity.submitted_at < cutoff, 1), else_=0)) for d, cutoff in cutoffs.items()}
    stmt = (select(Activity.credited_org_id, func.count(), func.min(Activity.submitted_at), *late.values())
            .where(Activity.status == ActivityStatus.pending.value, Activity.credited_org_id.in_(subtree_ids(org.id)))
            .group_by(Activity.credited_org_id))
    pending: dict[int, int] = {}
    oldest: dict[int, datetime] = {}
    overdue: dict[int, int] = {}
    for credited, n, first, *lates in session.execute(stmt):
        row = row_of.get(credited)
        if row is None:
            continue
        pending[row] = pending.get(row, 0) + n
        overdue[row] = overdue.get(row, 0) + int(lates[list(cutoffs).index(level[credited])] or 0)
        if first is not None and (row not in oldest or first < oldest[row]):
            oldest[row] = first
    rows = []
    for o in [org, *children]:
        moment = to_cn(oldest.get(o.id))
        on = moment.date() if moment else None
        rows.append(BacklogRow(org=o, own=o.id == org.id, pending=pending.get(o.id, 0), oldest_submitted_on=on,
                               oldest_age_days=(today - on).days if on else None, sla_days=level[o.id],
                               overdue=overdue.get(o.id, 0)))
    return rows


def backlog_total(rows: Sequence[BacklogRow]) -> BacklogTotal:
    """The whole subtree: every row's pending and overdue items, and the oldest age among them."""
    ages = [r.oldest_age_days for r in rows if r.oldest_age_days is not None]
    return BacklogTotal(pending=sum(r.pending for r in rows), overdue=sum(r.overdue for r in rows),
                        oldest_age_days=max(ages) if ages else None)


# --- 报送 -------------------------------------------------------------------------------------------

def _check_months(months: Iterable[int]) -> tuple[int, ...]:
    found = tuple(sorted(set(months)))
    if not found or any(m % 100 not in range(1, 13) or m <= 200000 for m in found):
        raise Invalid("请选择月份", code="month_invalid", errors={"month": "请选择月份"})
    return found


def reporting_status(session: Session, by: Principal, org_id: int, months: Iterable[int]) -> list[ReportingRow]:
    """The organisation's own 报送 (first row), then each direct child's, for ``months`` (yyyymm).
    Three reads: the subtree, one grouped count of the activities, the confirmations."""
    org = org_for_read(session, by, org_id)
    wanted = _check_months(months)
    _, children, row_of = _tree(session, org.id)
    in_months = [Activity.occurred_on.between(p.start, p.end)
                 for p in (periods.span(m // 100, m % 100, m % 100) for m in wanted)]
    stmt = (select(Activity.credited_org_id, func.count(),
                   func.sum(case((Activity.status == ActivityStatus.pending.value, 1), else_=0)))
            .where(Activity.credited_org_id.in_(subtree_ids(org.id)), or_(*in_months),
                   Activity.status != ActivityStatus.withdrawn.value)
            .group_by(Activity.credited_org_id))
    recorded: dict[int, int] = {}
    pending: dict[int, int] = {}
    for credited, n, waiting in session.execute(stmt):
        row = row_of.get(credited)
        if row is not None:
            recorded[row] = recorded.get(row, 0) + n
            pending[row] = pending.get(row, 0) + int(waiting or 0)
    orgs = [org, *children]
    confirmed: dict[int, set[int]] = {}
    for oid, month in session.execute(select(ReportConfirmation.org_id, ReportConfirmation.month).where(
            ReportConfirmation.org_id.in_([o.id for o in orgs]), ReportConfirmation.month.in_(wanted))):
        confirmed.setdefault(oid, set()).add(month)
    return [ReportingRow(org=o, own=o.id == org.id, recorded=recorded.get(o.id, 0), pending=pending.get(o.id, 0),
                         confirmed_months=frozenset(confirmed.get(o.id, ())), months=wanted) for o in orgs]


def reporting_rate(rows: Sequence[ReportingRow]) -> ReportingRate:
    """Children whose office confirmed 报送完成 for every month ÷ children (the own row not counted)."""
    children = [r for r in rows if not r.own]
    return ReportingRate(children=len(children), confirmed=sum(r.confirmed for r in children))


def _confirmable(month: int) -> int:
    _check_months([month])
    if month > yyyymm(today_cn()):
        raise Invalid("只能确认已经开始的月份", code="month_future", errors={"month": "不能选择将来的月份"})
    return month


def confirm_reporting(session: Session, by: Principal, org_id: int, month: int) -> ReportConfirmation:
    """The office confirms 已确认报送完成 for a month (audited; confirming again changes nothing). Commits."""
    org = _own_office(session, by, org_id)
    month = _confirmable(month)
    row = session.get(ReportConfirmation, (org.id, month))
    if row is None:
        row = ReportConfirmation(org_id=org.id, month=month, confirmed_by_user_id=by.user_id or None)
        session.add(row)
        audit(session, actor=by.actor, action="report.confirm", target_type="month", target_id=month, org_id=org.id)
    session.commit()
    return row


def unconfirm_reporting(session: Session, by: Principal, org_id: int, month: int) -> None:
    """The office takes back its 报送完成 for a month (audited; nothing to take back is fine). Commits."""
    org = _own_office(session, by, org_id)
    _check_months([month])
    row = session.get(ReportConfirmation, (org.id, month))
    if row is not None:
        session.delete(row)
        audit(session, actor=by.actor, action="report.unconfirm", target_type="month", target_id=month,
              org_id=org.id)
    session.commit()
