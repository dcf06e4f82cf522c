"""履职档案 pages: /members/{id}/profile (an office, or the member), /me/profile (我的履职档案), the
record as a Word file, and /profiles/CODE — 档案汇编, one file for a term or a 专委会 of an organisation,
written by a background job (app/profiles/jobs.py). Who sees whose record: ``service.member_for_profile``
(404 outside it); who asks for a 汇编: staff of the organisation or above (``OrgForStaff``)."""

from __future__ import annotations

from math import ceil
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request, Response
from sqlmodel import Session

from app.auth.principal import Principal
from app.deps import CurrentUser, Id, OrgForStaff, SessionDep, WriteSessionDep
from app.errors import Invalid, NotFound
from app.jobs import service as background
from app.links.schemas import MAX_ID
from app.profiles import jobs, service
from app.profiles.docx import to_docx
from app.storage import Missing, file_response
from app.web import redirect, render

router = APIRouter(include_in_schema=False)
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
Page = Annotated[int, Query(ge=1, le=100_000)]


def _page(request: Request, session: Session, by: Principal, access: service.ProfileAccess, page: int,
          base: str) -> Response:
    profile = service.profile_of(session, by, access, page=page)
    log = profile.activities
    return render(request, "profiles/profile.html", {
        "p": profile, "own": access.own, "base": base, "page": page,
        "pages": max(1, ceil(log.total / log.per_page)),
    }, block="activities")


@router.get("/members/{member_id}/profile")
def member_profile(request: Request, session: SessionDep, by: CurrentUser, member_id: Id, page: Page = 1):
    access = service.member_for_profile(session, by, member_id)
    return _page(request, session, by, access, page, f"/members/{member_id}/profile")


@router.get("/me/profile")
def my_profile(request: Request, session: SessionDep, by: CurrentUser, page: Page = 1):
    if by.member_id is None:
        raise NotFound("您的账号没有对应的委员，没有履职档案", code="member_not_found")
    access = service.member_for_profile(session, by, by.member_id)
    return _page(request, session, by, access, page, "/me/profile")


@router.get("/members/{member_id}/profile.docx")
def member_profile_docx(session: SessionDep, by: CurrentUser, member_id: Id):
    access = service.member_for_profile(session, by, member_id)
    profile = service.profile_of(session, by, access, per_page=1)
    data = to_docx(profile, service.every_activity(session, by, access))
    name = f"{profile.member.name}履职档案.docx"
    return Response(data, media_type=DOCX, headers={
        "Content-Disposition": f"attachment; filename=\"profile-{member_id}.docx\"; filename*=UTF-8''{quote(name)}",
        "Cache-Control": "private, no-store"})


# --- 档案汇编: a whole term or 专委会 in one file (a background job) ------------------------------------

Choice = Annotated[int | None, Query(ge=1, le=MAX_ID)]
POLL_SECONDS = 1


def _batch_page(request: Request, session: Session, by: Principal, org, *, term_id: int | None,  # noqa: ANN001
                committee_id: int | None, error: Invalid | None = None) -> Response:
    terms = jobs.terms_of(session, org)
    chosen_term = term_id or (terms[0].id if terms else None)
    count = None
    if error is None and terms:
        try:
            scope = jobs.batch_scope(session, by, org.code, term_id=chosen_term, committee_id=committee_id)
            count = len(jobs.member_ids(session, scope))
        except Invalid as exc:
            error = exc
    return render(request, "profiles/batch.html", {
        "org": org, "terms": terms, "committees": jobs.committees_of(session, org), "term_id": chosen_term,
        "committee_id": committee_id, "count": count, "error": error,
        "recent": [(j, jobs.label(j)) for j in jobs.recent_jobs(session, by, org)],
    }, status_code=422 if error else 200)


@router.get("/profiles/{code}")
def batch_page(request: Request, session: SessionDep, by: CurrentUser, org: OrgForStaff, term_id: Choice = None,
               committee_id: Choice = None):
    return _batch_page(request, session, by, org, term_id=term_id, committee_id=committee_id)


@router.post("/profiles/{code}/jobs")
def create_batch(request: Request, session: SessionDep, write: WriteSessionDep, by: CurrentUser, org: OrgForStaff,
                 term_id: Annotated[int | None, Form(ge=1, le=MAX_ID)] = None,
                 committee_id: Annotated[str, Form(max_length=12)] = ""):
    committee = int(committee_id) if committee_id.isdigit() and 0 < int(committee_id) <= MAX_ID else None
    try:
        scope = jobs.batch_scope(write, by, org.code, term_id=term_id, committee_id=committee)
        jobs.cleanup(write)
        job = jobs.create_job(write, by, scope)  # commits; a worker of any server process writes the file
    except Invalid as exc:  # nothing committed: the write session ends without it
        return _batch_page(request, session, by, org, term_id=term_id, committee_id=committee, error=exc)
    return redirect(request, f"/profiles/jobs/{job.id}")


@router.get("/profiles/jobs/{job_id}")
def batch_job(request: Request, session: SessionDep, by: CurrentUser, job_id: Id):
    job = jobs.job_for_owner(session, by, job_id)
    return render(request, "profiles/batch_job.html", {
        "job": job, "label": jobs.label(job), "percent": background.percent(job),
        "scope_label": background.params_of(job).get("label", ""), "poll": POLL_SECONDS,
        "finished": job.status in ("done", "failed"), "keep_hours": jobs.KEEP_HOURS,
    }, block="progress")


@router.get("/profiles/jobs/{job_id}/download")
def batch_download(session: SessionDep, by: CurrentUser, job_id: Id):
    job = jobs.job_for_owner(session, by, job_id)
    try:
        return file_response(jobs.file_key(job), media_type=DOCX, headers={
            "Content-Disposition": f"attachment; filename=\"profiles-{job.id}.docx\"; "
                                   f"filename*=UTF-8''{quote(jobs.download_name(job))}",
            "Cache-Control": "no-store"})
    except Missing:
        raise NotFound("文件已不在服务器上，请重新生成") from None
