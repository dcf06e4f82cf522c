"""Pages of 牵头统筹: /leads/CODE lists the 实事 the organisation's 专委会 and 委员活动小组 lead (with each
one's part this period) and its groups, with the forms to set a lead up (staff); /task-leads/ID is a
lead's progress; /activity-groups/ID a group, with its change form. Forms post and redirect (no
JavaScript needed); the rules are app/leads/service.py's."""

from __future__ import annotations

import secrets
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, ValidationError
from sqlmodel import Session

from app.auth.principal import STAFF_ROLES, Principal
from app.boards import periods
from app.clock import today_cn
from app.db import run_write
from app.deps import CurrentUser, Id, OrgForRead, OrgForStaff, SessionDep, WriteSessionDep
from app.errors import DomainError, Invalid
from app.leads import service
from app.leads.schemas import GroupInput, LeadCreate
from app.models import ActivityGroup, Organisation
from app.web import redirect, render

router = APIRouter(include_in_schema=False)
DONE = {"lead": "已设置牵头统筹。", "group": "已保存活动小组。", "ended": "已结束牵头统筹。"}


class LeadForm(BaseModel):
    task_id: str = Field(default="", max_length=12)
    body: str = Field(default="", max_length=32)  # "committee:12" / "group:3"
    start_date: str = Field(default="", max_length=10)
    end_date: str = Field(default="", max_length=10)
    note: str = Field(default="", max_length=500)
    submission_key: str = Field(default="", max_length=64)
    csrf_token: str = ""

    def data(self) -> LeadCreate:
        kind, _, body_id = self.body.partition(":")
        try:
            return LeadCreate(task_id=self.task_id, body_kind=kind, body_id=body_id, start_date=self.start_date,
                              end_date=self.end_date or None, note=self.note)
        except ValidationError as exc:
            fields = {str(e["loc"][0]) for e in exc.errors()}
            errors = {k: v for k, v in (("task_id", "请选择实事"), ("body_kind", "请选择牵头的专委会或活动小组"),
                                        ("body_id", "请选择牵头的专委会或活动小组"), ("start_date", "请选择开始日期"),
                                        ("end_date", "结束日期格式不正确")) if k in fields}
            for part in ("body_kind", "body_id"):
                if part in errors:
                    errors["body"] = errors.pop(part)
            raise Invalid("牵头统筹填写不完整", code="lead_invalid", errors=errors) from exc


def _index(request: Request, session: Session, by: Principal, org: Organisation, period_key: str | None, *,
           done: str = "", message: str | None = None, errors: dict | None = None, form: LeadForm | None = None,
           status_code: int = 200) -> Response:
    period = periods.parse(period_key)
    views = service.leads_of(session, org)
    rows = [(v, service.progress(session, v.lead, period)) for v in views]
    return render(request, "leads/index.html", {
        "org": org, "period": period, "choices": periods.choices(), "rows": rows,
        "groups": service.groups_of(session, org), "staff": by.can(session, org.id, *STAFF_ROLES),
        "tasks": service.tasks_for_leads(session, org), "bodies": service.bodies_of(session, org),
        "labels": service.BODY_KINDS, "today": today_cn().isoformat(), "new_key": secrets.token_urlsafe(18),
        "done": DONE.get(done), "message": message, "errors": errors or {}, "form": form},
        status_code=status_code)


@router.get("/leads/{code}")
def leads_page(request: Request, session: SessionDep, by: CurrentUser, org: OrgForRead,
               period: Annotated[str | None, Query(max_length=16)] = None,
               done: Annotated[str, Query(max_length=16)] = "") -> Response:
    return _index(request, session, by, org, period, done=done)


@router.post("/leads/{code}")
async def create_lead(request: Request, read: SessionDep, write: WriteSessionDep, by: CurrentUser,
                      org: OrgForStaff, form: Annotated[LeadForm, Form()]) -> Response:
    try:
        data = form.data()
        lead_id = await run_write(request, read, write, lambda s: service.create_lead(
            s, by=by, org=org, data=data, submission_key=form.submission_key)[0].id, lambda _r, made: made)
    except DomainError as exc:
        if exc.status_code not in (409, 422):
            raise
        return await run_in_threadpool(_index, request, read, by, org, None, message=exc.message,
                                       errors=exc.errors, form=form, status_code=exc.status_code)
    return redirect(request, f"/task-leads/{lead_id}?done=lead")


@router.get("/task-leads/{lead_id}")
def lead_page(request: Request, session: SessionDep, by: CurrentUser, lead_id: Id,
              period: Annotated[str | None, Query(max_length=16)] = None,
              done: Annotated[str, Query(max_length=16)] = "") -> Response:
    return _lead_page(request, session, by, lead_id, period, done=done)


def _lead_page(request: Request, session: Session, by: Principal, lead_id: int, period_key: str | None, *,
               done: str = "", message: str | None = None, status_code: int = 200) -> Response:
    lead = service.lead_for_read(session, by, lead_id)
    p = service.progress(session, lead, periods.parse(period_key))
    return render(request, "leads/lead.html", {
        "p": p, "org": p.org, "period": p.period, "choices": periods.choices(),
        "staff": by.can(session, lead.org_id, *STAFF_ROLES), "today": today_cn().isoformat(),
        "done": DONE.get(done), "message": message}, status_code=status_code)


