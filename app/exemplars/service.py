"""典型 chosen on evidence (issue 20, part 3): who stands out, who is nominated, who is selected.

**Candidates** (:func:`candidates`): the members serving in an organisation's subtree during a period,
ranked by a score that weighs verified evidence, not the raw count. Each component counts verified
activities (``status = verified``) dated in the period that the member took part in (confirmed):

- 成效活动: those carrying an outcome figure (an ``activity_value`` > 0 of an indicator with
  ``is_outcome``, catalogue data) — × :data:`OUTCOME_WEIGHT`;
- 到过的县: distinct places (``county_id``) — × :data:`COUNTY_WEIGHT`;
- 参与的实事: distinct tasks — × :data:`TASK_WEIGHT`;
- 牵头联合活动: activities they recorded with at least one other confirmed participant — × :data:`JOINT_WEIGHT`;
- 带动新人: 补位匹配's 带动 (app/matching/service.py ``brought_pairs``): members whose first verified
  activity ever was a joint one the member recorded and took part in, credited in the subtree and dated in
  the period — × :data:`NEWCOMER_WEIGHT`;
- 已审核活动: the raw count, × :data:`ACTIVITY_WEIGHT` but at most :data:`ACTIVITY_CAP` of them, so it
  cannot dominate.

**Nominations** (推荐): staff of an organisation (or above it — the one office rule, ``org_for_staff``)
nominate a member serving in its subtree for a year, with a citation (推荐事迹) drafted from the
member's verified activities and edited before sending. Staff of the root, or of an organisation
strictly above the nominating one, decide: select (选树 — a 典型) or return (退回, with a reason). A
returned or withdrawn nomination is edited and sent again; the nominating office withdraws one before
a decision. Every write is audited (``exemplar.*``), the creation is once per submission key, every
change names the ``version`` it read (409 otherwise). A nomination is read by whoever reads the
nominating organisation (404 otherwise); acting without the right is 403.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Select, case, distinct, func, literal_column, select
from sqlmodel import Session

from app import submissions
from app.activities.scope import visible_to
from app.audit.service import record as audit
from app.auth.principal import READ_ROLES, STAFF_ROLES, Principal, org_for_staff
from app.boards.periods import Period, span
from app.clock import now_utc, today_cn
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.matching.service import brought_pairs
from app.models import (
    Activity,
    ActivityParticipant,
    ActivityPhoto,
    ActivityStatus,
    ActivityValue,
    ExemplarNomination,
    Indicator,
    Member,
    Membership,
    NominationStatus,
    Organisation,
    ParticipantStatus,
    Task,
    UserAccount,
)
from app.models.people import serving_during
from app.orgs.service import ancestor_ids, root, subtree_ids
from app.reports.narrative import amount

# --- the score: explicit weights ---------------------------------------------------------------------

OUTCOME_WEIGHT = 5  # per verified activity with an outcome figure (成效)
COUNTY_WEIGHT = 3  # per distinct county (到过的县)
TASK_WEIGHT = 3  # per distinct 实事
JOINT_WEIGHT = 4  # per joint activity the member recorded (牵头联合活动)
NEWCOMER_WEIGHT = 5  # per member brought to their first verified activity (带动新人)
ACTIVITY_WEIGHT = 1  # per verified activity …
ACTIVITY_CAP = 10  # … counted up to this many: the raw count adds at most 10 points

COMPONENTS = (  # (attribute, label, weight, unit) in the order the page shows them
    ("outcome_activities", "成效活动", OUTCOME_WEIGHT, "次"),
    ("counties", "到过的县", COUNTY_WEIGHT, "个"),
    ("tasks", "参与的实事", TASK_WEIGHT, "项"),
    ("joint_led", "牵头联合活动", JOINT_WEIGHT, "次"),
    ("newcomers", "带动新人", NEWCOMER_WEIGHT, "名"),
    ("activities", "已审核活动", ACTIVITY_WEIGHT, "次"),
)

SCORE_EXPLAINED = (
    f"得分按已审核的证据计算，不看活动次数的多少：每次填报了成效（受益群众、带动就业、带动增收等成效指标）的已审核活动"
    f"计 {OUTCOME_WEIGHT} 分；每到过一个县（市、区）计 {COUNTY_WEIGHT} 分；每参与一项实事计 {TASK_WEIGHT} 分；"
    f"本人记录、有其他委员一同参加的联合活动每次计 {JOINT_WEIGHT} 分；本人记录的活动中，"
    f"每带动一名委员第一次参加已审核活动计 {NEWCOMER_WEIGHT} 分；已审核活动每次计 {ACTIVITY_WEIGHT} 分，"
    f"最多计 {ACTIVITY_CAP} 次（{ACTIVITY_CAP * ACTIVITY_WEIGHT} 分），次数多不等于分数高。"
    "只统计所选年度内、本组织及下级在任委员作为确认参加人的已审核活动。")

CITATION_MAX = 2000
NOTE_MAX = 500
CANDIDATES_PER_PAGE = 30
STATUS_LABELS = {"nominated": "待审定", "selected": "已选树", "returned": "已退回", "withdrawn": "已撤回"}
TITLE = "典型"
MEMBER_NOT_FOUND = "找不到该委员，或不在本组织及下级的在任委员中"
NOMINATION_NOT_FOUND = "找不到该推荐，或不在您的管辖范围内"


def year_period(year: int) -> Period:
    return span(year, 1, 12)


def check_year(year: int) -> int:
    """A nomination's year: this year or one of the five before (Invalid otherwise)."""
    this = today_cn().year
    if not this - 5 <= year <= this:
        raise Invalid(f"年度应在 {this - 5} 至 {this} 年之间", code="bad_year", errors={"year": "请选择年度"})
    return year


