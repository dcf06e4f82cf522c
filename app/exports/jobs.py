"""Background export jobs: an XLSX of up to millions of rows, written off the request, with progress.

A job is an ``export_job`` row. It runs in a small thread pool of the server process that
accepted it (:data:`WORKERS` threads: a second export waits its turn rather than doubling the
load), which updates ``rows_done`` every :data:`PROGRESS_EVERY` rows in its own short write
transaction; the page polls that row. The row records which process runs it
(``params["runner"]``): a job still ``queued``/``running`` whose process is gone — a restart, a
crash — is marked failed the next time anybody looks at it, never left spinning.

Files live in the export directory next to the upload directory, under a server-made name; only
the job's owner sees or downloads it (404 for anybody else). Files older than :data:`KEEP_HOURS`
are removed when a new job is created (the row stays, marked 已过期).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select, update
from sqlmodel import Session

from app.auth.principal import Principal
from app.config import get_settings
from app.db import get_engine, read_session, write_session
from app.errors import DomainError, Invalid, NotFound
from app.exports import service as exports
from app.models import ExportJob, UserAccount
from app.models.base import utcnow

log = logging.getLogger("app.exports")

KIND = "activities.xlsx"
WORKERS = 1
PROGRESS_EVERY = 10_000
KEEP_HOURS = 24
GIVE_UP_HOURS = 6
MAX_OPEN_PER_USER = 2  # queued or running at once: a double click makes one more, not ten
STATUS_LABELS = {"queued": "排队中", "running": "正在生成", "done": "已完成", "failed": "失败"}
_BOOT = uuid.uuid4().hex[:12]  # this process's identity, so a successor does not mistake it for itself
_RUNNER = f"{socket.gethostname()}:{os.getpid()}:{_BOOT}"

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_live: set[int] = set()  # job ids queued or running in this process


def export_dir() -> Path:
    """Where export files live: ``exports/`` next to the upload directory, outside static/."""
    folder = Path(get_settings().upload_dir).resolve().parent / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="export")
        return _pool


def label(job: ExportJob) -> str:
    if job.status == "done" and not job.file_name:
        return "已过期"
    return STATUS_LABELS.get(job.status, job.status)


def percent(job: ExportJob) -> int:
    if job.status == "done":
        return 100
    if not job.rows_total:
        return 0
    return min(99, int(job.rows_done * 100 / job.rows_total))


def scope_label(job: ExportJob) -> str:
    return json.loads(job.params or "{}").get("label", "")


# --- creating and looking ------------------------------------------------------------------------

def create_job(session: Session, by: Principal, scope: exports.ExportScope) -> ExportJob:
    """Record the job and its audit entry (one use case: commits); :func:`start` then runs it."""
    open_jobs = session.scalar(select(ExportJob.id).where(
        ExportJob.user_id == by.user_id, ExportJob.status.in_(("queued", "running"))).limit(MAX_OPEN_PER_USER)
        .offset(MAX_OPEN_PER_USER - 1))
    if open_jobs is not None:
        raise Invalid(f"您已有 {MAX_OPEN_PER_USER} 个导出正在进行，请等它们完成后再生成", code="too_many_exports")
    job = ExportJob(user_id=by.user_id, org_id=scope.org_id, kind=KIND,
                    params=json.dumps(scope.params() | {"label": scope.label, "runner": _RUNNER}, ensure_ascii=False))
    session.add(job)
    session.flush()
    exports.record_request(session, by, scope, kind=KIND, job_id=job.id)  # commits
    return job


def start(job_id: int, engine: Engine | None = None) -> None:
    """Hand the job to this process's pool (after its row is committed)."""
    _live.add(job_id)
    _executor().submit(_run_guarded, job_id, engine)


def _orphaned(job: ExportJob, *, now: datetime | None = None) -> bool:
    """Queued or running, but the process that owns it is gone (or is this one and forgot it).

    Same host: the process id must be alive and, if it is ours, our own boot (a restarted
    container often gets its old pid back). Another host, which we cannot ask: a job older than
    :data:`GIVE_UP_HOURS` is given up (a million rows take minutes, not hours).
    """
    if job.status not in ("queued", "running"):
        return False
    runner = json.loads(job.params or "{}").get("runner", "")
    if runner == _RUNNER:
        return job.id not in _live
    host, _, rest = runner.partition(":")
    pid, _, boot = rest.partition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return job.created_at < (now or utcnow()).replace(tzinfo=UTC) - timedelta(hours=GIVE_UP_HOURS)
    if int(pid) == os.getpid():
        return boot != _BOOT  # our pid, an earlier life
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _mark_orphan_failed(job: ExportJob, engine: Engine | None) -> None:
    with write_session(engine) as s:
        s.execute(update(ExportJob).where(ExportJob.id == job.id, ExportJob.status.in_(("queued", "running")))
                  .values(status="failed", error="服务已重启，导出中断，请重新生成", finished_at=utcnow()))
        s.commit()
    job.status, job.error = "failed", "服务已重启，导出中断，请重新生成"


