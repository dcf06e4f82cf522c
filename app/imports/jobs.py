"""Import jobs: the preview and the commit of an uploaded file, run off the request, with progress.

A job is a background job (app/jobs/service.py): kind :data:`PREVIEW` (counts, errors, notices,
the plan's identity) and, once confirmed — the preview had no errors and something to change —
the same row queued again as :data:`COMMIT`, which plans again in its write transaction and
refuses if the identity moved. The uploaded bytes wait in the storage (app/storage.py:
``imports/jobs/…`` under the upload directory, or in the S3 bucket) under a name kept in the row, so
any server process's worker, on any machine sharing that storage, can run either step. The page polls the row
every second. Only the uploader sees a job (404 for anybody else). Jobs and their files older
than a day go.

Both steps are restartable after a lost worker: the preview writes nothing, and the commit's
"done" is written in the import's own transaction, so a commit cut off wrote nothing and runs
again, while one that committed is done.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select
from sqlmodel import Session, col

from app.auth.principal import Principal
from app.clock import now_utc
from app.db import is_sqlite
from app.errors import Conflict, Invalid, NotFound
from app.imports import service
from app.imports.base import MAX_ERRORS_KEPT, Plan, get_kind
from app.jobs import service as jobs
from app.models import BackgroundJob, UserAccount
from app.storage import Missing, get_storage

PREVIEW = "import.preview"
COMMIT = "import.commit"
KINDS = (PREVIEW, COMMIT)
KEEP = timedelta(days=1)
STATUS_LABELS = {"queued": "排队中", "running": "正在处理", "done": "已完成", "failed": "失败"}
NOT_FOUND = "找不到这个导入任务（可能已过期），请重新上传"


@dataclass
class ImportJob:
    """What the pages show of an import job (read from its row)."""

    id: int
    user_id: int
    kind: str  # the import kind's code: members, orgs …
    filename: str
    size: int
    phase: str  # preview | commit
    status: str  # queued | running | done | failed
    done: int = 0
    total: int = 0
    counts: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)  # [row, column, message], the first MAX_ERRORS_KEPT
    notices: list = field(default_factory=list)
    identity: str = ""
    error: str = ""
    committed: dict = field(default_factory=dict)  # the counts written by the commit

    @classmethod
    def of(cls, row: BackgroundJob) -> ImportJob:
        params, result = jobs.params_of(row), jobs.result_of(row)
        return cls(id=row.id, user_id=row.user_id, kind=params.get("kind", ""), filename=params.get("filename", ""),
                   size=int(params.get("size", 0)), phase="commit" if row.kind == COMMIT else "preview",
                   status=row.status, done=row.progress_done, total=row.progress_total or 0,
                   counts=result.get("counts", {}), errors=result.get("errors", []),
                   notices=result.get("notices", []), identity=result.get("identity", ""), error=row.error or "",
                   committed=result.get("committed", {}))

    @property
    def label(self) -> str:
        return get_kind(self.kind).label

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def finished(self) -> bool:
        return self.status in jobs.FINISHED

    @property
    def percent(self) -> int:
        return jobs.progress_percent(self.status, self.done, self.total)

    @property
    def can_commit(self) -> bool:
        return (self.phase == "preview" and self.status == "done" and not self.counts.get("errors")
                and bool(self.counts.get("created") or self.counts.get("updated")))

    @property
    def error_count(self) -> int:
        return int(self.counts.get("errors", 0))


def can_commit_after(plan: Plan) -> bool:
    return plan.ok and bool(plan.changes)


def _upload_key(params: dict[str, Any]) -> str | None:
    name = Path(str(params.get("upload") or "")).name  # a bare name, never a path out of the folder
    return f"imports/jobs/{name}" if name else None


def upload_key(row: BackgroundJob) -> str | None:
    """The storage key under which the job's uploaded bytes wait."""
    return _upload_key(jobs.params_of(row))


def _remove_upload(row: BackgroundJob) -> None:
    key = upload_key(row)
    if key is not None:
        get_storage().delete(key)


def cleanup(session: Session) -> int:
    """Remove the import jobs finished more than a day ago, with their files (the caller commits)."""
    cutoff = now_utc() - KEEP
    old = list(session.scalars(select(BackgroundJob).where(
        col(BackgroundJob.kind).in_(KINDS), col(BackgroundJob.status).in_(jobs.FINISHED),
        func.coalesce(col(BackgroundJob.finished_at), col(BackgroundJob.created_at)) < cutoff)))
    for row in old:
        _remove_upload(row)
    if old:
        session.execute(delete(BackgroundJob).where(col(BackgroundJob.id).in_([r.id for r in old])))
    return len(old)


# --- creating and looking -------------------------------------------------------------------------

def create(session: Session, by: Principal, kind: str, data: bytes, filename: str) -> ImportJob:
    """Keep the upload and queue its preview (one use case: commits); a worker then runs it."""
    service.require_staff(by)
    get_kind(kind)
    if not data:
        raise Invalid("请选择要上传的文件", code="import_no_file")
    cleanup(session)
    name = f"{uuid.uuid4().hex}.data"
    storage = get_storage()
    storage.put(f"imports/jobs/{name}", data)
    try:
        row = jobs.submit(session, kind=PREVIEW, user_id=by.user_id, params={
            "kind": kind, "filename": Path(filename or "upload").name[:200], "size": len(data), "upload": name})
        session.commit()
    except BaseException:
        storage.delete(f"imports/jobs/{name}")  # no row will ever name it
        raise
    jobs.wake()
    return ImportJob.of(row)