# --- candidates --------------------------------------------------------------------------------------

@dataclass
class Candidate:
    member_id: int
    name: str = ""
    sector: str = ""
    org_name: str = ""
    activities: int = 0
    outcome_activities: int = 0
    counties: int = 0
    tasks: int = 0
    joint_led: int = 0
    newcomers: int = 0
    outcomes: list[tuple[str, str]] = field(default_factory=list)  # (成效指标, its total as text with unit)

    @property
    def parts(self) -> list[tuple[str, int, int, str, int]]:
        """(label, count, weight, unit, points) per component (the raw count capped)."""
        out = []
        for attr, label, weight, unit in COMPONENTS:
            n = getattr(self, attr)
            counted = min(n, ACTIVITY_CAP) if attr == "activities" else n
            out.append((label, n, weight, unit, counted * weight))
        return out

    @property
    def score(self) -> int:
        return sum(p[4] for p in self.parts)


def _serving(org: Organisation, period: Period) -> Select:
    return select(Membership.member_id).where(Membership.org_id.in_(subtree_ids(org.id)),
                                              serving_during(period.start, period.end))


def _took_part(period: Period, *, few: list[int] | None = None) -> Select:
    """(member, activity) of confirmed participants of verified activities dated in the period; ``few``:
    only these members, read through the participants' member index (``coalesce(x, x)``, on either
    backend: the activity's status and date indexes are not offered, or SQLite walks the whole period
    testing each row against the list)."""
    def col(c):  # noqa: ANN001, ANN202 - a column of activity
        return func.coalesce(c, c) if few is not None else c

    stmt = (select(ActivityParticipant.member_id, Activity.id, Activity.county_id, Activity.task_id)
            .join(Activity, Activity.id == ActivityParticipant.activity_id)
            .where(ActivityParticipant.status == ParticipantStatus.confirmed.value,
                   col(Activity.status) == ActivityStatus.verified.value,
                   col(Activity.occurred_on) >= period.start, col(Activity.occurred_on) <= period.end))
    return stmt if few is None else stmt.where(ActivityParticipant.member_id.in_(few))


def _joint_led(session: Session, period: Period, serving: Select) -> dict[int, int]:
    joint = (select(ActivityParticipant.activity_id)
             .where(ActivityParticipant.status == ParticipantStatus.confirmed.value)
             .group_by(ActivityParticipant.activity_id).having(func.count() > 1))
    stmt = (select(UserAccount.member_id, func.count(Activity.id))
            .join(UserAccount, UserAccount.id == Activity.recorder_user_id)
            .where(Activity.status == ActivityStatus.verified.value, Activity.occurred_on >= period.start,
                   Activity.occurred_on <= period.end, Activity.id.in_(joint),
                   UserAccount.member_id.in_(serving))
            .group_by(UserAccount.member_id))
    return {int(m): int(n) for m, n in session.execute(stmt)}


