"""JSON API for activities under /api/v1: record (idempotent), list, read, verify, return, reopen,
add outcomes (the recorder, until verified).

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

import base64
import binascii
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from sqlmodel import Session

from app.activities import service
from app.activities.schemas import (
    ActivityInput,
    ActivityPage,
    ActivityRead,
    MergeInput,
    OutcomesInput,
    ReopenInput,
    ReturnInput,
    VerifyInput,
)
from app.api_docs import AUTH_ERRORS, INVALID, ErrorBody  # noqa: F401 - re-exported
from app.api_docs import err as _err
from app.api_http import json_answer
from app.api_types import IsoDate, IsoDateTime
from app.auth.principal import Principal
from app.clock import CN
from app.db import run_write
from app.deps import CurrentUser, Id, SessionDep, WriteSessionDep
from app.errors import Invalid
from app.hot_routes import HotRoute
from app.links.schemas import MAX_ID
from app.models import Activity, ActivityStatus
from app.tokens.service import token_access

router = APIRouter(prefix="/api/v1", tags=["activities"])


def read_model(read: Session, activity: Activity, flags: list | None = None) -> ActivityRead:
    """The activity as the API shows it; ``flags``: its flags when the caller already holds them."""
    return service.to_read(read, [activity], flags=None if flags is None else {activity.id: flags})[0]


# --- documented errors ----------------------------------------------------------------------------

NOT_FOUND = {404: _err("找不到该活动，或不在您的范围内（code: not_found） / not found or outside your scope")}
BAD_TRANSITION = {409: _err("活动当前状态不允许此操作（code: bad_transition） / the activity's state does not allow this")}


# --- queries ---------------------------------------------------------------------------------------

class ActivityQuery(BaseModel):
    """Filters of the list (all optional) and the page: by page number, or by cursor."""

    status: ActivityStatus | None = Field(default=None, description="状态：pending / verified / returned / withdrawn")
    county_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="活动地点所在县（组织编号）")
    site_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="活动地点：乡镇/村/示范点编号")
    org_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="计入组织（编号），含其下级")
    task_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="实事编号")
    member: str | None = Field(default=None, max_length=40,
                               description="委员姓名（包含）；登录的工作人员也可填手机号开头（API 令牌只按姓名）")
    date_from: IsoDate | None = Field(default=None, description="活动日期起（含，YYYY-MM-DD）")
    date_to: IsoDate | None = Field(default=None, description="活动日期止（含，YYYY-MM-DD）")
    updated_since: IsoDateTime | None = Field(
        default=None, description="只列此时刻（含）之后有变化的活动（ISO 8601，带时区，如 2026-10-01T00:00:00+08:00），"
                                  "用于增量同步：配合 order=updated")
    order: Literal["occurred", "updated"] = Field(
        default="occurred", description="occurred：活动日期从新到旧；updated：最后变化从早到晚（增量同步用）")
    cursor: str | None = Field(default=None, max_length=200,
                               description="上一页响应中的 next_cursor；给出时 page 须为 1")
    count: bool = Field(default=True, description="第一页是否计算 total：范围很大时（全省百万条）约需 1 秒，"
                                                 "只需逐页取数（如增量同步）时设 false")
    page: int = Field(default=1, ge=1, le=100_000, description="页码（不用 cursor 时）")
    per_page: int = Field(default=50, ge=1, le=200, description="每页条数")

    def filters(self, by_name_only: bool) -> service.ActivityFilters:
        return service.ActivityFilters(status=self.status, county_id=self.county_id, task_id=self.task_id,
                                       member=(self.member or "").strip() or None, date_from=self.date_from,
                                       date_to=self.date_to, site_id=self.site_id, org_id=self.org_id,
                                       updated_since=_since(self.updated_since), by_name_only=by_name_only)


def encode_cursor(order: str, activity: Activity) -> str:
    key = activity.occurred_on.isoformat() if order == "occurred" else activity.updated_at.isoformat()
    raw = json.dumps([order, key, activity.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, order: str) -> tuple:
    bad = Invalid("翻页游标无效，请从第一页重新开始", code="bad_cursor", errors={"cursor": "游标无效或与排序方式不符"})
    try:
        got_order, key, last_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if got_order != order or not isinstance(last_id, int) or not 1 <= last_id <= MAX_ID:
            raise bad
        value = date.fromisoformat(key) if order == "occurred" else _utc(datetime.fromisoformat(key))
    except (ValueError, TypeError, json.JSONDecodeError, binascii.Error):
        raise bad from None
    return value, last_id


def _since(value: datetime | None) -> datetime | None:
    """A time without a zone is Beijing time (the users' clock)."""
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=CN)
    return value


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)



# --- routes ------------------------------------------------------------------------------------------

