"""换届 (term change): an organisation starts its next term, re-appointed members carry over, the
others' memberships end — their history stays.

Rules:

- Staff of the organisation or above (STAFF_ROLES over it) change its term; a reader without the
  role gets 403, anybody else 404.
- The new term is number + 1 and starts on the chosen date; the current term ends the day before.
  Every open membership of the organisation (end date empty or on/after the start) ends the day
  before: those not carried over keep their history — their activities count in the months they
  served — and can no longer record (no current membership: ``record_activity`` refuses them).
- Re-appointed members get a new membership in the new term with the same role, post (职务) and
  专委会; who continues is chosen from the current list (checkboxes, all by default) or from an
  uploaded list of phones (phones not in the current list are errors: new members join through the
  members import once the new term has started).
- The start date lies after the current term's start and after every affected membership's start,
  and at most a year ahead.
- One transaction: terms, memberships, the 参与率 counters (``member_masks`` before,
  ``members_changed`` after, so ended members leave the new term's denominator) and one audit entry.
  :func:`plan_change` shows what would happen (the confirmation step); :func:`change_term` does it,
  refusing a plan whose fingerprint moved since the preview.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func, or_, select
from sqlmodel import Session

from app.audit.service import record
from app.auth.principal import STAFF_ROLES, Principal
from app.clock import today_cn
from app.errors import Conflict, Forbidden, Invalid
from app.models import Committee, Member, MemberRole, Membership, Organisation, Term
from app.models.people import seat_open_on, serving_on
from app.rollup import service as rollup

STAFF_ONLY = "只有本级或上级「双助推」办公室人员可以办理换届"
MAX_AHEAD_DAYS = 366
ROLE_LABELS = {MemberRole.member: "委员", MemberRole.standing: "常委", MemberRole.chair_council: "主席会议成员"}


def current_term(session: Session, org_id: int, *, on: date | None = None) -> Term | None:
    """The organisation's current term: its latest (highest number); with ``on``, the latest one in
    force that day (a 换届 may have scheduled the next term to start later)."""
    stmt = select(Term).where(Term.org_id == org_id)
    if on is not None:
        stmt = stmt.where(Term.start_date <= on, or_(Term.end_date.is_(None), Term.end_date >= on))
    return session.scalar(stmt.order_by(Term.number.desc()).limit(1))


def terms_of(session: Session, org_id: int) -> list[tuple[Term, int]]:
    """Every term of the organisation, newest first, with its number of memberships."""
    counts = dict(session.execute(select(Membership.term_id, func.count()).where(Membership.org_id == org_id)
                                  .group_by(Membership.term_id)).all())
    return [(t, counts.get(t.id, 0)) for t in session.scalars(
        select(Term).where(Term.org_id == org_id).order_by(Term.number.desc()))]


@dataclass(frozen=True)
class Seat:
    membership: Membership
    member: Member
    committee: str | None = None

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(MemberRole(self.membership.role), str(self.membership.role))


def open_seats(session: Session, org_id: int, on: date, *, started: bool = False) -> list[Seat]:
    """Memberships of the organisation still open on ``on`` (no end, or ending on/after it), by name;
    ``started``: only those already begun on ``on`` (the members serving that day)."""
    stmt = (select(Membership, Member, Committee.name)
            .join(Member, Member.id == Membership.member_id)
            .outerjoin(Committee, Committee.id == Membership.committee_id)
            .where(Membership.org_id == org_id, serving_on(on) if started else seat_open_on(on)))
    rows = session.execute(stmt.order_by(Member.name, Member.id, Membership.start_date.desc())).all()
    return [Seat(m, p, c) for m, p, c in rows]


@dataclass
class TermPlan:
    org: Organisation
    current: Term | None
    start_date: date
    continuing: list[Seat] = field(default_factory=list)
    ending: list[Seat] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def number(self) -> int:
        return (self.current.number if self.current else 0) + 1

    @property
    def ends_on(self) -> date:
        return self.start_date - timedelta(days=1)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def fingerprint(self) -> str:
        text = "|".join([str(self.org.id), str(self.current.id if self.current else 0), self.start_date.isoformat(),
                         ",".join(str(s.membership.id) for s in self.continuing),
                         ",".join(str(s.membership.id) for s in self.ending)])
        return hashlib.sha256(text.encode()).hexdigest()[:32]


def parse_start(raw: str | date | None) -> date:
    if isinstance(raw, date):
        return raw
    try:
        return date.fromisoformat((raw or "").strip())
    except ValueError:
        raise Invalid("请填写新一届的开始日期（如 2027-01-01）", code="bad_date",
                      errors={"start_date": "日期格式不正确"}) from None


def plan_change(session: Session, by: Principal, org: Organisation, *, start_date: date,
                keep_member_ids: Iterable[int] | None = None, keep_phones: Iterable[tuple[int, str]] | None = None,
                today: date | None = None) -> TermPlan:
    """What starting term number + 1 on ``start_date`` would do; nothing is written.

    Who continues: ``keep_member_ids`` (checkboxes; ids not in the current list are ignored — a
    stale page), or ``keep_phones`` ((row number, phone) pairs read from an uploaded list: a phone
    not in the current list is an error with its row), or everybody when neither is given.
    """
    if not by.can(session, org.id, *STAFF_ROLES):
        raise Forbidden(STAFF_ONLY, code="staff_only")
    today = today or today_cn()
    current = current_term(session, org.id)
    plan = TermPlan(org=org, current=current, start_date=start_date)
    seats = open_seats(session, org.id, start_date)
    if current is not None and start_date <= current.start_date:
        plan.errors.append(f"新一届的开始日期须晚于第{current.number}届的开始日期（{current.start_date.isoformat()}）")
    if start_date > today + timedelta(days=MAX_AHEAD_DAYS):
        plan.errors.append("新一届的开始日期不能晚于一年以后")
    late = [s for s in seats if s.membership.start_date >= start_date]
    if late:
        plan.errors.append(f"有 {len(late)} 名委员的任职开始日期不早于新一届的开始日期（如 {late[0].member.name}，"
                           f"{late[0].membership.start_date.isoformat()}），请改选更晚的开始日期")
    if keep_phones is not None:
        by_phone = {s.member.phone: s for s in seats}
        wanted: set[int] = set()
        for row, phone in keep_phones:
            seat = by_phone.get(phone)
            if seat is None:
                plan.errors.append(f"第 {row} 行：手机号 {phone} 不是本组织现任委员"
                                   "（新委员请在换届后通过「委员名单」导入）")
            else:
                wanted.add(seat.member.id)
    elif keep_member_ids is not None:
        wanted = set(keep_member_ids)
    else:
        wanted = {s.member.id for s in seats}
    plan.continuing = [s for s in seats if s.member.id in wanted]
    plan.ending = [s for s in seats if s.member.id not in wanted]
    return plan


def change_term(session: Session, by: Principal, plan: TermPlan, *, expected: str | None = None) -> Term:
    """Start the new term as planned, in one transaction (audited, 参与率 counters kept exact). Commits."""
    if not plan.ok:
        raise Invalid("；".join(plan.errors[:5]), code="term_invalid")
    if expected is not None and expected != plan.fingerprint:
        raise Conflict("委员名单或届次在确认之前有变化，请重新开始换届", code="term_stale")
    org, ends_on = plan.org, plan.ends_on
    seats = plan.continuing + plan.ending
    member_ids = sorted({s.member.id for s in seats})
    masks = rollup.member_masks(session, member_ids)
    if plan.current is not None and (plan.current.end_date is None or plan.current.end_date > ends_on):
        plan.current.end_date = ends_on
        session.add(plan.current)
    term = Term(org_id=org.id, number=plan.number, start_date=plan.start_date)
    session.add(term)
    session.flush()
    for s in seats:
        s.membership.end_date = ends_on
        session.add(s.membership)
    session.flush()
    carried: set[int] = set()
    for s in plan.continuing:  # one new seat per member, even with two open memberships
        m = s.membership
        if m.member_id in carried:
            continue
        carried.add(m.member_id)
        session.add(Membership(member_id=m.member_id, org_id=org.id, term_id=term.id, role=m.role, title=m.title,
                               committee_id=m.committee_id, start_date=plan.start_date))
    session.flush()
    rollup.members_changed(session, masks, member_ids)
    rollup.touch(session, [("org", org.id)])
    record(session, actor=by.actor, action="term.change", target_type="term", target_id=term.id, org_id=org.id,
           before={"term": plan.current.number if plan.current else None,
                   "start_date": plan.current.start_date if plan.current else None},
           after={"org": org.name, "term": term.number, "start_date": term.start_date,
                  "continuing": len(plan.continuing), "ending": len(plan.ending),
                  "ended": [s.member.name for s in plan.ending][:500]})
    session.commit()
    return term