def _outcome_activity_ids() -> Select:
    return (select(ActivityValue.activity_id).join(Indicator, Indicator.id == ActivityValue.indicator_id)
            .where(Indicator.is_outcome.is_(True), ActivityValue.value > 0))


def ranked(session: Session, org: Organisation, period: Period, *, only: list[int] | None = None) -> list[Candidate]:
    """Every member of ``org``'s subtree with evidence in ``period``, best first (not described);
    ``only``: just these members' figures (a 典型's page, the report's 典型) from the same queries."""
    serving = _serving(org, period)
    if only is not None:
        serving = serving.where(Membership.member_id.in_(only))
    # ``+member_id``: no index serves the test, so SQLite walks the period's activities and tests each
    # participant against the serving set once — instead of probing every activity's key for each of a
    # province's 30,000 members (minutes, not a second).
    took = (_took_part(period, few=only) if only is not None else _took_part(period)).where(
        literal_column("+activity_participant.member_id").in_(serving)).subquery()
    found: dict[int, Candidate] = {}
    with_outcome = case((took.c.id.in_(_outcome_activity_ids()), took.c.id))  # NULL otherwise: not counted
    for m, n, outcome, counties, tasks in session.execute(
            select(took.c.member_id, func.count(distinct(took.c.id)), func.count(distinct(with_outcome)),
                   func.count(distinct(took.c.county_id)), func.count(distinct(took.c.task_id)))
            .group_by(took.c.member_id)):
        found[m] = Candidate(int(m), activities=int(n), outcome_activities=int(outcome), counties=int(counties),
                             tasks=int(tasks))
    for m, n in _joint_led(session, period, serving).items():
        found.setdefault(m, Candidate(m)).joint_led = n
    # 带动 is 补位匹配's rule (app/matching/service.py ``brought_pairs``), so the two pages agree.
    brought = Counter(b for b, _ in brought_pairs(session, org, period))
    if brought:
        for m in session.scalars(select(Membership.member_id).where(Membership.member_id.in_(list(brought)),
                                                                    Membership.member_id.in_(serving))):
            found.setdefault(m, Candidate(m)).newcomers = brought[m]
    return sorted(found.values(), key=lambda c: (-c.score, -c.activities, c.member_id))


def describe(session: Session, org: Organisation, period: Period, shown: list[Candidate]) -> None:
    """Names, 界别, the seat's organisation (in the subtree) and outcome totals of the candidates shown."""
    ids = [c.member_id for c in shown]
    if not ids:
        return
    by_id = {c.member_id: c for c in shown}
    _describe_seats(session, org, by_id)
    totals = outcome_totals(session, ids, period)
    for m, items in totals.items():
        by_id[m].outcomes = items


def _describe_seats(session: Session, org: Organisation, by_id: dict[int, Candidate]) -> None:
    for r in session.execute(
            select(Member.id, Member.name, Member.sector, Organisation.name.label("org"))
            .join(Membership, Membership.member_id == Member.id)
            .join(Organisation, Organisation.id == Membership.org_id)
            .where(Member.id.in_(list(by_id)), Membership.org_id.in_(subtree_ids(org.id)))
            .order_by(Member.id, Membership.start_date.desc())):
        c = by_id[r.id]
        if not c.name:
            c.name, c.sector, c.org_name = r.name, r.sector, r.org


def outcome_totals(session: Session, member_ids: list[int], period: Period,
                   activity_ids: Select | None = None) -> dict[int, list[tuple[str, str]]]:
    """Per member, each outcome indicator's total over their verified activities in the period
    (「受益群众」, 「1,200人」) — by name and unit, summed across tasks."""
    took = _took_part(period, few=member_ids)
    if activity_ids is not None:
        took = took.where(Activity.id.in_(activity_ids))
    t = took.subquery()
    rows = session.execute(
        select(t.c.member_id, Indicator.name, Indicator.unit, Indicator.kind, func.sum(ActivityValue.value))
        .select_from(t).join(ActivityValue, ActivityValue.activity_id == t.c.id)
        .join(Indicator, Indicator.id == ActivityValue.indicator_id)
        .where(Indicator.is_outcome.is_(True))
        .group_by(t.c.member_id, Indicator.name, Indicator.unit, Indicator.kind)
        .order_by(t.c.member_id, Indicator.name))
    out: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for m, name, unit, kind, total in rows:
        if total:
            out[int(m)].append((name, f"{_grouped(amount(kind, int(total)))}{unit}"))
    return dict(out)


