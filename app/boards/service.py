"""The boards' figures, read from the rollup (never from the raw rows): DOMAIN.md's rules once.

- **By organisation** (:func:`overview`): an organisation's subtree — verified totals (pending
  apart), annual targets, the pace (target × months of the period ÷ 12), progress, 参与率, and the
  organisations one level down ranked by progress score (mean over indicators with a target of
  total ÷ pace, each capped at 150 %), behind pace when under 90 % of it.
- **By place** (:func:`county_board`): what was done in a county, ranked among the key counties,
  a monthly trend per boost area, its 挂联 leaders and latest activities.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import and_, bindparam, case, func, or_, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from app.auth.principal import READ_ROLES, Principal
from app.auth.service import activated_clause
from app.boards.periods import Period
from app.catalogue.service import owners_seen_by
from app.clock import as_utc, today_cn
from app.errors import NotFound
from app.history.service import history_in
from app.links.service import active_on
from app.models import (
    Activity,
    ActivityPhoto,
    ActivityStatus,
    AnnualTarget,
    BoostArea,
    Campaign,
    Indicator,
    LinkAssignment,
    Member,
    Membership,
    Organisation,
    ParticipationCounter,
    Rollup,
    RollupStamp,
    Task,
)
from app.models.people import serving_during
from app.models.rollup import COUNT
from app.orgs.service import ancestors, get_by_code, is_within, subtree_ids, subtree_pairs
from app.reports.narrative import fill
from app.rollup import reach
from app.rollup.service import kept_years, own_counters
from app.web import format_money, grouped

BEHIND = 0.9  # under 90 % of the pace is behind it
CAP = 1.5  # each indicator's progress counts at most 150 % in the score


# --- loading, scoped ---------------------------------------------------------------------------

def org_on_display(session: Session, code: str, *, within: int) -> Organisation:
    """The organisation of ``code`` inside a display link's subtree ``within`` (else 404).

    A meeting-room screen is no user: signed-in callers load organisations through app.deps
    (``OrgForRead`` and its kin), this is only the /d/{token} slides' scope.
    """
    try:
        org = get_by_code(session, code)
    except ValueError:  # not a 行政区划代码
        org = None
    if org is None or not is_within(session, org.id, within):
        raise NotFound("没有这个组织")
    return org


def home_board(session: Session, by: Principal) -> Organisation | None:
    """The highest organisation the caller reads: their board's starting point."""
    orgs = by.grant_orgs(session, *READ_ROLES)
    return min(orgs, key=lambda o: (len(o.code.rstrip("0")), o.code)) if orgs else None


# --- the catalogue as the boards show it -------------------------------------------------------

@dataclass(frozen=True)
class IndicatorInfo:
    id: int
    task_id: int
    name: str
    unit: str
    kind: str
    is_outcome: bool = False
    narrative: str = ""  # the report's phrase, e.g. 惠及群众{value}{unit}


@dataclass(frozen=True)
class TaskInfo:
    """A task as the boards show it: ``indicators`` are its effort figures (targets, pace, the score),
    ``outcomes`` its outcome indicators (成效: no target, stated apart)."""

    id: int
    name: str
    short_name: str
    area_id: int
    indicators: tuple[IndicatorInfo, ...]
    outcomes: tuple[IndicatorInfo, ...] = ()


