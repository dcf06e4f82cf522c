"""JSON API of 意见建议的跟踪 under /api/v1: an activity's follow-up (read, update), a subtree's
suggestions by state, and 采纳率 for a period. The same service as the pages (app/suggestions/service.py);
these handlers only translate HTTP. Reading is scoped like the activities and boards (404 outside what
the caller reads); updating is for signed-in staff over the credited organisation (403 when they only
read it; no API token)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from app.api_docs import AUTH_ERRORS, INVALID, ORG_NOT_FOUND, PERIOD_DESCRIPTION, PERIOD_PATTERN, err
from app.api_http import json_answer
from app.boards import periods
from app.db import run_write
from app.deps import CurrentUser, Id, OrgForRead, SessionDep, WriteSessionDep
from app.suggestions import service
from app.suggestions.schemas import (
    AdoptionOrg,
    AdoptionRead,
    SuggestionListItem,
    SuggestionPage,
    SuggestionRead,
    SuggestionUpdate,
)
from app.tokens.service import token_access

router = APIRouter(prefix="/api/v1", tags=["suggestions"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: err("找不到该活动或不在您的范围内（code: not_found），或它不是意见建议（code: not_suggestion） / "
             "activity not found, outside your scope, or not a suggestion")}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: err("跟踪情况已被他人更新（code: stale_version），请重新读取后再改 / changed since it was read")}


def _read(s: service.FollowUpState) -> SuggestionRead:
    r = s.row
    return SuggestionRead(activity_id=s.activity.id, occurred_on=s.activity.occurred_on, status=s.activity.status,
                          items=s.items, state=r.state if r else None, state_label=s.label,
                          department=r.department if r else None, state_on=r.state_on if r else None,
                          updated_at=r.updated_at if r else None, version=s.version, may_change=s.may_change)


@router.get(
    "/suggestions/{activity_id}", response_model=SuggestionRead,
    summary="意见建议的跟踪情况 / A suggestion's follow-up",
    openapi_extra=token_access("records"),
    description=(
        "一条意见建议类活动（其实事有「意见建议」「建言献策」等意见建议指标）的跟踪情况：已报送、已采纳、已落实、未采纳，"
        "接收部门和日期；还没有时 state 为 null（待跟踪）。能看到该活动的人都能看到。\n\n"
        "The follow-up state of a suggestion activity (null: not yet followed), for whoever reads the activity."),
    responses={**AUTH_ERRORS, **NOT_FOUND},
)
def read_suggestion(session: SessionDep, by: CurrentUser, activity_id: Id) -> Response:
    return json_answer(_read(service.state_of(session, by, activity_id)))


@router.post(
    "/suggestions/{activity_id}", response_model=SuggestionRead,
    summary="更新意见建议的跟踪情况 / Update a suggestion's follow-up",
    description=(
        "设置一条已审核通过的意见建议的跟踪情况，回传读到的 version（还没有时为 0；他人先改过则 409）。"
        "同样的内容重复提交不再变化。只有计入单位或其上级的「双助推」办公室可以更新（API 令牌不行）；"
        "记入审计日志（suggestion.state）。\n\n"
        "Sets the follow-up state of a verified suggestion with the version read (409 when changed since; the "
        "same content sent again changes nothing). Staff of the credited organisation or above; audited."),
    responses={**AUTH_ERRORS, **NOT_FOUND, **CONFLICT, **INVALID},
)
async def update_suggestion(request: Request, activity_id: Id, data: SuggestionUpdate, by: CurrentUser,
                            read: SessionDep, session: WriteSessionDep) -> Response:
    body = await run_write(
        request, read, session,
        lambda s: service.set_state(s, by=by, activity_id=activity_id, state=data.state, department=data.department,
                                    state_on=data.state_on, version=data.version)[0].activity_id,
        lambda r, aid: _read(service.state_of(r, by, aid)))
    return json_answer(body)


@router.get(
    "/orgs/{code}/suggestions", response_model=SuggestionPage,
    summary="辖区的意见建议 / A subtree's suggestions",
    openapi_extra=token_access("records"),
    description=(
        "计入该组织及其下级的已审核意见建议，按活动日期从新到旧，可按跟踪情况筛选（none 为待跟踪）。\n\n"
        "The verified suggestions credited to the organisation's subtree, newest first, filtered by state."),
    responses={**AUTH_ERRORS, **ORG_NOT_FOUND, **INVALID},
)
def list_suggestions(session: SessionDep, by: CurrentUser, org: OrgForRead,
                     state: Annotated[str, Query(pattern="^(all|none|reported|adopted|implemented|declined)$",
                                                 description="all 全部、none 待跟踪、reported、adopted、implemented、declined")] = "all",
                     page: Annotated[int, Query(ge=1, le=10_000, description="页码")] = 1,
                     per_page: Annotated[int, Query(ge=1, le=200, description="每页条数")] = 50) -> Response:
    rows, total = service.list_suggestions(session, by, org, state=state, page=page, per_page=per_page)
    items = [SuggestionListItem(
        activity_id=r.activity.id, occurred_on=r.activity.occurred_on, status=r.activity.status, items=r.items,
        state=r.row.state if r.row else None, state_label=r.label, department=r.row.department if r.row else None,
        state_on=r.row.state_on if r.row else None, updated_at=r.row.updated_at if r.row else None,
        version=r.version, may_change=r.may_change, task=r.task, org=r.org, county=r.county) for r in rows]
    return json_answer(SuggestionPage(items=items, total=total, page=page, per_page=per_page))


@router.get(
    "/orgs/{code}/suggestions/adoption", response_model=AdoptionRead,
    summary="采纳率 / Adoption of suggestions",
    openapi_extra=token_access("aggregate"),
    description=(
        "该组织及其下级在某期间（按活动日期）已审核的意见建议条数，及已报送、已采纳（含已落实）、已落实、未采纳、待跟踪的条数；"
        "采纳率 = 已采纳或已落实的条数 ÷ 全部条数，没有意见建议时为 null。直接按原始记录统计。\n\n"
        "条 of verified suggestions of the subtree dated in the period, by state; rate = adopted (incl. implemented) "
        "÷ made, null when none was made. Counted directly from the rows."),
    responses={**AUTH_ERRORS, **ORG_NOT_FOUND, **INVALID},
)
def read_adoption(session: SessionDep, org: OrgForRead,
                  period: Annotated[str | None, Query(pattern=PERIOD_PATTERN, max_length=16,
                                                      description=PERIOD_DESCRIPTION)] = None) -> Response:
    p = periods.parse(period)
    a = service.adoption(session, org, p)
    return json_answer(AdoptionRead(org=AdoptionOrg(code=org.code, name=org.name), period=p.key, period_label=p.label,
                              **a.as_dict()))