@router.post(
    "/activities", status_code=201, response_model=ActivityRead,
    summary="记录一条活动 / Record an activity",
    openapi_extra=token_access("write"),
    description=(
        "记录一条助推活动，计入记录人所在组织（或所填的组织单位）。必须带 `Idempotency-Key` 请求头："
        "同一编号、同样内容的重复提交返回第一次的结果（200，响应头 `Idempotent-Replayed: true`），"
        "同一编号、不同内容返回 409 `idempotency_conflict`。"
        "已有同一县、同一实事、同一天（都填了地点时同一地点）的活动时返回 409 `likely_duplicate`，"
        "`candidates` 列出这些活动（id、occurred_on、site_id、recorder、status）：同一次活动请改用申请加入，"
        "另一次活动请在请求体中写 `distinct_from`（这些 id）和 `distinct_note`（至少 2 个字）后再提交。"
        "`values` 为 指标编号 → 数值文本（如 \"8\"、\"12.5\"），金额以万元填写，最多两位小数。\n\n"
        "Records an activity, credited to the recorder's organisation (or the named organiser). "
        "The `Idempotency-Key` header is required: a retry with the same key and content answers the "
        "first result (200, `Idempotent-Replayed: true`); the same key with other content is a 409. "
        "An activity of the same county, task and date (and site, when both name one) already recorded "
        "answers 409 `likely_duplicate` with its `candidates`, unless the body confirms a distinct "
        "activity with `distinct_from` (their ids) and a `distinct_note`."
    ),
    responses={
        200: {"model": ActivityRead, "description": "重复提交，返回第一次的结果 / idempotent replay of an earlier request"},
        201: {"description": "已记录 / recorded"},
        **AUTH_ERRORS,
        409: _err("同一提交编号已用于不同的内容（code: idempotency_conflict）；或疑似重复（code: likely_duplicate，"
                  "带 candidates） / key reused with other content, or a likely duplicate (with candidates)"),
        **INVALID,
    },
)
async def create_activity(
    request: Request, data: ActivityInput, by: CurrentUser, read: SessionDep,
    idempotency_key: Annotated[str | None, Header(
        alias="Idempotency-Key",
        description="客户端生成的唯一提交编号（如 UUID），最长 64 个字符 / a unique key per submission")] = None,
):
    # No write-session dependency: the write runs in the group commit's transaction (app/db.py).
    body, created = await run_write(
        request, read, None,
        lambda s: service.record_activity(s, by=by, data=data, idempotency_key=idempotency_key or ""),
        lambda r, result: (result.answer or read_model(r, result.activity, result.flags), result.created))
    if created:
        return json_answer(body, status_code=201, headers={"Location": f"/api/v1/activities/{body.id}"})
    return json_answer(body, status_code=200, headers={"Idempotent-Replayed": "true"})


def _everyday_submission(request: Request, by: Principal) -> dict[str, Any]:
    """``create_activity``'s arguments for the everyday request (app/hot_routes.py)."""
    return {"request": request, "by": by, "idempotency_key": request.headers.get("idempotency-key")}


def hot_submission() -> HotRoute:
    """``POST /api/v1/activities`` without FastAPI's dependency solving for the everyday request."""
    route = next(r for r in router.routes if isinstance(r, APIRoute) and r.endpoint is create_activity)
    return HotRoute(route, "POST", body_arg="data", body_model=ActivityInput, read_arg="read",
                    resolve=_everyday_submission)


@router.get(
    "/activities", response_model=ActivityPage,
    summary="活动列表 / List activities",
    openapi_extra=token_access("records"),
    description=(
        "调用者可见的活动（自己记录或参与的；有查看权限的组织及其下级计入的，或发生在其辖区内的），"
        "可按状态、地点（县、乡镇/村）、计入组织、实事、委员姓名、活动日期、变化时间筛选。\n\n"
        "翻页：第一页的响应带 `total` 和 `next_cursor`；把 `next_cursor` 放进 `?cursor=` 取下一页，直到它为 null。"
        "`order=occurred`（默认）按活动日期从新到旧；`order=updated` 按最后变化从早到晚——增量同步时记下上次同步的时刻，"
        "以 `updated_since=该时刻&order=updated` 取回此后新增或变化（审核、退回、更正、参与确认）的活动。"
        "也可用 `page` 按页码翻页（仅 order=occurred）。响应中只有委员姓名，没有手机号。\n\n"
        "Activities the caller may read, filtered by status, place, credited organisation, task, member "
        "name, activity date and change time. Page with `next_cursor` (or `page` for order=occurred); "
        "`order=updated&updated_since=T` returns what changed since T, oldest change first, for "
        "incremental sync. Names only, never phone numbers."
    ),
    responses={**AUTH_ERRORS, **INVALID},
)
def list_activities(session: SessionDep, by: CurrentUser, q: Annotated[ActivityQuery, Query()]) -> ActivityPage:
    filters = q.filters(by_name_only=by.token is not None)
    if q.cursor is None and q.page > 1:
        if q.order == "updated":
            raise Invalid("按变化时间排序时请用 cursor 翻页", code="bad_cursor", errors={"page": "order=updated 时用 cursor 翻页"})
        items, total = service.list_visible(session, by, filters, page=q.page, per_page=q.per_page)
        more = q.page * q.per_page < total
    else:
        if q.cursor is not None and q.page != 1:
            raise Invalid("使用游标翻页时不能同时指定页码", code="bad_cursor", errors={"page": "用 cursor 时 page 须为 1"})
        after = decode_cursor(q.cursor, q.order) if q.cursor else None
        items, more, total = service.list_by_cursor(session, by, filters, order=q.order, after=after,
                                                    limit=q.per_page, with_total=after is None and q.count)
    next_cursor = encode_cursor(q.order, items[-1]) if more and items else None
    return ActivityPage(items=service.to_read(session, items), total=total, page=q.page if q.cursor is None else 1,
                        per_page=q.per_page, next_cursor=next_cursor)