def catalogue(session: Session, org_id: int | None = None) -> tuple[list[TaskInfo], dict[int, str]]:
    """Tasks of the current campaign in order, with their indicators; and boost area names (one query).

    ``org_id``: only what that organisation works with — the campaign's own and what it or an ancestor
    added (a prefecture's own indicators show in its subtree only)."""
    current = select(Campaign.id).where(Campaign.is_current.is_(True)).scalar_subquery()
    joined = Indicator.task_id == Task.id
    stmt = (select(Task.id, Task.name, Task.short_name, Task.area_id, BoostArea.name.label("area"),
                   BoostArea.sort_order.label("area_order"), Indicator.id.label("ind"),
                   Indicator.name.label("ind_name"), Indicator.unit, Indicator.kind, Indicator.is_outcome,
                   Indicator.narrative)
            .join(BoostArea, BoostArea.id == Task.area_id))
    if org_id is not None:
        owners = owners_seen_by(org_id)
        stmt = stmt.outerjoin(Indicator, and_(joined, Indicator.owner_org_id.in_(owners))).where(
            Task.owner_org_id.in_(owners))
    else:
        stmt = stmt.outerjoin(Indicator, joined)
    rows = session.execute(stmt.where(Task.campaign_id == current)
                           .order_by(Task.sort_order, Task.id, Indicator.sort_order, Indicator.id)).all()
    tasks: dict[int, tuple] = {}
    inds: dict[int, list[IndicatorInfo]] = defaultdict(list)
    outs: dict[int, list[IndicatorInfo]] = defaultdict(list)
    areas: dict[int, tuple[int, str]] = {}
    for r in rows:
        tasks.setdefault(r.id, (r.name, r.short_name, r.area_id))
        areas.setdefault(r.area_id, (r.area_order, r.area))
        if r.ind is not None:
            (outs if r.is_outcome else inds)[r.id].append(
                IndicatorInfo(r.ind, r.id, r.ind_name, r.unit, str(r.kind), bool(r.is_outcome), r.narrative))
    named = {a: name for a, (_, name) in sorted(areas.items(), key=lambda kv: kv[1][0])}
    return [TaskInfo(t, *tasks[t], tuple(inds[t]), tuple(outs[t])) for t in tasks], named


# --- figures -----------------------------------------------------------------------------------

def _in(lo: str, hi: str, column):  # noqa: ANN001, ANN202 - SUM(column) over the months lo..hi only
    return func.sum(case((Rollup.month.between(bindparam(lo), bindparam(hi)), column), else_=0))


# Two ranges in one pass (the period, and the one a rank change compares with): rows of the
# union of both, summed per range.
_FIGURES = (
    select(Rollup.unit_id, Rollup.task_id, Rollup.indicator_id,
           _in("month_from", "month_to", Rollup.verified), _in("month_from", "month_to", Rollup.pending),
           _in("other_from", "other_to", Rollup.verified), _in("other_from", "other_to", Rollup.pending))
    .where(Rollup.scope == bindparam("scope"), Rollup.unit_id.in_(bindparam("units", expanding=True)),
           Rollup.year == bindparam("year"), Rollup.month.between(bindparam("scan_from"), bindparam("scan_to")))
    .group_by(Rollup.unit_id, Rollup.task_id, Rollup.indicator_id)
)

Figures = dict[int, dict[tuple[int, int], tuple[int, int]]]  # unit -> (task, indicator) -> (verified, pending)


def figures(session: Session, scope: str, units: list[int], period: Period) -> Figures:
    """unit -> (task, indicator) -> (verified, pending) for the period; indicator 0 = activities."""
    return figures_and_other(session, scope, units, period, None)[0]


def figures_and_other(session: Session, scope: str, units: list[int], period: Period,
                      other: Period | None) -> tuple[Figures, Figures]:
    """The figures of ``period`` and of ``other`` (same year) from one read of the rollup."""
    out: Figures = defaultdict(dict)
    more: Figures = defaultdict(dict)
    if not units:
        return out, more
    if other is not None and other.year != period.year:
        raise ValueError("both periods must lie in one year")
    o = other or period
    params = {"scope": scope, "units": units, "year": period.year,
              "month_from": period.month_from, "month_to": period.month_to,
              "other_from": o.month_from, "other_to": o.month_to,
              "scan_from": min(period.month_from, o.month_from), "scan_to": max(period.month_to, o.month_to)}
    for unit, task, indicator, v, p, ov, op in session.connection().execute(_FIGURES, params):
        if v or p:
            out[unit][(task, indicator)] = (int(v), int(p))
        if other is not None and (ov or op):
            more[unit][(task, indicator)] = (int(ov), int(op))
    return out, more


_COUNTS = (
    select(Rollup.unit_id, func.sum(Rollup.verified).label("verified"), func.sum(Rollup.pending).label("pending"))
    .where(Rollup.scope == bindparam("scope"), Rollup.unit_id.in_(bindparam("units", expanding=True)),
           Rollup.year == bindparam("year"), Rollup.indicator_id == COUNT,
           Rollup.month.between(bindparam("month_from"), bindparam("month_to")))
    .group_by(Rollup.unit_id)
)


def activity_counts(session: Session, scope: str, units: list[int], period: Period) -> dict[int, tuple[int, int]]:
    """unit -> (verified, pending) activities in the period: what key counties are ranked by."""
    if not units:
        return {}
    rows = session.execute(_COUNTS, {"scope": scope, "units": units, "year": period.year,
                                     "month_from": period.month_from, "month_to": period.month_to})
    found = {r.unit_id: (int(r.verified), int(r.pending)) for r in rows}
    return {u: found.get(u, (0, 0)) for u in units}


