"""补位匹配 (matching members to gaps) and 带动 (bringing others along), issue 20 part 5.

**Which gaps.** A key county's task is *behind pace* when one of its indicators is behind on the county
board's own figures (``boards.county_board(...).own`` — the county 政协's progress against its targets,
``IndicatorFigure.behind``); nothing here re-derives pace.

**Who may be asked (the pool).** Members serving today in the county's 州市 (the prefecture and every county
in it) or in the province's own organisation, and of those only the ones inside the subtree of the office
that asks (``office_for``: the highest organisation the caller holds a staff grant on that contains the
county — or, for a reader such as a 领导 or a records-level API token, a read grant; readers see the list
but only staff invite). So the province's office sees its own members and the whole prefecture; a 州市
office its prefecture; a county office its own members. Members of other prefectures are left out: they are far away,
and their own 州市 office, not this one, organises and follows them up.

**The score** — explained components, each shown on the page (weights in ``WEIGHTS``):

- 做过该实事: 10 points per verified activity on the task (any place, any time) in which the member is a
  confirmed participant (the recorder who took part is one), at most 3 counted;
- 到过该县 / 到过本州市: 20 when one of their verified activities (any task) was in this county, else 10 when
  one was in another county of its prefecture;
- 界别相关, 专委会相关, 行业相关: 15 / 10 / 15 when the member's 界别, current 专委会's name or 行业 contains a
  keyword of the task in ``app/data/matching.json`` (catalogue data, keyed by the task's short name — a
  fixed, readable table rather than "whose peers did it most", so the office can see and correct why a
  member is suggested, and it works for a county with no history yet). A task the file does not list
  scores none of these three.

Members already active in the county on the task this period — a confirmed participant of a verified or
pending activity there on the task dated in the period — are left out: they are already helping. Members
with a score of 0 are not listed.

**Invitations.** ``invite`` writes one ``match_invitation`` row per chosen member (channel ``inapp`` =
站内消息, ``sms`` = 站内消息 and SMS, ``list`` = exported as a workbook, no notice), once per (author,
submission key), audited ``match.invite``; notices go through ``notify.notify`` as kind ``reminder`` (so a
member who opted out of reminders is skipped, and quiet hours and the daily SMS cap hold as for reminder
campaigns). A batch is the rows of one submission, named by its smallest id.

**Joins.** An invited member *joined* when they are a confirmed participant of a verified activity on the
invitation's task in its county dated on or after the invitation's Beijing day.

**带动.** For an organisation subtree and a period: a verified activity credited inside the subtree, dated
in the period, recorded by a member who is one of its confirmed participants, *brings* each other confirmed
participant for whom it is their first ever verified activity (the earliest by date, then by id, among all
verified activities where they are a confirmed participant). The recorder is the one who brought them; a
member is counted once per person brought, and the total is the number of people brought (each person has
exactly one first activity, so the per-member counts add up to it). Activities recorded by staff on
behalf of members (代录 by an account without a member) bring no one.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from pathlib import Path

from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session

from app import submissions
from app.audit.service import record as audit
from app.auth.principal import READ_ROLES, STAFF_ROLES, Principal, org_for_read, org_for_staff
from app.boards import service as boards
from app.boards.periods import Period
from app.clock import now_utc, to_cn, today_cn
from app.errors import Invalid, NotFound
from app.models import (
    Activity,
    ActivityParticipant,
    ActivityStatus,
    Committee,
    Member,
    Membership,
    Organisation,
    ParticipantStatus,
    Task,
    UserAccount,
)
from app.models.exemplars import MatchInvitation
from app.models.orgs import OrgLevel
from app.models.people import serving_on
from app.notify.service import Recipient, notify
from app.orgs.service import ancestors, is_within, subtree_ids

KEYWORDS_FILE = Path(__file__).resolve().parent.parent / "data" / "matching.json"
WEIGHTS = {"done": 10, "done_cap": 3, "county": 20, "prefecture": 10, "sector": 15, "committee": 10, "industry": 15}
CHANNELS = {"inapp": "站内消息", "sms": "站内消息和短信", "list": "导出名单"}
MAX_INVITE = 200  # members in one invitation
VERIFIED = ActivityStatus.verified.value
CONFIRMED = ParticipantStatus.confirmed.value


# --- what the catalogue says about a task -------------------------------------------------------

@dataclass(frozen=True)
class Keywords:
    sectors: tuple[str, ...] = ()
    committees: tuple[str, ...] = ()
    industries: tuple[str, ...] = ()


@cache
def _keyword_table() -> dict[str, Keywords]:
    data = json.loads(KEYWORDS_FILE.read_text(encoding="utf-8"))
    return {name: Keywords(tuple(k.get("sectors", ())), tuple(k.get("committees", ())), tuple(k.get("industries", ())))
            for name, k in data["tasks"].items()}


def keywords_for(task: Task) -> Keywords:
    """The task's keywords (by short name, then full name); none for a task the file does not list."""
    table = _keyword_table()
    return table.get(task.short_name) or table.get(task.name) or Keywords()


