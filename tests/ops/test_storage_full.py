"""A full disk: a clear Chinese 503 (code storage_full, Retry-After), nothing half-saved, one log line a
minute — not a 500 and a traceback for every request (issue 15, "Disk full")."""

from __future__ import annotations

import errno
import io
import logging
import sqlite3

import psycopg
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from app.activities import photos
from app.auth.service import start_session
from app.clock import today_cn
from app.db import get_engine, make_engine, read_session, write_session
from app.deps import SESSION_COOKIE
from app.models import Activity, ActivityValue, AuditLog, GrantRole
from app.ops import storage_full
from app.seed.province import init_province
from tests import factories as f

MESSAGE = "服务器存储空间不足，内容没有保存，请稍后重试或联系管理员"


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), "red").save(buf, "JPEG")
    return buf.getvalue()


class Recorder:
    """A member signed in on a real database, recording activities through the page."""

    def __init__(self, url: str) -> None:
        from app.main import create_app

        engine = make_engine(url)
        try:
            with write_session(engine) as s:
                init_province(s, "53")
                wuhua = f.org(s, "530102")
                user = f.make_user(s, member=f.make_member(s, wuhua), grants=((GrantRole.member, wuhua),))
                task = f.task(s, 7)
                count, money = (next(i for i in f.indicators(s, task) if i.kind == kind) for kind in ("count", "money"))
                row, raw = start_session(s, user=user, ip="testclient", user_agent="pytest")
                s.commit()
                self.fields = {"task_id": str(task.id), "county_id": str(wuhua.id),
                               "occurred_on": today_cn().isoformat(), "description": "在五华区开展义诊活动",
                               f"value_{count.id}": "1", f"value_{money.id}": "8"}
        finally:
            engine.dispose()
        self.client = TestClient(create_app(), base_url="http://testserver")
        self.client.cookies.set(SESSION_COOKIE, raw)
        self.client.headers["X-CSRF-Token"] = row.csrf_token

    def post(self, key: str, *, photo: bool = False, headers: dict[str, str] | None = None):
        files = [("photos", ("a.jpg", _jpeg(), "image/jpeg"))] if photo else None
        return self.client.post("/activities", data={**self.fields, "idempotency_key": key}, files=files,
                                headers=headers, follow_redirects=False)


@pytest.fixture
def recorder(fresh_url, use_database, settings_env, tmp_path) -> Recorder:
    use_database(fresh_url)
    settings_env(SZT_UPLOAD_DIR=str(tmp_path / "uploads"), SZT_JOB_WORKERS="0")
    storage_full.reset_reporting()
    return Recorder(fresh_url)


def _rows() -> tuple[int, int, int]:
    with read_session() as s:
        return (s.scalar(select(func.count()).select_from(Activity)),
                s.scalar(select(func.count()).select_from(ActivityValue)),
                s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "activity.create")))


def _assert_storage_full_page(r) -> None:
    assert r.status_code == 503, r.text[:500]
    assert MESSAGE in r.text
    assert int(r.headers["Retry-After"]) > 0


def test_a_photo_write_hitting_enospc_answers_503_and_saves_nothing(recorder, monkeypatch, caplog):
    def disk_full(photo):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(photos, "store", disk_full)
    caplog.set_level(logging.INFO)
    r = recorder.post("k-photo", photo=True, headers={"X-Request-ID": "req-enospc-1"})
    _assert_storage_full_page(r)
    # The activity and its values were written before the photo: rolled back with it.
    assert _rows() == (0, 0, 0)
    [line] = [rec for rec in caplog.records if rec.name == "app.storage"]
    assert line.levelno == logging.ERROR and not line.exc_info  # one line, no traceback
    assert "POST /activities" in line.getMessage()
    assert not [rec for rec in caplog.records if rec.exc_info]  # no "unhandled error" traceback either

    monkeypatch.undo()  # space again: the same form goes through
    assert recorder.post("k-photo", photo=False).status_code == 303
    assert _rows() == (1, 2, 1)


