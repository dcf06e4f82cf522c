"""Readiness: may this process be sent requests now?

``/healthz`` says only that the process answers (liveness: restart it when that fails). ``/readyz``
asks what a request needs — 200 when every check passes, else 503 (take it out of the load balancer
until it passes again):

- database: ``SELECT 1`` answers within :data:`DATABASE_TIMEOUT_SECONDS`;
- migrations: the database's ``alembic_version`` is this code's head (an older schema would fail
  requests; a newer one means this code is the old one);
- disk: free space above ``SZT_MIN_FREE_DISK_MB`` where uploads are written and, on SQLite, where the
  database file lives (a full disk refuses every write: app/ops/storage_full.py);
- worker: this process's background-job threads are alive (``disabled`` when ``SZT_JOB_WORKERS=0``).
- sender: this process's notice sender is alive (it runs where the job worker runs).
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import anyio
from sqlalchemy import Connection, Engine, text
from sqlmodel import Session

from app.config import PROJECT_ROOT, get_settings

DATABASE_TIMEOUT_SECONDS = 3.0
CHECK_THREADS = 4


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str


def free_bytes(path: Path) -> int:
    """Free space for this process on the file system holding ``path`` (its nearest existing folder).
    Tests replace this probe to play a full disk."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return shutil.disk_usage(candidate).free
    return shutil.disk_usage(Path.cwd()).free


@lru_cache
def code_heads() -> tuple[str, ...]:
    """The migration heads this code brings (migrations/versions)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    return tuple(sorted(ScriptDirectory.from_config(Config(str(PROJECT_ROOT / "alembic.ini"))).get_heads()))


def _database_heads(conn: Connection) -> tuple[str, ...]:
    # Read directly: alembic's MigrationContext would log two lines at every probe.
    return tuple(sorted(conn.execute(text("SELECT version_num FROM alembic_version")).scalars()))


def _database_and_migrations(bind: Engine | Connection) -> tuple[Check, Check]:
    # A session of its own (not the request's): a check abandoned after the timeout may still be
    # running when the request's session is closed.
    with Session(bind=bind, join_transaction_mode="create_savepoint") as session:
        try:
            conn = session.connection()
            conn.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - any failure is the answer "not ready", with its reason
            return (Check(False, f"数据库无法连接：{type(exc).__name__}，请检查数据库服务与 DATABASE_URL"),
                    Check(False, "数据库无法连接，无法检查迁移版本"))
        database = Check(True, "数据库连接正常")
        try:
            found = _database_heads(conn)
        except Exception as exc:  # noqa: BLE001 - e.g. no alembic_version table: never migrated
            return database, Check(False, f"无法读取迁移版本（{type(exc).__name__}）：请运行 python -m app migrate")
    wanted = code_heads()
    if found == wanted:
        return database, Check(True, f"迁移版本 {', '.join(wanted)}")
    return database, Check(False, f"数据库迁移版本 {', '.join(found) or '无'} 与程序的 {', '.join(wanted)} 不一致："
                                  "请运行 python -m app migrate 或部署对应版本的程序")


def _watched_paths(session: Session) -> list[Path]:
    paths = [Path(get_settings().upload_dir)]
    bind = session.get_bind()
    url = bind.engine.url if hasattr(bind, "engine") else None
    if url is not None and url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        paths.append(Path(url.database).resolve().parent)
    return paths


def disk_check(paths: list[Path], min_free_mb: int) -> Check:
    lows: list[str] = []
    lines: list[str] = []
    for path in dict.fromkeys(paths):
        try:
            free_mb = free_bytes(path) // (1024 * 1024)
        except OSError as exc:
            lows.append(f"{path} 无法读取可用空间（{exc.strerror or exc}）")
            continue
        line = f"{path} 可用 {free_mb:,} MB"
        (lows if free_mb < min_free_mb else lines).append(line)
    if lows:
        return Check(False, f"存储空间不足（下限 {min_free_mb:,} MB）：{'；'.join(lows)}，请清理磁盘或扩容")
    return Check(True, "；".join(lines))


def worker_check(worker: Any, threads: int) -> Check:
    if threads <= 0:
        return Check(True, "disabled（SZT_JOB_WORKERS=0：本进程不运行后台任务）")
    if worker is None:
        return Check(False, "后台任务线程没有启动")
    if not worker.alive():
        return Check(False, "后台任务线程已停止：请重启本进程")
    return Check(True, f"后台任务线程 {threads} 个运行中")


def sender_check(sender: Any, threads: int) -> Check:
    """The notices' sender (app/notify/worker.py) runs where the job worker runs."""
    if threads <= 0:
        return Check(True, "disabled（SZT_JOB_WORKERS=0：本进程不发送短信和企业微信通知）")
    if sender is None or not sender.alive():
        return Check(False, "短信和企业微信通知的发送线程已停止：请重启本进程")
    return Check(True, "通知发送线程运行中")


async def readiness(session: Session, worker: Any, limiter: anyio.CapacityLimiter, sender: Any = None,
                    ) -> tuple[bool, dict[str, dict[str, Any]]]:
    """Every check, the database ones in a thread abandoned after the timeout. ``limiter``: the
    application's few threads for checks (:data:`CHECK_THREADS`), so that checks stuck on a database
    that does not answer never take the request threads' places."""
    settings = get_settings()
    results: list[tuple[Check, Check]] = []
    with anyio.move_on_after(DATABASE_TIMEOUT_SECONDS):
        results.append(await anyio.to_thread.run_sync(_database_and_migrations, session.get_bind(),
                                                      abandon_on_cancel=True, limiter=limiter))
    if results:
        database, migrations = results[0]
    else:
        database = Check(False, f"数据库在 {DATABASE_TIMEOUT_SECONDS:g} 秒内没有应答")
        migrations = Check(False, "数据库没有应答，无法检查迁移版本")
    checks = {
        "database": database,
        "migrations": migrations,
        "disk": disk_check(_watched_paths(session), settings.min_free_disk_mb),
        "worker": worker_check(worker, settings.job_workers),
        "sender": sender_check(sender, settings.job_workers),
    }
    return all(c.ok for c in checks.values()), {name: asdict(c) for name, c in checks.items()}