def _hit(text: str | None, words: tuple[str, ...]) -> str | None:
    """The first keyword found in ``text`` (None when none is)."""
    if not text:
        return None
    return next((w for w in words if w and w in text), None)


# --- the gap and who may fill it ----------------------------------------------------------------

def office_for(session: Session, by: Principal, county: Organisation, *, act: bool) -> Organisation:
    """The highest organisation over ``county`` the caller holds a staff grant on (``act``) or reads
    (404 outside what they read; 403 when acting on what they only read)."""
    (org_for_staff if act else org_for_read)(session, by, county.id)
    mine = [o for o in by.grant_orgs(session, *(STAFF_ROLES if act else READ_ROLES))
            if is_within(session, county.id, o.id)]
    return min(mine, key=lambda o: (len(o.code.rstrip("0")), o.code))


def pool_orgs(session: Session, office: Organisation, county: Organisation) -> list[int]:
    """Organisations whose serving members may be asked: the county's prefecture subtree and the province
    itself, inside ``office``'s subtree."""
    chain = ancestors(session, county.id)  # root first
    province = chain[0] if chain else county
    prefecture = next((o for o in chain if o.level == OrgLevel.prefecture), None)
    wanted = set(session.scalars(subtree_ids(prefecture.id))) if prefecture else {county.id}
    wanted.add(province.id)
    inside = set(session.scalars(subtree_ids(office.id)))
    return sorted(wanted & inside)


@dataclass
class Gap:
    county: Organisation
    office: Organisation
    task: Task
    period: Period
    behind: list[boards.IndicatorFigure]  # the task's indicators behind pace on the county's own figures
    figures: list[boards.IndicatorFigure]
    keywords: Keywords
    prefecture: Organisation | None
    may_invite: bool  # the caller is staff over the county (the pool is then their staff subtree's)


def gap(session: Session, by: Principal, county: Organisation, task_id: int, period: Period, *,
        act: bool | None = None) -> Gap:
    """The key county's task as its board shows it (404 outside what the caller reads, not a key county, or
    a task the county does not work with). ``act``: as staff (403 for a reader); None: staff when they are."""
    if act is None:
        org_for_read(session, by, county.id)
        act = by.can(session, county.id, *STAFF_ROLES)
    office = office_for(session, by, county, act=act)
    board = boards.county_board(session, county, period)
    own = board.own.tasks if board.own else []
    figures = next((t for t in own if t.task.id == task_id), None)
    task = session.get(Task, task_id)
    if figures is None or task is None:
        raise NotFound("该县没有这项实事", code="task_not_found")
    chain = ancestors(session, county.id)
    return Gap(county, office, task, period, [f for f in figures.indicators if f.behind], figures.indicators,
               keywords_for(task), next((o for o in chain if o.level == OrgLevel.prefecture), None), act)


# --- ranking --------------------------------------------------------------------------------------

@dataclass
class Component:
    key: str
    label: str
    points: int
    why: str


