"""换届 pages: /terms/{code} (current term, members, the form), the confirmation, the change.

The rules are the service's (app/terms/service.py). The flow: choose the start date and who
continues (checkboxes, all ticked; or an uploaded list of phones) → POST …/preview shows how many
continue and how many end, naming those who end → POST …/change does it, refused when the list
moved since the preview (fingerprint).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse
from sqlmodel import Session
from starlette.datastructures import FormData, UploadFile

from app.auth.principal import STAFF_ROLES, Principal
from app.clock import today_cn
from app.deps import CurrentUser, OrgForStaff, SessionDep, WriteSessionDep, org_for_staff
from app.errors import Forbidden, Invalid
from app.imports.base import BadCell, ColumnSpec, parse_phone, read_rows
from app.limits import bounded_body_route
from app.models import Organisation
from app.orgs.service import children
from app.terms import service
from app.web import render

MAX_UPLOAD = 2 * 1024 * 1024
MAX_FIELDS = 20_000  # a checkbox per member of the largest organisation, with room
PHONE_COLUMNS = [ColumnSpec("phone", "手机号", required=True, text=True, aliases=("手机", "电话", "联系电话", "手机号码"))]

router = APIRouter(prefix="/terms", include_in_schema=False,
                   route_class=bounded_body_route(lambda: MAX_UPLOAD + 256 * 1024))


async def _form(request: Request) -> FormData:
    return await request.form(max_fields=MAX_FIELDS, max_files=1)


FormDep = Annotated[FormData, Depends(_form)]


def _ids(values: list) -> list[int]:
    out = []
    for v in values:
        for part in str(v).split(","):
            if part.strip().isdigit() and len(part.strip()) <= 18:
                out.append(int(part.strip()))
    return out


@router.get("")
def terms_home(session: SessionDep, by: CurrentUser):
    orgs = by.grant_orgs(session, *STAFF_ROLES)
    if not orgs:
        raise Forbidden(service.STAFF_ONLY, code="staff_only")
    return RedirectResponse(f"/terms/{orgs[0].code}", status_code=303)


def _page(request: Request, session: Session, by: Principal, org: Organisation, *, changed: str = "",
          error: str | None = None, status_code: int = 200):
    today = today_cn()
    current = service.current_term(session, org.id)
    seats = service.open_seats(session, org.id, today, started=True)
    kids = [k for k in children(session, org.id) if by.can(session, k.id, *STAFF_ROLES)]
    parent = session.get(Organisation, org.parent_id) if org.parent_id else None
    notice = None
    if changed:
        term = service.current_term(session, org.id)
        notice = f"换届完成：第{term.number}届自 {term.start_date.isoformat()} 起。" if term else None
    return render(request, "terms/index.html", {
        "org": org, "current": current, "seats": seats, "terms": service.terms_of(session, org.id),
        "kids": kids, "parent": parent if parent and by.can(session, parent.id, *STAFF_ROLES) else None,
        "notice": notice, "error": error, "today": today,
    }, status_code=status_code)


@router.get("/{code}")
def terms_page(request: Request, session: SessionDep, by: CurrentUser, org: OrgForStaff, changed: str = ""):
    return _page(request, session, by, org, changed=changed)


def _phones(upload: UploadFile) -> tuple[list[tuple[int, str]], list[str]]:
    data = upload.file.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise HTTPException(status_code=413)
    rows = read_rows(data, upload.filename or "", PHONE_COLUMNS)
    phones, errors = [], []
    for r in rows:
        try:
            phones.append((r.number, parse_phone(r.get("phone"))))
        except BadCell as exc:
            errors.append(f"第 {r.number} 行：{exc}")
    if not rows:
        errors.append("名单中没有手机号（表头「手机号」下方是空的）")
    return phones, errors


@router.post("/{code}/preview")
def term_preview(request: Request, session: SessionDep, by: CurrentUser, org: OrgForStaff, form: FormDep):
    start = service.parse_start(form.get("start_date"))
    upload = form.get("file")
    extra: list[str] = []
    if form.get("source") == "file":
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise Invalid("请选择连任委员名单文件（.xlsx 或 .csv，含「手机号」列）", code="term_no_file")
        phones, extra = _phones(upload)
        plan = service.plan_change(session, by, org, start_date=start, keep_phones=phones)
    else:
        plan = service.plan_change(session, by, org, start_date=start, keep_member_ids=_ids(form.getlist("keep")))
    plan.errors[:0] = extra
    return render(request, "terms/confirm.html", {"org": org, "plan": plan},
                  status_code=200 if plan.ok else 422)


@router.post("/{code}/change")
def term_change(request: Request, read: SessionDep, write: WriteSessionDep, by: CurrentUser, chosen: OrgForStaff,
                form: FormDep):
    org = org_for_staff(write, by, chosen.id)  # the same organisation, in the write transaction
    start = service.parse_start(form.get("start_date"))
    plan = service.plan_change(write, by, org, start_date=start, keep_member_ids=_ids(form.getlist("keep_ids")))
    service.change_term(write, by, plan, expected=str(form.get("fingerprint") or ""))
    return RedirectResponse(f"/terms/{org.code}?changed=1", status_code=303)