def targets(session: Session, org_ids: list[int], year: int) -> dict[int, dict[int, int]]:
    out: dict[int, dict[int, int]] = defaultdict(dict)
    for org_id, indicator_id, value in session.execute(
            select(AnnualTarget.org_id, AnnualTarget.indicator_id, AnnualTarget.value)
            .where(AnnualTarget.org_id.in_(org_ids), AnnualTarget.year == year)):
        out[org_id][indicator_id] = value
    return out


@dataclass
class Participation:
    """参与率 and 动员面 of a subtree (or of an organisation's own members) for a period.

    动员面 counts like 参与率 — distinct members, only for the months they served — over the months
    it was tracked: ``reached`` is None when the period ended before tracking began (「未统计」);
    when it began earlier, ``reach_since`` (yyyymm) is the first month counted and
    ``reach_active`` the members active from then on (else it is ``active``).
    """

    active: int
    took_part: int
    reached: int | None = None
    reach_active: int | None = None
    reach_since: int | None = None

    @property
    def rate(self) -> float | None:
        return self.took_part / self.active if self.active else None

    @property
    def tracked(self) -> bool:
        return self.reached is not None

    @property
    def mobilisation_rate(self) -> float | None:
        """动员面 0–1; None when untracked or when nobody served in the tracked months."""
        return self.reached / self.reach_active if self.reached is not None and self.reach_active else None

    @property
    def since_month(self) -> str | None:
        """The first month counted, YYYY-MM, when the period began before 动员面 was tracked."""
        return f"{self.reach_since // 100}-{self.reach_since % 100:02d}" if self.reach_since else None

    @property
    def reach_note(self) -> str | None:
        """「自2026年11月起统计」 when the period began before 动员面 was tracked."""
        if self.reach_since is None:
            return None
        return f"自{self.reach_since // 100}年{self.reach_since % 100}月起统计"


