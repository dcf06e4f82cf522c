"""JSON API for activities under /api/v1: record (idempotent), list, read, verify, return, reopen.

The same service functions as the pages do the work; these handlers only translate HTTP. Callers
are authenticated by the session cookie plus the ``X-CSRF-Token`` header (program tokens come
later). Errors come back as ``{"detail", "code"}`` (``errors`` per field on 422), from app.main.

Writes are built for throughput on SQLite (bench/submit.py, bench/README.md):

- the read transaction that loaded the caller ends before the write begins (``end_read``);
- one writer at a time per process (``run_write``): a request waits for its turn without holding
  a thread or a pooled connection, then its use case runs in a worker thread — a short
  transaction that begins IMMEDIATE and commits once inside the service;
- a use case that fails gives SQLite's lock back inside its turn, not at the request's teardown;
- the answer is built afterwards from a fresh read, never by reopening the write transaction, and
  every pooled connection is back in the pool before the handler returns (teardown of the session
  dependencies runs in the thread pool, which must never be what a connection waits for).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, Field
from sqlmodel import Session

from app.activities import service
from app.activities.schemas import ActivityInput, ActivityPage, ActivityRead, ReopenInput, ReturnInput
from app.db import run_write
from app.deps import CurrentUser, Id, SessionDep, WriteSessionDep
from app.models import Activity, ActivityStatus
from app.tokens.service import token_access


router = APIRouter(prefix="/api/v1", tags=["activities"])


def read_model(read: Session, activity: Activity) -> ActivityRead:
    return service.to_read(read, [activity])[0]


# --- documented errors ----------------------------------------------------------------------------

class ErrorBody(BaseModel):
    """Every error of this API: a Chinese message for people, a stable code for programs."""

    detail: str = Field(description="给人看的中文说明 / message for people, in Chinese")
    code: str = Field(description="稳定的机器代码 / stable machine code, e.g. bad_transition")
    errors: dict[str, str] | list[dict[str, Any]] | None = Field(
        default=None, description="逐字段的错误（仅 422）/ per-field messages (422 only)")


def _err(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _err("未登录或登录已过期（code: unauthenticated） / not logged in"),
    403: _err("CSRF 令牌缺失或不符（code: csrf_failed、bad_origin），或无权进行此操作（code: forbidden） / "
              "CSRF header missing or wrong, or not allowed"),
}
NOT_FOUND = {404: _err("找不到该活动，或不在您的范围内（code: not_found） / not found or outside your scope")}
INVALID = {422: _err("填写有误：detail 为中文说明，errors 为逐字段说明（code: invalid、validation_error 等） / "
                     "invalid input, with per-field errors")}
BAD_TRANSITION = {409: _err("活动当前状态不允许此操作（code: bad_transition） / the activity's state does not allow this")}


# --- queries ---------------------------------------------------------------------------------------

class ActivityQuery(BaseModel):
    """Filters of the list (all optional) and the page."""

    status: ActivityStatus | None = Field(default=None, description="状态：pending / verified / returned / withdrawn")
    county_id: int | None = Field(default=None, description="活动地点所在县（组织编号）")
    task_id: int | None = Field(default=None, description="实事编号")
    member: str | None = Field(default=None, max_length=40, description="委员姓名（包含）或手机号（开头）")
    date_from: date | None = Field(default=None, description="活动日期起（含）")
    date_to: date | None = Field(default=None, description="活动日期止（含）")
    page: int = Field(default=1, ge=1, le=100_000)
    per_page: int = Field(default=50, ge=1, le=200)

    def filters(self) -> service.ActivityFilters:
        return service.ActivityFilters(status=self.status, county_id=self.county_id, task_id=self.task_id,
                                       member=(self.member or "").strip() or None, date_from=self.date_from,
                                       date_to=self.date_to)


def _json(read: ActivityRead, *, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    # The model is already validated: serialise it once instead of FastAPI validating it again.
    return Response(read.model_dump_json(), status_code=status_code, media_type="application/json",
                    headers=headers)


# --- routes ------------------------------------------------------------------------------------------

@router.post(
    "/activities", status_code=201, response_model=ActivityRead,
    summary="记录一条活动 / Record an activity",
    openapi_extra=token_access("write"),
    description=(
        "记录一条助推活动，计入记录人所在组织（或所填的组织单位）。必须带 `Idempotency-Key` 请求头："
        "同一编号、同样内容的重复提交返回第一次的结果（200，响应头 `Idempotent-Replayed: true`），"
        "同一编号、不同内容返回 409 `idempotency_conflict`。"
        "`values` 为 指标编号 → 数值文本（如 \"8\"、\"12.5\"），金额以万元填写，最多两位小数。\n\n"
        "Records an activity, credited to the recorder's organisation (or the named organiser). "
        "The `Idempotency-Key` header is required: a retry with the same key and content answers the "
        "first result (200, `Idempotent-Replayed: true`); the same key with other content is a 409."
    ),
    responses={
        200: {"model": ActivityRead, "description": "重复提交，返回第一次的结果 / idempotent replay of an earlier request"},
        201: {"description": "已记录 / recorded"},
        **AUTH_ERRORS,
        409: _err("同一提交编号已用于不同的内容（code: idempotency_conflict） / key reused with other content"),
        **INVALID,
    },
)
async def create_activity(
    request: Request, data: ActivityInput, by: CurrentUser, read: SessionDep, session: WriteSessionDep,
    idempotency_key: Annotated[str | None, Header(
        alias="Idempotency-Key",
        description="客户端生成的唯一提交编号（如 UUID），最长 64 个字符 / a unique key per submission")] = None,
):
    body, created = await run_write(
        request, read, session,
        lambda s: service.record_activity(s, by=by, data=data, idempotency_key=idempotency_key or ""),
        lambda r, result: (read_model(r, result.activity), result.created))
    if created:
        return _json(body, status_code=201, headers={"Location": f"/api/v1/activities/{body.id}"})
    return _json(body, status_code=200, headers={"Idempotent-Replayed": "true"})


@router.get(
    "/activities", response_model=ActivityPage,
    summary="活动列表 / List activities",
    openapi_extra=token_access("records"),
    description=(
        "调用者可见的活动（自己记录或参与的；有查看权限的组织及其下级计入的，或发生在其辖区内的），"
        "按活动日期从新到旧，可按状态、地点、实事、委员、日期筛选，分页。\n\n"
        "Activities the caller may read (own, credited to or done in an organisation subtree they hold a "
        "reading role on), newest first, filtered and paginated."
    ),
    responses={**AUTH_ERRORS, **INVALID},
)
def list_activities(session: SessionDep, by: CurrentUser, q: Annotated[ActivityQuery, Query()]) -> ActivityPage:
    items, total = service.list_visible(session, by, q.filters(), page=q.page, per_page=q.per_page)
    return ActivityPage(items=service.to_read(session, items), total=total, page=q.page, per_page=q.per_page)


@router.get(
    "/activities/{activity_id}", response_model=ActivityRead,
    summary="读取一条活动 / Read an activity",
    openapi_extra=token_access("records"),
    description="调用者可见的一条活动；范围外的活动与不存在的一样答 404。\n\n"
                "One activity the caller may read; outside the caller's scope it is a 404.",
    responses={**AUTH_ERRORS, **NOT_FOUND},
)
def get_activity(session: SessionDep, by: CurrentUser, activity_id: Id):
    return _json(read_model(session, service.activity_for_read(session, by, activity_id)))


async def _transition(request: Request, read: Session, session: Session,
                      use_case: Callable[[Session], Activity]) -> Response:
    return _json(await run_write(request, read, session, use_case, read_model))


@router.post(
    "/activities/{activity_id}/verify", response_model=ActivityRead,
    summary="审核通过 / Verify",
    description="计入单位（或其上级）的「双助推」办公室审核通过一条待审核的活动，记入审核日志。\n\n"
                "The credited organisation's office (or an ancestor's) verifies a pending activity; audited.",
    responses={**AUTH_ERRORS, **NOT_FOUND, **BAD_TRANSITION, **INVALID},
)
async def verify_activity(request: Request, read: SessionDep, session: WriteSessionDep, by: CurrentUser,
                          activity_id: Id):
    return await _transition(request, read, session, lambda s: service.verify(s, by=by, activity_id=activity_id))


@router.post(
    "/activities/{activity_id}/return", response_model=ActivityRead,
    summary="退回 / Return with a reason",
    description="把一条待审核的活动退回给记录人，须写明理由（委员能看到），记入审核日志。\n\n"
                "Returns a pending activity to its recorder with a reason the member sees; audited.",
    responses={**AUTH_ERRORS, **NOT_FOUND, **BAD_TRANSITION, **INVALID},
)
async def return_activity(request: Request, read: SessionDep, session: WriteSessionDep, by: CurrentUser,
                          activity_id: Id, body: ReturnInput):
    return await _transition(request, read, session, lambda s: service.return_activity(
        s, by=by, activity_id=activity_id, reason=body.reason))


@router.post(
    "/activities/{activity_id}/reopen", response_model=ActivityRead,
    summary="重新打开 / Reopen a verified activity",
    description="把已通过的活动改回待审核（须写明理由），它随即离开已审核的统计，直到再次通过；记入审核日志。\n\n"
                "Takes a verified activity back to pending, with a reason; it leaves the verified totals "
                "until verified again. Audited.",
    responses={**AUTH_ERRORS, **NOT_FOUND, **BAD_TRANSITION, **INVALID},
)
async def reopen_activity(request: Request, read: SessionDep, session: WriteSessionDep, by: CurrentUser,
                          activity_id: Id, body: ReopenInput):
    return await _transition(request, read, session, lambda s: service.reopen(
        s, by=by, activity_id=activity_id, reason=body.reason))