def _row_for_owner(session: Session, by: Principal, job_id: int | str) -> BackgroundJob:
    text = str(job_id)
    if not text.isdigit() or len(text) > 18:  # not an id of ours (an old link, a typo)
        raise NotFound(NOT_FOUND, code="import_job_not_found")
    row = session.scalar(select(BackgroundJob).where(
        col(BackgroundJob.id) == int(text), col(BackgroundJob.user_id) == by.user_id,
        col(BackgroundJob.kind).in_(KINDS)).execution_options(populate_existing=True))
    if row is None:
        raise NotFound(NOT_FOUND, code="import_job_not_found")
    return row


def job_for_owner(session: Session, by: Principal, job_id: int | str) -> ImportJob:
    """The caller's own import job, else 404."""
    return ImportJob.of(_row_for_owner(session, by, job_id))


def request_commit(session: Session, by: Principal, job_id: int | str) -> ImportJob:
    """Queue the commit of a previewed job (no errors, something to change); one use case: commits."""
    row = _row_for_owner(session, by, job_id)
    job = ImportJob.of(row)
    if job.phase == "commit":
        return job  # a second click while it runs, or after: the same job
    if not job.finished:
        raise Conflict("文件还在检查中，请等预览显示后再确认", code="import_not_ready")
    if not job.can_commit:
        if job.error_count:
            raise Invalid("文件有错误，不能导入；请修改后重新上传", code="import_invalid")
        raise Invalid("没有需要导入的改动", code="import_nothing")
    key = upload_key(row)
    if key is None or not get_storage().exists(key):
        raise Invalid("导入文件已过期，请重新上传", code="import_expired")
    queued = jobs.requeue(session, job.id, kind=COMMIT, from_kind=PREVIEW)
    session.commit()
    if queued:
        jobs.wake()
    return job_for_owner(session, by, job.id)  # queued now, or already by the other click


# --- running ---------------------------------------------------------------------------------------

def _principal(session: Session, user_id: int) -> Principal:
    from app.auth.service import build_principal

    user = session.get(UserAccount, user_id)
    if user is None or not user.is_active:
        raise NotFound("账号已停用")
    return build_principal(session, user, ip="import-job")


def _data(ctx: jobs.JobContext) -> bytes:
    key = _upload_key(ctx.params)
    try:
        if key is None:
            raise Missing("")
        return get_storage().get(key)
    except Missing:
        raise Invalid("导入文件已过期，请重新上传", code="import_expired") from None


def _run_preview(ctx: jobs.JobContext) -> None:
    params, data = ctx.params, _data(ctx)
    with ctx.read() as s:
        by = _principal(s, ctx.job.user_id)
        plan = service.preview(s, by, params["kind"], data, params["filename"],
                               progress=ctx.progress, total=lambda n: ctx.progress(0, n))
    result = {"counts": plan.counts(), "errors": [[e.row, e.column, e.message] for e in plan.errors[:MAX_ERRORS_KEPT]],
              "notices": plan.notices[:50], "identity": plan.identity()}
    if not can_commit_after(plan):
        _remove_upload(ctx.job)  # nothing will be confirmed: the personal data go now
    ctx.finish(result=result, progress_done=plan.rows, progress_total=plan.rows)


def _run_commit(ctx: jobs.JobContext) -> None:
    params, data, previewed = ctx.params, _data(ctx), jobs.result_of(ctx.job)
    with ctx.read() as s:  # the write transaction below begins with the planning itself
        by = _principal(s, ctx.job.user_id)

    def done(session: Session, plan: Plan) -> None:
        # In the import's own transaction: the data and the job's "done" commit together.
        ctx.finish(session=session, result=previewed | {"committed": plan.counts()},
                   progress_done=plan.rows, progress_total=plan.rows)

    ctx.progress(0, stage="正在写入")
    with ctx.write() as s:
        # SQLite has one writer: while this transaction holds it, progress written from another
        # connection would only wait for it: the progress stays in memory until the import commits.
        ctx.holding_write = is_sqlite(s.get_bind())
        try:
            plan = service.commit(s, by, params["kind"], data, params["filename"], identity=previewed.get("identity"),
                                  progress=ctx.progress, total=lambda n: ctx.progress(0, n),
                                  before_commit=done)
            if not ctx.finished:  # nothing to change: the service wrote (and committed) nothing
                done(s, plan)
                s.commit()
        finally:
            ctx.holding_write = False
    _remove_upload(ctx.job)


def _after_failure(row: BackgroundJob) -> None:
    if row.kind == PREVIEW:
        _remove_upload(row)  # a failed check will not be confirmed


jobs.register(PREVIEW, _run_preview, restartable=True, interrupted="处理中断（服务重启或失去响应），请重新上传",
              on_failure=_after_failure)
jobs.register(COMMIT, _run_commit, restartable=True, interrupted="处理中断（服务重启或失去响应），请重新上传",
              on_failure=_after_failure)
