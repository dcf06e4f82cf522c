"""The targets page (a grid per organisation and year), its Excel export and the import with preview.

Every rule is the service's (app/targets/service.py); these handlers translate between the
browser and it. One template per page; HTMX asks for its named blocks (``workspace`` when the
organisation or year changes, ``grid`` when the grid is saved). Without JavaScript the grid is a
plain form: post/redirect/get, or the page again with each refused cell marked.
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.datastructures import FormData

from app.auth.principal import STAFF_ROLES, Principal
from app.db import end_read
from app.deps import CurrentUser, SessionDep, WriteSessionDep, org_for_staff
from app.errors import Conflict, Invalid
from app.limits import bounded_body_route
from app.models import Organisation
from app.targets import excel, service, staging
from app.web import is_htmx, render

PAGE = "targets/index.html"
IMPORT_PAGE = "targets/import.html"
MAX_UPLOAD = 2 * 1024 * 1024  # a province's targets file is ~20 KB
MAX_BODY = MAX_UPLOAD + 64 * 1024
MAX_CELLS = 20_000  # ~150 organisations × ~20 indicators, twice (typed and shown)
_CELL = re.compile(r"^([vo])-(\d{1,18})-(\d{1,18})$")


router = APIRouter(prefix="/targets", include_in_schema=False, route_class=bounded_body_route(lambda: MAX_BODY))


async def _form(request: Request) -> FormData:
    return await request.form(max_fields=MAX_CELLS + 10)


FormDep = Annotated[FormData, Depends(_form)]


def _release(write: Session) -> None:
    """Give SQLite's write lock back now that the use case failed (as app.db does for run_write).

    Only when the session owns its connection: tests share one session whose outer transaction
    they roll back themselves.
    """
    if isinstance(write.get_bind(), Engine):
        write.rollback()


# --- loading what the page is about ------------------------------------------------------------------

def _year(raw: str | int | None) -> int:
    text = str(raw or "").strip()
    if not text:
        return service.today_cn().year
    if not text.isdigit() or len(text) != 4:
        raise Invalid("年份格式不正确，请填写四位数字", code="bad_year")
    return service.check_year(int(text))


def _org(session: Session, by: Principal, code: str | None) -> Organisation:
    service.require_staff(by)
    code = (code or "").strip()
    if not code:
        return service.default_org(session, by)
    return org_for_staff(session, by, code)


def _url(org: Organisation, year: int, **extra: str | int) -> str:
    return "/targets?" + urlencode({"org": org.code, "year": year, **extra})


def _parent(session: Session, by: Principal, org: Organisation) -> Organisation | None:
    """The organisation one level up, when the caller may set its targets too (a 上一级 link)."""
    if org.parent_id is None or not by.can(session, org.parent_id, *STAFF_ROLES):
        return None
    return session.get(Organisation, org.parent_id)


def _render_page(request: Request, session: Session, by: Principal, grid: service.Grid, *, block: str,
                 notice: str | None = None, error: str | None = None, status_code: int = 200):
    low, high = service.year_bounds()
    return render(request, PAGE, {
        "grid": grid, "orgs": service.staff_orgs(session, by), "years": list(range(high, low - 1, -1)),
        "parent": _parent(session, by, grid.org), "notice": notice, "error": error,
        "export_url": "/targets/export.xlsx?" + urlencode({"org": grid.org.code, "year": grid.year}),
    }, block=block, status_code=status_code)


# --- the grid ----------------------------------------------------------------------------------------

@router.get("")
def targets_page(request: Request, session: SessionDep, by: CurrentUser, org: str = "", year: str = "",
                 saved: str = "", imported: str = ""):
    chosen, chosen_year = _org(session, by, org), _year(year)
    grid = service.target_grid(session, by, org=chosen, year=chosen_year)
    notice = None
    if saved.isdigit():
        notice = f"已保存 {saved} 项改动。" if int(saved) else "没有改动。"
    elif imported.isdigit():
        notice = f"导入完成：{imported} 项目标已更新。" if int(imported) else "导入完成，没有改动。"
    return _render_page(request, session, by, grid, block="workspace", notice=notice)


def _cells(form: FormData) -> tuple[dict[service.CellKey, str], dict[service.CellKey, str]]:
    typed: dict[service.CellKey, str] = {}
    shown: dict[service.CellKey, str] = {}
    for name, value in form.multi_items():
        match = _CELL.match(name)
        if match and isinstance(value, str):
            key = (int(match.group(2)), int(match.group(3)))
            (typed if match.group(1) == "v" else shown)[key] = value
    return typed, shown


@router.post("")
def save_grid(request: Request, read: SessionDep, write: WriteSessionDep, by: CurrentUser, form: FormDep):
    org, year = _org(read, by, form.get("org")), _year(form.get("year"))
    typed, shown = _cells(form)
    try:
        plan = service.save_targets(write, by, year=year, cells=typed, shown=shown)
    except Invalid as exc:
        if exc.code != "invalid_targets":
            raise
        _release(write)
        errors = {}
        for key, message in exc.errors.items():
            org_id, indicator_id = key.split("-")
            errors[(int(org_id), int(indicator_id))] = message
        # What was typed stays in the grid, with the reason beside each refused cell; the hidden
        # "shown" values are the stored ones, so saving again deliberately overwrites.
        grid = service.target_grid(read, by, org=org, year=year).with_input(typed, errors)
        return _render_page(request, read, by, grid, block="grid", error=exc.message, status_code=422)
    if not is_htmx(request):
        return RedirectResponse(_url(org, year, saved=len(plan.effective)), status_code=303)
    end_read(read)  # a fresh snapshot: the grid shows what was just saved
    grid = service.target_grid(read, by, org=org, year=year)
    return _render_page(request, read, by, grid, block="grid", notice=plan.summary() + "。")


# --- Excel -------------------------------------------------------------------------------------------

@router.get("/export.xlsx")
def export_targets(session: SessionDep, by: CurrentUser, org: str = "", year: str = ""):
    chosen, chosen_year = _org(session, by, org), _year(year)
    grid = service.target_grid(session, by, org=chosen, year=chosen_year)
    name = f"年度目标-{chosen.name}-{chosen_year}.xlsx"
    headers = {"Content-Disposition": f"attachment; filename=\"targets-{chosen.code}-{chosen_year}.xlsx\"; "
                                      f"filename*=UTF-8''{quote(name)}"}
    return Response(excel.workbook(grid), media_type=excel.XLSX, headers=headers)


def _preview_page(request: Request, session: Session, by: Principal, preview: service.ImportPreview, *,
                  org: Organisation, ticket: str = "", filename: str = "", notice: str | None = None,
                  status_code: int | None = None):
    return render(request, IMPORT_PAGE, {
        "preview": preview, "org": org, "ticket": ticket, "filename": filename, "notice": notice,
        "back_url": _url(org, preview.year), "labels": service.ACTION_LABELS,
    }, status_code=status_code or (200 if preview.ok else 422))


@router.post("/import")
def import_preview(request: Request, session: SessionDep, by: CurrentUser,
                   file: Annotated[UploadFile | None, File()] = None,
                   year: Annotated[str, Form()] = "", org: Annotated[str, Form()] = ""):
    chosen, chosen_year = _org(session, by, org), _year(year)
    data = file.file.read(MAX_UPLOAD + 1) if file is not None and file.filename else b""
    if not data:
        empty = service.ImportPreview(year=chosen_year, plan=service.Plan(year=chosen_year, changes=[]),
                                      issues=[excel.Issue(None, "", "", "请选择要导入的 Excel 文件（.xlsx）")])
        return _preview_page(request, session, by, empty, org=chosen)
    if len(data) > MAX_UPLOAD:
        raise HTTPException(status_code=413)
    preview = service.preview_import(session, by, data, year=chosen_year)
    ticket = staging.stash(data, user_id=by.user_id) if preview.ok and preview.plan.effective else ""
    return _preview_page(request, session, by, preview, org=chosen, ticket=ticket,
                         filename=file.filename or "")


@router.post("/import/commit")
def import_commit(request: Request, read: SessionDep, write: WriteSessionDep, by: CurrentUser,
                  ticket: Annotated[str, Form()] = "", fingerprint: Annotated[str, Form()] = "",
                  year: Annotated[str, Form()] = "", org: Annotated[str, Form()] = ""):
    chosen, chosen_year = _org(read, by, org), _year(year)
    data = staging.fetch(ticket, user_id=by.user_id)
    try:
        plan = service.commit_import(write, by, data, year=chosen_year, fingerprint=fingerprint)
    except (Conflict, Invalid) as exc:
        if exc.code not in ("import_stale", "import_invalid"):
            raise
        _release(write)
        end_read(read)
        # Show the file as it would import now; confirming again uses the new preview.
        preview = service.preview_import(read, by, data, year=chosen_year)
        fresh = ticket if preview.ok and preview.plan.effective else ""
        return _preview_page(request, read, by, preview, org=chosen, ticket=fresh, notice=exc.message,
                             status_code=exc.status_code)
    staging.discard(ticket, user_id=by.user_id)
    return RedirectResponse(_url(chosen, chosen_year, imported=len(plan.effective)), status_code=303)
