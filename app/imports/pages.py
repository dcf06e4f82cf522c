"""Import pages (staff): pick a kind, download its template, upload, watch the check, read the
preview (counts, notices, every error with row/column/message, paginated), confirm, see the result.

Both the check and the commit run as background jobs (app/imports/jobs.py on app/jobs/); the job page polls
its own ``progress`` block every second with HTMX until the job is finished. Every rule is the
kinds' and app/imports/service.py's; these handlers only translate HTTP.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import Response

from app.deps import CurrentUser, SessionDep, WriteSessionDep
from app.imports import jobs, service
from app.imports.base import XLSX, get_kind, template, template_name
from app.limits import bounded_body_route
from app.web import redirect, render

MAX_UPLOAD = 20 * 1024 * 1024  # 30,000 members are ~1.5 MB of .xlsx
POLL_SECONDS = 1
PER_PAGE = 50

router = APIRouter(prefix="/imports", include_in_schema=False,
                   route_class=bounded_body_route(lambda: MAX_UPLOAD + 64 * 1024))

DESCRIPTIONS = {
    "orgs": "新增或更名政协组织、乡镇/村/示范点/委员工作室，设置重点帮扶县。按代码匹配。",
    "members": "委员及其任职（身份、职务、专委会、界别、委员企业）。按手机号匹配；新委员自动建账号（不设密码，之后生成激活码）。",
    "targets": "各组织某一年度的指标目标。按 组织 × 指标 × 年份 匹配；空白表示清除该目标。",
    "assignments": "领导挂联县或乡镇/村/示范点。按 领导手机号 × 地点 × 开始日期 匹配。",
    "history": "往年按月或按季度汇总的数字，记为「汇总录入」，计入总数、看板和报告，不计入参与率。",
}


@router.get("")
def imports_page(request: Request, by: CurrentUser):
    service.require_staff(by)
    kinds = service.kinds()
    return render(request, "imports/index.html", {"kinds": kinds, "descriptions": DESCRIPTIONS,
                                                  "max_mb": MAX_UPLOAD // (1024 * 1024)})


@router.get("/templates/{kind}.xlsx")
def template_download(session: SessionDep, by: CurrentUser, kind: str):
    service.require_staff(by)
    found = get_kind(kind)
    name = template_name(found)
    return Response(template(found, session, by), media_type=XLSX, headers={
        "Content-Disposition": f"attachment; filename=\"{found.code}-template.xlsx\"; filename*=UTF-8''{quote(name)}",
        "Cache-Control": "no-store"})


@router.post("")
def upload(request: Request, session: WriteSessionDep, by: CurrentUser, kind: Annotated[str, Form(max_length=32)] = "",
           file: Annotated[UploadFile | None, File()] = None):
    service.require_staff(by)
    data = file.file.read(MAX_UPLOAD + 1) if file is not None and file.filename else b""
    if len(data) > MAX_UPLOAD:
        raise HTTPException(status_code=413)
    job = jobs.create(session, by, kind, data, (file.filename or "") if file is not None else "")
    return redirect(request, f"/imports/jobs/{job.id}")


def _job_context(job: jobs.ImportJob, page: int) -> dict:
    pages = max(1, -(-len(job.errors) // PER_PAGE))
    page = min(max(page, 1), pages)
    return {"job": job, "poll": POLL_SECONDS, "page": page, "pages": pages,
            "errors": job.errors[(page - 1) * PER_PAGE: page * PER_PAGE],
            "more_errors": job.error_count - len(job.errors)}


@router.get("/jobs/{job_id}")
def job_page(request: Request, session: SessionDep, by: CurrentUser, job_id: str,
             page: Annotated[int, Query(ge=1, le=10_000)] = 1):
    job = jobs.job_for_owner(session, by, job_id)
    return render(request, "imports/job.html", _job_context(job, page), block="progress")


@router.post("/jobs/{job_id}/commit")
def job_commit(request: Request, session: WriteSessionDep, by: CurrentUser, job_id: str):
    job = jobs.request_commit(session, by, job_id)
    return redirect(request, f"/imports/jobs/{job.id}")