@dataclass
class Candidate:
    member_id: int
    name: str
    org_name: str
    sector: str
    committee: str | None
    industry: str | None
    components: list[Component] = field(default_factory=list)
    invited_on: date | None = None  # the last invitation to this county and task

    @property
    def score(self) -> int:
        return sum(c.points for c in self.components)


def candidates(session: Session, g: Gap, *, today: date | None = None) -> list[Candidate]:
    """Every member of the pool with a score above 0, best first (then more activities on the task, then name).

    The pool is read first and every other query is driven by the activities (task, county, prefecture),
    filtered to the pool here: a pool of thousands as an ``IN (subquery)`` makes SQLite probe the
    participants' key once per pool member and activity (0.7 s on the demo against 9 ms)."""
    today = today or today_cn()
    orgs = pool_orgs(session, g.office, g.county)
    seats: dict[int, Candidate] = {}
    for r in session.execute(
            select(Member.id, Member.name, Member.sector, Member.industry, Organisation.name.label("org"),
                   Committee.name.label("committee"))
            .join(Membership, Membership.member_id == Member.id)
            .join(Organisation, Organisation.id == Membership.org_id)
            .outerjoin(Committee, Committee.id == Membership.committee_id)
            .where(Membership.org_id.in_(orgs), serving_on(today))
            .order_by(Member.id, Membership.start_date.desc())):
        seats.setdefault(r.id, Candidate(r.id, r.name, r.org, r.sector, r.committee, r.industry))  # the latest seat
    P, A = ActivityParticipant, Activity
    # Already active here on this task this period: left out.
    busy = set(session.scalars(select(P.member_id).join(A, A.id == P.activity_id).where(
        A.county_id == g.county.id, A.task_id == g.task.id, A.status.in_((VERIFIED, ActivityStatus.pending.value)),
        A.occurred_on >= g.period.start, A.occurred_on <= g.period.end, P.status == CONFIRMED)))
    done = {m: n for m, n in session.execute(
        select(P.member_id, func.count(func.distinct(A.id))).select_from(A).join(P, P.activity_id == A.id)
        .where(A.task_id == g.task.id, A.status == VERIFIED, P.status == CONFIRMED).group_by(P.member_id))
        if m in seats}
    near = g.prefecture.id if g.prefecture else g.county.id
    places: dict[int, set[int]] = defaultdict(set)
    for member_id, where in session.execute(
            select(P.member_id, A.county_id).select_from(A).join(P, P.activity_id == A.id)
            .where(A.county_id.in_(subtree_ids(near)), A.status == VERIFIED, P.status == CONFIRMED).distinct()):
        if member_id in seats:
            places[member_id].add(where)
    last_invited = dict(session.execute(
        select(MatchInvitation.member_id, func.max(MatchInvitation.created_at))
        .where(MatchInvitation.county_id == g.county.id, MatchInvitation.task_id == g.task.id)
        .group_by(MatchInvitation.member_id)).all())
    kw, w = g.keywords, WEIGHTS
    out: list[Candidate] = []
    for c in seats.values():
        if c.member_id in busy:
            continue
        n = done.get(c.member_id, 0)
        if n:
            c.components.append(Component("done", "做过该实事", w["done"] * min(n, w["done_cap"]),
                                          f"参与该实事的已审核活动 {n} 次"))
        been = places.get(c.member_id, set())
        if g.county.id in been:
            c.components.append(Component("place", "到过该县", w["county"], f"在{g.county.name}开展过已审核活动"))
        elif been and g.prefecture is not None:
            c.components.append(Component("place", "到过本州市", w["prefecture"],
                                          f"在{g.prefecture.name}其他县开展过已审核活动"))
        for key, label, text, words in (("sector", "界别相关", c.sector, kw.sectors),
                                        ("committee", "专委会相关", c.committee, kw.committees),
                                        ("industry", "行业相关", c.industry, kw.industries)):
            word = _hit(text, words)
            if word:
                c.components.append(Component(key, label, w[key], f"{text}（含「{word}」）"))
        if c.components:
            at = last_invited.get(c.member_id)
            c.invited_on = _day(at) if at else None
            out.append(c)
    return sorted(out, key=lambda c: (-c.score, -done.get(c.member_id, 0), c.name, c.member_id))


