"""Import jobs: the preview and the commit of an uploaded file, run off the request, with progress.

A job is a small JSON file (``imports/jobs/<id>.json`` under the upload directory) next to the
uploaded bytes (``imports/jobs/<id>.data``): no table is needed for something that lives minutes,
and any server process on the host sees it. One worker thread per process runs jobs in turn
(validating 30,000 rows is CPU work: a second import waits rather than halving both). The state
file is rewritten atomically (write, then rename) as the job advances; the page polls it every
second. A job whose process is gone (restart, crash) is marked failed when looked at, never left
spinning. Only the uploader sees a job (404 for anybody else). Files older than a day go.

Phases: ``preview`` (queued → running → done: counts, errors, notices, the plan's identity) and,
when the preview had no errors and something to change, ``commit`` (running → done/failed), which
plans again in its write transaction and refuses if the identity moved.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from app.auth.principal import Principal
from app.config import get_settings
from app.db import get_engine, read_session, write_session
from app.errors import Conflict, DomainError, Invalid, NotFound
from app.imports import service
from app.imports.base import MAX_ERRORS_KEPT, get_kind
from app.models import UserAccount

log = logging.getLogger("app.imports")

WORKERS = 1
KEEP_SECONDS = 24 * 3600
SAVE_EVERY_SECONDS = 0.5
_RUNNER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
_ID = re.compile(r"^[0-9a-f]{32}$")
STATUS_LABELS = {"queued": "排队中", "running": "正在处理", "done": "已完成", "failed": "失败"}

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_live: set[str] = set()


@dataclass
class ImportJob:
    id: str
    user_id: int
    kind: str
    filename: str
    size: int
    phase: str = "preview"  # preview | commit
    status: str = "queued"  # queued | running | done | failed
    done: int = 0
    total: int = 0
    counts: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)  # [row, column, message], the first MAX_ERRORS_KEPT
    notices: list = field(default_factory=list)
    identity: str = ""
    error: str = ""
    committed: dict = field(default_factory=dict)  # the counts written by the commit
    runner: str = _RUNNER
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)

    @property
    def label(self) -> str:
        return get_kind(self.kind).label

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")

    @property
    def percent(self) -> int:
        if self.status == "done":
            return 100
        return min(99, int(self.done * 100 / self.total)) if self.total else 0

    @property
    def can_commit(self) -> bool:
        return (self.phase == "preview" and self.status == "done" and not self.counts.get("errors")
                and bool(self.counts.get("created") or self.counts.get("updated")))

    @staticmethod
    def can_commit_after(plan) -> bool:
        return plan.ok and bool(plan.changes)

    @property
    def error_count(self) -> int:
        return int(self.counts.get("errors", 0))


def jobs_dir() -> Path:
    folder = Path(get_settings().upload_dir) / "imports" / "jobs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _state_path(job_id: str) -> Path:
    return jobs_dir() / f"{job_id}.json"


def _data_path(job_id: str) -> Path:
    return jobs_dir() / f"{job_id}.data"


def _save(job: ImportJob) -> None:
    job.updated = time.time()
    path = _state_path(job.id)
    temporary = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.part")
    temporary.write_text(json.dumps(asdict(job), ensure_ascii=False), encoding="utf-8")
    temporary.replace(path)


def _load(job_id: str) -> ImportJob | None:
    if not _ID.match(job_id or ""):
        return None
    try:
        return ImportJob(**json.loads(_state_path(job_id).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="import")
        return _pool


def _orphaned(job: ImportJob) -> bool:
    if job.finished:
        return False
    if job.runner == _RUNNER:
        return job.id not in _live
    host, _, rest = job.runner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return time.time() - job.updated > 3600
    if int(pid) == os.getpid():
        return True  # our pid, an earlier life of this process
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def sweep() -> None:
    cutoff = time.time() - KEEP_SECONDS
    for stale in jobs_dir().iterdir():
        try:
            if stale.stat().st_mtime < cutoff:
                stale.unlink(missing_ok=True)
        except OSError:
            pass


# --- creating and looking -------------------------------------------------------------------------

def create(by: Principal, kind: str, data: bytes, filename: str) -> ImportJob:
    """Keep the upload and queue its preview; :func:`start` runs it."""
    service.require_staff(by)
    get_kind(kind)
    if not data:
        raise Invalid("请选择要上传的文件", code="import_no_file")
    sweep()
    job = ImportJob(id=uuid.uuid4().hex, user_id=by.user_id, kind=kind,
                    filename=Path(filename or "upload").name[:200], size=len(data))
    _data_path(job.id).write_bytes(data)
    _save(job)
    return job


def job_for_owner(by: Principal, job_id: str) -> ImportJob:
    job = _load(job_id)
    if job is None or job.user_id != by.user_id:
        raise NotFound("找不到这个导入任务（可能已过期），请重新上传", code="import_job_not_found")
    if _orphaned(job):
        job.status, job.error = "failed", "服务已重启，处理中断，请重新上传"
        _save(job)
    return job


def start(job: ImportJob, engine: Engine | None = None) -> None:
    _live.add(job.id)
    _executor().submit(_run_guarded, job.id, engine)


def request_commit(by: Principal, job_id: str) -> ImportJob:
    """Queue the commit of a previewed job (no errors, something to change)."""
    job = job_for_owner(by, job_id)
    if job.phase == "commit":
        return job  # a second click while it runs, or after: the same job
    if not job.finished:
        raise Conflict("文件还在检查中，请等预览显示后再确认", code="import_not_ready")
    if not job.can_commit:
        if job.error_count:
            raise Invalid("文件有错误，不能导入；请修改后重新上传", code="import_invalid")
        raise Invalid("没有需要导入的改动", code="import_nothing")
    if not _data_path(job.id).is_file():
        raise Invalid("导入文件已过期，请重新上传", code="import_expired")
    job.phase, job.status, job.done, job.error = "commit", "queued", 0, ""
    job.runner = _RUNNER
    _live.add(job.id)  # started by the caller right after: never taken for an orphan meanwhile
    _save(job)
    return job


# --- running ---------------------------------------------------------------------------------------

def _principal(session, user_id: int) -> Principal:
    from app.auth.service import build_principal

    user = session.get(UserAccount, user_id)
    if user is None or not user.is_active:
        raise NotFound("账号已停用")
    return build_principal(session, user, ip="import-job")


def _total(job: ImportJob):
    def report(n: int) -> None:
        job.total = n
        _save(job)

    return report


def _progress(job: ImportJob):
    last = [0.0]

    def report(n: int) -> None:
        job.done = n
        if time.time() - last[0] >= SAVE_EVERY_SECONDS:
            last[0] = time.time()
            _save(job)

    return report


def _run_guarded(job_id: str, engine: Engine | None) -> None:
    job = _load(job_id)
    try:
        if job is not None:
            run(job, engine)
    except Exception as exc:
        if isinstance(exc, DomainError):
            reason = exc.message
        else:
            log.exception("import job %s failed", job_id)
            reason = "服务器出错，请稍后重试"
        if job is not None:
            job.status, job.error = "failed", reason[:500]
            _save(job)
            if job.phase == "preview":
                _data_path(job_id).unlink(missing_ok=True)
    finally:
        _live.discard(job_id)


def run(job: ImportJob, engine: Engine | None = None) -> None:
    engine = engine or get_engine()
    data = _data_path(job.id).read_bytes()
    job.status = "running"
    _save(job)
    if job.phase == "preview":
        with read_session(engine) as s:
            by = _principal(s, job.user_id)
            plan = service.preview(s, by, job.kind, data, job.filename, progress=_progress(job), total=_total(job))
        job.total = plan.rows
        job.counts = plan.counts()
        job.errors = [[e.row, e.column, e.message] for e in plan.errors[:MAX_ERRORS_KEPT]]
        job.notices = plan.notices[:50]
        job.identity = plan.identity()
        if not job.can_commit_after(plan):
            _data_path(job.id).unlink(missing_ok=True)  # nothing will be confirmed: the personal data go now
    else:
        with read_session(engine) as s:  # the write transaction below begins with the planning itself
            by = _principal(s, job.user_id)
        with write_session(engine) as s:
            plan = service.commit(s, by, job.kind, data, job.filename, identity=job.identity,
                                  progress=_progress(job), total=_total(job))
        job.committed = plan.counts()
        _data_path(job.id).unlink(missing_ok=True)
    job.status, job.done = "done", job.total
    _save(job)


def run_now(job: ImportJob, engine: Engine | None = None) -> ImportJob:
    """Run a job in this thread (tests, CLI); the state file ends as the pages would see it."""
    _live.add(job.id)
    _run_guarded(job.id, engine)
    return _load(job.id)
