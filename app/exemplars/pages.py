"""Pages of 典型: /exemplars/CODE — the ranked candidates of a subtree for a year, each component shown and
the score explained; /exemplars/CODE/nominations — its nominations; /exemplars/CODE/nominate — the
office's form with the drafted citation; /exemplars/nominations/ID — one nomination (选树 / 退回 by the
province, 撤回 and 修改后重新报送 by the office) and, once selected, the 典型's page with photos, the
典型事迹材料 .docx and the photo pack. Forms post and redirect; the rules are app/exemplars/service.py's."""

from __future__ import annotations

import secrets
from math import ceil
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlmodel import Session

from app.auth.principal import STAFF_ROLES, Principal
from app.clock import today_cn
from app.db import run_write
from app.deps import CurrentUser, Id, OrgForRead, OrgForStaff, SessionDep, WriteSessionDep
from app.errors import Conflict, Invalid
from app.exemplars import files, service
from app.models import Organisation
from app.web import redirect, render

router = APIRouter(include_in_schema=False)
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
Year = Annotated[int | None, Query(ge=2000, le=2100)]
PageNo = Annotated[int, Query(ge=1, le=10_000)]
StatusFilter = Annotated[str, Query(pattern="^(all|nominated|selected|returned|withdrawn)$")]


def _year(year: int | None) -> int:
    return service.check_year(year if year is not None else today_cn().year)


def _years() -> list[int]:
    this = today_cn().year
    return list(range(this, this - 6, -1))


@router.get("/exemplars/{code}")
def candidates_page(request: Request, session: SessionDep, by: CurrentUser, org: OrgForRead, year: Year = None,
                    page: PageNo = 1) -> Response:
    y = _year(year)
    rows, total = service.candidates(session, org, service.year_period(y), page=page)
    return render(request, "exemplars/candidates.html", {
        "org": org, "year": y, "years": _years(), "rows": rows, "total": total, "page": page,
        "pages": max(1, ceil(total / service.CANDIDATES_PER_PAGE)), "per_page": service.CANDIDATES_PER_PAGE,
        "components": service.COMPONENTS, "explained": service.SCORE_EXPLAINED, "cap": service.ACTIVITY_CAP,
        "may_nominate": by.can(session, org.id, *STAFF_ROLES),
        "nominated": service.nominated_ids(session, org, y), "labels": service.STATUS_LABELS}, block="list")


@router.get("/exemplars/{code}/nominations")
def nominations_page(request: Request, session: SessionDep, by: CurrentUser, org: OrgForRead, year: Year = None,
                     status: StatusFilter = "all", page: PageNo = 1) -> Response:
    rows, total = service.list_nominations(session, org, year=year, status=status, page=page)
    return render(request, "exemplars/nominations.html", {
        "org": org, "year": year, "years": _years(), "status": status, "rows": rows, "total": total, "page": page,
        "pages": max(1, ceil(total / 30)), "labels": service.STATUS_LABELS}, block="list")


class NominateForm(BaseModel):
    member_id: int = Field(ge=1, le=2**31 - 1)
    year: int = Field(ge=2000, le=2100)
    citation: str = Field(default="", max_length=4000)
    submission_key: str = Field(default="", max_length=64)
    csrf_token: str = ""


def _form_page(request: Request, session: Session, by: Principal, org: Organisation, member_id: int, year: int, *,
               citation: str | None = None, message: str | None = None, errors: dict | None = None,
               key: str | None = None, status_code: int = 200) -> Response:
    org, member, draft = service.draft_for(session, by, org.id, member_id, year)
    return render(request, "exemplars/nominate.html", {
        "org": org, "member": member, "year": year, "citation": draft if citation is None else citation,
        "max": service.CITATION_MAX, "message": message, "errors": errors or {},
        "key": key or secrets.token_hex(16)}, status_code=status_code)


@router.get("/exemplars/{code}/nominate")
def nominate_form(request: Request, session: SessionDep, by: CurrentUser, org: OrgForStaff,
                  member: Annotated[int, Query(ge=1, le=2**31 - 1)], year: Year = None) -> Response:
    return _form_page(request, session, by, org, member, _year(year))


