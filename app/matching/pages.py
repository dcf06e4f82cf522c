"""Pages of 补位匹配 and 带动: /matching/CODE/TASK (a key county's task behind pace: the ranked members with
each score's parts, the invitation form, earlier invitations with their joins), its workbook per batch,
and /bringing/CODE (带动 of an organisation's subtree). Forms post and redirect; the rules are
app/matching/service.py's."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from openpyxl import Workbook
from pydantic import BaseModel, Field
from sqlmodel import Session

from app.auth.principal import Principal
from app.boards import periods
from app.db import run_write
from app.deps import CurrentUser, Id, OrgForRead, OrgForStaff, SessionDep, WriteSessionDep
from app.errors import DomainError
from app.matching import service
from app.models import Organisation
from app.web import redirect, render
from app.xlsx import workbook_bytes

router = APIRouter(include_in_schema=False)
PER_PAGE = 30
TaskId = Annotated[int, Query(ge=1, le=2**31)]
PeriodKey = Annotated[str | None, Query(max_length=16)]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class InviteForm(BaseModel):
    member_ids: list[str] = Field(default_factory=list, max_length=service.MAX_INVITE + 1)
    channel: str = Field(default="", max_length=8)
    note: str = Field(default="", max_length=1000)
    period: str = Field(default="", max_length=16)
    submission_key: str = Field(default="", max_length=64)
    csrf_token: str = ""

    def ids(self) -> list[int]:
        return [int(x) for x in self.member_ids if x.isdigit() and len(x) <= 12]


def _page(request: Request, session: Session, by: Principal, county: Organisation, task_id: int,
          period_key: str | None, *, page: int = 1, batch: int | None = None, message: str | None = None,
          errors: dict | None = None, form: InviteForm | None = None, status_code: int = 200) -> Response:
    period = periods.parse(period_key)
    g = service.gap(session, by, county, task_id, period)
    ranked = service.candidates(session, g)
    start = (page - 1) * PER_PAGE
    return render(request, "matching/index.html", {
        "g": g, "org": county, "period": period, "choices": periods.choices(), "ranked": ranked[start:start + PER_PAGE],
        "total": len(ranked), "page": page, "pages": max(1, -(-len(ranked) // PER_PAGE)), "offset": start,
        "batches": service.batches_for(session, by, g), "channels": service.CHANNELS, "weights": service.WEIGHTS,
        "new_key": secrets.token_urlsafe(18), "batch": batch, "message": message, "errors": errors or {},
        "form": form, "chosen": set(form.ids()) if form else set()}, status_code=status_code)


# Before /matching/{code}/{task_id}, whose pattern would take this path too.
@router.get("/matching/batches/{batch_id}.xlsx")
def batch_workbook(session: SessionDep, by: CurrentUser, batch_id: Id) -> Response:
    b = service.batch_for(session, by, batch_id)
    phones = service.member_phones(session, [m for m, _, _ in b.members])
    wb = Workbook()
    ws = wb.active
    ws.title = "补位邀请名单"
    ws.append([f"{b.county_name} · {b.task_name} · 补位邀请名单（{b.org_name}）"])
    ws.append(["序号", "姓名", "手机号", "已参与"])
    for n, (m, name, joined) in enumerate(b.members, start=1):
        ws.append([n, name, phones.get(m, ""), "是" if joined else "否"])
    for col, width in zip("ABCD", (6, 14, 16, 8), strict=True):
        ws.column_dimensions[col].width = width
    return Response(workbook_bytes(wb), media_type=XLSX, headers={
        "Content-Disposition": f"attachment; filename=\"match-{b.id}.xlsx\"; filename*=UTF-8''"
                               "%E8%A1%A5%E4%BD%8D%E9%82%80%E8%AF%B7%E5%90%8D%E5%8D%95.xlsx",
        "Cache-Control": "private, no-store"})


@router.get("/matching/{code}/{task_id}")
def matching_page(request: Request, session: SessionDep, by: CurrentUser, county: OrgForRead, task_id: Id,
                  period: PeriodKey = None, page: Annotated[int, Query(ge=1, le=10_000)] = 1,
                  batch: Annotated[int | None, Query(ge=1, le=2**31)] = None) -> Response:
    return _page(request, session, by, county, task_id, period, page=page, batch=batch)


@router.post("/matching/{code}/{task_id}")
async def invite(request: Request, read: SessionDep, write: WriteSessionDep, by: CurrentUser, county: OrgForStaff,
                 task_id: Id, form: Annotated[InviteForm, Form()]) -> Response:
    period_key, county_id, code = form.period or None, county.id, county.code
    try:
        period = periods.parse(period_key)

        def use_case(s: Session) -> int:
            here = s.get(Organisation, county_id)
            assert here is not None
            g = service.gap(s, by, here, task_id, period, act=True)
            return service.invite(s, by=by, g=g, member_ids=form.ids(), channel=form.channel, note=form.note,
                                  submission_key=form.submission_key)[0]

        batch_id = await run_write(request, read, write, use_case, lambda _r, made: made)
    except DomainError as exc:
        if exc.status_code not in (409, 422):
            raise
        return await run_in_threadpool(_page, request, read, by, county, task_id, period_key, message=exc.message,
                                       errors=exc.errors, form=form, status_code=exc.status_code)
    return redirect(request, f"/matching/{code}/{task_id}?period={period.key}&batch={batch_id}#batch-{batch_id}")


@router.get("/bringing/{code}")
def bringing_page(request: Request, session: SessionDep, by: CurrentUser, org: OrgForRead,
                  period: PeriodKey = None) -> Response:
    p = periods.parse(period)
    return render(request, "matching/bringing.html", {
        "org": org, "period": p, "choices": periods.choices(), "report": service.bringing(session, org, p)})