def job_for_owner(session: Session, by: Principal, job_id: int, *, engine: Engine | None = None) -> ExportJob:
    """The caller's own job, else 404 (whoever else asks, staff included: the file is theirs)."""
    job = session.scalar(select(ExportJob).where(ExportJob.id == job_id, ExportJob.user_id == by.user_id))
    if job is None:
        raise NotFound("找不到这个导出任务")
    if _orphaned(job):
        _mark_orphan_failed(job, engine)
    return job


def recent_jobs(session: Session, by: Principal, *, limit: int = 10) -> list[ExportJob]:
    jobs = list(session.scalars(select(ExportJob).where(ExportJob.user_id == by.user_id)
                                .order_by(ExportJob.created_at.desc(), ExportJob.id.desc()).limit(limit)))
    return jobs


def file_path(job: ExportJob) -> Path:
    """The finished file, or a Chinese 404/409-like refusal."""
    if job.status != "done":
        raise NotFound("文件尚未生成完成")
    if not job.file_name:
        raise NotFound(f"文件已过期（保留 {KEEP_HOURS} 小时），请重新生成")
    path = export_dir() / job.file_name
    if not path.is_file():
        raise NotFound("文件已不在服务器上，请重新生成")
    return path


def download_name(job: ExportJob) -> str:
    params = json.loads(job.params or "{}")
    stamp = job.created_at.strftime("%Y%m%d%H%M") if job.created_at else ""
    return f"活动明细_{params.get('org', '')}_{params.get('period', '')}_{stamp}.xlsx"


def cleanup(session: Session, *, now: datetime | None = None) -> int:
    """Remove files older than KEEP_HOURS (and stray partial files); returns how many went."""
    now = now or utcnow()
    cutoff = now - timedelta(hours=KEEP_HOURS)
    old = session.execute(select(ExportJob.id, ExportJob.file_name).where(
        ExportJob.file_name.is_not(None), ExportJob.finished_at < cutoff)).all()
    folder = export_dir()
    for _, name in old:
        (folder / name).unlink(missing_ok=True)
    if old:
        session.execute(update(ExportJob).where(ExportJob.id.in_([i for i, _ in old])).values(file_name=None))
        session.commit()
    for stray in folder.glob("*.part"):
        try:
            if datetime.fromtimestamp(stray.stat().st_mtime, UTC) < cutoff.replace(tzinfo=UTC):
                stray.unlink(missing_ok=True)
        except OSError:
            pass
    return len(old)


# --- running -------------------------------------------------------------------------------------

def _set(engine: Engine | None, job_id: int, **values) -> None:  # noqa: ANN003
    """One short write transaction: the progress row never holds the writer lock for long."""
    with write_session(engine) as s:
        s.execute(update(ExportJob).where(ExportJob.id == job_id).values(**values))
        s.commit()


def _run_guarded(job_id: int, engine: Engine | None) -> None:
    try:
        run(job_id, engine)
    except Exception as exc:  # noqa: BLE001 - a job must end failed, never stay running
        if isinstance(exc, DomainError):  # e.g. the owner no longer reads the organisation
            reason = exc.message
        else:
            log.exception("export job %s failed", job_id)
            reason = "服务器出错，请稍后重新生成"
        try:
            _set(engine, job_id, status="failed", error=f"导出失败：{reason}"[:500], finished_at=utcnow())
        except Exception:  # noqa: BLE001
            log.exception("could not mark export job %s failed", job_id)
    finally:
        _live.discard(job_id)


def run(job_id: int, engine: Engine | None = None) -> None:
    """Write the job's file: scope re-read with the owner's grants as they are now."""
    from app.auth.service import build_principal

    engine = engine or get_engine()
    with read_session(engine) as s:
        job = s.get(ExportJob, job_id)
        if job is None or job.status != "queued":
            return
        user = s.get(UserAccount, job.user_id)
        by = build_principal(s, user, ip="export-job")
        params = json.loads(job.params)
        scope = exports.parse_scope(s, by, org=params["org"], period=params["period"], status=params["status"],
                                    task=params["task"], scope_by=params["by"])
        cols = exports.columns(s, scope)
        total = exports.count(s, by, scope)
    _set(engine, job_id, status="running", started_at=utcnow(), rows_total=total, rows_done=0)
    name = f"{job_id}-{uuid.uuid4().hex}.xlsx"
    path = export_dir() / name
    written = exports.write_xlsx(path, cols, exports.iter_rows(engine, by, scope, cols),
                                 progress=lambda n: _set(engine, job_id, rows_done=n), every=PROGRESS_EVERY)
    _set(engine, job_id, status="done", rows_done=written, rows_total=max(total, written), file_name=name,
         finished_at=utcnow())