@router.post("/exemplars/{code}/nominate")
async def nominate(request: Request, read: SessionDep, write: WriteSessionDep, by: CurrentUser, org: OrgForStaff,
                   form: Annotated[NominateForm, Form()]) -> Response:
    try:
        nid = await run_write(request, read, write, lambda s: service.nominate(
            s, by=by, org_ref=org.id, member_id=form.member_id, year=form.year, citation=form.citation,
            submission_key=form.submission_key)[0].id, lambda _r, i: i)
    except (Invalid, Conflict) as exc:
        existing = exc.extra.get("nomination_id") if isinstance(exc, Conflict) else None
        if existing:
            return redirect(request, f"/exemplars/nominations/{existing}")
        return await run_in_threadpool(_form_page, request, read, by, org, form.member_id, form.year,
                                       citation=form.citation, message=exc.message, errors=exc.errors,
                                       key=form.submission_key, status_code=exc.status_code)
    return redirect(request, f"/exemplars/nominations/{nid}?done=nominated")


DONE = {"nominated": "已报送推荐，等待省级「双助推」办公室审定。", "select": "已选树为典型。", "return": "已退回推荐。",
        "withdraw": "已撤回推荐。", "resubmit": "已修改并重新报送。"}


def _one_page(request: Request, session: Session, by: Principal, nomination_id: int, *, done: str = "",
              message: str | None = None, errors: dict | None = None, status_code: int = 200) -> Response:
    ex = service.exemplar(session, by, nomination_id, selected_only=False)
    n = ex.row.n
    plan = files.plan_pack(session, ex) if n.status == "selected" else None
    return render(request, "exemplars/nomination.html", {
        "ex": ex, "n": n, "labels": service.STATUS_LABELS, "done": DONE.get(done), "message": message,
        "errors": errors or {}, "may_decide": service.may_decide(session, by, n) and n.status == "nominated",
        "may_change": service.may_change(session, by, n), "max": service.CITATION_MAX,
        "explained": service.SCORE_EXPLAINED, "plan": plan,
        "pack_message": files.pack_message(plan) if plan else None}, status_code=status_code)


@router.get("/exemplars/nominations/{nomination_id}")
def nomination_page(request: Request, session: SessionDep, by: CurrentUser, nomination_id: Id,
                    done: Annotated[str, Query(max_length=12)] = "") -> Response:
    return _one_page(request, session, by, nomination_id, done=done)


class ActForm(BaseModel):
    action: str = Field(default="", max_length=12)  # select / return / withdraw / resubmit
    note: str = Field(default="", max_length=2000)
    citation: str = Field(default="", max_length=4000)
    version: int = Field(default=0, ge=0, le=2**31 - 1)
    csrf_token: str = ""


@router.post("/exemplars/nominations/{nomination_id}")
async def act(request: Request, read: SessionDep, write: WriteSessionDep, by: CurrentUser, nomination_id: Id,
              form: Annotated[ActForm, Form()]) -> Response:
    def use_case(s: Session) -> int:
        if form.action in ("select", "return"):
            return service.decide(s, by=by, nomination_id=nomination_id, decision=form.action, note=form.note,
                                  version=form.version)[0].id
        if form.action == "withdraw":
            return service.withdraw(s, by=by, nomination_id=nomination_id, version=form.version)[0].id
        if form.action == "resubmit":
            return service.resubmit(s, by=by, nomination_id=nomination_id, citation=form.citation,
                                    version=form.version)[0].id
        raise Invalid("未知的操作", code="bad_action")

    try:
        await run_write(request, read, write, use_case, lambda _r, i: i)
    except (Invalid, Conflict) as exc:
        return await run_in_threadpool(_one_page, request, read, by, nomination_id, message=exc.message,
                                       errors=exc.errors, status_code=exc.status_code)
    return redirect(request, f"/exemplars/nominations/{nomination_id}?done={form.action}")


def _download_headers(ascii_name: str, name: str) -> dict[str, str]:
    return {"Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}",
            "Cache-Control": "private, no-store"}


@router.get("/exemplars/nominations/{nomination_id}/material.docx")
def material_docx(session: SessionDep, by: CurrentUser, nomination_id: Id) -> Response:
    ex = service.exemplar(session, by, nomination_id)
    return Response(files.to_docx(ex), media_type=DOCX, headers=_download_headers(
        f"exemplar-{nomination_id}.docx", f"{ex.member.name}典型事迹材料.docx"))


@router.get("/exemplars/nominations/{nomination_id}/photos.zip")
def photo_pack(session: SessionDep, by: CurrentUser, nomination_id: Id) -> Response:
    ex = service.exemplar(session, by, nomination_id)
    data = files.to_zip(files.plan_pack(session, ex), ex)
    return Response(data, media_type="application/zip", headers=_download_headers(
        f"exemplar-{nomination_id}-photos.zip", f"{ex.member.name}典型照片.zip"))

