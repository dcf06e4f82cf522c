"""JSON API for reports under /api/v1: the figures and the narrative of an organisation's subtree
for a span of months — the same report the page, the command line and the downloads show."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from app.activities.api import AUTH_ERRORS, INVALID, ErrorBody
from app.boards import periods
from app.boards.api import MOBILISATION_DOC, MobilisationRead, ParticipationRead
from app.deps import CurrentUser, SessionDep
from app.models.base import MAX_BIGINT
from app.reports import service
from app.reports.compare import compare_to_frozen
from app.reports.pages import report_org
from app.suggestions.schemas import AdoptionFigures
from app.tokens.service import token_access

router = APIRouter(prefix="/api/v1", tags=["reports"])


class IndicatorFigure(BaseModel):
    id: int
    name: str = Field(description="指标名称")
    unit: str = Field(description="单位，如 个、次、万元")
    kind: str = Field(description="count（计数）或 money（金额）")
    verified: int = Field(description="已审核合计：计数原样；金额以 0.01 万元为单位（整数）")
    text: str = Field(description="按单位显示的数值，如 152306、12.5")


class TaskFigure(BaseModel):
    task_id: int
    name: str = Field(description="实事名称")
    short_name: str
    activities: int = Field(description="已审核活动数（次）")
    link: str = Field(description="组成这些数字的已审核活动列表（网页）")
    indicators: list[IndicatorFigure] = Field(description="工作指标")
    outcomes: list[IndicatorFigure] = Field(default_factory=list, description="成效指标（选填数据，不计入进度）")


class OutcomeTotal(BaseModel):
    name: str = Field(description="成效指标名称，如 受益群众（同名成效指标跨实事相加）")
    unit: str
    kind: str
    verified: int = Field(description="已审核合计：计数原样；金额以 0.01 万元为单位（整数）")
    text: str = Field(description="按单位显示的数值")


class UnitValue(BaseModel):
    task_id: int
    indicator_id: int
    verified: int = Field(description="已审核合计：计数原样；金额以 0.01 万元为单位（整数）")


class UnitRow(BaseModel):
    row: Literal["unit", "own", "total"] = Field(
        description="unit：下一级组织（含其下级）；own：本级（只计入该组织本身的活动）；"
                    "total：合计（整个辖区，等于各 unit 与 own 之和）")
    org_code: str
    name: str = Field(description="组织名称；本级行为「某某政协本级」，合计行为「合计」")
    activities: int = Field(description="已审核活动数（次）")
    values: list[UnitValue]
    mobilisation_rate: float | None = Field(
        default=None, description="动员面（0–1），与参与率同样去重计算；未统计或没有在任委员时为 null")
    participation_rate: float | None = Field(
        description="参与率（0–1）：本行组织的委员去重计算（本级：委员身份在该组织本身），不可相加")


class ReportSummary(BaseModel):
    org_code: str
    org_name: str
    period_key: str = Field(description="统计期间的键，可用于网页 ?period=")
    period_label: str
    title: str
    narrative: str = Field(description="报告正文（每段一行）")
    paragraphs: list[list[str]] = Field(description="报告正文，按段落和句子")
    activities: int = Field(description="本期已审核活动总数")
    figures: list[TaskFigure]
    outcomes: list[OutcomeTotal] = Field(default_factory=list, description="成效合计，与工作指标分开")
    outcome_text: str = Field(default="", description="成效的一句话：惠及群众X人，带动就业X人，带动增收X万元（无则为空）")
    suggestions: AdoptionFigures | None = Field(
        default=None, description="意见建议的跟踪：本期（按活动日期）已审核的意见建议条数、各跟踪情况的条数和采纳率"
                                  "（没有意见建议时 rate 为 null）；此功能之前冻结的报告为 null")
    participation: ParticipationRead
    mobilisation: MobilisationRead | None = Field(description=MOBILISATION_DOC)
    units: list[UnitRow] = Field(description="下级组织分项统计：下一级各组织、本级、合计（各数字列之和等于合计）；"
                                             "没有下级组织时为空")
    generated_at: str = Field(description="生成时间（北京时间）")

    model_config = {"json_schema_extra": {"examples": [{
        "org_code": "530000", "org_name": "云南省政协", "period_key": "2026-01~09", "period_label": "2026年1月至9月",
        "title": "云南省政协「双助推」行动工作情况（2026年1月至9月）",
        "narrative": "据统计，自2026年初截至第三季度末，全省政协组织和委员持续开展办“10件实事”活动：帮助脱贫地区发展产业项目1216个，"
                     "提供技术服务18403次。帮助脱贫地区开展农产品线上线下销售活动29870次，销售金额152306万元。……\n"
                     "全省政协委员动员面达到90.1%，参与率达到83.4%，共有25012名委员参与。",
        "paragraphs": [["据统计，……提供技术服务18403次。", "……"],
                       ["全省政协委员动员面达到90.1%，参与率达到83.4%，共有25012名委员参与。"]],
        "activities": 60321,
        "figures": [{"task_id": 1, "name": "帮助脱贫地区发展特色产业、提供技术服务", "short_name": "特色产业与技术服务",
                     "activities": 5120, "link": "/boards/530000/activities?period=2026-01~09&task=1",
                     "indicators": [{"id": 1, "name": "发展产业项目", "unit": "个", "kind": "count", "verified": 1216,
                                     "text": "1216"}]}],
        "participation": {"active": 29990, "took_part": 25012, "rate": 0.834},
        "mobilisation": {"active": 29990, "reached": 27021, "rate": 0.901, "since": None},
        "units": [{"row": "unit", "org_code": "530100", "name": "昆明市政协", "activities": 6012,
                   "values": [{"task_id": 1, "indicator_id": 1, "verified": 130}], "participation_rate": 0.85},
                  {"row": "own", "org_code": "530000", "name": "云南省政协本级", "activities": 339,
                   "values": [{"task_id": 1, "indicator_id": 1, "verified": 12}], "participation_rate": 0.91},
                  {"row": "total", "org_code": "530000", "name": "合计", "activities": 60321,
                   "values": [{"task_id": 1, "indicator_id": 1, "verified": 1216}], "participation_rate": 0.834}],
        "generated_at": "2026-10-08 09:30",
    }]}}


ORG_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "找不到该组织，或不在您的范围内（code: not_found） / organisation not found or outside your scope"},
}


def _unit_rows(report: dict) -> list[UnitRow]:
    table = next(t for t in report["tables"] if t["key"] == "units")
    columns = table["columns"]
    out = []
    for row, key in zip(table["rows"], table["row_keys"], strict=True):
        cells = list(zip(columns, row, strict=True))
        out.append(UnitRow(row=key["row"], org_code=key["code"], name=row[0], activities=row[1],
                           values=[UnitValue(task_id=c["task"], indicator_id=c["indicator"], verified=v)
                                   for c, v in cells if "indicator" in c],
                           mobilisation_rate=row[-2] if not isinstance(row[-2], str) else None,
                           participation_rate=row[-1]))
    return out


def to_summary(report: dict) -> ReportSummary:
    return ReportSummary(
        org_code=report["org"]["code"], org_name=report["org"]["name"], period_key=report["period"]["key"],
        period_label=report["period"]["label"], title=report["title"], narrative=report["text"],
        paragraphs=report["paragraphs"], activities=report["activities"],
        figures=[TaskFigure(**{k: t[k] for k in ("task_id", "name", "short_name", "activities", "link")},
                            indicators=[IndicatorFigure(**{k: i[k] for k in ("id", "name", "unit", "kind", "verified", "text")})
                                        for i in t["indicators"]],
                            outcomes=[IndicatorFigure(**{k: i[k] for k in ("id", "name", "unit", "kind", "verified", "text")})
                                      for i in t.get("outcomes", [])]) for t in report["figures"]],
        outcomes=[OutcomeTotal(**o) for o in report.get("outcomes", [])], outcome_text=report.get("outcome_text", ""),
        suggestions=AdoptionFigures(**report["suggestions"]) if report.get("suggestions") else None,
        participation=ParticipationRead(**report["participation"]),
        mobilisation=MobilisationRead(**report["mobilisation"]) if report.get("mobilisation") else None,
        units=_unit_rows(report),
        generated_at=report["generated_at"])


@router.get(
    "/reports/summary", response_model=ReportSummary,
    summary="报告的数字与正文 / Report figures and narrative",
    openapi_extra=token_access("aggregate"),
    description=(
        "一个组织（含下级）在 `from`–`to` 各月（含首尾，须在同一年内）的已审核数字与报告正文，"
        "与报告页面、命令行 `python -m app report` 和 Word/Excel 下载完全一致。`compare=true` 时正文加上环比与同比。\n\n"
        "Verified figures and the narrative of an organisation's subtree for the months `from`..`to` "
        "(inclusive, one calendar year) — the same report as the page, the CLI and the downloads."
    ),
    responses={**AUTH_ERRORS, **ORG_NOT_FOUND, **INVALID},
)
def report_summary(
    session: SessionDep, by: CurrentUser,
    org: Annotated[str, Query(min_length=2, max_length=12, description="组织的 6 位行政区划代码，如 530000",
                              examples=["530000"])],
    from_: Annotated[str, Query(alias="from", max_length=7, description="起始月份 YYYY-MM", examples=["2026-01"])],
    to: Annotated[str, Query(max_length=7, description="截止月份 YYYY-MM（含）", examples=["2026-09"])],
    compare: Annotated[bool, Query(description="正文是否加上环比与同比")] = False,
) -> ReportSummary:
    target = report_org(session, by, org)
    period = periods.from_months(from_, to)
    return to_summary(service.build_report(session, target, period, compare=compare))


# --- 推进会对比稿 -------------------------------------------------------------------------------------

class IndicatorMove(BaseModel):
    task: str = Field(description="实事简称")
    name: str = Field(description="指标名称")
    unit: str
    kind: str = Field(description="count（计数）或 money（金额）")
    then: int = Field(description="冻结报告中的已审核合计（金额以 0.01 万元为单位）")
    now: int = Field(description="今天的已审核合计（同上）")
    delta: int
    then_text: str
    now_text: str
    delta_text: str = Field(description="带符号的变化，如 +1,216；没有变化时为空")


class RankMove(BaseModel):
    code: str | None = Field(description="组织的行政区划代码")
    name: str
    then: int = Field(description="冻结报告中的名次")
    now: int = Field(description="今天的名次")
    change: int = Field(description="上升的位数（下降为负）")
    direction: Literal["rose", "fell"]


class FollowUpClosed(BaseModel):
    id: int
    title: str
    owner: str = Field(description="责任组织")
    due_on: str
    closed_on: str = Field(description="办结日期（北京时间）")
    note: str = Field(description="办结说明")


class FollowUpOpen(BaseModel):
    id: int
    title: str
    owner: str = Field(description="责任组织")
    due_on: str
    status: Literal["open", "overdue"]


class FrozenComparison(BaseModel):
    title: str
    org_code: str
    org_name: str
    frozen_id: int
    frozen_title: str
    frozen_at: str = Field(description="冻结时间（北京时间）：推进会的版本")
    period_key: str = Field(description="今天对比所用的统计期间（本年截至本月）")
    paragraph: str = Field(description="「从X月X日推进会到今天，……」一段")
    caveat: str | None = Field(description="冻结报告的统计期间不是今年从1月起算时的提示（两者口径不同）；否则为 null")
    activities_then: int
    activities_now: int
    indicators: list[IndicatorMove]
    participation_then: float | None
    participation_now: float | None
    movers: list[RankMove] = Field(description="排名上升或下降的下级组织")
    closed: list[FollowUpClosed] = Field(description="冻结以来办结的督办事项")
    open: list[FollowUpOpen] = Field(description="尚未办结的督办事项（含已超期）")

    model_config = {"json_schema_extra": {"examples": [{
        "title": "昆明市政协推进会对比稿（10月15日推进会—11月23日）", "org_code": "530100", "org_name": "昆明市政协",
        "frozen_id": 12, "frozen_title": "昆明市政协「双助推」行动工作情况（2026年1月至10月）",
        "frozen_at": "2026-10-15 12:00", "period_key": "2026-ytd11",
        "paragraph": "从10月15日推进会到今天，全市已审核活动由2,310次增至2,684次（+374），其中义医义诊由412次增至530次（+118）；"
                     "参与率由61.2%升至64.8%（+3.6个百分点）；推进会以来办结督办事项1项，尚未办结2项（其中已超期1项）。",
        "caveat": None, "activities_then": 2310, "activities_now": 2684,
        "indicators": [{"task": "义医义诊", "name": "义医义诊", "unit": "次", "kind": "count", "then": 412, "now": 530,
                        "delta": 118, "then_text": "412", "now_text": "530", "delta_text": "+118"}],
        "participation_then": 0.612, "participation_now": 0.648,
        "movers": [{"code": "530102", "name": "五华区政协", "then": 5, "now": 2, "change": 3, "direction": "rose"}],
        "closed": [{"id": 7, "title": "盘龙区销售活动落后于进度", "owner": "盘龙区政协", "due_on": "2026-11-10",
                    "closed_on": "2026-11-02", "note": "已组织两场产销对接"}],
        "open": [{"id": 9, "title": "东川区没有挂联领导", "owner": "昆明市政协", "due_on": "2026-11-20", "status": "overdue"}],
    }]}}


@router.get(
    "/reports/compare", response_model=FrozenComparison,
    summary="推进会对比稿 / A frozen report against today",
    # Records level, as the 督办事项 list is: the answer names follow-ups and their closing notes.
    openapi_extra=token_access("records"),
    description=(
        "一份已冻结的报告（推进会的版本）与今天（本年截至本月）对比：当时的数字取自冻结的内容，不重新计算；"
        "排名升降的下级组织；冻结以来办结和尚未办结的督办事项。与 /reports/compare 页面和 Word 下载一致。\n\n"
        "A frozen report (as presented to the last meeting) against today's year-to-date figures: "
        "the figures then come from the stored report, never recomputed."
    ),
    responses={**AUTH_ERRORS, 404: {"model": ErrorBody, "description": "找不到该报告，或无权查看（code: not_found）"},
               **INVALID},
)
def report_compare(session: SessionDep, by: CurrentUser,
                   frozen: Annotated[int, Query(ge=1, le=MAX_BIGINT, description="已冻结报告的编号")]
                   ) -> FrozenComparison:
    c = compare_to_frozen(session, by, frozen, periods.parse(None))
    return FrozenComparison(
        title=c["title"], org_code=c["org"]["code"], org_name=c["org"]["name"], frozen_id=c["frozen"]["id"],
        frozen_title=c["frozen"]["title"], frozen_at=c["frozen"]["frozen_at"], period_key=c["today"]["period_key"],
        paragraph=c["paragraph"], caveat=c["caveat"], activities_then=c["activities"]["then"], activities_now=c["activities"]["now"],
        indicators=[IndicatorMove(**i) for i in c["indicators"]],
        participation_then=c["participation"]["then"], participation_now=c["participation"]["now"],
        movers=[RankMove(**{k: m[k] for k in ("code", "name", "then", "now", "change", "direction")})
                for m in c["movers"]],
        closed=[FollowUpClosed(**f) for f in c["closed"]],
        open=[FollowUpOpen(**{k: f[k] for k in ("id", "title", "owner", "due_on", "status")}) for f in c["open"]])