def _grouped(text: str) -> str:
    whole, dot, fraction = text.partition(".")
    return f"{int(whole.replace(',', '')):,}{dot}{fraction}"


def evidence_text(c: Candidate) -> str:
    """The components in a phrase for the report: 「成效活动1次，到过的县3个，…」 and the outcomes."""
    parts = [f"{label}{n:,}{unit}" for label, n, _w, unit, _p in c.parts if n]
    if c.outcomes:
        parts.append("成效：" + "、".join(f"{name}{total}" for name, total in c.outcomes))
    return "，".join(parts)


def candidates(session: Session, org: Organisation, period: Period, *, page: int = 1,
               per_page: int = CANDIDATES_PER_PAGE) -> tuple[list[Candidate], int]:
    """The ranked candidates of ``org``'s subtree (``org`` from the caller's read loader) for
    ``period``: one page of them, described, and how many there are."""
    found = ranked(session, org, period)
    shown = found[(page - 1) * per_page: page * per_page]
    describe(session, org, period, shown)
    return shown, len(found)


# --- a member's verified activities (the citation, the 典型's page, the .docx, the zip) ------------

@dataclass
class EvidenceActivity:
    id: int
    occurred_on: date
    task: str
    county: str
    description: str
    figures: list[str]  # 「培训农户 12人次」
    photo_ids: list[int]


def evidence(session: Session, by: Principal, member_id: int, period: Period) -> list[EvidenceActivity]:
    """The member's verified activities in ``period`` (confirmed participant) that ``by`` reads, oldest first."""
    county = Organisation.__table__.alias("county")
    rows = session.execute(
        select(Activity.id, Activity.occurred_on, Task.short_name, county.c.name, Activity.description)
        .join(ActivityParticipant, ActivityParticipant.activity_id == Activity.id)
        .join(Task, Task.id == Activity.task_id).join(county, county.c.id == Activity.county_id)
        .where(ActivityParticipant.member_id == member_id,
               ActivityParticipant.status == ParticipantStatus.confirmed.value,
               Activity.status == ActivityStatus.verified.value,
               Activity.occurred_on >= period.start, Activity.occurred_on <= period.end, visible_to(by))
        .order_by(Activity.occurred_on, Activity.id)).all()
    acts = {r[0]: EvidenceActivity(r[0], r[1], r[2], r[3], r[4] or "", [], []) for r in rows}
    if not acts:
        return []
    for aid, name, unit, kind, value in session.execute(
            select(ActivityValue.activity_id, Indicator.name, Indicator.unit, Indicator.kind, ActivityValue.value)
            .join(Indicator, Indicator.id == ActivityValue.indicator_id)
            .where(ActivityValue.activity_id.in_(list(acts)))
            .order_by(ActivityValue.activity_id, Indicator.sort_order, Indicator.id)):
        if value:
            acts[aid].figures.append(f"{name} {_grouped(amount(kind, int(value)))}{unit}")
    for aid, pid in session.execute(
            select(ActivityPhoto.activity_id, ActivityPhoto.id).where(ActivityPhoto.activity_id.in_(list(acts)))
            .order_by(ActivityPhoto.activity_id, ActivityPhoto.sort_order, ActivityPhoto.id)):
        acts[aid].photo_ids.append(pid)
    return list(acts.values())


def draft_citation(member: Member, year: int, acts: list[EvidenceActivity]) -> str:
    """推荐事迹 drafted from the verified activities (dates, places, tasks, figures), at most CITATION_MAX."""
    if not acts:
        return f"{member.name}同志（{member.sector}）{year}年尚无已审核的履职活动。"
    counties = list(dict.fromkeys(a.county for a in acts))
    tasks = list(dict.fromkeys(a.task for a in acts))
    head = (f"{member.name}同志（{member.sector}）{year}年参加已审核的「双助推」活动{len(acts)}次，"
            f"足迹遍及{'、'.join(counties)}，参与{'、'.join(tasks)}等实事。")
    lines = []
    for a in acts:
        line = f"{a.occurred_on.month}月{a.occurred_on.day}日在{a.county}开展{a.task}"
        if a.figures:
            line += "，" + "，".join(a.figures)
        lines.append(line + "。")
    text = head + "主要事迹：" + "".join(lines)
    if len(text) > CITATION_MAX:
        text = text[: CITATION_MAX - 1] + "…"
    return text