# --- invitations ----------------------------------------------------------------------------------

@dataclass
class Batch:
    id: int  # the batch's smallest invitation id
    org_name: str
    county_id: int
    county_name: str
    task_id: int
    task_name: str
    channel: str
    note: str
    created_at: datetime
    day: date  # the Beijing day of the invitation: joins count from it
    created_by: str
    members: list[tuple[int, str, bool]]  # (member id, name, joined)

    @property
    def invited(self) -> int:
        return len(self.members)

    @property
    def joined(self) -> int:
        return sum(1 for *_, j in self.members if j)

    @property
    def rate(self) -> float | None:
        return self.joined / self.invited if self.invited else None

    @property
    def channel_label(self) -> str:
        return CHANNELS.get(self.channel, self.channel)


def invite(session: Session, *, by: Principal, g: Gap, member_ids: list[int], channel: str, note: str,
           submission_key: str, today: date | None = None) -> tuple[int, bool]:
    """Invite members of the gap's pool: (batch id, created?). Once per (author, submission key); audited;
    notices in this transaction; commits."""
    if not g.may_invite:
        org_for_staff(session, by, g.county.id)  # 403: a reader's gap
    key = submissions.submission_key(by, submission_key)
    found = submissions.made_by(session, MatchInvitation, by, key)
    if found is not None:
        return _batch_id(session, by, key), False
    errors: dict[str, str] = {}
    if channel not in CHANNELS:
        errors["channel"] = "请选择邀请方式"
    chosen = sorted(set(member_ids))
    if not chosen:
        errors["member_ids"] = "请至少选择一名委员"
    elif len(chosen) > MAX_INVITE:
        errors["member_ids"] = f"一次最多邀请 {MAX_INVITE} 名委员"
    note = (note or "").strip()
    if len(note) > 200:
        errors["note"] = "附言不能超过 200 个字"
    if errors:
        raise Invalid(next(iter(errors.values())), code="invitation_invalid", errors=errors)
    today = today or today_cn()
    orgs = pool_orgs(session, g.office, g.county)
    allowed = set(session.scalars(select(Membership.member_id).where(
        Membership.member_id.in_(chosen), Membership.org_id.in_(orgs), serving_on(today))))
    if set(chosen) - allowed:
        raise Invalid("所选委员不在可邀请的范围内", code="invitation_invalid",
                      errors={"member_ids": "所选委员须为本州市或省政协的在任委员，且在您的管辖范围内"})
    now = now_utc()
    rows = [MatchInvitation(org_id=g.office.id, county_id=g.county.id, task_id=g.task.id, member_id=m,
                            channel=channel, note=note, created_by_user_id=by.user_id, created_at=now,
                            submission_key=key) for m in chosen]
    session.add_all(rows)
    try:
        session.flush()
    except IntegrityError:  # the same submission racing itself: its twin's rows stand
        session.rollback()
        return _batch_id(session, by, key), False
    audit(session, actor=by.actor, action="match.invite", target_type="match_invitation", target_id=rows[0].id,
          org_id=g.office.id, after={"county": g.county.code, "task_id": g.task.id, "channel": channel,
                                     "members": chosen, "note": note})
    if channel != "list":
        people = {m.id: m for m in session.scalars(select(Member).where(Member.id.in_(chosen)))}
        users = dict(session.execute(select(UserAccount.member_id, UserAccount.id)
                                     .where(UserAccount.member_id.in_(chosen), UserAccount.is_active.is_(True))).all())
        channels = ("inapp", "sms") if channel == "sms" else ("inapp",)
        for row in rows:
            m = people[row.member_id]
            notify(session, kind="reminder", event_key=f"match:{row.id}", template="match_invitation",
                   params={"name": m.name, "org": g.office.name, "county": g.county.name, "task": g.task.short_name},
                   to=Recipient(user_id=users.get(m.id), member_id=m.id, phone=m.phone), channels=channels,
                   link="/activities/new")
    session.commit()
    return rows[0].id, True


