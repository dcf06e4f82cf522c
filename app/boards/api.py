"""JSON API for the boards' figures under /api/v1: the indicator catalogue, the progress of an
organisation (by organisation) or of a key county (by place) for a period, and the rankings.

Exactly the figures the boards show (app/boards/service.py, read from the rollup). Aggregates only:
any API token reads these; names of people never appear.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from app.activities.service import display_value
from app.api_docs import AUTH_ERRORS, INVALID, ORG_NOT_FOUND, PERIOD_DESCRIPTION, PERIOD_PATTERN
from app.auth.principal import READ_ROLES
from app.boards import breakdown, periods, service
from app.deps import CurrentUser, OrgForRead, SessionDep, org_for_read
from app.models import Organisation
from app.orgs.service import subtree_ids
from app.tokens.service import token_access

router = APIRouter(prefix="/api/v1", tags=["progress"])

PeriodKey = Annotated[str | None, Query(pattern=PERIOD_PATTERN, max_length=16, description=PERIOD_DESCRIPTION,
                                        examples=["2026-ytd09"])]
OrgCode = Annotated[str, Query(pattern=r"^\d{6}$", description="组织的 6 位行政区划代码", examples=["530000"])]


# --- shapes ------------------------------------------------------------------------------------------

class IndicatorInfo(BaseModel):
    id: int
    name: str = Field(description="指标名称")
    unit: str = Field(description="单位：个、次、人、万元 …")
    kind: str = Field(description="count（计数）或 money（金额：数值以 0.01 万元为单位的整数）")
    is_outcome: bool = Field(default=False, description="成效指标（受益群众、带动就业、带动增收 …）：选填，"
                                                         "无年度目标，不计入进度得分，看板与报告中单独列出")


class TaskInfo(BaseModel):
    id: int
    name: str = Field(description="实事名称")
    short_name: str
    area: str = Field(description="所属助推方向")
    indicators: list[IndicatorInfo] = Field(description="工作指标在前，成效指标（is_outcome）在后")


class Catalogue(BaseModel):
    areas: list[str] = Field(description="助推方向，按顺序")
    tasks: list[TaskInfo] = Field(description="本届活动的实事及其指标，按顺序")

    model_config = {"json_schema_extra": {"examples": [{
        "areas": ["助推产业发展"],
        "tasks": [{"id": 1, "name": "帮助脱贫地区发展特色产业、提供技术服务", "short_name": "特色产业与技术服务",
                   "area": "助推产业发展", "indicators": [
                       {"id": 1, "name": "发展产业项目", "unit": "个", "kind": "count"},
                       {"id": 3, "name": "销售金额", "unit": "万元", "kind": "money"}]}]}]}}


class PeriodRead(BaseModel):
    key: str = Field(description="期间的键（同网页 ?period=）")
    label: str = Field(description="期间的中文名称")
    first_month: str = Field(description="首月 YYYY-MM")
    last_month: str = Field(description="末月 YYYY-MM（含）")


class IndicatorProgress(BaseModel):
    id: int
    name: str
    unit: str
    kind: str
    verified: int = Field(description="已审核合计（金额以 0.01 万元为单位）")
    pending: int = Field(description="待审核合计（不计入进度）")
    text: str = Field(description="已审核合计按单位显示，如 152306、12.5")
    target: int | None = Field(description="年度目标（无目标为 null）")
    pace: float | None = Field(description="按时间进度应完成的量：目标 × 月数 ÷ 12")
    progress: float | None = Field(description="已审核 ÷ 时间进度（1.0 为正好跟上进度）")
    behind: bool = Field(description="落后：低于时间进度的 90%")


class OutcomeProgress(BaseModel):
    """An outcome figure (成效): verified and pending, no target, never in the score."""

    id: int | None = Field(default=None, description="指标编号（合计行为 null：同名成效指标跨实事相加）")
    name: str = Field(description="成效指标名称，如 受益群众")
    unit: str
    kind: str
    verified: int = Field(description="已审核合计（金额以 0.01 万元为单位）")
    pending: int = Field(description="待审核合计")
    text: str = Field(description="已审核合计按单位显示，如 1200、12.5")


class TaskProgress(BaseModel):
    task_id: int
    name: str
    short_name: str
    activities_verified: int = Field(description="已审核活动数")
    activities_pending: int = Field(description="待审核活动数")
    indicators: list[IndicatorProgress] = Field(description="工作指标（对照年度目标）")
    outcomes: list[OutcomeProgress] = Field(default_factory=list, description="成效指标（无目标，不计入进度得分）")


class ParticipationRead(BaseModel):
    active: int = Field(description="期内在任委员数（汇总录入的数字不计）")
    took_part: int = Field(description="参加过已审核活动的委员数")
    rate: float | None = Field(description="参与率 0–1；没有在任委员时为 null")


class MobilisationRead(BaseModel):
    active: int = Field(description="统计月份内在任委员数（本期开始于统计之前时，只计自 since 起的月份）")
    reached: int = Field(description="其中在任期间某月登录并访问过平台、或收到过送达通知的委员数")
    rate: float | None = Field(description="动员面 0–1；没有在任委员时为 null")
    since: str | None = Field(default=None, description="本期开始于动员面统计之前时，统计起始月 YYYY-MM；否则 null")


def mobilisation_of(p: service.Participation) -> MobilisationRead | None:
    """动员面 as the API gives it: null when the period ended before tracking began."""
    if p.reached is None or p.reach_active is None:
        return None
    return MobilisationRead(active=p.reach_active, reached=p.reached, rate=p.mobilisation_rate, since=p.since_month)


MOBILISATION_DOC = ("动员面（委员登录或收到通知的比例，按月记录，同参与率一样按在任月份计）；"
                    "本期全部在开始统计之前时为 null（未统计）")


OUTCOMES_DOC = "成效合计（同名成效指标跨实事相加；与工作指标分开，不计入进度得分）"


class OrgRef(BaseModel):
    code: str
    name: str
    level: str


class Progress(BaseModel):
    org: OrgRef
    period: PeriodRead
    score: float | None = Field(description="进度得分：有目标的各指标 已审核÷时间进度 的平均（每项最多 1.5）")
    participation: ParticipationRead
    mobilisation: MobilisationRead | None = Field(description=MOBILISATION_DOC)
    tasks: list[TaskProgress]
    outcomes: list[OutcomeProgress] = Field(default_factory=list, description=OUTCOMES_DOC)
    outcome_text: str = Field(default="", description="成效的一句话：惠及群众X人，带动就业X人，带动增收X万元（无则为空）")
    history_note: str | None = Field(default=None, description="数字含汇总录入（历史台账）时的说明")

    model_config = {"json_schema_extra": {"examples": [{
        "org": {"code": "532900", "name": "大理州政协", "level": "prefecture"},
        "period": {"key": "2026-ytd09", "label": "2026年1月至9月", "first_month": "2026-01", "last_month": "2026-09"},
        "score": 0.94, "participation": {"active": 2410, "took_part": 1980, "rate": 0.8216},
        "mobilisation": {"active": 2410, "reached": 2175, "rate": 0.9025, "since": None},
        "tasks": [{"task_id": 1, "name": "帮助脱贫地区发展特色产业、提供技术服务", "short_name": "特色产业与技术服务",
                   "activities_verified": 512, "activities_pending": 37, "indicators": [
                       {"id": 1, "name": "发展产业项目", "unit": "个", "kind": "count", "verified": 121, "pending": 9,
                        "text": "121", "target": 160, "pace": 120.0, "progress": 1.008, "behind": False}],
                   "outcomes": [{"id": 41, "name": "受益群众", "unit": "人", "kind": "count", "verified": 860,
                                 "pending": 40, "text": "860"}]}],
        "outcomes": [{"id": None, "name": "受益群众", "unit": "人", "kind": "count", "verified": 3120, "pending": 95,
                      "text": "3120"}],
        "outcome_text": "惠及群众3120人", "history_note": None}]}}


class CountyProgress(BaseModel):
    county: OrgRef
    period: PeriodRead
    rank: int | None = Field(description="在全部重点帮扶县中按本期已审核活动数的名次（无活动为 null）")
    ranked: int = Field(description="参与排名的重点帮扶县数")
    tasks: list[TaskProgress] = Field(description="在该县开展的活动（按地点，不论由哪级组织计入；无目标）")
    trend_months: list[str] = Field(description="趋势的月份 YYYY-MM（本年 1 月至期末）")
    trend: dict[str, list[int]] = Field(description="助推方向 → 每月已审核活动数（按地点）")
    own: Progress | None = Field(description="该县政协本级（按组织）的进度")
    outcomes: list[OutcomeProgress] = Field(default_factory=list, description=OUTCOMES_DOC)
    outcome_text: str = Field(default="", description="成效的一句话（按地点）；无则为空")
    history_note: str | None = Field(default=None, description="数字含汇总录入（历史台账）时的说明")

    model_config = {"json_schema_extra": {"examples": [{
        "county": {"code": "532930", "name": "洱源县政协", "level": "county"},
        "period": {"key": "2026-q3", "label": "2026年第三季度", "first_month": "2026-07", "last_month": "2026-09"},
        "rank": 5, "ranked": 57, "tasks": [], "trend_months": ["2026-07", "2026-08", "2026-09"],
        "trend": {"助推产业发展": [12, 18, 9]}, "own": None, "history_note": None}]}}


class RankingRow(BaseModel):
    rank: int | None = Field(description="名次（进度得分或活动数从高到低；无数据为 null）")
    previous_rank: int | None = Field(description="上月同期的名次（环比名次变化用）")
    code: str
    name: str
    score: float | None = Field(description="进度得分（of=children 时）")
    verified_activities: int = Field(description="本期已审核活动数")
    participation_rate: float | None = Field(description="参与率 0–1（of=children 时）")
    mobilisation_rate: float | None = Field(
        default=None, description="动员面 0–1（of=children 时；未统计或没有在任委员时为 null）")
    behind: bool = Field(description="工作推进不平衡：进度得分低于 90%（of=children 时）")


class Ranking(BaseModel):
    of: str = Field(description="children：下一级组织按进度得分；key_counties：重点帮扶县按活动数（按地点）")
    org: OrgRef
    period: PeriodRead
    rows: list[RankingRow]

    model_config = {"json_schema_extra": {"examples": [{
        "of": "children", "org": {"code": "530000", "name": "云南省政协", "level": "province"},
        "period": {"key": "2026-ytd09", "label": "2026年1月至9月", "first_month": "2026-01", "last_month": "2026-09"},
        "rows": [{"rank": 1, "previous_rank": 2, "code": "532900", "name": "大理州政协", "score": 1.12,
                  "verified_activities": 5120, "participation_rate": 0.86, "mobilisation_rate": 0.93,
                  "behind": False}]}]}}


# --- building them -------------------------------------------------------------------------------------

def _period(p: periods.Period) -> PeriodRead:
    return PeriodRead(key=p.key, label=p.label, first_month=f"{p.year}-{p.first:02d}",
                      last_month=f"{p.year}-{p.last:02d}")


def _ref(org: Organisation) -> OrgRef:
    return OrgRef(code=org.code, name=org.name, level=str(org.level))


def _tasks(tasks: list[service.TaskFigures]) -> list[TaskProgress]:
    return [TaskProgress(
        task_id=t.task.id, name=t.task.name, short_name=t.task.short_name, activities_verified=t.activities[0],
        activities_pending=t.activities[1], indicators=[IndicatorProgress(
            id=f.indicator.id, name=f.indicator.name, unit=f.indicator.unit, kind=f.indicator.kind,
            verified=f.verified, pending=f.pending, text=display_value(f.indicator.kind, f.verified),
            target=f.target, pace=f.pace, progress=f.progress, behind=f.behind) for f in t.indicators],
        outcomes=[OutcomeProgress(id=f.indicator.id, name=f.indicator.name, unit=f.indicator.unit,
                                  kind=f.indicator.kind, verified=f.verified, pending=f.pending,
                                  text=display_value(f.indicator.kind, f.verified)) for f in t.outcomes])
        for t in tasks]


def _outcomes(totals: list[service.OutcomeTotal]) -> list[OutcomeProgress]:
    return [OutcomeProgress(name=o.name, unit=o.unit, kind=o.kind, verified=o.verified, pending=o.pending,
                            text=o.value_text) for o in totals]


def _participation(p: service.Participation) -> ParticipationRead:
    return ParticipationRead(active=p.active, took_part=p.took_part, rate=p.rate)


def _note(found: object) -> str | None:
    note = getattr(found, "history", None)
    return str(note) if note else None


def _progress(o: service.Overview) -> Progress:
    return Progress(org=_ref(o.org), period=_period(o.period), score=o.score,
                    participation=_participation(o.participation), mobilisation=mobilisation_of(o.participation),
                    tasks=_tasks(o.tasks), outcomes=_outcomes(o.outcomes), outcome_text=o.outcome_text,
                    history_note=_note(o))


# --- routes --------------------------------------------------------------------------------------------

@router.get(
    "/catalogue", response_model=Catalogue,
    summary="指标目录 / Indicator catalogue",
    openapi_extra=token_access("aggregate"),
    description="本届「双助推」活动的助推方向、实事与指标（进度、排名、报告中的编号即此处的编号），"
                "含调用者范围内州市自行增加的指标。\n\n"
                "The current campaign's boost areas, tasks and indicators, with those a prefecture of the "
                "caller's scope added; the ids used by every figure.",
    responses={**AUTH_ERRORS},
)
def read_catalogue(session: SessionDep, by: CurrentUser) -> Catalogue:
    home = service.home_board(session, by)
    tasks, areas = service.catalogue(session, home.id if home else None)
    return Catalogue(areas=list(areas.values()), tasks=[TaskInfo(
        id=t.id, name=t.name, short_name=t.short_name, area=areas.get(t.area_id, ""),
        indicators=[IndicatorInfo(id=i.id, name=i.name, unit=i.unit, kind=i.kind, is_outcome=i.is_outcome)
                    for i in (*t.indicators, *t.outcomes)])
        for t in tasks])


@router.get(
    "/progress", response_model=Progress,
    summary="组织的进度 / Progress of an organisation",
    openapi_extra=token_access("aggregate"),
    description=(
        "一个组织（含下级，按计入组织统计）在某期间的已审核与待审核数字、年度目标、时间进度、进度得分与参与率——"
        "与看板 /boards/{code} 显示的完全一致。\n\n"
        "The verified and pending figures of an organisation's subtree (by credited organisation) for a "
        "period, with targets, pace, progress score and participation: exactly the board's figures."
    ),
    responses={**AUTH_ERRORS, **ORG_NOT_FOUND, **INVALID},
)
def read_progress(session: SessionDep, by: CurrentUser, org: OrgCode, period: PeriodKey = None) -> Progress:
    target = org_for_read(session, by, org)
    return _progress(service.overview(session, target, periods.parse(period)))


@router.get(
    "/counties/{code}/progress", response_model=CountyProgress,
    summary="重点帮扶县的进度 / Progress of a key county",
    openapi_extra=token_access("aggregate"),
    description=(
        "一个重点帮扶县在某期间的数字（按地点：在该县开展的活动，不论由哪级组织计入）、在全部重点帮扶县中的名次、"
        "本年各月趋势，以及该县政协本级的进度——与县看板 /c/{code} 一致（不含人员姓名）。\n\n"
        "A key county's figures by place for a period, its rank among the key counties, the monthly trend "
        "per boost area, and the county organisation's own progress: the county board, without names."
    ),
    responses={**AUTH_ERRORS, 404: {"model": ORG_NOT_FOUND[404]["model"],
                                    "description": "找不到该县、不在您的范围内，或不是重点帮扶县（code: not_found）"},
               **INVALID},
)
def read_county_progress(
    session: SessionDep, county: OrgForRead, period: PeriodKey = None,
) -> CountyProgress:
    board = service.county_board(session, county, periods.parse(period))
    return CountyProgress(
        county=_ref(county), period=_period(board.period), rank=board.rank, ranked=board.ranked,
        tasks=_tasks(board.tasks), trend_months=[f"{m // 100}-{m % 100:02d}" for m in board.trend_months],
        trend=board.trend, own=_progress(board.own) if board.own else None, outcomes=_outcomes(board.outcomes),
        outcome_text=board.outcome_text, history_note=_note(board))


@router.get(
    "/rankings", response_model=Ranking,
    summary="排名 / Rankings",
    openapi_extra=token_access("aggregate"),
    description=(
        "`of=children`：一个组织的下一级组织按进度得分排名（同看板），带上月名次、参与率与工作推进不平衡标记；"
        "`of=key_counties`：该组织范围内的重点帮扶县按本期已审核活动数（按地点）在全部重点帮扶县中的名次。\n\n"
        "`children`: the organisations one level down ranked by progress score, as on the board; "
        "`key_counties`: the key counties inside the organisation by verified activities done there, "
        "ranked among all key counties."
    ),
    responses={**AUTH_ERRORS, **ORG_NOT_FOUND, **INVALID},
)
def read_rankings(
    session: SessionDep, by: CurrentUser, org: OrgCode, period: PeriodKey = None,
    of: Annotated[str, Query(pattern="^(children|key_counties)$", description="children 或 key_counties")] = "children",
) -> Ranking:
    target = org_for_read(session, by, org)
    p = periods.parse(period)
    if of == "children":
        o = service.overview(session, target, p)
        rows = [RankingRow(rank=r.rank, previous_rank=r.previous_rank, code=r.org.code, name=r.org.name, score=r.score,
                           verified_activities=r.verified_activities, participation_rate=r.participation.rate,
                           mobilisation_rate=r.participation.mobilisation_rate, behind=r.behind) for r in o.ranking]
        return Ranking(of=of, org=_ref(target), period=_period(p), rows=rows)
    inside = list(session.scalars(select(Organisation).where(
        Organisation.is_key_county.is_(True), Organisation.id.in_(by.scope(*READ_ROLES)),
        Organisation.id.in_(subtree_ids(target.id))).order_by(Organisation.code)))
    summaries = service.county_summaries(session, [c.id for c in inside], p)
    rows = [RankingRow(rank=s.rank, previous_rank=None, code=c.code, name=c.name, score=None,
                       verified_activities=s.verified, participation_rate=None, behind=False)
            for c in inside if (s := summaries.get(c.id))]
    rows.sort(key=lambda r: (r.rank is None, r.rank or 0, r.code))
    return Ranking(of=of, org=_ref(target), period=_period(p), rows=rows)


# --- by 界别 and by 专委会 (app/boards/breakdown.py) -------------------------------------------------

class GroupRead(BaseModel):
    name: str = Field(description="界别或专委会名称")
    committee_id: int | None = Field(default=None, description="专委会的编号（by=committee 时）")
    participation: ParticipationRead = Field(description="参与率：期内在任的该组委员，及其中在任月份参加过已审核活动的委员")
    participations: int = Field(description="参加活动人次：该组委员在任月份参加已审核活动的次数之和"
                                           "（一次活动有该组几名委员参加，计几人次）")


class BreakdownRead(BaseModel):
    by: str = Field(description="sector：按界别（组织及下级的全部委员）；committee：按本组织的专委会（本级委员）")
    org: OrgRef
    period: PeriodRead
    groups: list[GroupRead]

    model_config = {"json_schema_extra": {"examples": [{
        "by": "sector", "org": {"code": "530100", "name": "昆明市政协", "level": "prefecture"},
        "period": {"key": "2026-ytd09", "label": "2026年1月至9月", "first_month": "2026-01", "last_month": "2026-09"},
        "groups": [{"name": "经济界", "committee_id": None,
                    "participation": {"active": 120, "took_part": 95, "rate": 0.7917}, "activities": 310}]}]}}


@router.get(
    "/orgs/{code}/breakdown", response_model=BreakdownRead,
    summary="按界别、专委会统计 / Figures by sector or committee",
    openapi_extra=token_access("aggregate"),
    description=(
        "一个组织在某期间按界别（`by=sector`，组织及下级的全部在任委员）或按本组织专委会（`by=committee`，"
        "本级委员）分组的参与率与参加活动人次——与看板和报告的「分界别统计」「分专委会统计」一致"
        "（不含人员姓名）。\n\n"
        "An organisation's 参与率 and 人次 (its members' verified activities, summed), per 界别 of its subtree's members or "
        "per committee of its own: the board's and the report's tables, without names."
    ),
    responses={**AUTH_ERRORS, **ORG_NOT_FOUND, **INVALID},
)
def read_breakdown(
    session: SessionDep, org: OrgForRead, period: PeriodKey = None,
    by: Annotated[str, Query(pattern="^(sector|committee)$", description="sector 或 committee")] = "sector",
) -> BreakdownRead:
    got = breakdown.breakdown(session, org, periods.parse(period), by)
    return BreakdownRead(by=by, org=_ref(org), period=_period(got.period), groups=[GroupRead(
        name=g.name, committee_id=g.committee_id, participation=_participation(g.participation),
        participations=g.participations) for g in got.groups])