def member_in_subtree(session: Session, org: Organisation, member_id: int, year: int) -> Member:
    """The member when serving in ``org``'s subtree during ``year``; 404 otherwise."""
    p = year_period(year)
    found = session.scalar(select(Member).where(Member.id == member_id, Member.id.in_(_serving(org, p))))
    if found is None:
        raise NotFound(MEMBER_NOT_FOUND, code="member_not_found")
    return found


def draft_for(session: Session, by: Principal, org_ref: int | str, member_id: int, year: int) -> tuple[
        Organisation, Member, str]:
    """The nominating office's form: the organisation (staff over it), the member (in its subtree) and the draft."""
    org = org_for_staff(session, by, org_ref)
    check_year(year)
    member = member_in_subtree(session, org, member_id, year)
    return org, member, draft_citation(member, year, evidence(session, by, member.id, year_period(year)))


# --- nominations -------------------------------------------------------------------------------------

def _citation(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise Invalid("请填写推荐事迹", code="nomination_invalid", errors={"citation": "请填写推荐事迹"})
    if len(text) > CITATION_MAX:
        raise Invalid(f"推荐事迹不超过 {CITATION_MAX} 字", code="nomination_invalid",
                      errors={"citation": f"推荐事迹不超过 {CITATION_MAX} 字（现 {len(text)} 字）"})
    return text


def _snapshot(n: ExemplarNomination) -> dict:
    return {"status": n.status, "citation": n.citation, "decision_note": n.decision_note, "version": n.version}


def _audit(session: Session, by: Principal, action: str, n: ExemplarNomination, before: dict | None) -> None:
    audit(session, actor=by.actor, action=f"exemplar.{action}", target_type="exemplar_nomination", target_id=n.id,
          org_id=n.org_id, before=before, after=_snapshot(n))


def nominate(session: Session, *, by: Principal, org_ref: int | str, member_id: int, year: int, citation: str,
             submission_key: str) -> tuple[ExemplarNomination, bool]:
    """Nominate a member of ``org``'s subtree for ``year``; (the row, created?). Staff over the
    organisation only (403 when reading it, 404 outside); once per submission key. Commits."""
    key = submissions.submission_key(by, submission_key)
    org = org_for_staff(session, by, org_ref)
    if (done := submissions.made_by(session, ExemplarNomination, by, key)) is not None:
        return done, False
    check_year(year)
    member = member_in_subtree(session, org, member_id, year)
    text = _citation(citation)
    existing = session.scalar(select(ExemplarNomination).where(
        ExemplarNomination.org_id == org.id, ExemplarNomination.member_id == member.id,
        ExemplarNomination.year == year))
    if existing is not None:
        raise Conflict(f"{org.name}已推荐过{member.name}（{year}年，{STATUS_LABELS[existing.status]}），"
                       "请在该推荐中修改后重新报送", code="already_nominated", extra={"nomination_id": existing.id})
    row, made = submissions.add_once(session, ExemplarNomination(
        member_id=member.id, org_id=org.id, year=year, citation=text, status=NominationStatus.nominated,
        created_by_user_id=by.user_id, submission_key=key, version=1), by, key)
    if made:
        _audit(session, by, "nominate", row, None)
        session.commit()
    return row, made


def nomination_for_read(session: Session, by: Principal, nomination_id: int, *, lock: bool = False) -> ExemplarNomination:
    """The nomination when ``by`` reads its nominating organisation (or is the member nominated); 404 otherwise."""
    stmt = select(ExemplarNomination).where(ExemplarNomination.id == nomination_id)
    n = session.scalar(stmt.with_for_update() if lock else stmt)
    if n is None or not (by.can(session, n.org_id, *READ_ROLES) or (by.member_id and by.member_id == n.member_id)):
        raise NotFound(NOMINATION_NOT_FOUND, code="not_found")
    return n


def may_decide(session: Session, by: Principal, n: ExemplarNomination) -> bool:
    """Staff of the root, or of an organisation strictly above the nominating one."""
    staff = set(by.org_ids(*STAFF_ROLES))
    if not staff:
        return False
    above = set(session.scalars(ancestor_ids(n.org_id)))
    top = root(session)
    return bool(staff & (above - {n.org_id})) or (top is not None and top.id in staff)


def may_change(session: Session, by: Principal, n: ExemplarNomination) -> bool:
    """The nominating office (staff over the nominating organisation): withdraw, edit and send again."""
    return by.can(session, n.org_id, *STAFF_ROLES)


def _check_version(n: ExemplarNomination, version: int) -> None:
    if version != n.version:
        raise Conflict("这条推荐已被他人处理，请刷新后再试", code="stale_version")


def decide(session: Session, *, by: Principal, nomination_id: int, decision: str, note: str,
           version: int) -> tuple[ExemplarNomination, bool]:
    """选树 (``decision="select"``) or 退回 (``"return"``, a reason required) a waiting nomination;
    (the row, changed?). The same decision sent again changes nothing. Commits."""
    n = nomination_for_read(session, by, nomination_id, lock=True)
    if not may_decide(session, by, n):
        raise Forbidden("只有上级（省级）「双助推」办公室可以审定推荐", code="decide_forbidden")
    if decision not in ("select", "return"):
        raise Invalid("请选择选树或退回", code="nomination_invalid", errors={"decision": "请选择选树或退回"})
    note = (note or "").strip()
    target = NominationStatus.selected if decision == "select" else NominationStatus.returned
    if n.status == target and (decision == "select" or n.decision_note == note):
        return n, False
    _check_version(n, version)
    if n.status != NominationStatus.nominated:
        raise Conflict(f"这条推荐{STATUS_LABELS[n.status]}，不能再审定", code="not_waiting")
    if decision == "return" and not note:
        raise Invalid("退回请填写理由", code="nomination_invalid", errors={"note": "请填写退回理由"})
    if len(note) > NOTE_MAX:
        raise Invalid(f"意见不超过 {NOTE_MAX} 字", code="nomination_invalid", errors={"note": f"不超过 {NOTE_MAX} 字"})
    before = _snapshot(n)
    n.status, n.decision_note = target, note or None
    n.decided_by_user_id, n.decided_at, n.version = by.user_id or None, now_utc(), n.version + 1
    session.flush()
    _audit(session, by, decision, n, before)
    session.commit()
    return n, True


def withdraw(session: Session, *, by: Principal, nomination_id: int, version: int) -> tuple[ExemplarNomination, bool]:
    """The nominating office takes back a nomination before the decision; (the row, changed?). Commits."""
    n = nomination_for_read(session, by, nomination_id, lock=True)
    if not may_change(session, by, n):
        raise Forbidden("只有推荐单位的「双助推」办公室可以撤回推荐", code="staff_only")
    if n.status == NominationStatus.withdrawn:
        return n, False
    _check_version(n, version)
    if n.status != NominationStatus.nominated:
        raise Conflict(f"这条推荐{STATUS_LABELS[n.status]}，不能撤回", code="not_waiting")
    before = _snapshot(n)
    n.status, n.version = NominationStatus.withdrawn, n.version + 1
    session.flush()
    _audit(session, by, "withdraw", n, before)
    session.commit()
    return n, True


def resubmit(session: Session, *, by: Principal, nomination_id: int, citation: str,
             version: int) -> tuple[ExemplarNomination, bool]:
    """Edit a returned or withdrawn nomination (or a waiting one's citation) and send it (again);
    (the row, changed?). Commits."""
    n = nomination_for_read(session, by, nomination_id, lock=True)
    if not may_change(session, by, n):
        raise Forbidden("只有推荐单位的「双助推」办公室可以修改推荐", code="staff_only")
    text = _citation(citation)
    if n.status == NominationStatus.nominated and n.citation == text:
        return n, False
    _check_version(n, version)
    if n.status == NominationStatus.selected:
        raise Conflict("这条推荐已选树，不能再修改", code="not_waiting")
    before = _snapshot(n)
    n.citation, n.status, n.version = text, NominationStatus.nominated, n.version + 1
    session.flush()
    _audit(session, by, "resubmit", n, before)
    session.commit()
    return n, True


# --- lists -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class NominationRow:
    n: ExemplarNomination
    member_name: str
    sector: str
    org_name: str
    org_code: str

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.n.status]


