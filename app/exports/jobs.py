"""Background export jobs: an XLSX of up to millions of rows, written off the request, with progress.

A job is a background job (app/jobs/service.py) of kind :data:`KIND`: any server process's worker
runs it, updating ``progress_done`` every :data:`PROGRESS_EVERY` rows in a short write transaction
of its own; the page polls the row. An export is restartable: when its worker is lost (restart,
crash), the job goes back to the queue and is written again from the start by whichever worker
takes it.

Files are written on the worker's disk (the export directory next to the upload directory), then
stored under ``exports/`` (app/storage.py: that same directory, or the S3 bucket every machine
reads), under a server-made name that starts with the job's id; only the job's owner sees or
downloads it (404 for anybody else), from whichever machine answers. Files older than
:data:`KEEP_HOURS` are removed when a new job is created (the row stays, marked 已过期).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlmodel import Session, col

from app.auth.principal import Principal
from app.clock import now_utc
from app.config import get_settings
from app.errors import Invalid, NotFound
from app.exports import service as exports
from app.jobs import service as jobs
from app.models import BackgroundJob, UserAccount
from app.storage import get_storage

KIND = "activities.xlsx"
PROGRESS_EVERY = 10_000
KEEP_HOURS = 24
MAX_OPEN_PER_USER = 2  # queued or running at once: a double click makes one more, not ten
STATUS_LABELS = {"queued": "排队中", "running": "正在生成", "done": "已完成", "failed": "失败"}


def export_dir() -> Path:
    """Where export files are written: ``exports/`` next to the upload directory, outside static/."""
    folder = Path(get_settings().upload_dir).resolve().parent / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def label(job: BackgroundJob) -> str:
    if job.status == "done" and not job.file_name:
        return "已过期"
    return STATUS_LABELS.get(job.status, job.status)


def scope_label(job: BackgroundJob) -> str:
    return str(jobs.params_of(job).get("label", ""))


# --- creating and looking ------------------------------------------------------------------------

def create_job(session: Session, by: Principal, scope: exports.ExportScope) -> BackgroundJob:
    """Queue the job and record its audit entry (one use case: commits); any worker then runs it."""
    if jobs.count_open(session, user_id=by.user_id, kinds=(KIND,)) >= MAX_OPEN_PER_USER:
        raise Invalid(f"您已有 {MAX_OPEN_PER_USER} 个导出正在进行，请等它们完成后再生成", code="too_many_exports")
    job = jobs.submit(session, kind=KIND, user_id=by.user_id, org_id=scope.org_id,
                      params=scope.params() | {"label": scope.label})
    exports.record_request(session, by, scope, kind=KIND, job_id=job.id)  # commits
    jobs.wake()
    return job


def job_for_owner(session: Session, by: Principal, job_id: int) -> BackgroundJob:
    """The caller's own export job, else 404 (whoever else asks, staff included: the file is theirs)."""
    job = session.scalar(select(BackgroundJob).where(
        col(BackgroundJob.id) == job_id, col(BackgroundJob.user_id) == by.user_id, col(BackgroundJob.kind) == KIND))
    if job is None:
        raise NotFound("找不到这个导出任务")
    return job


def recent_jobs(session: Session, by: Principal, *, limit: int = 10) -> list[BackgroundJob]:
    return list(session.scalars(select(BackgroundJob).where(
        col(BackgroundJob.user_id) == by.user_id, col(BackgroundJob.kind) == KIND)
        .order_by(col(BackgroundJob.created_at).desc(), col(BackgroundJob.id).desc()).limit(limit)))


def file_key(job: BackgroundJob) -> str:
    """The finished file's storage key, or a Chinese 404."""
    if job.status != "done":
        raise NotFound("文件尚未生成完成")
    if not job.file_name:
        raise NotFound(f"文件已过期（保留 {KEEP_HOURS} 小时），请重新生成")
    return _key(job.file_name)


def _key(name: str) -> str:
    return f"exports/{name}"


GONE = "文件已不在服务器上，请重新生成"


def download_name(job: BackgroundJob) -> str:
    params = jobs.params_of(job)
    stamp = job.created_at.strftime("%Y%m%d%H%M") if job.created_at else ""
    return f"活动明细_{params.get('org', '')}_{params.get('period', '')}_{stamp}.xlsx"


def cleanup(session: Session, *, now: datetime | None = None) -> int:
    """Remove files older than KEEP_HOURS (their rows stay, marked 已过期); returns how many went."""
    cutoff = (now or now_utc()) - timedelta(hours=KEEP_HOURS)
    old = session.execute(select(BackgroundJob.id, BackgroundJob.file_name).where(
        col(BackgroundJob.kind) == KIND, col(BackgroundJob.file_name).is_not(None),
        col(BackgroundJob.finished_at) < cutoff)).all()
    storage = get_storage()
    for _, name in old:
        storage.delete(_key(name))
    if old:
        session.execute(update(BackgroundJob).where(col(BackgroundJob.id).in_([i for i, _ in old]))
                        .values(file_name=None))
        session.commit()
    return len(old)


# --- running -------------------------------------------------------------------------------------

def _remove_partial(job_id: int) -> None:
    # A run cut off half-way (its worker lost) left its file unfinished: the new run starts afresh.
    for stray in export_dir().glob(f"{job_id}-*.xlsx.part"):
        stray.unlink(missing_ok=True)


def run(ctx: jobs.JobContext) -> None:
    """Write the job's file: scope re-read with the owner's grants as they are now."""
    from app.auth.service import build_principal

    job_id = ctx.job.id
    params = ctx.params
    with ctx.read() as s:
        user = s.get(UserAccount, ctx.job.user_id)
        if user is None:
            raise NotFound("账号不存在")
        by = build_principal(s, user, ip="export-job")
        scope = exports.parse_scope(s, by, org=params["org"], period=params["period"], status=params["status"],
                                    task=params["task"], scope_by=params["by"])
        cols = exports.columns(s, scope)
        total = exports.count(s, by, scope)
    ctx.progress(0, total, stage="正在生成")
    _remove_partial(job_id)
    name = f"{job_id}-{uuid.uuid4().hex}.xlsx"
    path = export_dir() / name
    written = exports.write_xlsx(path, cols, exports.iter_rows(ctx.db.bind(), by, scope, cols),
                                 progress=lambda n: ctx.progress(n, force=True), every=PROGRESS_EVERY)
    try:
        get_storage().put_file(_key(name), path)  # where every machine finds it (local: already there)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    try:
        ctx.finish(progress_done=written, progress_total=max(total, written), file_name=name)
    except jobs.LeaseLost:
        get_storage().delete(_key(name))  # another worker writes it again: this copy would be nobody's
        raise


def _remove_file(job: BackgroundJob) -> None:
    _remove_partial(job.id)


jobs.register(KIND, run, restartable=True, error_prefix="导出失败：", server_error="服务器出错，请稍后重新生成",
              interrupted="导出中断（服务重启或失去响应），请重新生成", on_failure=_remove_file)