class EndForm(BaseModel):
    end_date: str = Field(default="", max_length=10)
    confirm: str = Field(default="", max_length=1)
    csrf_token: str = ""


@router.post("/task-leads/{lead_id}/end")
async def end_lead(request: Request, read: SessionDep, write: WriteSessionDep, by: CurrentUser, lead_id: Id,
                   form: Annotated[EndForm, Form()]) -> Response:
    service.lead_for_read(read, by, lead_id)
    try:
        if form.confirm != "1":
            raise Invalid("请勾选「确认结束」后再提交", code="confirm_required", errors={"confirm": "请确认"})
        try:
            day = date.fromisoformat(form.end_date) if form.end_date else None
        except ValueError as exc:
            raise Invalid("结束日期格式不正确", code="lead_invalid", errors={"end_date": "请选择日期"}) from exc
        await run_write(request, read, write, lambda s: service.end_lead(s, by=by, lead_id=lead_id, end_date=day).id,
                        lambda _r, lid: lid)
    except DomainError as exc:
        if exc.status_code not in (409, 422):
            raise
        return await run_in_threadpool(_lead_page, request, read, by, lead_id, None, message=exc.message,
                                       status_code=exc.status_code)
    return redirect(request, f"/task-leads/{lead_id}?done=ended")


# --- 委员活动小组 -----------------------------------------------------------------------------------------

class GroupForm(BaseModel):
    name: str = Field(default="", max_length=64)
    members: str = Field(default="", max_length=10_000)  # names or mobile numbers, one per line
    leader: str = Field(default="", max_length=32)
    note: str = Field(default="", max_length=500)
    version: int = Field(default=0, ge=0, le=2**31 - 1)
    csrf_token: str = ""

    def data(self, session: Session, org: Organisation) -> GroupInput:
        """The service's input: the typed names and numbers found among the organisation's serving members."""
        ids, problems = service.resolve_members(session, org, self.members)
        errors: dict[str, str] = {}
        if problems:
            errors["members"] = "；".join(problems[:5]) + ("……" if len(problems) > 5 else "")
        leader = None
        if self.leader.strip():
            found, trouble = service.resolve_members(session, org, self.leader.strip())
            if trouble or len(found) != 1:
                errors["leader"] = trouble[0] if trouble else "请填写一位组长"
            else:
                leader = found[0]
        if errors:
            raise Invalid("活动小组填写有误", code="group_invalid", errors=errors)
        return GroupInput(name=self.name, member_ids=ids, leader_member_id=leader, note=self.note)


def _group_page(request: Request, session: Session, by: Principal, org: Organisation, group: ActivityGroup | None, *,
                done: str = "", message: str | None = None, errors: dict | None = None, form: GroupForm | None = None,
                status_code: int = 200) -> Response:
    members = service.group_members(session, group.id) if group else []
    return render(request, "leads/group.html", {
        "org": org, "group": group, "members": members, "staff": by.can(session, org.id, *STAFF_ROLES),
        "leader": next((m for m in members if group and m.id == group.leader_member_id), None),
        "done": DONE.get(done), "message": message, "errors": errors or {}, "form": form},
        status_code=status_code)


@router.get("/leads/{code}/groups/new")
def new_group_page(request: Request, session: SessionDep, by: CurrentUser, org: OrgForStaff) -> Response:
    return _group_page(request, session, by, org, None)


@router.post("/leads/{code}/groups")
async def create_group(request: Request, read: SessionDep, write: WriteSessionDep, by: CurrentUser,
                       org: OrgForStaff, form: Annotated[GroupForm, Form()]) -> Response:
    try:
        data = await run_in_threadpool(form.data, read, org)
        group_id = await run_write(request, read, write, lambda s: service.create_group(
            s, by=by, org=org, data=data)[0].id, lambda _r, gid: gid)
    except DomainError as exc:
        if exc.status_code not in (409, 422):
            raise
        return await run_in_threadpool(_group_page, request, read, by, org, None, message=exc.message,
                                       errors=exc.errors, form=form, status_code=exc.status_code)
    return redirect(request, f"/activity-groups/{group_id}?done=group")


@router.get("/activity-groups/{group_id}")
def group_page(request: Request, session: SessionDep, by: CurrentUser, group_id: Id,
               done: Annotated[str, Query(max_length=16)] = "") -> Response:
    group, org = service.group_for_read(session, by, group_id)
    return _group_page(request, session, by, org, group, done=done)


@router.post("/activity-groups/{group_id}")
async def change_group(request: Request, read: SessionDep, write: WriteSessionDep, by: CurrentUser, group_id: Id,
                       form: Annotated[GroupForm, Form()]) -> Response:
    group, org = service.group_for_read(read, by, group_id)
    try:
        data = await run_in_threadpool(form.data, read, org)
        await run_write(request, read, write, lambda s: service.change_group(
            s, by=by, group_id=group_id, data=data, version=form.version).id, lambda _r, gid: gid)
    except DomainError as exc:
        if exc.status_code not in (409, 422):
            raise
        return await run_in_threadpool(_group_page, request, read, by, org, group, message=exc.message,
                                       errors=exc.errors, form=form, status_code=exc.status_code)
    return redirect(request, f"/activity-groups/{group_id}?done=group")