def _day(at: datetime) -> date:
    """The Beijing day of a moment."""
    local = to_cn(at)
    assert local is not None
    return local.date()


def _batch_id(session: Session, by: Principal, key: str) -> int:
    found = session.scalar(select(func.min(MatchInvitation.id)).where(
        MatchInvitation.created_by_user_id == by.user_id, MatchInvitation.submission_key == key))
    assert found is not None  # called once the submission's rows are known to exist
    return int(found)


def _batches(session: Session, rows: list[MatchInvitation]) -> list[Batch]:
    """Rows grouped by submission, with each member's join read in one query."""
    if not rows:
        return []
    names = dict(session.execute(select(Member.id, Member.name).where(
        Member.id.in_({r.member_id for r in rows}))).all())
    orgs = dict(session.execute(select(Organisation.id, Organisation.name).where(
        Organisation.id.in_({r.org_id for r in rows} | {r.county_id for r in rows}))).all())
    tasks = dict(session.execute(select(Task.id, Task.short_name).where(Task.id.in_({r.task_id for r in rows}))).all())
    users = dict(session.execute(select(UserAccount.id, UserAccount.display_name).where(
        UserAccount.id.in_({r.created_by_user_id for r in rows}))).all())
    last = _last_joined(session, rows)
    grouped: dict[tuple[int, str], list[MatchInvitation]] = defaultdict(list)
    for r in rows:
        grouped[(r.created_by_user_id, r.submission_key)].append(r)
    out = []
    for group in grouped.values():
        first = min(group, key=lambda r: r.id)
        day = _day(first.created_at)
        members = [(r.member_id, names.get(r.member_id, ""),
                    (on := last.get((r.member_id, r.county_id, r.task_id))) is not None and on >= day)
                   for r in sorted(group, key=lambda r: r.id)]
        out.append(Batch(first.id, orgs.get(first.org_id, ""), first.county_id, orgs.get(first.county_id, ""),
                         first.task_id, tasks.get(first.task_id, ""), first.channel, first.note, first.created_at,
                         day, users.get(first.created_by_user_id, ""), members))
    return sorted(out, key=lambda b: -b.id)


def _last_joined(session: Session, rows: list[MatchInvitation]) -> dict[tuple[int, int, int], date]:
    """(member, county, task) → the latest day of a verified activity there on that task they took part in."""
    P, A = ActivityParticipant, Activity
    out: dict[tuple[int, int, int], date] = {}
    pairs = {(r.county_id, r.task_id) for r in rows}
    for county_id, task_id in pairs:
        ids = sorted({r.member_id for r in rows if (r.county_id, r.task_id) == (county_id, task_id)})
        for start in range(0, len(ids), 2000):
            for m, on in session.execute(
                    select(P.member_id, func.max(A.occurred_on)).join(A, A.id == P.activity_id)
                    .where(A.county_id == county_id, A.task_id == task_id, A.status == VERIFIED,
                           P.status == CONFIRMED, P.member_id.in_(ids[start:start + 2000])).group_by(P.member_id)):
                out[(m, county_id, task_id)] = on
    return out


def batches_for(session: Session, by: Principal, g: Gap, *, limit: int = 50) -> list[Batch]:
    """The invitations to this county and task made by offices inside the subtrees the caller reads, newest
    batch first (a county and task gather a few batches a year: read whole)."""
    rows = list(session.scalars(select(MatchInvitation).where(
        MatchInvitation.county_id == g.county.id, MatchInvitation.task_id == g.task.id,
        MatchInvitation.org_id.in_(by.scope(*READ_ROLES)))))
    return _batches(session, rows)[:limit]


