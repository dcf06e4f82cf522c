"""Import jobs on a real database in a real worker thread: preview, commit, ownership, orphans, clean-up."""

from __future__ import annotations

import socket
import time

import pytest
from sqlalchemy import func, select

from app.auth.service import build_principal
from app.db import make_engine, read_session, write_session
from app.errors import Conflict, Invalid, NotFound
from app.imports import jobs
from app.models import Member
from app.seed.province import init_province
from tests import factories as f
from tests.imports.conftest import headers, to_csv


def _wait(by, job_id: str, phase: str) -> jobs.ImportJob:
    deadline = time.monotonic() + 60
    while True:
        job = jobs.job_for_owner(by, job_id)
        if job.phase == phase and job.finished:
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.05)


def test_preview_then_commit_in_the_worker_thread(fresh_url, tmp_path, monkeypatch):
    monkeypatch.setenv("SZT_UPLOAD_DIR", str(tmp_path / "uploads"))
    from app.config import get_settings
    get_settings.cache_clear()
    engine = make_engine(fresh_url)
    try:
        with write_session(engine) as s:
            init_province(s, "53")
            user = f.persona(s, "prefecture_staff")
            other = f.persona(s, "county_staff")
            s.commit()
            by, someone_else = build_principal(s, user), build_principal(s, other)
        data = to_csv([headers("members"), ["李四", "13912340001", "530102", "经济界"],
                       ["王五", "13912340002", "530103", "农业界"]])
        job = jobs.create(by, "members", data, "名单.csv")
        jobs.start(job, engine)
        with pytest.raises(NotFound):
            jobs.job_for_owner(someone_else, job.id)
        done = _wait(by, job.id, "preview")
        assert done.status == "done" and done.counts["created"] == 2 and done.can_commit and done.total == 2
        jobs.start(jobs.request_commit(by, job.id), engine)
        result = _wait(by, job.id, "commit")
        assert result.status == "done" and result.committed["created"] == 2, result.error
        assert jobs.request_commit(by, job.id).phase == "commit"  # a second click: the same job
        with read_session(engine) as s:
            assert s.scalar(select(func.count()).select_from(Member)) == 2
        assert not (jobs.jobs_dir() / f"{job.id}.data").exists()  # the upload goes once imported

        # The same file again: nothing to confirm, and the upload is not kept.
        again = jobs.create(by, "members", data, "名单.csv")
        jobs.start(again, engine)
        seen = _wait(by, again.id, "preview")
        assert seen.counts["unchanged"] == 2 and not seen.can_commit
        assert not (jobs.jobs_dir() / f"{again.id}.data").exists()
        with pytest.raises(Invalid):
            jobs.request_commit(by, again.id)

        # A file that cannot be read: the job fails with the reader's message.
        bad = jobs.create(by, "members", b"PK\x03\x04broken", "坏文件.xlsx")
        jobs.start(bad, engine)
        failed = _wait(by, bad.id, "preview")
        assert failed.status == "failed" and "无法读取该文件" in failed.error
    finally:
        engine.dispose()
        get_settings.cache_clear()


def test_a_job_whose_process_is_gone_is_failed_when_looked_at(session, world):
    job = jobs.create(world.admin, "members", b"x", "a.csv")
    assert job.status == "queued"
    job.runner = f"{socket.gethostname()}:999999999:abc"  # this host, a process that is gone
    jobs._save(job)
    looked = jobs.job_for_owner(world.admin, job.id)
    assert looked.status == "failed" and "重新上传" in looked.error
    fresh = jobs.create(world.admin, "members", b"x", "a.csv")
    fresh.runner = jobs._RUNNER  # ours, but never started here
    jobs._save(fresh)
    assert jobs.job_for_owner(world.admin, fresh.id).status == "failed"


def test_not_ready_jobs_cannot_be_confirmed(session, world):
    job = jobs.create(world.admin, "members", b"x", "a.csv")
    jobs._live.add(job.id)
    try:
        with pytest.raises(Conflict):
            jobs.request_commit(world.admin, job.id)
    finally:
        jobs._live.discard(job.id)
