"""Pages of the 研判 meeting: /meeting/CODE?period=… opens with last meeting's 督办事项 and their status,
then the 问题清单 with a 「列为督办」 form per item (staff); /meeting/CODE/followups lists the follow-ups
with the close form and a form to record one by hand. Forms post and redirect (no JavaScript needed);
the rules are app/meeting/followups.py's and problems.py's."""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select
from sqlmodel import Session

from app.auth.principal import STAFF_ROLES, Principal
from app.boards import periods
from app.clock import today_cn
from app.db import run_write
from app.deps import CurrentUser, Id, OrgForRead, OrgForStaff, SessionDep, WriteSessionDep
from app.errors import DomainError, Invalid
from app.meeting import followups as fus
from app.meeting import problems as pl
from app.meeting.schemas import FollowUpCreate
from app.models import Organisation
from app.web import redirect, render

router = APIRouter(include_in_schema=False)
PER_PAGE = 30  # follow-ups, and 问题清单 items (a province's list can run to a hundred)
DONE = {"created": "已列入督办。", "closed": "已办结。"}


def _owners(session: Session, org: Organisation) -> list[Organisation]:
    """Who a follow-up may be given to on the forms: the organisation and those one level down."""
    kids = session.scalars(select(Organisation).where(Organisation.parent_id == org.id).order_by(Organisation.code))
    return [org, *kids]