@router.get(
    "/activities/{activity_id}", response_model=ActivityRead,
    summary="读取一条活动 / Read an activity",
    openapi_extra=token_access("records"),
    description="调用者可见的一条活动；范围外的活动与不存在的一样答 404。\n\n"
                "One activity the caller may read; outside the caller's scope it is a 404.",
    responses={**AUTH_ERRORS, **NOT_FOUND},
)
def get_activity(session: SessionDep, by: CurrentUser, activity_id: Id):
    return json_answer(read_model(session, service.activity_for_read(session, by, activity_id)))


async def _transition(request: Request, read: Session, session: Session,
                      use_case: Callable[[Session], Activity]) -> Response:
    return json_answer(await run_write(request, read, session, use_case, read_model))


@router.post(
    "/activities/{activity_id}/verify", response_model=ActivityRead,
    summary="审核通过 / Verify",
    description="计入单位（或其上级）的「双助推」办公室审核通过一条待审核的活动，记入审核日志。"
                "有提示（`flags` 非空）的活动须在请求体中写核实说明 `{\"note\": \"…\"}`（至少 2 个字），"
                "否则答 422 `flag_note_required`；没有提示的可以不带请求体。\n\n"
                "The credited organisation's office (or an ancestor's) verifies a pending activity; audited. "
                "A flagged activity needs a confirmation `note` (422 `flag_note_required` without one).",
    responses={**AUTH_ERRORS, **NOT_FOUND, **BAD_TRANSITION,
               422: _err("有提示的活动缺少核实说明（code: flag_note_required），或请求体有误 / "
                         "a flagged activity needs a note, or the body is invalid")},
)
async def verify_activity(request: Request, read: SessionDep, session: WriteSessionDep, by: CurrentUser,
                          activity_id: Id, body: VerifyInput | None = None):
    note = body.note if body else None
    return await _transition(request, read, session,
                             lambda s: service.verify(s, by=by, activity_id=activity_id, note=note))


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


@router.post(
    "/activities/{activity_id}/outcomes", response_model=ActivityRead,
    summary="补填成效 / Add outcome values",
    openapi_extra=token_access("write"),
    description="记录人在活动审核通过之前补填或修改成效（受益群众、带动就业、带动增收等成效指标，"
                "见 /api/v1/catalogue 中 is_outcome 的指标）；空字符串清除该项。其余内容保持不变，活动按"
                "「修改后重新提交」回到待审核。已通过或已撤回的活动答 409 `bad_transition`；"
                "不是该实事成效指标的编号答 422 `not_an_outcome`；不是记录人答 403；带 `version` 而活动其间已变化答 409 `stale_version`。\n\n"
                "The recorder adds or changes outcome values (indicators with is_outcome) while the activity is "
                "pending or returned; an empty string clears one. Everything else stays; the activity is "
                "resubmitted (pending). Verified or withdrawn: 409 `bad_transition`.",
    responses={**AUTH_ERRORS, 404: NOT_FOUND[404], 409: BAD_TRANSITION[409], **INVALID},
)
async def add_outcomes(request: Request, read: SessionDep, session: WriteSessionDep, by: CurrentUser,
                       activity_id: Id, body: OutcomesInput):
    return await _transition(request, read, session, lambda s: service.add_outcomes(
        s, by=by, activity_id=activity_id, values=body.values, expected_version=body.version))


@router.post(
    "/activities/{activity_id}/merge", response_model=ActivityRead,
    summary="合并重复记录 / Merge a duplicate into the original",
    description="把这条（重复的）活动合并到 `into_id` 那条：它的记录人和参与委员加入原记录，它本身撤回"
                "（理由「与 #N 重复，已合并」），数值不重复计入。两条都须由调用者审核、待审核或已通过、同一县和实事。"
                "答原记录。\n\n"
                "Merges this duplicate into `into_id`: its recorder and participants join the original, it is "
                "withdrawn, its values are not added again. Answers the original. 422 `merge_self`, "
                "`merge_mismatch` (other task or county), `merge_status`, `already_merged`; 403/404 out of scope.",
    responses={**AUTH_ERRORS, **NOT_FOUND, **BAD_TRANSITION, **INVALID},
)
async def merge_activity(request: Request, read: SessionDep, session: WriteSessionDep, by: CurrentUser,
                         activity_id: Id, body: MergeInput):
    return json_answer(await run_write(
        request, read, session,
        lambda s: service.merge(s, by=by, duplicate_id=activity_id, into_id=body.into_id, note=body.note),
        lambda r, result: read_model(r, result.original)))
