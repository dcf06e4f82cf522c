"""JSON API of 牵头统筹 under /api/v1: an organisation's 委员活动小组 (list, create, change), the 实事 its
专委会 and 活动小组 lead (list, create, end) and a lead's progress. The rules are app/leads/service.py's;
these handlers only translate HTTP. Reading is scoped like the boards (``OrgForRead``; groups name
members, so a token needs the records level); writing is for signed-in staff only (no token)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from sqlmodel import Session

from app.api_docs import AUTH_ERRORS, INVALID, ORG_NOT_FOUND, PERIOD_DESCRIPTION, PERIOD_PATTERN, err
from app.api_http import json_answer
from app.boards import periods
from app.db import run_write
from app.deps import CurrentUser, Id, OrgForRead, OrgForStaff, SessionDep, WriteSessionDep
from app.leads import service
from app.leads.schemas import (
    GROUP_EXAMPLE,
    LEAD_EXAMPLE,
    ActivityGroupRead,
    GroupChange,
    GroupInput,
    LeadCreate,
    LeadEnd,
    LeadIndicatorProgress,
    LeadProgressRead,
    LeadRead,
    MemberPartRead,
    MemberRead,
)
from app.meeting.schemas import MeetingOrg
from app.models import ActivityGroup, Organisation, TaskLead
from app.tokens.service import token_access

router = APIRouter(prefix="/api/v1", tags=["leads"])

PeriodKey = Annotated[str | None, Query(pattern=PERIOD_PATTERN, max_length=16, description=PERIOD_DESCRIPTION)]
GROUP_404: dict[int | str, dict[str, Any]] = {404: err(f"{service.GROUP_NOT_FOUND}（code: not_found）")}
LEAD_404: dict[int | str, dict[str, Any]] = {404: err(f"{service.LEAD_NOT_FOUND}（code: not_found）")}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: err("同名小组已存在（group_exists）、已被他人修改（stale_version）或牵头时间重叠（lead_overlaps）")}



def _ref(org: Organisation) -> MeetingOrg:
    return MeetingOrg(code=org.code, name=org.name)


def _group(session: Session, group: ActivityGroup) -> ActivityGroupRead:
    org = session.get(Organisation, group.org_id)
    assert org is not None
    members = service.group_members(session, group.id)
    leader = next((m for m in members if m.id == group.leader_member_id), None)
    return ActivityGroupRead(id=group.id, org=_ref(org), name=group.name, note=group.note, version=group.version,
                     leader=MemberRead(id=leader.id, name=leader.name) if leader else None,
                     members=[MemberRead(id=m.id, name=m.name) for m in members])


def _lead(org: Organisation, v: service.LeadView) -> LeadRead:
    lead = v.lead
    return LeadRead(id=lead.id, org=_ref(org), task_id=lead.task_id, task=v.task_name, body_kind=v.body_kind,
                    body_id=lead.committee_id or lead.group_id or 0, body=v.body_name, start_date=lead.start_date,
                    end_date=lead.end_date, state=v.state, note=lead.note)


def progress_read(p: service.LeadProgress) -> LeadProgressRead:
    """The progress as the API answers it (numbers as the pages show them: money in 万元 to 2 decimals)."""
    by_body = p.values
    indicators = [LeadIndicatorProgress(
        indicator_id=f.indicator.id, name=f.indicator.name, unit=f.indicator.unit,
        verified=p.value_text(f.indicator, f.verified),
        target=p.value_text(f.indicator, f.target) if f.target is not None else None, of_target=f.of_target,
        by_body=p.value_text(f.indicator, by_body[f.indicator.id]) if f.indicator.id in by_body else None)
        for f in (p.task.indicators if p.task else [])]
    return LeadProgressRead(
        lead=_lead(p.org, p.view), period=p.period.key, period_label=p.period.label, counted_from=p.first,
        counted_to=p.last, activities=p.activities, task_activities=p.task.activities[0] if p.task else None,
        members=p.members, took_part=p.took_part, participation=p.rate, last_activity_on=p.last_on,
        indicators=indicators,
        parts=[MemberPartRead(member=MemberRead(id=m.member_id, name=m.name), activities=m.activities,
                              last_on=m.last_on) for m in p.parts if m.last_on is not None])


@router.get(
    "/orgs/{code}/activity-groups", response_model=list[ActivityGroupRead],
    summary="委员活动小组 / Activity groups", openapi_extra=token_access("records"),
    description=("该组织的委员活动小组：名称、组长、组员。含委员姓名：API 令牌需为明细级。\n\n"
                 "The organisation's activity groups with their leader and members. Names members: records level."),
    responses={200: {"content": {"application/json": {"example": [GROUP_EXAMPLE]}}}, **AUTH_ERRORS, **ORG_NOT_FOUND},
)
def list_groups(session: SessionDep, org: OrgForRead) -> Response:
    return json_answer([_group(session, v.group) for v in service.groups_of(session, org)])


@router.post(
    "/orgs/{code}/activity-groups", status_code=201, response_model=ActivityGroupRead,
    summary="新建委员活动小组 / Create an activity group",
    description=("新建一个委员活动小组：组员须为本组织（含下级）的在任委员，组长须为组员。只有本组织或上级的「双助推」办公室"
                 "可以新建（API 令牌不行）；记入审计日志（group.create）。同一小组（同名、同组员、同组长）重复提交返回"
                 "第一次的小组（200）；同名的另一个小组为 409。\n\n"
                 "Creates an activity group of serving members of the organisation's subtree; staff only; audited. "
                 "The same group sent again answers the first (200); another group of that name is a 409."),
    responses={200: {"model": ActivityGroupRead, "description": "重复提交 / idempotent replay"},
               **AUTH_ERRORS, **ORG_NOT_FOUND, **INVALID, **CONFLICT},
)
async def create_group(request: Request, data: GroupInput, by: CurrentUser, org: OrgForStaff,
                       read: SessionDep, session: WriteSessionDep) -> Response:
    body, created = await run_write(
        request, read, session,
        lambda s: (lambda made: (made[0].id, made[1]))(service.create_group(s, by=by, org=org, data=data)),
        lambda r, made: (_group(r, service.group_for_read(r, by, made[0])[0]), made[1]))
    return json_answer(body, status_code=201 if created else 200)


@router.put(
    "/activity-groups/{group_id}", response_model=ActivityGroupRead,
    summary="修改委员活动小组 / Change an activity group",
    description=("改名、设组长、改组员（整组替换）；回传读到的 version（他人先改则 409）。只有该组织或上级的「双助推」办公室；"
                 "记入审计日志（group.change）。\n\n"
                 "Renames the group and replaces its leader and members; the version read is required (409 when "
                 "changed since). Staff only; audited."),
    responses={**AUTH_ERRORS, **GROUP_404, **INVALID, **CONFLICT},
)
async def change_group(request: Request, group_id: Id, data: GroupChange, by: CurrentUser,
                       read: SessionDep, session: WriteSessionDep) -> Response:
    body = await run_write(
        request, read, session,
        lambda s: service.change_group(s, by=by, group_id=group_id, data=data, version=data.version).id,
        lambda r, gid: _group(r, service.group_for_read(r, by, gid)[0]))
    return json_answer(body)


@router.get(
    "/orgs/{code}/task-leads", response_model=list[LeadRead],
    summary="牵头统筹 / Tasks led by committees and groups", openapi_extra=token_access("aggregate"),
    description=("该组织的专委会、委员活动小组牵头统筹的实事：进行中和未开始的在前。\n\n"
                 "The tasks (实事) the organisation's committees and activity groups lead, current ones first."),
    responses={200: {"content": {"application/json": {"example": [LEAD_EXAMPLE]}}}, **AUTH_ERRORS, **ORG_NOT_FOUND,
               **INVALID},
)
def list_leads(session: SessionDep, org: OrgForRead,
               ended: Annotated[bool, Query(description="是否包括已结束的")] = True) -> Response:
    return json_answer([_lead(org, v) for v in service.leads_of(session, org, include_ended=ended)])


@router.post(
    "/orgs/{code}/task-leads", status_code=201, response_model=LeadRead,
    summary="设置牵头统筹 / A committee or group leads a task",
    description=("本组织的一个专委会（committee）或委员活动小组（group）牵头统筹一项实事，自 start_date 起（end_date 当天起"
                 "不再牵头）。同一专委会（小组）对同一实事的时段不能重叠（409）。只有本组织或上级的「双助推」办公室（API 令牌不行）；"
                 "记入审计日志（lead.create）。必须带 `Idempotency-Key` 请求头：重复提交返回第一次的记录（200）。\n\n"
                 "One of the organisation's committees or activity groups leads a task from start_date; staff only; "
                 "audited. `Idempotency-Key` is required: a retry answers the first row."),
    responses={200: {"model": LeadRead, "description": "重复提交 / idempotent replay"},
               **AUTH_ERRORS, **ORG_NOT_FOUND, **INVALID, **CONFLICT},
)
async def create_lead(request: Request, data: LeadCreate, by: CurrentUser, org: OrgForStaff,
                      read: SessionDep, session: WriteSessionDep,
                      idempotency_key: Annotated[str | None, Header(
                          alias="Idempotency-Key", description="客户端生成的唯一提交编号，最长 64 个字符")] = None,
                      ) -> Response:
    body, created = await run_write(
        request, read, session,
        lambda s: (lambda made: (made[0].id, made[1]))(service.create_lead(
            s, by=by, org=org, data=data, submission_key=idempotency_key or "")),
        lambda r, made: (_one(r, by, made[0]), made[1]))
    if created:
        return json_answer(body, status_code=201)
    return json_answer(body, headers={"Idempotent-Replayed": "true"})


def _one(session: Session, by: Any, lead_id: int) -> LeadRead:
    lead = service.lead_for_read(session, by, lead_id)
    org = session.get(Organisation, lead.org_id)
    assert org is not None
    return _lead(org, service.view_of(session, lead))


@router.post(
    "/task-leads/{lead_id}/end", response_model=LeadRead,
    summary="结束牵头统筹 / End a lead",
    description=("自 end_date（空：今天）起不再牵头；在开始日结束即取消。同一结束重复提交返回该记录。只有该组织或上级的"
                 "「双助推」办公室；记入审计日志（lead.end）。\n\n"
                 "Ends the lead from end_date (default today); ending on its start date cancels it. Staff only; audited."),
    responses={**AUTH_ERRORS, **LEAD_404, **INVALID, **CONFLICT},
)
async def end_lead(request: Request, lead_id: Id, data: LeadEnd, by: CurrentUser,
                   read: SessionDep, session: WriteSessionDep) -> Response:
    body = await run_write(
        request, read, session,
        lambda s: service.end_lead(s, by=by, lead_id=lead_id, end_date=data.end_date).id,
        lambda r, lid: _one(r, by, lid))
    return json_answer(body)


@router.get(
    "/task-leads/{lead_id}/progress", response_model=LeadProgressRead,
    summary="牵头统筹进度 / A lead's progress", openapi_extra=token_access("records"),
    description=("一项牵头统筹在某期间的进度：该实事在本组织（含下级）的已审核数值、年度目标和完成比例（同看板）；牵头专委会"
                 "（小组）的委员数、参与过该实事活动的人数、这些活动的数量和数值（每项活动计一次）、最近一次的日期，以及每位参与"
                 "委员的活动数。只计统计期间与牵头时段重叠的日子。含委员姓名：API 令牌需为明细级。\n\n"
                 "A lead's progress in a period: the task's verified figures in the organisation's subtree against "
                 "target (as on the boards), and the leading body's part — members, those who took part in its "
                 "verified activities, those activities (each once) and their figures, the last one, per member."),
    responses={**AUTH_ERRORS, **LEAD_404, **INVALID},
)
def read_lead_progress(session: SessionDep, by: CurrentUser, lead_id: Id, period: PeriodKey = None) -> Response:
    lead: TaskLead = service.lead_for_read(session, by, lead_id)
    return json_answer(progress_read(service.progress(session, lead, periods.parse(period))))