def reach_span(session: Session, period: Period) -> tuple[int, int] | None:
    """The months (first, last) of ``period`` over which 动员面 is counted: all of them, those from
    the month tracking began (app/rollup/reach.py), or None when the period ended before it."""
    since = reach.since(session)
    if since is None or since > period.month_to:
        return None
    return (max(period.first, since % 100) if since // 100 == period.year else period.first, period.last)


def _with_reach(p: Participation, period: Period, span: tuple[int, int] | None,
                counters: tuple[int, int, int] | None) -> Participation:
    """``p`` with 动员面: ``counters`` are (active, took_part, reached) over ``span``."""
    if span is None or counters is None:
        return p
    since = period.year * 100 + span[0] if span[0] != period.first else None
    return Participation(p.active, p.took_part, counters[2], counters[0], since)


def participation(session: Session, org_ids: list[int], period: Period) -> dict[int, Participation]:
    """参与率 and 动员面 of each organisation's subtree for the period: one counter row each (two
    when the period began before 动员面 was tracked).

    For a year whose counters are not kept yet (no verified activity in it so far, nobody reached)
    nobody has taken part or been reached; the active members are counted from the memberships.
    """
    if not org_ids:
        return {}
    span = reach_span(session, period)
    spans = {(period.first, period.last)} | ({span} if span else set())
    counted: dict[tuple[int, int], dict[int, tuple[int, int, int]]] = {s: {} for s in spans}
    if period.year in kept_years(session):
        c = ParticipationCounter
        for r in session.execute(select(c.org_id, c.first_month, c.last_month, c.active, c.took_part, c.reached).where(
                c.org_id.in_(org_ids), c.year == period.year,
                or_(*[and_(c.first_month == a, c.last_month == b) for a, b in spans]))):
            counted[(r.first_month, r.last_month)][r.org_id] = (r.active, r.took_part, r.reached)
    else:
        tree = subtree_pairs(org_ids).subquery()
        for a, b in spans:
            part = Period(period.year, a, b, "", "")
            rows = session.execute(
                select(tree.c.root_id, func.count(func.distinct(Membership.member_id)))
                .join(Membership, Membership.org_id == tree.c.org_id)
                .where(serving_during(part.start, part.end))
                .group_by(tree.c.root_id))
            counted[(a, b)] = {org: (n, 0, 0) for org, n in rows}
    whole, zero = counted[(period.first, period.last)], (0, 0, 0)
    return {o: _with_reach(Participation(*whole.get(o, zero)[:2]), period, span,
                           counted[span].get(o, zero) if span else None) for o in org_ids}


def own_figures(got: Figures, org_id: int, child_ids: list[int]) -> dict[tuple[int, int], tuple[int, int]]:
    """本级: what is credited to the organisation itself — its subtree's figures less each child's
    subtree (the rollup keeps subtrees only; integers, so the rows and the 合计 reconcile exactly)."""
    own = dict(got.get(org_id, {}))
    for child in child_ids:
        for key, (v, p) in got.get(child, {}).items():
            ov, op = own.get(key, (0, 0))
            own[key] = (ov - v, op - p)
    return {k: vp for k, vp in own.items() if vp != (0, 0)}


def own_participation(session: Session, org_ids: list[int], period: Period) -> dict[int, Participation]:
    """参与率 and 动员面 of the members whose membership is in each organisation itself (本级), not its subtree."""
    got = own_counters(session, org_ids, period.year, period.first, period.last)
    span = reach_span(session, period)
    tracked = (got if span == (period.first, period.last) else own_counters(session, org_ids, period.year, *span)
               ) if span else {}
    return {o: _with_reach(Participation(*got[o][:2]), period, span, tracked.get(o)) for o in org_ids}


@dataclass
class IndicatorFigure:
    indicator: IndicatorInfo
    verified: int
    pending: int
    target: int | None = None
    pace: float | None = None

    @property
    def progress(self) -> float | None:
        """Verified total ÷ pace (1.0 = on pace)."""
        return self.verified / self.pace if self.pace else None

    @property
    def of_target(self) -> float | None:
        return self.verified / self.target if self.target else None

    @property
    def pace_of_target(self) -> float | None:
        return self.pace / self.target if self.target and self.pace is not None else None

    @property
    def behind(self) -> bool:
        return self.pace is not None and self.pace > 0 and self.verified < BEHIND * self.pace


@dataclass
class TaskFigures:
    task: TaskInfo
    activities: tuple[int, int]  # (verified, pending)
    indicators: list[IndicatorFigure]
    outcomes: list[IndicatorFigure] = field(default_factory=list)  # 成效: no target, never in the score


def task_figures(tasks: list[TaskInfo], got: dict[tuple[int, int], tuple[int, int]],
                 goal: dict[int, int] | None, period: Period) -> list[TaskFigures]:
    out = []
    for t in tasks:
        rows = []
        for i in t.indicators:
            v, p = got.get((t.id, i.id), (0, 0))
            target = goal.get(i.id) if goal is not None else None
            rows.append(IndicatorFigure(i, v, p, target, target * period.months / 12 if target is not None else None))
        # Outcomes carry no target (nor pace) even if one was stored for them: they stay out of the score.
        outcomes = [IndicatorFigure(i, *got.get((t.id, i.id), (0, 0))) for i in t.outcomes]
        out.append(TaskFigures(t, got.get((t.id, COUNT), (0, 0)), rows, outcomes))
    return out


def score(tasks: list[TaskFigures]) -> float | None:
    """Progress score: mean over indicators with a target of total ÷ pace, each capped at 150 %
    (effort indicators only: outcomes have no pace)."""
    ratios = [min(f.progress, CAP) for t in tasks for f in t.indicators if f.pace]
    return sum(ratios) / len(ratios) if ratios else None


@dataclass(frozen=True)
class OutcomeTotal:
    """One outcome summed over the tasks that carry it (受益群众 of every task together), by name and
    unit; ``phrase`` is its catalogue narrative (惠及群众{value}{unit})."""

    name: str
    unit: str
    kind: str
    verified: int
    pending: int
    phrase: str = ""

    @property
    def value_text(self) -> str:
        """With thousands separators, as the boards' tables write figures: 231,807 人, 3,460.7 万元."""
        return grouped(format_money(self.verified) if self.kind == "money" else str(self.verified))

    @property
    def text(self) -> str:
        return f"{self.value_text}{self.unit}"


def outcome_totals(tasks: list[TaskFigures]) -> list[OutcomeTotal]:
    """The outcomes of ``tasks`` summed by (name, unit, kind) in catalogue order, phrased as the first
    task carrying it words it. Every outcome the tasks carry is listed, zero or not."""
    sums: dict[tuple[str, str, str], list[int]] = {}
    phrases: dict[tuple[str, str, str], str] = {}
    for t in tasks:
        for f in t.outcomes:
            key = (f.indicator.name, f.indicator.unit, f.indicator.kind)
            got = sums.setdefault(key, [0, 0])
            got[0] += f.verified
            got[1] += f.pending
            phrases.setdefault(key, f.indicator.narrative)
    return [OutcomeTotal(n, u, k, v, p, phrases[(n, u, k)]) for (n, u, k), (v, p) in sums.items()]


def outcome_sentence(totals: list[OutcomeTotal]) -> str:
    """「惠及群众1200人，带动就业35人，带动增收12.5万元」: the verified outcomes that are not zero, by
    their catalogue phrase (name + value + unit without one); "" when there are none."""
    return "，".join(fill(o.phrase or o.name + "{value}{unit}", value=o.value_text, unit=o.unit)
                    for o in totals if o.verified > 0)


@dataclass
class RankRow:
    org: Organisation
    score: float | None
    participation: Participation
    verified_activities: int
    tasks: list[TaskFigures] = field(default_factory=list)  # its figures against its targets and pace
    rank: int | None = None
    previous_rank: int | None = None
    behind: bool = False

    @property
    def rank_change(self) -> int | None:
        """Places gained since the previous month (positive: moved up)."""
        if self.rank is None or self.previous_rank is None:
            return None
        return self.previous_rank - self.rank


class _Outcomes:
    """成效 of a board's tasks (the subtree's, or what was done in the county), apart from the task figures."""

    tasks: list[TaskFigures]

    @property
    def outcomes(self) -> list[OutcomeTotal]:
        return outcome_totals(self.tasks)

    @property
    def outcome_text(self) -> str:
        """「惠及群众X人，带动就业X人，带动增收X万元」 (verified, non-zero only)."""
        return outcome_sentence(self.outcomes)


@dataclass
class Overview(_Outcomes):
    org: Organisation
    period: Period
    tasks: list[TaskFigures]
    participation: Participation
    score: float | None
    ranking: list[RankRow] = field(default_factory=list)
    ancestors: list[Organisation] = field(default_factory=list)
    history: str | None = None  # 含汇总录入数据：… when the figures include 汇总录入 (app/history)


def _ranks(scores: dict[int, float | None]) -> dict[int, int]:
    ordered = sorted((s, o) for o, s in scores.items() if s is not None)[::-1]
    return {o: n for n, (_, o) in enumerate(ordered, start=1)}


def overview(session: Session, org: Organisation, period: Period, *,
             tasks: list[TaskInfo] | None = None) -> Overview:
    """``tasks``: the catalogue when the caller has already read it (a county board)."""
    tasks = tasks if tasks is not None else catalogue(session, org.id)[0]
    kids = list(session.scalars(select(Organisation).where(Organisation.parent_id == org.id)
                                .order_by(Organisation.code)))
    units = [org.id] + [k.id for k in kids]
    before = period.previous_month()
    got, got_before = figures_and_other(session, "org", units, period, before)
    goals = targets(session, units, period.year)
    part = participation(session, units, period)
    mine = task_figures(tasks, got.get(org.id, {}), goals.get(org.id, {}), period)

    rows = []
    for kid in kids:
        kid_tasks = task_figures(tasks, got.get(kid.id, {}), goals.get(kid.id, {}), period)
        s = score(kid_tasks)
        rows.append(RankRow(kid, s, part[kid.id], sum(t.activities[0] for t in kid_tasks), kid_tasks,
                            behind=s is not None and s < BEHIND))
    ranks = _ranks({r.org.id: r.score for r in rows})
    if before is not None and kids:
        previous = _ranks({k.id: score(task_figures(tasks, got_before.get(k.id, {}), goals.get(k.id, {}), before))
                           for k in kids})
    else:
        previous = {}
    for r in rows:
        r.rank, r.previous_rank = ranks.get(r.org.id), previous.get(r.org.id)
    rows.sort(key=lambda r: (r.rank is None, r.rank or 0, r.org.code))
    lineage = ancestors(session, org.id)
    note = history_in(session, org.id, period)
    return Overview(org, period, mine, part[org.id], score(mine), rows, lineage, note and note.text)


# --- by place ----------------------------------------------------------------------------------

@dataclass
class LinkedLeader:
    name: str
    role: str
    site: str | None


@dataclass
class LatestActivity:
    id: int
    occurred_on: date
    task: str
    status: str
    description: str
    photo_id: int | None


@dataclass
class CountyBoard(_Outcomes):
    county: Organisation
    period: Period
    tasks: list[TaskFigures]
    rank: int | None
    ranked: int
    trend_months: list[int]
    trend: dict[str, list[int]]  # boost area -> verified activities per month of the year so far
    leaders: list[LinkedLeader]
    latest: list[LatestActivity]
    own: Overview | None  # the county 政协's own progress (by organisation)
    history: str | None = None  # 含汇总录入数据：… (by place)


def county_board(session: Session, county: Organisation, period: Period, *, with_own: bool = True) -> CountyBoard:
    if not county.is_key_county:
        raise NotFound("这不是重点帮扶县")
    tasks, areas = catalogue(session, county.id)
    key_ids = list(session.scalars(select(Organisation.id).where(Organisation.is_key_county.is_(True))))
    ranks = _ranks({k: float(v) for k, (v, _) in activity_counts(session, "place", key_ids, period).items()})
    mine = task_figures(tasks, figures(session, "place", [county.id], period).get(county.id, {}), None, period)

    year = Period(period.year, 1, period.last, "", "")
    months = list(range(1, period.last + 1))
    area_of = {t.id: areas.get(t.area_id, "其他") for t in tasks}
    trend = {name: [0] * len(months) for name in areas.values()}
    for r in session.execute(select(Rollup.month, Rollup.task_id, Rollup.verified).where(
            Rollup.scope == "place", Rollup.unit_id == county.id, Rollup.year == period.year,
            Rollup.indicator_id == COUNT,
            Rollup.month.between(year.month_from, period.month_to))):
        trend.setdefault(area_of.get(r.task_id, "其他"), [0] * len(months))[r.month % 100 - 1] += r.verified

    # Who is linked as of the period's last day, or today while the period runs: the links module's rule.
    on = min(period.end, today_cn())
    leaders = [LinkedLeader(name, "挂联领导" if role == "lead" else "联络员", None) for name, role in session.execute(
        select(Member.name, LinkAssignment.role).join(Member, Member.id == LinkAssignment.leader_member_id)
        .where(LinkAssignment.county_id == county.id, active_on(on))
        .order_by(LinkAssignment.role, Member.name))]
    first_photo = (select(func.min(ActivityPhoto.id)).where(ActivityPhoto.activity_id == Activity.id)
                   .correlate(Activity).scalar_subquery())
    latest = [LatestActivity(r.id, r.occurred_on, r.short_name, str(r.status), r.description[:80], r.photo)
              for r in session.execute(
                  select(Activity.id, Activity.occurred_on, Task.short_name, Activity.status, Activity.description,
                         first_photo.label("photo"))
                  .join(Task, Task.id == Activity.task_id)
                  .where(Activity.county_id == county.id,
                         Activity.status.in_((ActivityStatus.verified.value, ActivityStatus.pending.value)),
                         and_(Activity.occurred_on >= period.start, Activity.occurred_on <= period.end))
                  .order_by(Activity.occurred_on.desc(), Activity.id.desc()).limit(8))]
    own = overview(session, county, period, tasks=tasks) if with_own else None
    return CountyBoard(county, period, mine, ranks.get(county.id), len(key_ids), [period.year * 100 + m for m in months],
                       trend, leaders, latest, own, (note := history_in(session, county.id, period, scope="place"))
                       and note.text)


@dataclass
class CountySummary:
    code: str
    verified: int  # activities done in the county in the period
    pending: int
    rank: int | None
    ranked: int


def county_summaries(session: Session, county_ids: list[int], period: Period) -> dict[int, CountySummary]:
    """A line per key county (a leader's page): activities done there and the rank among key counties."""
    key = dict(session.execute(select(Organisation.id, Organisation.code).where(Organisation.is_key_county.is_(True))).all())
    counts = activity_counts(session, "place", list(key), period)
    ranks = _ranks({k: float(c[0]) for k, c in counts.items()})
    return {c: CountySummary(key[c], counts[c][0], counts[c][1], ranks.get(c), len(key)) for c in county_ids if c in key}


# --- the activities behind a figure --------------------------------------------------------------

def activities_behind(session: Session, by: Principal, org: Organisation, period: Period, *, scope: str,
                      task_id: int | None, status: str, page: int, per_page: int) -> tuple[list, int]:
    """The activities a board figure adds up (credited to the subtree, or done in the county),
    newest first, and how many there are.

    ``org`` comes from ``OrgForRead`` (app.deps): the caller reads its subtree, so every activity
    credited there (or done in the county) is one they may read — the same rows as
    ``visible_to(by)`` would leave, without making the database evaluate it per row. The count is
    the rollup's (the figure the board showed), not a count of rows.
    """
    where = [Activity.status == status, Activity.occurred_on >= period.start, Activity.occurred_on <= period.end]
    if scope == "place":
        where.append(Activity.county_id == org.id)
    else:
        where.append(Activity.credited_org_id.in_(subtree_ids(org.id)))
    if task_id:
        where.append(Activity.task_id == task_id)
    counted = select(func.coalesce(func.sum(Rollup.verified if status == "verified" else Rollup.pending), 0)).where(
        Rollup.scope == scope, Rollup.unit_id == org.id, Rollup.year == period.year, Rollup.indicator_id == COUNT,
        Rollup.month.between(period.month_from, period.month_to), *([Rollup.task_id == task_id] if task_id else []))
    total = int(session.scalar(counted) or 0)
    rows = session.execute(
        select(Activity.id, Activity.occurred_on, Activity.description, Task.short_name,
               Organisation.name.label("county"))
        .join(Task, Task.id == Activity.task_id).join(Organisation, Organisation.id == Activity.county_id)
        .where(*where).order_by(Activity.occurred_on.desc(), Activity.id.desc())
        .offset((page - 1) * per_page).limit(per_page)).all()
    return list(rows), total


# --- inactive members (staff) --------------------------------------------------------------------
# Members of the subtree active in the period with no verified activity in it (the 参与率's
# complement, read from participation_month), split by what the office should do about each: in
# SEGMENTS' order, the first group a member fits is theirs.

SEGMENTS = ("never_activated", "returned", "pending", "idle")
SEGMENT_LABELS = {"never_activated": "从未激活", "returned": "有退回未改", "pending": "已记录待审核",
                  "idle": "已激活但本期无活动"}
SEGMENT_HINTS = {"never_activated": "没有账号，或账号从未登录过",
                 "returned": "本期间记录的活动被退回，还没有修改重交",
                 "pending": "本期间记录（或被列为参与者）的活动都在等待审核",
                 "idle": "登录过平台，本期间没有任何记录"}
CHANNEL_LABELS = {"sms": "短信", "inapp": "站内消息"}


@dataclass
class InactiveMember:
    member_id: int
    name: str
    sector: str
    org: str
    committee: str | None
    role: str
    segment: str = "idle"
    last_login_at: datetime | None = None
    last_contact_at: datetime | None = None  # the latest notice delivered to them (SMS or 站内消息)
    last_contact_channel: str | None = None

    @property
    def segment_label(self) -> str:
        return SEGMENT_LABELS[self.segment]


def inactive_seats(org: Organisation, period: Period, *, committee_id: int | None = None):  # noqa: ANN201 - a Subquery
    """A subquery: one row per inactive member of the subtree in the period (``member_id``, the
    ``org_id``/``committee_id``/``role`` of their latest seat there, their ``segment``), optionally
    only those sitting on one committee. Set-based: the groups come from four semi-joins."""
    from app.models import ActivityParticipant, ParticipationMonth, UserAccount

    took_part = select(ParticipationMonth.member_id).where(
        ParticipationMonth.month.between(period.month_from, period.month_to), ParticipationMonth.activities > 0)
    activated = select(UserAccount.member_id).where(UserAccount.member_id.is_not(None), activated_clause())
    in_period = Activity.occurred_on.between(period.start, period.end)

    def recorded(status: ActivityStatus):  # noqa: ANN202 - members who recorded an activity in this state
        return (select(UserAccount.member_id).join(Activity, Activity.recorder_user_id == UserAccount.id)
                .where(Activity.status == status, in_period, UserAccount.member_id.is_not(None)))

    named_pending = (select(ActivityParticipant.member_id)
                     .join(Activity, Activity.id == ActivityParticipant.activity_id)
                     .where(Activity.status == ActivityStatus.pending, in_period,
                            ActivityParticipant.status == "confirmed"))
    member = Membership.member_id
    segment = case((member.not_in(activated), "never_activated"),
                   (member.in_(recorded(ActivityStatus.returned)), "returned"),
                   (or_(member.in_(recorded(ActivityStatus.pending)), member.in_(named_pending)), "pending"),
                   else_="idle")
    where = [Membership.org_id.in_(subtree_ids(org.id)), serving_during(period.start, period.end),
             member.not_in(took_part)]
    if committee_id is not None:
        where.append(Membership.committee_id == committee_id)
    # A member with two seats in the subtree in the period is listed once, under the latest.
    ranked = select(member.label("member_id"), Membership.org_id, Membership.committee_id, Membership.role,
                    segment.label("segment"),
                    func.row_number().over(partition_by=member,
                                           order_by=(Membership.start_date.desc(), Membership.id.desc())).label("n")
                    ).where(*where).subquery()
    return select(ranked.c.member_id, ranked.c.org_id, ranked.c.committee_id, ranked.c.role,
                  ranked.c.segment).where(ranked.c.n == 1).subquery("inactive")


def inactive_counts(session: Session, org: Organisation, period: Period, *,
                    committee_id: int | None = None) -> dict[str, int]:
    """How many inactive members each group holds (every group named, 0 when empty)."""
    seats = inactive_seats(org, period, committee_id=committee_id)
    got = dict(session.execute(select(seats.c.segment, func.count()).group_by(seats.c.segment)).all())
    return {s: int(got.get(s, 0)) for s in SEGMENTS}


def last_contacts(session: Session, member_ids: list[int]) -> dict[int, tuple[datetime, str]]:
    """Each member's latest delivered notice (SMS or 站内消息): when, and through which channel."""
    from app.models import Notification

    found: dict[int, tuple[datetime, str]] = {}
    for start in range(0, len(member_ids), 2000):
        chunk = member_ids[start:start + 2000]
        ranked = select(Notification.member_id, Notification.sent_at, Notification.channel,
                        func.row_number().over(partition_by=Notification.member_id,
                                               order_by=(Notification.sent_at.desc(), Notification.channel.desc())
                                               ).label("n")
                        ).where(Notification.member_id.in_(chunk), Notification.status == "sent",
                                Notification.channel.in_(("sms", "inapp")), Notification.sent_at.is_not(None)
                                ).subquery()
        for member_id, sent_at, channel in session.execute(
                select(ranked.c.member_id, ranked.c.sent_at, ranked.c.channel).where(ranked.c.n == 1)):
            found[member_id] = (sent_at, channel)
    return found


def inactive_members(session: Session, org: Organisation, period: Period, *, segment: str | None = None,
                     committee_id: int | None = None, limit: int | None = None,
                     offset: int = 0) -> tuple[list[InactiveMember], int]:
    """The inactive members (of one group, or all), by organisation and committee, with their group,
    last sign-in and last contact; and how many there are."""
    from app.models import Committee, UserAccount

    seats = inactive_seats(org, period, committee_id=committee_id)
    where = [seats.c.segment == segment] if segment else []
    total = session.scalar(select(func.count()).select_from(seats).where(*where)) or 0
    member_org = aliased(Organisation)
    stmt = (select(Member.id, Member.name, Member.sector, member_org.name.label("org"),
                   Committee.name.label("committee"), seats.c.role, seats.c.segment, UserAccount.last_login_at)
            .join(seats, seats.c.member_id == Member.id)
            .join(member_org, member_org.id == seats.c.org_id)
            .outerjoin(Committee, Committee.id == seats.c.committee_id)
            .outerjoin(UserAccount, UserAccount.member_id == Member.id)
            .where(*where)
            .order_by(member_org.code, Committee.name, Member.name, Member.id))
    if limit is not None:
        stmt = stmt.offset(offset).limit(limit)
    rows = [InactiveMember(r.id, r.name, r.sector, r.org, r.committee, str(r.role), r.segment,
                           as_utc(r.last_login_at)) for r in session.execute(stmt)]
    contacts = last_contacts(session, [r.member_id for r in rows])
    for r in rows:
        r.last_contact_at, r.last_contact_channel = contacts.get(r.member_id, (None, None))
    return rows, int(total)


# --- live ----------------------------------------------------------------------------------------

def version(session: Session, units: list[tuple[str, int]]) -> int:
    """The sum of the units' stamps: it grows with every change of their figures."""
    if not units:
        return 0
    conds = [and_(RollupStamp.scope == s, RollupStamp.unit_id == u) for s, u in units]
    return int(session.scalar(select(func.coalesce(func.sum(RollupStamp.version), 0)).where(or_(*conds))) or 0)
