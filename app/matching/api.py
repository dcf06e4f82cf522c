"""JSON API of 补位匹配 and 带动 under /api/v1. The rules are app/matching/service.py's; these handlers only
translate HTTP. Reads are scoped like the boards (``OrgForRead``; they name members, so a token needs the
records level, and no phone is in them); sending invitations is for signed-in staff over the county only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response

from app.activities.values import display_value
from app.api_docs import AUTH_ERRORS, INVALID, ORG_NOT_FOUND, PERIOD_DESCRIPTION, PERIOD_PATTERN, err
from app.api_http import json_answer
from app.boards import periods
from app.db import run_write
from app.deps import CurrentUser, Id, OrgForRead, OrgForStaff, SessionDep, WriteSessionDep
from app.matching import service
from app.matching.schemas import (
    BATCH_EXAMPLE,
    BringerRead,
    BringingRead,
    MatchBatchRead,
    MatchCandidateRead,
    MatchCandidatesRead,
    MatchComponentRead,
    MatchFigureRead,
    MatchInvitationCreate,
    MatchInvitedRead,
)
from app.models import Organisation
from app.tokens.service import token_access

router = APIRouter(prefix="/api/v1", tags=["matching"])

PeriodKey = Annotated[str | None, Query(pattern=PERIOD_PATTERN, max_length=16, description=PERIOD_DESCRIPTION)]
TASK_404: dict[int | str, dict[str, Any]] = {
    404: err("找不到该组织或不在您的管辖范围内（not_found）、不是重点帮扶县，或该县没有这项实事（task_not_found）")}


def _batch(b: service.Batch) -> MatchBatchRead:
    return MatchBatchRead(id=b.id, org=b.org_name, county_name=b.county_name, task=b.task_name, channel=b.channel,
                     note=b.note, created_at=b.created_at, day=b.day, created_by=b.created_by, invited=b.invited,
                     joined=b.joined, rate=b.rate,
                     members=[MatchInvitedRead(member_id=m, name=n, joined=j) for m, n, j in b.members])


@router.get(
    "/counties/{code}/matching/{task_id}/candidates", response_model=MatchCandidatesRead,
    openapi_extra=token_access("records"),
    summary="补位匹配候选委员 / Members who could help a key county on a task",
    description=("重点帮扶县的一项实事（县政协自身进度，指标低于时间进度 90% 为落后）可以补位的委员，按得分从高到低：做过该实事、"
                 "到过该县或本州市、界别、专委会和行业与该实事相关，每项得分和依据都列出。范围：该县所在州市（含所属县）和省政协的在任"
                 "委员中在调用者范围内的（「双助推」办公室：其办理范围；只读的领导和 API 令牌：其可读范围）；本期已在该县参与这项实事"
                 "的不列出。不含手机号；含委员姓名：API 令牌需为明细级。\n\n"
                 "The members who could help a key county on a task, best first, each score's parts explained; within "
                 "the caller's staff subtree (readers and tokens: what they read). Names members: records level."),
    responses={**AUTH_ERRORS, **TASK_404, **INVALID},
)
def list_match_candidates(session: SessionDep, by: CurrentUser, county: OrgForRead, task_id: Id,
                          period: PeriodKey = None,
                          page: Annotated[int, Query(ge=1, le=10_000, description="页码")] = 1,
                          per_page: Annotated[int, Query(ge=1, le=200, description="每页人数")] = 50) -> Response:
    g = service.gap(session, by, county, task_id, periods.parse(period))
    ranked = service.candidates(session, g)
    shown = ranked[(page - 1) * per_page:page * per_page]
    return json_answer(MatchCandidatesRead(
        county=county.code, county_name=county.name, task_id=g.task.id, task=g.task.short_name, office=g.office.name,
        period=g.period.key, period_label=g.period.label, behind=bool(g.behind),
        figures=[MatchFigureRead(indicator_id=f.indicator.id, name=f.indicator.name, unit=f.indicator.unit,
                            verified=display_value(f.indicator.kind, f.verified),
                            target=display_value(f.indicator.kind, f.target) if f.target is not None else None,
                            of_target=f.of_target, behind=f.behind) for f in g.figures],
        total=len(ranked), page=page, per_page=per_page,
        candidates=[MatchCandidateRead(member_id=c.member_id, name=c.name, org=c.org_name, sector=c.sector,
                                  committee=c.committee, industry=c.industry, score=c.score, invited_on=c.invited_on,
                                  components=[MatchComponentRead(key=x.key, label=x.label, points=x.points, why=x.why)
                                              for x in c.components]) for c in shown]))


@router.post(
    "/counties/{code}/matching/{task_id}/invitations", status_code=201, response_model=MatchBatchRead,
    summary="发出补位邀请 / Invite members to help",
    description=("邀请所选委员（须在候选范围内）到该县参与这项实事：inapp 发站内消息，sms 发站内消息和短信（遵守免打扰时段、每日上限，"
                 "不接收提醒的委员跳过），list 只登记、导出名单。每人一条邀请记录；记入审计日志（match.invite）。必须带 "
                 "`Idempotency-Key` 请求头：重复提交返回第一次的这批邀请（200），不再发送。\n\n"
                 "Invites members of the pool; one row per member; audited; `Idempotency-Key` required (a retry answers the "
                 "first batch and sends nothing)."),
    responses={200: {"model": MatchBatchRead, "description": "重复提交 / idempotent replay"},
               **AUTH_ERRORS, **TASK_404, **INVALID},
)
async def create_match_invitations(request: Request, data: MatchInvitationCreate, by: CurrentUser, county: OrgForStaff,
                             task_id: Id, read: SessionDep, session: WriteSessionDep,
                             idempotency_key: Annotated[str | None, Header(
                                 alias="Idempotency-Key", description="客户端生成的唯一提交编号，最长 64 个字符")] = None,
                             ) -> Response:
    period, county_id = periods.parse(data.period), county.id

    def use_case(s: Any) -> tuple[int, bool]:
        here = s.get(Organisation, county_id)
        g = service.gap(s, by, here, task_id, period, act=True)
        return service.invite(s, by=by, g=g, member_ids=data.member_ids, channel=data.channel, note=data.note,
                              submission_key=idempotency_key or "")

    body, created = await run_write(request, read, session, use_case,
                                    lambda r, made: (_batch(service.batch_for(r, by, made[0])), made[1]))
    if created:
        return json_answer(body, status_code=201)
    return json_answer(body, headers={"Idempotent-Replayed": "true"})


@router.get(
    "/counties/{code}/matching/{task_id}/invitations", response_model=list[MatchBatchRead],
    openapi_extra=token_access("records"),
    summary="补位邀请和参与情况 / Invitations and joins",
    description=("调用者管辖范围内的组织向该县这项实事发出的邀请，按批（一次提交）列出，最新在前：邀请人数、已参与人数（受邀委员在"
                 "邀请当天及以后参加了该县这项实事的已审核活动）和参与率。含委员姓名：API 令牌需为明细级。\n\n"
                 "The invitation batches to this county and task, newest first, with how many joined since."),
    responses={200: {"content": {"application/json": {"example": [BATCH_EXAMPLE]}}},
               **AUTH_ERRORS, **TASK_404, **INVALID},
)
def list_match_invitations(session: SessionDep, by: CurrentUser, county: OrgForRead, task_id: Id,
                     period: PeriodKey = None) -> Response:
    g = service.gap(session, by, county, task_id, periods.parse(period))
    return json_answer([_batch(b) for b in service.batches_for(session, by, g)])


@router.get(
    "/orgs/{code}/bringing", response_model=BringingRead, openapi_extra=token_access("records"),
    summary="带动新人 / Members who brought others to their first activity",
    description=("某期间计入该组织（含下级）的已审核联合活动中，记录人本人参与、其他确认参与的委员以此为其第一次已审核活动的，"
                 "计为记录人带动一人：每位委员带动的人数和合计。含委员姓名：API 令牌需为明细级。\n\n"
                 "Per member, the people their joint activities (recorded and taken part in by them) brought to their first "
                 "verified activity, in the period and the organisation's subtree; and the total."),
    responses={**AUTH_ERRORS, **ORG_NOT_FOUND, **INVALID},
)
def read_bringing(session: SessionDep, org: OrgForRead, period: PeriodKey = None) -> Response:
    report = service.bringing(session, org, periods.parse(period))
    return json_answer(BringingRead(org=org.code, org_name=org.name, period=report.period.key,
                              period_label=report.period.label, total=report.total,
                              members=[BringerRead(member_id=b.member_id, name=b.name, brought=b.brought,
                                                   newcomers=b.newcomers) for b in report.members]))
