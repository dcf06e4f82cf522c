"""JSON API for 挂联 under /api/v1/links: list (scoped, filtered), read, create, change, end, the
coverage of the key counties, and 挂联实效 (whether linked leaders went to their counties).

The same service functions as the pages do the work; these handlers only translate HTTP. Callers are
authenticated by the session cookie plus the ``X-CSRF-Token`` header on writes. Errors come back as
``{"detail", "code"}`` (``errors`` per field on 422), from app.main. Leaders are named, never with
their phone numbers.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlmodel import Session

from app.activities.api import AUTH_ERRORS, INVALID, ErrorBody
from app.api_docs import ORG_NOT_FOUND, PERIOD_DESCRIPTION, PERIOD_PATTERN
from app.api_http import json_answer
from app.api_types import IsoDate
from app.boards import periods
from app.db import run_write
from app.deps import CurrentUser, Id, SessionDep, WriteSessionDep, org_for_read
from app.links import service
from app.links.schemas import (
    MAX_ID,
    Coverage,
    LinkChange,
    LinkCreate,
    LinkEffectReport,
    LinkEnd,
    LinkPage,
    LinkRead,
)
from app.models import LinkAssignment
from app.tokens.service import token_access

router = APIRouter(prefix="/api/v1/links", tags=["links"])

# The same query parameters as the boards' API (/api/v1/progress?org=…&period=…).
PeriodKey = Annotated[str | None, Query(pattern=PERIOD_PATTERN, max_length=16, description=PERIOD_DESCRIPTION,
                                        examples=["2026-ytd09"])]
OrgCode = Annotated[str, Query(pattern=r"^\d{6}$", description="组织的 6 位行政区划代码", examples=["530000"])]


def _err(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


NOT_FOUND = {404: _err("找不到该挂联，或不在您的范围内（code: not_found） / not found or outside your scope")}
WRITE_FORBIDDEN = {403: _err(
    "CSRF 令牌缺失或不符（code: csrf_failed、bad_origin）；没有安排挂联的权限，或地点、领导不在您的管理范围内"
    "（code: forbidden、place_out_of_scope） / CSRF failure, or not allowed to assign there")}
OVERLAP = {409: _err("同一领导与同一地点的挂联时间重叠（code: link_overlap），或挂联已经结束（code: link_ended） / "
                     "overlapping link of the same leader and place, or the link has already ended")}


def _read(session: Session, link: LinkAssignment) -> LinkRead:
    return service.to_read(session, [link])[0]



class LinkQuery(BaseModel):
    """Filters of the list (all optional) and the page."""

    county_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="挂联地点所在县（含县内乡镇/村/示范点）")
    site_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="挂联的乡镇/村/示范点")
    prefecture_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="州（市）：其下各县的挂联")
    leader_member_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="挂联领导（委员编号）")
    active_on: IsoDate | None = Field(default=None, description="在该日在任的挂联（YYYY-MM-DD）")
    state: str = Field(default="all", pattern="^(open|attention|ended|all)$",
                       description="open 在任（含未开始）/ attention 待调整 / ended 已结束 / all 全部")
    page: int = Field(default=1, ge=1, le=100_000, description="页码")
    per_page: int = Field(default=50, ge=1, le=200, description="每页条数")

    def filters(self) -> service.LinkFilters:
        return service.LinkFilters(county_id=self.county_id, site_id=self.site_id, prefecture_id=self.prefecture_id,
                                   leader_member_id=self.leader_member_id, active_on=self.active_on, state=self.state)


@router.get(
    "", response_model=LinkPage,
    summary="挂联列表 / List link assignments",
    openapi_extra=token_access("records"),
    description=(
        "调用者可见的挂联（地点在其有查看权限的组织范围内，或本人是挂联领导），待调整的在前，可按地点、领导、"
        "某日在任、状态筛选，分页。\n\n"
        "Link assignments the caller may read (the place lies in a subtree they read, or they are the leader), "
        "those needing reassignment first; filtered by place, leader, active on a date, state; paginated."
    ),
    responses={**AUTH_ERRORS, **INVALID},
)
def list_links(session: SessionDep, by: CurrentUser, q: Annotated[LinkQuery, Query()]) -> LinkPage:
    rows, total = service.list_links(session, by, q.filters(), page=q.page, per_page=q.per_page)
    return LinkPage(items=service.to_read(session, rows), total=total, page=q.page, per_page=q.per_page)


@router.get(
    "/coverage", response_model=Coverage,
    summary="重点帮扶县挂联覆盖 / Coverage of the key counties",
    openapi_extra=token_access("records"),
    description=(
        "调用者范围内的重点帮扶县及其在任的县级挂联领导：无挂联领导的县在前，其次是挂联领导待调整的县。"
        "可按州（市）筛选。\n\n"
        "The key counties of the caller's subtrees with their active county-level leaders: uncovered first, then "
        "those whose leaders all need reassignment. Optionally one prefecture."
    ),
    responses={**AUTH_ERRORS, **INVALID},
)
def coverage(session: SessionDep, by: CurrentUser,
             prefecture_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="州（市）组织编号")] = None):
    return service.coverage(session, by, prefecture_id=prefecture_id)


@router.get(
    "/effect", response_model=LinkEffectReport,
    summary="挂联实效 / Whether linked leaders went to their counties",
    openapi_extra=token_access("records"),
    description=(
        "`org` 范围内（且调用者可见）在任挂联的每位领导、每个县：本期内本人在该县参与的已审核活动数（记录或参与；"
        "同事的活动不计）、本人在该县最近一次已审核活动的日期，以及「挂联后 N 个月未到县开展活动」标记"
        "（N 为该组织「双助推」办公室的研判会设置，默认 3）。期间已结束时统计到其最后一天。被标记的在前。\n\n"
        "For each leader and county with a link in force inside `org`'s subtree (as far as the caller reads): the "
        "leader's own verified activities there this period (recorded or taken part in; a colleague's do not "
        "count), the date of the last one, and the flag \"linked but not active there for N months\" (N: the "
        "organisation's meeting setting, default 3). A past period is counted up to its last day. Flagged first."
    ),
    responses={**AUTH_ERRORS, **ORG_NOT_FOUND, **INVALID},
)
def effect(session: SessionDep, by: CurrentUser, org: OrgCode, period: PeriodKey = None) -> LinkEffectReport:
    return service.effect_report(session, by, org_for_read(session, by, org), periods.parse(period))


@router.get(
    "/{link_id}", response_model=LinkRead,
    summary="读取一条挂联 / Read a link assignment",
    openapi_extra=token_access("records"),
    description="调用者可见的一条挂联；范围外的与不存在的一样答 404。\n\nOne link the caller may read; outside scope, 404.",
    responses={**AUTH_ERRORS, **NOT_FOUND},
)
def get_link(session: SessionDep, by: CurrentUser, link_id: Id):
    return json_answer(_read(session, service.link_for_read(session, by, link_id)))


@router.post(
    "", status_code=201, response_model=LinkRead,
    summary="安排挂联 / Assign a leader to a county or site",
    description=(
        "把一位领导（该县或其上级、且在调用者管理范围内的政协现任主席会议成员或担任职务的委员）挂联到调用者"
        "管理范围内的一个县（可选县内一个乡镇/村/示范点）。同一领导与同一地点的挂联时间不能重叠；"
        "完全相同的重复提交返回已有的那条（200，响应头 `Idempotent-Replayed: true`），不会新增第二条。记入审计日志。\n\n"
        "Links a leader (a current chair-council member or post holder of the county or an organisation above it, "
        "inside the caller's scope) to a county (optionally one site in it) inside the caller's scope. Links of "
        "the same leader and place may not overlap; an identical retry answers the existing link (200, "
        "`Idempotent-Replayed: true`). Audited."
    ),
    responses={
        200: {"model": LinkRead, "description": "同样的挂联已存在（重复提交），返回已有的那条 / identical link already there"},
        201: {"description": "已安排 / created"},
        **AUTH_ERRORS, **WRITE_FORBIDDEN, **ORG_NOT_FOUND, **OVERLAP, **INVALID,
    },
)
async def create_link(request: Request, data: LinkCreate, by: CurrentUser, read: SessionDep, session: WriteSessionDep):
    body, created = await run_write(request, read, session, lambda s: service.assign_leader(s, by=by, data=data),
                                    lambda r, result: (_read(r, result.link), result.created))
    if created:
        return json_answer(body, status_code=201, headers={"Location": f"/api/v1/links/{body.id}"})
    return json_answer(body, headers={"Idempotent-Replayed": "true"})


@router.patch(
    "/{link_id}", response_model=LinkRead,
    summary="修改挂联 / Change a link assignment",
    description=(
        "修改未结束挂联的身份、日期或备注（只改所发送的字段），规则重新检查；领导和地点不能修改（请结束后另行安排）。"
        "领导已不在任（待调整）时不能修改，只能结束。记入审计日志。\n\n"
        "Changes an open link's role, dates or note (only the fields sent), every rule checked again; the leader "
        "and place never change. A link needing reassignment can only be ended. Audited."
    ),
    responses={**AUTH_ERRORS, **WRITE_FORBIDDEN, **NOT_FOUND, **OVERLAP, **INVALID},
)
async def change_link(request: Request, link_id: Id, data: LinkChange, by: CurrentUser, read: SessionDep,
                      session: WriteSessionDep):
    return json_answer(await run_write(request, read, session,
                                 lambda s: service.change_link(s, by=by, link_id=link_id, data=data), _read))


@router.post(
    "/{link_id}/end", response_model=LinkRead,
    summary="结束挂联 / End a link assignment",
    description=(
        "在某日（默认今天，不晚于今天）结束一条挂联；记录保留，不会删除。记入审计日志（含原因）。\n\n"
        "Ends a link on a day (default today, not in the future); the row is kept. Audited with the reason."
    ),
    responses={**AUTH_ERRORS, **WRITE_FORBIDDEN, **NOT_FOUND, **OVERLAP, **INVALID},
)
async def end_link(request: Request, link_id: Id, by: CurrentUser, read: SessionDep, session: WriteSessionDep,
                   body: LinkEnd | None = None):
    body = body or LinkEnd()
    return json_answer(await run_write(request, read, session, lambda s: service.end_link(
        s, by=by, link_id=link_id, end_date=body.end_date, reason=body.reason), _read))