def rows_of(session: Session, found: list[ExemplarNomination]) -> list[NominationRow]:
    if not found:
        return []
    people = {i: (n, s) for i, n, s in session.execute(
        select(Member.id, Member.name, Member.sector).where(Member.id.in_({n.member_id for n in found})))}
    orgs = {i: (n, c) for i, n, c in session.execute(
        select(Organisation.id, Organisation.name, Organisation.code)
        .where(Organisation.id.in_({n.org_id for n in found})))}
    return [NominationRow(n, *people.get(n.member_id, ("", "")), *orgs.get(n.org_id, ("", ""))) for n in found]


def list_nominations(session: Session, org: Organisation, *, year: int | None = None, status: str = "all",
                     page: int = 1, per_page: int = 30) -> tuple[list[NominationRow], int]:
    """Nominations made by ``org``'s subtree (``org`` from the caller's read loader), newest first."""
    if status != "all" and status not in STATUS_LABELS:
        raise Invalid("状态应为 all、nominated、selected、returned 或 withdrawn", code="bad_status",
                      errors={"status": "请选择状态"})
    stmt = select(ExemplarNomination).where(ExemplarNomination.org_id.in_(subtree_ids(org.id)))
    if year is not None:
        stmt = stmt.where(ExemplarNomination.year == year)
    if status != "all":
        stmt = stmt.where(ExemplarNomination.status == status)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    found = list(session.scalars(stmt.order_by(ExemplarNomination.created_at.desc(), ExemplarNomination.id.desc())
                                 .offset((page - 1) * per_page).limit(per_page)))
    return rows_of(session, found), int(total)


