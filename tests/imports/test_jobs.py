"""Import jobs on a real database in a real worker thread: preview, commit, ownership, a lost
worker, clean-up."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.auth.service import build_principal
from app.db import make_engine, read_session, write_session
from app.errors import Conflict, Invalid, NotFound
from app.imports import jobs
from app.jobs import service as background
from app.models import AuditLog, BackgroundJob, Member
from app.seed.province import init_province
from app.storage import get_storage
from tests import factories as f
from tests.imports.conftest import headers, to_csv


def _wait(engine, by, job_id: int, phase: str) -> jobs.ImportJob:
    deadline = time.monotonic() + 60
    while True:
        with read_session(engine) as s:
            job = jobs.job_for_owner(s, by, job_id)
        if job.phase == phase and job.finished:
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.05)


def _upload(engine, job_id: int):
    """Where the job's upload waits (the tests store files locally)."""
    with read_session(engine) as s:
        return get_storage().path(jobs.upload_key(s.get(BackgroundJob, job_id)))


def _members(count: int = 2) -> bytes:
    return to_csv([headers("members")] + [[f"委员{n}", f"139123400{n:02d}", "530102", "经济界"] for n in range(count)])


@pytest.fixture
def committed(fresh_url):
    engine = make_engine(fresh_url)
    with write_session(engine) as s:
        init_province(s, "53")
        user = f.persona(s, "prefecture_staff")
        other = f.persona(s, "county_staff")
        s.commit()
        by, someone_else = build_principal(s, user), build_principal(s, other)
    try:
        yield engine, by, someone_else
    finally:
        engine.dispose()


def test_preview_then_commit_in_the_worker_thread(committed):
    engine, by, someone_else = committed
    worker = background.Worker(engine).start()
    try:
        with write_session(engine) as s:
            job = jobs.create(s, by, "members", _members(), "名单.csv")
        with read_session(engine) as s, pytest.raises(NotFound):
            jobs.job_for_owner(s, someone_else, job.id)
        done = _wait(engine, by, job.id, "preview")
        assert done.status == "done" and done.counts["created"] == 2 and done.can_commit and done.total == 2
        with write_session(engine) as s:
            assert jobs.request_commit(s, by, job.id).phase == "commit"
        result = _wait(engine, by, job.id, "commit")
        assert result.status == "done" and result.committed["created"] == 2, result.error
        assert result.counts["created"] == 2  # the preview's figures stay beside the commit's
        with write_session(engine) as s:
            assert jobs.request_commit(s, by, job.id).phase == "commit"  # a second click: the same job
        with read_session(engine) as s:
            assert s.scalar(select(func.count()).select_from(Member)) == 2
        assert not _upload(engine, job.id).exists()  # the upload goes once imported

        # The same file again: nothing to confirm, and the upload is not kept.
        with write_session(engine) as s:
            again = jobs.create(s, by, "members", _members(), "名单.csv")
        seen = _wait(engine, by, again.id, "preview")
        assert seen.counts["unchanged"] == 2 and not seen.can_commit
        assert not _upload(engine, again.id).exists()
        with write_session(engine) as s, pytest.raises(Invalid):
            jobs.request_commit(s, by, again.id)

        # A file that cannot be read: the job fails with the reader's message, the upload goes.
        with write_session(engine) as s:
            bad = jobs.create(s, by, "members", b"PK\x03\x04broken", "坏文件.xlsx")
        failed = _wait(engine, by, bad.id, "preview")
        assert failed.status == "failed" and "无法读取该文件" in failed.error
        assert not _upload(engine, bad.id).exists()
    finally:
        worker.stop()


def test_a_commit_whose_worker_was_lost_runs_again_and_writes_once(committed, clock):
    engine, by, _ = committed
    db = background.Databases(engine)
    with write_session(engine) as s:
        job = jobs.create(s, by, "members", _members(), "名单.csv")
    assert background.run_pending(db) == 1
    with write_session(engine) as s:
        jobs.request_commit(s, by, job.id)
    start = clock.now()
    clock.freeze(start)
    assert background.claim(db, "crashed-host:9:x").id == job.id  # its process dies before committing
    with read_session(engine) as s:
        looked = jobs.job_for_owner(s, by, job.id)
    assert (looked.phase, looked.status, looked.status_label) == ("commit", "running", "正在处理")
    clock.freeze(start + timedelta(seconds=background.STALE_SECONDS + 1))
    assert background.recover_stale(db) == ([job.id], [])
    assert background.run_pending(db) == 1
    done = _wait(engine, by, job.id, "commit")
    assert done.status == "done" and done.committed["created"] == 2
    with read_session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Member)) == 2
        assert s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "import.members")) == 1


def test_a_job_failed_after_losing_its_worker_says_so_and_its_upload_goes(committed, clock):
    engine, by, _ = committed
    db = background.Databases(engine)
    with write_session(engine) as s:
        job = jobs.create(s, by, "members", _members(), "名单.csv")
    start = clock.now()
    for attempt in range(background.MAX_ATTEMPTS):
        clock.freeze(start + timedelta(minutes=2 * attempt))
        assert background.claim(db, f"crashed:{attempt}:x").id == job.id
        clock.freeze(start + timedelta(minutes=2 * attempt + 1, seconds=5))
        background.recover_stale(db)
    with read_session(engine) as s:
        looked = jobs.job_for_owner(s, by, job.id)
    assert looked.status == "failed" and looked.error == "处理中断（服务重启或失去响应），请重新上传"
    assert not _upload(engine, job.id).exists()


def test_old_jobs_and_their_files_go_after_a_day(committed, clock):
    engine, by, _ = committed
    with write_session(engine) as s:
        old = jobs.create(s, by, "members", _members(), "名单.csv")
    background.run_pending(background.Databases(engine))
    assert _upload(engine, old.id).exists()  # previewed, waiting for a confirmation
    path = _upload(engine, old.id)
    clock.travel_to(clock.now() + jobs.KEEP + timedelta(minutes=1))
    with write_session(engine) as s:
        fresh = jobs.create(s, by, "members", _members(1), "新名单.csv")
    with read_session(engine) as s:
        with pytest.raises(NotFound):
            jobs.job_for_owner(s, by, old.id)
        assert jobs.job_for_owner(s, by, fresh.id).status == "queued"
    assert not path.exists() and _upload(engine, fresh.id).exists()
    assert fresh.id > old.id  # ids are never reused: an old link cannot show a newer job


def test_not_ready_jobs_cannot_be_confirmed(session, world):
    job = jobs.create(session, world.admin, "members", b"x", "a.csv")
    assert job.status == "queued"
    with pytest.raises(Conflict):
        jobs.request_commit(session, world.admin, job.id)


def test_job_ids_that_are_not_ours_are_404(session, world):
    job = jobs.create(session, world.admin, "members", b"x", "a.csv")
    for job_id in ("not-a-job", "9" * 30, str(job.id + 1000)):
        with pytest.raises(NotFound):
            jobs.job_for_owner(session, world.admin, job_id)
    with pytest.raises(NotFound):
        jobs.job_for_owner(session, world.prefecture_staff, job.id)
