"""JSON API of the 研判 meeting under /api/v1: the 问题清单 of an organisation for a period, its 督办事项
(list, create) and closing one. The same services as the pages (app/meeting/problems.py, followups.py);
these handlers only translate HTTP. Scoped like the boards: an organisation the caller reads
(``OrgForRead``); the lists name leaders, so a token needs the records level; writing is for signed-in
staff only (no token)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from sqlmodel import Session

from app.api_docs import AUTH_ERRORS, INVALID, ORG_NOT_FOUND, PERIOD_DESCRIPTION, PERIOD_PATTERN, err
from app.api_http import json_answer
from app.boards import periods
from app.db import run_write
from app.deps import CurrentUser, Id, OrgForRead, OrgForStaff, SessionDep, WriteSessionDep
from app.meeting import followups as fus
from app.meeting import problems as pl
from app.meeting.schemas import (
    FollowUpClose,
    FollowUpCreate,
    FollowUpPage,
    FollowUpRead,
    MeetingOrg,
    ProblemList,
    ProblemRead,
    ProblemSnapshot,
)
from app.models import Organisation
from app.models.meeting import FollowUp
from app.tokens.service import token_access

router = APIRouter(prefix="/api/v1", tags=["meeting"])

PeriodKey = Annotated[str | None, Query(pattern=PERIOD_PATTERN, max_length=16, description=PERIOD_DESCRIPTION)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: err("找不到这条督办事项，或不在您的范围内（code: not_found） / follow-up not found or outside your scope")}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: err("已被他人修改或办结（code: stale_version），请重新读取后再办 / changed since it was read")}



def _ref(org: Organisation) -> MeetingOrg:
    return MeetingOrg(code=org.code, name=org.name)


def _problem(p: pl.Problem) -> ProblemRead:
    return ProblemRead(kind=p.kind, kind_label=p.kind_label, ref=p.ref, title=p.title, why=p.why, link=p.link,
                       figures=p.figures)


def _snapshot(found: dict | None) -> ProblemSnapshot | None:
    return ProblemSnapshot(why=found["why"], figures=found["figures"]) if found else None


def _read(v: fus.FollowUpView) -> FollowUpRead:
    r = v.row
    return FollowUpRead(id=r.id, org=_ref(v.org), period=r.period, source_kind=r.source_kind, source_ref=r.source_ref,
                        title=r.title, owner=_ref(v.owner), due_on=r.due_on, done_criteria=r.done_criteria,
                        status=v.status, status_label=v.status_label, then=_snapshot(v.then), now=_snapshot(v.now),
                        still_listed=v.still_listed, closed_note=r.closed_note, closed_at=r.closed_at,
                        created_at=r.created_at, version=r.version)


def _id_and_created(made: tuple[FollowUp, bool]) -> tuple[int, bool]:
    return made[0].id, made[1]


def _one(session: Session, fu: FollowUp | None) -> FollowUpRead:
    """A single follow-up as answered after a write (its figures now are not recomputed here)."""
    assert fu is not None  # written just before, in the same worker call
    return _read(fus.views(session, [fu], current=None)[0])


@router.get(
    "/orgs/{code}/problems", response_model=ProblemList,
    summary="问题清单 / The meeting's problem list",
    openapi_extra=token_access("records"),
    description=(
        "研判会的问题清单：一个组织（含下级）在某期间落后于时间进度的指标、工作推进不平衡的下级组织（含名次变化）、"
        "没有挂联领导的重点帮扶县、挂联后 N 个月未到县开展活动的领导、审核积压超期、参与率或动员面比上月下降 5 个百分点以上。"
        "每条有中文说明、数字和数字背后的页面。含领导姓名：API 令牌需为明细级。\n\n"
        "The meeting's problem list of an organisation's subtree for a period, each item with its sentence, "
        "figures and a link to what is behind them. Names leaders: a token needs the records level."),
    responses={**AUTH_ERRORS, **ORG_NOT_FOUND, **INVALID},
)
def read_problems(session: SessionDep, org: OrgForRead, period: PeriodKey = None) -> Response:
    p = periods.parse(period)
    items = [_problem(x) for x in pl.problems(session, org, p)]
    return json_answer(ProblemList(org=_ref(org), period=p.key, period_label=p.label, items=items))


@router.get(
    "/orgs/{code}/follow-ups", response_model=FollowUpPage,
    summary="督办事项 / Follow-ups",
    openapi_extra=token_access("records"),
    description=(
        "该组织研判会列入的督办事项，及上级研判会交给它的：超期的在前，再按期限。每条带状态（open 未办结、overdue 已超期、"
        "done 已办结），从问题清单列入的带当时的说明和数字（then），以及本组织 period 期间问题清单中同一问题现在的"
        "说明和数字（now；已不在清单中为 null）。\n\n"
        "The follow-ups of the organisation's meetings and those it owns, overdue first; each with its status and, "
        "for items from the problem list, the figures then and now (null when the item has left the list)."),
    responses={**AUTH_ERRORS, **ORG_NOT_FOUND, **INVALID},
)
def list_followups(session: SessionDep, org: OrgForRead, period: PeriodKey = None,
                   status: Annotated[str, Query(pattern="^(open|overdue|done|all)$",
                                                description="状态：open 未办结（含超期）、overdue 已超期、done 已办结、all 全部")] = "open",
                   page: Annotated[int, Query(ge=1, le=10_000, description="页码")] = 1,
                   per_page: Annotated[int, Query(ge=1, le=200, description="每页条数")] = 50) -> Response:
    rows, total = fus.list_followups(session, org, status=status, page=page, per_page=per_page)
    current = pl.problems(session, org, periods.parse(period)) \
        if any(r.source_kind != fus.MANUAL and r.org_id == org.id for r in rows) else None
    items = [_read(v) for v in fus.views(session, rows, current=current, of_org=org.id)]
    return json_answer(FollowUpPage(items=items, total=total, page=page, per_page=per_page))


@router.post(
    "/orgs/{code}/follow-ups", status_code=201, response_model=FollowUpRead,
    summary="列入督办 / Create a follow-up",
    description=(
        "研判会（该组织）列入一条督办事项：从问题清单的一条（source_kind + source_ref，按 period 期间的清单重新读取说明和数字）"
        "或手工录入（title）；责任组织为本组织或其下级，期限不早于今天，写明怎样算办结。只有该组织或上级的「双助推」办公室"
        "可以列入（API 令牌不行）；记入审计日志（followup.create）。必须带 `Idempotency-Key` 请求头：重复提交返回第一次"
        "的事项（200，`Idempotent-Replayed: true`）。\n\n"
        "Records a decision of the organisation's meeting, from a problem-list item or by hand; staff of the "
        "organisation or an ancestor only; audited. `Idempotency-Key` is required: a retry answers the first row."),
    responses={200: {"model": FollowUpRead, "description": "重复提交 / idempotent replay"},
               **AUTH_ERRORS, **ORG_NOT_FOUND, **INVALID},
)
async def create_followup(request: Request, data: FollowUpCreate, by: CurrentUser, org: OrgForStaff,
                          read: SessionDep, session: WriteSessionDep,
                          idempotency_key: Annotated[str | None, Header(
                              alias="Idempotency-Key", description="客户端生成的唯一提交编号，最长 64 个字符")] = None,
                          ) -> Response:
    period = periods.parse(data.period)
    body, created = await run_write(
        request, read, session,
        lambda s: _id_and_created(fus.create_followup(s, by=by, org=org, period=period, data=data,
                                                      submission_key=idempotency_key or "")),
        lambda r, made: (_one(r, r.get(FollowUp, made[0])), made[1]))
    if created:
        return json_answer(body, status_code=201)
    return json_answer(body, headers={"Idempotent-Replayed": "true"})


@router.post(
    "/follow-ups/{followup_id}/close", response_model=FollowUpRead,
    summary="办结督办事项 / Close a follow-up",
    description=(
        "办结一条督办事项：必须写办结说明，并回传读到的 version（他人先改过则 409）；同一办结重复提交返回已办结的事项。"
        "只有研判会所在组织或上级的「双助推」办公室可以办结（责任组织只能查看）；记入审计日志（followup.close）。\n\n"
        "Closes a follow-up with a note and the version read (409 when changed since; the same close sent "
        "again answers the closed row). Staff of the meeting's organisation or an ancestor; audited."),
    responses={**AUTH_ERRORS, **NOT_FOUND, **CONFLICT, **INVALID},
)
async def close_followup(request: Request, followup_id: Id, data: FollowUpClose, by: CurrentUser,
                         read: SessionDep, session: WriteSessionDep) -> Response:
    body = await run_write(
        request, read, session,
        lambda s: fus.close_followup(s, by=by, followup_id=followup_id, note=data.note, version=data.version).id,
        lambda r, fid: _one(r, fus.followup_for_read(r, by, fid)))
    return json_answer(body)