def test_a_full_database_answers_503_and_is_logged_once_a_minute(recorder, backend, caplog):
    def refuse_audit(conn, cursor, statement, parameters, context, executemany):
        # The last write of the use case fails, as the first one to need a new page of the file would.
        if statement.lstrip().upper().startswith("INSERT INTO AUDIT_LOG"):
            if backend == "sqlite":
                raise sqlite3.OperationalError("database or disk is full")
            raise psycopg.errors.DiskFull('could not extend file "base/16384/2619": No space left on device')

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", refuse_audit)
    caplog.set_level(logging.INFO)
    try:
        for n in range(3):
            _assert_storage_full_page(recorder.post(f"k-db-{n}"))
        api = recorder.client.get("/healthz")  # reading still works
        assert api.status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", refuse_audit)
    assert _rows() == (0, 0, 0)
    assert len([rec for rec in caplog.records if rec.name == "app.storage"]) == 1
    assert not [rec for rec in caplog.records if rec.exc_info]
    assert recorder.post("k-db-after").status_code == 303 and _rows() == (1, 2, 1)


def test_the_api_answers_storage_full_as_json(local_client):
    def export_to_a_full_disk() -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    # The answer is the application's, whichever route hit the full disk: one of the test's own.
    storage_full.reset_reporting()
    local_client.app.add_api_route("/api/v1/_test_full_disk", export_to_a_full_disk)
    r = local_client.get("/api/v1/_test_full_disk")
    assert r.status_code == 503
    assert r.json() == {"detail": MESSAGE, "code": "storage_full"}
    assert int(r.headers["Retry-After"]) > 0


def test_other_os_errors_stay_server_errors(local_client):
    def broken() -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    local_client.app.add_api_route("/api/v1/_test_broken", broken)
    with pytest.raises(PermissionError):  # the TestClient re-raises what reached the server: a 500
        local_client.get("/api/v1/_test_broken")


@pytest.mark.parametrize(("exc", "full"), [
    (OSError(errno.ENOSPC, "No space left on device"), True),
    (OSError(errno.EDQUOT, "Disk quota exceeded"), True),
    (OperationalError("INSERT …", {}, sqlite3.OperationalError("database or disk is full")), True),
    (OperationalError("INSERT …", {}, psycopg.errors.DiskFull("could not extend file")), True),
    (OSError(errno.EACCES, "Permission denied"), False),
    (FileNotFoundError(errno.ENOENT, "No such file"), False),
    (OperationalError("INSERT …", {}, sqlite3.OperationalError("database is locked")), False),
    (OperationalError("SELECT 1", {}, psycopg.OperationalError("connection refused")), False),
])
def test_what_counts_as_a_full_disk(exc, full):
    assert storage_full.is_storage_full(exc) is full


def test_an_error_wrapping_a_full_disk_counts_too():
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as inner:
            raise RuntimeError("export failed") from inner
    except RuntimeError as outer:
        assert storage_full.is_storage_full(outer)


def test_a_background_job_that_fills_the_disk_fails_saying_so(fresh_url, monkeypatch, caplog):
    from app.jobs import service as jobs
    from app.models import BackgroundJob, UserAccount

    def write_workbook(ctx: jobs.JobContext) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setitem(jobs.HANDLERS, "test.fills_disk",
                        jobs.Handler(run=write_workbook, restartable=True, error_prefix="导出失败："))
    storage_full.reset_reporting()
    caplog.set_level(logging.INFO)
    engine = make_engine(fresh_url)
    try:
        db = jobs.Databases(engine)
        with write_session(engine) as s:
            user = UserAccount(login="13800000002", display_name="导出的人")
            s.add(user)
            s.flush()
            job_id = jobs.submit(s, kind="test.fills_disk", user_id=user.id).id
            s.commit()
        assert jobs.run_next(db) is not None
        with read_session(engine) as s:
            row = s.get(BackgroundJob, job_id)
            assert (row.status, row.error) == ("failed", f"导出失败：{MESSAGE}")
    finally:
        engine.dispose()
    assert [rec.name for rec in caplog.records if rec.levelno >= logging.ERROR] == ["app.storage"]
    assert not [rec for rec in caplog.records if rec.exc_info]