def batch_for(session: Session, by: Principal, batch_id: int) -> Batch:
    """One batch, for staff over its county (404 otherwise, its existence not revealed)."""
    first = session.get(MatchInvitation, batch_id)
    if first is None or not by.can(session, first.county_id, *STAFF_ROLES) \
            or not by.can(session, first.org_id, *STAFF_ROLES):
        raise NotFound("找不到该邀请，或不在您的管辖范围内", code="not_found")
    rows = list(session.scalars(select(MatchInvitation).where(
        MatchInvitation.created_by_user_id == first.created_by_user_id,
        MatchInvitation.submission_key == first.submission_key)))
    batch = _batches(session, rows)[0]
    if batch.id != batch_id:
        raise NotFound("找不到该邀请，或不在您的管辖范围内", code="not_found")
    return batch


def member_phones(session: Session, member_ids: list[int]) -> dict[int, str]:
    """Phones for the exported list (staff over the batch only: ``batch_for`` first)."""
    return dict(session.execute(select(Member.id, Member.phone).where(Member.id.in_(member_ids))).all())


# --- 带动 -----------------------------------------------------------------------------------------

@dataclass
class Bringer:
    member_id: int
    name: str
    brought: int
    newcomers: list[str]


@dataclass
class BringReport:
    org: Organisation
    period: Period
    members: list[Bringer]

    @property
    def total(self) -> int:
        return sum(b.brought for b in self.members)


def brought_pairs(session: Session, org: Organisation, period: Period) -> set[tuple[int, int]]:
    """(bringer member, newcomer member) pairs of 带动 (see the module's docstring).

    Two reads: the joint activities of the subtree and period with (recorder, other participant), then
    every verified participation of those participants, whose earliest (date, id) is their first. A
    correlated NOT EXISTS per pair took a minute on the demo province."""
    A = Activity
    rec, new = aliased(ActivityParticipant), aliased(ActivityParticipant)
    joint = session.execute(
        select(A.id, A.occurred_on, UserAccount.member_id, new.member_id).select_from(A)
        .join(UserAccount, UserAccount.id == A.recorder_user_id)
        .join(rec, and_(rec.activity_id == A.id, rec.member_id == UserAccount.member_id, rec.status == CONFIRMED))
        .join(new, and_(new.activity_id == A.id, new.status == CONFIRMED, new.member_id != rec.member_id))
        .where(A.status == VERIFIED, A.credited_org_id.in_(subtree_ids(org.id)),
               A.occurred_on >= period.start, A.occurred_on <= period.end)).all()
    first = first_activities(session, sorted({n for *_, n in joint}))
    return {(int(b), int(n)) for aid, on, b, n in joint if first.get(n) == (on, aid)}


def first_activities(session: Session, member_ids: list[int]) -> dict[int, tuple[date, int]]:
    """Each member's first verified activity as a confirmed participant: (date, activity id), the earliest."""
    P, A = ActivityParticipant, Activity
    out: dict[int, tuple[date, int]] = {}
    for start in range(0, len(member_ids), 2000):
        # The status is compared here, not in SQL: a condition on activity.status lets SQLite walk the
        # verified activities and probe each against the 2,000 members (25 s on the demo, not 0.1 s).
        for m, on, aid, status in session.execute(
                select(P.member_id, A.occurred_on, A.id, A.status).join(A, A.id == P.activity_id)
                .where(P.member_id.in_(member_ids[start:start + 2000]), P.status == CONFIRMED)):
            if status == VERIFIED and (m not in out or (on, aid) < out[m]):
                out[m] = (on, aid)
    return out


def bringing(session: Session, org: Organisation, period: Period) -> BringReport:
    """带动 of ``org``'s subtree in ``period``: per member, the people they brought; most first."""
    pairs = brought_pairs(session, org, period)
    ids = {b for b, _ in pairs} | {n for _, n in pairs}
    names = dict(session.execute(select(Member.id, Member.name).where(Member.id.in_(ids))).all()) if ids else {}
    by_member: dict[int, list[int]] = defaultdict(list)
    for b, n in pairs:
        by_member[b].append(n)
    rows = [Bringer(b, names.get(b, ""), len(ns), sorted(names.get(n, "") for n in ns)) for b, ns in by_member.items()]
    return BringReport(org, period, sorted(rows, key=lambda r: (-r.brought, r.name, r.member_id)))