def nominated_ids(session: Session, org: Organisation, year: int) -> dict[int, ExemplarNomination]:
    """This organisation's own nominations of ``year`` by member (the candidate list marks them)."""
    return {n.member_id: n for n in session.scalars(select(ExemplarNomination).where(
        ExemplarNomination.org_id == org.id, ExemplarNomination.year == year))}


def selected_for(session: Session, org: Organisation, period: Period) -> list[NominationRow]:
    """The 典型 of ``period``'s year for ``org``'s subtree: selected nominations of members who served in
    it during the period (whoever nominated them), by name."""
    found = list(session.scalars(
        select(ExemplarNomination).where(ExemplarNomination.status == NominationStatus.selected.value,
                                         ExemplarNomination.year == period.year,
                                         ExemplarNomination.member_id.in_(_serving(org, period)))
        .order_by(ExemplarNomination.decided_at, ExemplarNomination.id)))
    return rows_of(session, found)


def honours_of(session: Session, member_id: int) -> list[tuple[int, str]]:
    """The member's 典型 honours: (year, 「典型（X推荐，省级选树）」), newest first."""
    rows = session.execute(
        select(ExemplarNomination.year, Organisation.name)
        .join(Organisation, Organisation.id == ExemplarNomination.org_id)
        .where(ExemplarNomination.member_id == member_id,
               ExemplarNomination.status == NominationStatus.selected.value)
        .order_by(ExemplarNomination.year.desc(), ExemplarNomination.id))
    return [(int(y), f"「双助推」典型（{name}推荐）") for y, name in rows]


# --- a 典型 ------------------------------------------------------------------------------------------

@dataclass
class Exemplar:
    row: NominationRow
    member: Member
    candidate: Candidate  # the evidence figures of the year (over the nominating organisation's subtree)
    acts: list[EvidenceActivity]

    @property
    def photo_count(self) -> int:
        return sum(len(a.photo_ids) for a in self.acts)


def exemplar(session: Session, by: Principal, nomination_id: int, *, selected_only: bool = True) -> Exemplar:
    """A 典型's page: the citation, the year's evidence figures and the verified activities ``by`` reads."""
    n = nomination_for_read(session, by, nomination_id)
    if selected_only and n.status != NominationStatus.selected:
        raise NotFound("这条推荐尚未选树为典型", code="not_selected")
    org = session.get(Organisation, n.org_id)
    member = session.get(Member, n.member_id)
    assert org is not None and member is not None
    period = year_period(n.year)
    found = ranked(session, org, period, only=[member.id])
    cand = found[0] if found else Candidate(member.id)
    describe(session, org, period, [cand])
    cand.name, cand.sector = member.name, member.sector
    return Exemplar(rows_of(session, [n])[0], member, cand, evidence(session, by, member.id, period))
