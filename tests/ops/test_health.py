"""/readyz: 200 only when the database answers, its schema is this code's, there is disk space and the
job worker runs; else 503 with the failing check's reason. /healthz stays the bare liveness probe."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import text

from app.db import make_engine
from app.ops import health
from tests.ops.conftest import LOOPBACK

CHECKS = {"database", "migrations", "disk", "worker", "sender"}


def test_readyz_is_ok_on_a_migrated_database_with_its_worker_running(fresh_url, use_database, settings_env, tmp_path):
    from app.main import create_app

    use_database(fresh_url)
    settings_env(SZT_UPLOAD_DIR=str(tmp_path / "uploads"), SZT_JOB_WORKERS="1")
    app = create_app()
    with TestClient(app, client=LOOPBACK) as c:
        r = c.get("/readyz")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] == "ok" and set(body["checks"]) == CHECKS
        assert all(check["ok"] for check in body["checks"].values())
        assert health.code_heads()[0] in body["checks"]["migrations"]["detail"]
        assert c.get("/healthz").json() == {"status": "ok"}
        # Load balancers and uptime checks often ask with HEAD: the same status, no body.
        assert (c.head("/healthz").status_code, c.head("/readyz").status_code) == (200, 200)

        # The worker's threads die (a crash): not ready, and it says what to do.
        app.state.job_worker.stop()
        r = c.get("/readyz")
        assert r.status_code == 503 and r.json()["status"] == "fail"
        assert r.json()["checks"]["worker"] == {"ok": False, "detail": "后台任务线程已停止：请重启本进程"}
        assert c.head("/readyz").status_code == 503

        # The notices' sender stops: not ready either.
        app.state.notify_sender.stop()
        assert c.get("/readyz").json()["checks"]["sender"] == {
            "ok": False, "detail": "短信和企业微信通知的发送线程已停止：请重启本进程"}


def test_readyz_fails_when_the_database_schema_is_not_this_codes(fresh_url, use_database, settings_env, tmp_path):
    from app.main import create_app

    use_database(fresh_url)
    settings_env(SZT_UPLOAD_DIR=str(tmp_path / "uploads"), SZT_JOB_WORKERS="0")
    engine = make_engine(fresh_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    finally:
        engine.dispose()
    r = TestClient(create_app(), client=LOOPBACK).get("/readyz")
    assert r.status_code == 503
    checks = r.json()["checks"]
    assert checks["database"]["ok"] and not checks["migrations"]["ok"]
    assert "python -m app migrate" in checks["migrations"]["detail"]
    assert checks["worker"]["ok"] and checks["worker"]["detail"].startswith("disabled")
    assert checks["sender"]["ok"] and checks["sender"]["detail"].startswith("disabled")


def test_readyz_fails_when_free_space_is_below_the_threshold(local_client, settings_env, monkeypatch, tmp_path):
    settings_env(SZT_UPLOAD_DIR=str(tmp_path / "uploads"), SZT_MIN_FREE_DISK_MB="500", SZT_JOB_WORKERS="0")
    monkeypatch.setattr(health, "free_bytes", lambda path: 900 * 1024 * 1024)
    assert local_client.get("/readyz").status_code == 200

    monkeypatch.setattr(health, "free_bytes", lambda path: 120 * 1024 * 1024)  # the disk fills up
    r = local_client.get("/readyz")
    assert r.status_code == 503 and r.json()["status"] == "fail"
    disk = r.json()["checks"]["disk"]
    assert disk["ok"] is False
    assert "存储空间不足（下限 500 MB）" in disk["detail"] and str(tmp_path / "uploads") in disk["detail"]
    assert "可用 120 MB" in disk["detail"] and "请清理磁盘或扩容" in disk["detail"]
    assert r.json()["checks"]["database"]["ok"] and r.json()["checks"]["migrations"]["ok"]


def test_on_sqlite_the_database_folder_is_watched_too(tmp_path, monkeypatch):
    uploads, database = tmp_path / "uploads", tmp_path / "db" / "szt.db"
    seen: list[Path] = []

    def probe(path: Path) -> int:
        seen.append(path)
        return 0 if path == database.parent else 10**12

    monkeypatch.setattr(health, "free_bytes", probe)
    check = health.disk_check([uploads, database.parent], 200)
    assert seen == [uploads, database.parent]
    assert not check.ok and str(database.parent) in check.detail and str(uploads) not in check.detail


def test_a_database_that_cannot_be_reached_is_reported_not_raised():
    engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=1")
    try:
        database, migrations = health._database_and_migrations(engine)
    finally:
        engine.dispose()
    assert not database.ok and "数据库无法连接" in database.detail and "DATABASE_URL" in database.detail
    assert not migrations.ok