def _default_due() -> date:
    """The end of next month: before the next monthly meeting's figures are final."""
    today = today_cn()
    first_after_next = date(today.year + (today.month + 1) // 12, (today.month + 1) % 12 + 1, 1)
    return first_after_next - timedelta(days=1)


def _form_ctx(session: Session, by: Principal, org: Organisation) -> dict:
    return {"staff": by.can(session, org.id, *STAFF_ROLES), "owners": _owners(session, org),
            "default_due": _default_due().isoformat(), "min_due": today_cn().isoformat(),
            "new_key": lambda: secrets.token_urlsafe(18)}


def _meeting_page(request: Request, session: Session, by: Principal, org: Organisation, period_key: str | None, *,
                  page: int = 1, done: str = "", message: str | None = None, errors: dict | None = None,
                  failed: tuple[str, str] | None = None, status_code: int = 200) -> Response:
    period = periods.parse(period_key)
    items = pl.problems(session, org, period)
    previous = fus.views(session, fus.previous_followups(session, org, period), current=items, of_org=org.id)
    taken = fus.open_sources(session, org)
    pages = max(1, (len(items) + PER_PAGE - 1) // PER_PAGE)
    page = min(page, pages)
    return render(request, "meeting/meeting.html", {
        "org": org, "period": period, "choices": periods.choices(), "total": len(items), "page": page,
        "pages": pages, "first": (page - 1) * PER_PAGE + 1, "items": items[(page - 1) * PER_PAGE:page * PER_PAGE],
        "previous": previous,
        "taken": taken, "kinds": pl.KINDS, "done": DONE.get(done), "message": message, "errors": errors or {},
        "failed": failed, **_form_ctx(session, by, org)}, block="problems", status_code=status_code)


@router.get("/meeting/{code}")
def meeting_page(request: Request, session: SessionDep, by: CurrentUser, org: OrgForRead,
                 period: Annotated[str | None, Query(max_length=16)] = None,
                 page: Annotated[int, Query(ge=1, le=10_000)] = 1,
                 done: Annotated[str, Query(max_length=16)] = "") -> Response:
    return _meeting_page(request, session, by, org, period, page=page, done=done)


class CreateForm(BaseModel):
    period: str | None = Field(default=None, max_length=16)
    source_kind: str = Field(default="manual", max_length=32)
    source_ref: str = Field(default="", max_length=64)
    title: str = Field(default="", max_length=200)
    owner_org: str = Field(default="", max_length=12)
    due_on: str = Field(default="", max_length=10)
    done_criteria: str = Field(default="", max_length=1000)
    submission_key: str = Field(default="", max_length=64)
    back: Literal["meeting", "followups"] = "meeting"
    csrf_token: str = ""

    def data(self) -> FollowUpCreate:
        """The service's input; a missing or malformed date or organisation is a Chinese error."""
        try:
            return FollowUpCreate(period=self.period or None, source_kind=self.source_kind or "manual",
                                  source_ref=self.source_ref, title=self.title, owner_org=self.owner_org,
                                  due_on=self.due_on, done_criteria=self.done_criteria)
        except ValidationError as exc:
            fields = {str(e["loc"][0]) for e in exc.errors()}
            errors = {k: v for k, v in (("due_on", "请选择办结期限"), ("owner_org", "请选择责任组织"),
                                        ("period", "统计期间格式不正确")) if k in fields}
            raise Invalid("督办事项填写不完整", code="followup_invalid", errors=errors or {"title": "请检查填写"}) from exc


@router.post("/meeting/{code}/followups")
async def create_followup(request: Request, read: SessionDep, write: WriteSessionDep, by: CurrentUser,
                          org: OrgForStaff, form: Annotated[CreateForm, Form()]) -> Response:
    try:
        data = form.data()
        period = periods.parse(data.period)
        await run_write(request, read, write, lambda s: fus.create_followup(
            s, by=by, org=org, period=period, data=data, submission_key=form.submission_key)[0].id,
            lambda _r, made: made)
    except DomainError as exc:
        if not isinstance(exc, Invalid):
            raise
        failed = (form.source_kind, form.source_ref)
        if form.back == "followups":
            return await run_in_threadpool(_followups_page, request, read, by, org, "open", 1, message=exc.message,
                                           errors=exc.errors, form=form, status_code=422)
        return await run_in_threadpool(_meeting_page, request, read, by, org, form.period, message=exc.message,
                                       errors=exc.errors, failed=failed, status_code=422)
    if form.back == "followups":
        return redirect(request, f"/meeting/{org.code}/followups?done=created")
    return redirect(request, f"/meeting/{org.code}?period={period.key}&done=created#followups")


def _followups_page(request: Request, session: Session, by: Principal, org: Organisation, status: str, page: int, *,
                    done: str = "", message: str | None = None, errors: dict | None = None,
                    form: CreateForm | None = None, status_code: int = 200) -> Response:
    rows, total = fus.list_followups(session, org, status=status, page=page, per_page=PER_PAGE)
    current = pl.problems(session, org, periods.parse(None)) \
        if any(r.source_kind != fus.MANUAL and r.org_id == org.id for r in rows) else None
    views = fus.views(session, rows, current=current, of_org=org.id)
    closable = {v.row.org_id for v in views if by.can(session, v.row.org_id, *STAFF_ROLES)}
    return render(request, "meeting/followups.html", {
        "org": org, "views": views, "total": total, "page": page, "per_page": PER_PAGE, "status": status,
        "labels": fus.STATUS_LABELS, "closable": closable, "done": DONE.get(done), "message": message,
        "errors": errors or {}, "form": form, **_form_ctx(session, by, org)}, block="list", status_code=status_code)


@router.get("/meeting/{code}/followups")
def followups_page(request: Request, session: SessionDep, by: CurrentUser, org: OrgForRead,
                   status: Annotated[Literal["open", "overdue", "done", "all"], Query()] = "open",
                   page: Annotated[int, Query(ge=1, le=10_000)] = 1,
                   done: Annotated[str, Query(max_length=16)] = "") -> Response:
    return _followups_page(request, session, by, org, status, page, done=done)


class CloseForm(BaseModel):
    note: str = Field(default="", max_length=1000)
    version: int = Field(default=0, ge=0, le=2**31 - 1)
    confirm: str = Field(default="", max_length=1)
    csrf_token: str = ""


@router.post("/meeting/followups/{followup_id}/close")
async def close_followup(request: Request, read: SessionDep, write: WriteSessionDep, by: CurrentUser,
                         followup_id: Id, form: Annotated[CloseForm, Form()]) -> Response:
    fu = fus.followup_for_read(read, by, followup_id)
    org = read.get(Organisation, fu.org_id)
    assert org is not None
    try:
        if form.confirm != "1":
            raise Invalid("请勾选「确认办结」后再提交", code="confirm_required", errors={"confirm": "请确认"})
        await run_write(request, read, write, lambda s: fus.close_followup(
            s, by=by, followup_id=followup_id, note=form.note, version=form.version).id, lambda _r, fid: fid)
    except Invalid as exc:
        return await run_in_threadpool(_followups_page, request, read, by, org, "open", 1, message=exc.message,
                                       errors={**(exc.errors or {}), "closing": str(followup_id)}, status_code=422)
    return redirect(request, f"/meeting/{org.code}/followups?done=closed")
