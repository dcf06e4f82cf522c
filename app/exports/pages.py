"""Export pages: the form (/exports), the streamed CSV, and the Excel jobs with their progress.

The CSV streams straight from the keyset batches (any size, one batch in memory). The Excel file
is written by a background job (app/exports/jobs.py on app/jobs/); its page polls itself every second with
HTMX and stops once the job is finished, then offers the download.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import select

from app.auth.principal import READ_ROLES
from app.boards import periods
from app.boards.service import home_board
from app.clock import to_cn
from app.db import end_read
from app.deps import CurrentUser, Id, SessionDep, WriteSessionDep
from app.errors import Invalid, NotFound
from app.exports import jobs
from app.exports import service as exports
from app.jobs import service as background
from app.models import Organisation
from app.storage import Missing, file_response
from app.web import redirect, render

router = APIRouter(include_in_schema=False)
POLL_SECONDS = 1

Text = Annotated[str | None, Query(max_length=32)]


def attachment(name: str, fallback: str) -> str:
    """Content-Disposition for a Chinese file name (RFC 6266/5987), with an ASCII fallback."""
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"


def _form_context(session, by, values: dict) -> dict:  # noqa: ANN001
    orgs = list(session.scalars(select(Organisation).where(Organisation.id.in_(by.scope(*READ_ROLES)))
                                .order_by(Organisation.code)))
    return {"orgs": orgs, "period_choices": [(exports.ALL_PERIODS, "全部期间"), *periods.choices()],
            "status_choices": exports.STATUS_CHOICES, "task_choices": exports.task_choices(session),
            "values": values, "jobs": jobs.recent_jobs(session, by), "label": jobs.label, "percent": background.percent,
            "scope_label": jobs.scope_label, "beijing": _beijing}


def _beijing(value) -> str:  # noqa: ANN001
    local = to_cn(value)
    return local.strftime("%Y-%m-%d %H:%M") if local else ""


@router.get("/exports")
def export_page(request: Request, session: SessionDep, by: CurrentUser, org: Text = None, period: Text = None,
                status: Text = "", task: Text = None, scope_by: Annotated[str | None, Query(alias="by", max_length=8)] = "org"):
    if org is None:
        home = home_board(session, by)
        if home is None:
            raise NotFound("您没有可导出的组织范围")
        org = home.code
    values = {"org": org, "period": period or "", "status": status or "", "task": task or "", "by": scope_by or "org"}
    ctx = _form_context(session, by, values)
    try:
        scope = exports.parse_scope(session, by, org=org, period=period, status=status, task=task, scope_by=scope_by)
    except Invalid as exc:
        return render(request, "exports/index.html", ctx | {"error": exc.message, "errors": exc.errors}, status_code=422)
    values["period"] = scope.period_key
    return render(request, "exports/index.html", ctx | {"scope": scope, "query": _query(scope),
                                                        "rows": exports.count(session, by, scope)})


def _query(scope: exports.ExportScope) -> str:
    params = scope.params()
    return "&".join(f"{k}={quote(str(v))}" for k, v in params.items() if v not in (None, ""))


@router.get("/exports/activities.csv")
def export_csv(session: SessionDep, write: WriteSessionDep, by: CurrentUser, org: Text = None, period: Text = None,
               status: Text = "", task: Text = None,
               scope_by: Annotated[str | None, Query(alias="by", max_length=8)] = "org"):
    scope = exports.parse_scope(session, by, org=org, period=period, status=status, task=task, scope_by=scope_by)
    cols = exports.columns(session, scope)
    bind = session.get_bind()  # an Engine in production; the test's connection under tests
    exports.record_request(write, by, scope, kind="activities.csv")
    end_read(session)  # the stream reads batch by batch in its own transactions, not in this snapshot
    rows = exports.iter_rows(bind, by, scope, cols)
    return StreamingResponse(exports.csv_chunks(cols, rows), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": attachment(scope.file_name("csv"), "activities.csv"),
        "Cache-Control": "no-store"})


@router.post("/exports/jobs")
def create_job(request: Request, session: SessionDep, write: WriteSessionDep, by: CurrentUser,
               org: Annotated[str | None, Form(max_length=32)] = None,
               period: Annotated[str | None, Form(max_length=32)] = None,
               status: Annotated[str | None, Form(max_length=32)] = "",
               task: Annotated[str | None, Form(max_length=32)] = None,
               scope_by: Annotated[str | None, Form(alias="by", max_length=8)] = "org"):
    scope = exports.parse_scope(session, by, org=org, period=period, status=status, task=task, scope_by=scope_by)
    jobs.cleanup(write)
    job = jobs.create_job(write, by, scope)  # queued: a worker of any server process writes it
    return redirect(request, f"/exports/jobs/{job.id}")


@router.get("/exports/jobs/{job_id}")
def job_page(request: Request, session: SessionDep, by: CurrentUser, job_id: Id):
    job = jobs.job_for_owner(session, by, job_id)
    return render(request, "exports/job.html", {
        "job": job, "label": jobs.label(job), "percent": background.percent(job), "scope_label": jobs.scope_label(job),
        "poll": POLL_SECONDS, "finished": job.status in ("done", "failed"), "keep_hours": jobs.KEEP_HOURS,
    }, block="progress")


@router.get("/exports/jobs/{job_id}/download")
def job_download(session: SessionDep, by: CurrentUser, job_id: Id):
    job = jobs.job_for_owner(session, by, job_id)
    try:
        return file_response(jobs.file_key(job), media_type=exports.XLSX, headers={
            "Content-Disposition": attachment(jobs.download_name(job), "activities.xlsx"), "Cache-Control": "no-store"})
    except Missing:
        raise NotFound(jobs.GONE) from None
