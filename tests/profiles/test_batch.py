"""履职档案汇编: a term's (or a 专委会's) records in one Word file, written by a background job."""

from __future__ import annotations

import io

import pytest
from docx import Document
from sqlalchemy import func, select

from app.jobs import service as background
from app.models import AuditLog, BackgroundJob, GrantRole
from app.profiles import jobs
from tests import factories as f
from tests.profiles.test_profiles import World


@pytest.fixture(autouse=True)
def _export_dir(monkeypatch, tmp_path):
    from app.config import get_settings

    monkeypatch.setenv("SZT_UPLOAD_DIR", str(tmp_path / "uploads"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def w(session) -> World:
    return World(session)


def _term_ids(session, w) -> list[int]:
    return [t.id for t in jobs.terms_of(session, w.wuhua)]  # newest first


def test_a_term_s_records_in_one_file_with_progress_per_member(client, session, w):
    staff = f.persona(session, "county_staff")
    f.login_as(client, session, staff)
    current, first = _term_ids(session, w)
    page = client.get(f"/profiles/{w.wuhua.code}")
    # The newest term by default: 张委员 and 李委员 (第1届 held 张委员 only).
    assert page.status_code == 200 and "共 <strong>2</strong> 名委员" in page.text
    assert "共 <strong>1</strong> 名委员" in client.get(f"/profiles/{w.wuhua.code}?term_id={first}").text
    asked = client.post(f"/profiles/{w.wuhua.code}/jobs", data={"term_id": str(current), "committee_id": ""},
                        follow_redirects=False)
    assert asked.status_code == 303
    job_id = int(asked.headers["location"].rsplit("/", 1)[1])
    assert session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "profile.export")) == 1
    assert "排队中" in client.get(f"/profiles/jobs/{job_id}").text
    background.run_pending(background.SameSession(session=session))
    job = session.get(BackgroundJob, job_id)
    assert (job.status, job.progress_done, job.progress_total) == ("done", 2, 2)
    done = client.get(f"/profiles/jobs/{job_id}")
    assert "已完成 2 / 2 名委员" in done.text and f"/profiles/jobs/{job_id}/download" in done.text
    r = client.get(f"/profiles/jobs/{job_id}/download")
    assert r.status_code == 200
    doc = Document(io.BytesIO(r.content))
    titles = [p.text for p in doc.paragraphs if p.style.name == "公文标题"]
    assert sorted(titles[1:]) == sorted(["李委员履职档案", "张委员履职档案"])  # by name, in the database's collation
    cells = {c.text for t in doc.tables for row in t.rows for c in row.cells}
    assert "农业农村委副主任" in cells and "1250" in "\n".join(cells)
    # Another staff member of the same office does not get the file.
    f.login_as(client, session, f.persona(session, "county_staff"))
    assert client.get(f"/profiles/jobs/{job_id}/download").status_code == 404


def test_a_committee_and_the_refusals(client, session, w):
    f.login_as(client, session, f.persona(session, "county_staff"))
    current, _ = _term_ids(session, w)
    r = client.get(f"/profiles/{w.wuhua.code}?term_id={current}&committee_id={w.committee.id}")
    assert "共 <strong>1</strong> 名委员" in r.text
    other = f.make_user(session, grants=((GrantRole.staff, w.panlong),))
    panlong_term = f.term_for(session, w.panlong)
    bad = client.post(f"/profiles/{w.wuhua.code}/jobs", data={"term_id": str(panlong_term.id)}, follow_redirects=False)
    assert bad.status_code == 422 and "请选择本组织的届次" in bad.text
    f.login_as(client, session, f.persona(session, "viewer"))
    assert client.post(f"/profiles/{w.wuhua.code}/jobs", data={"term_id": str(current)}).status_code == 403
    f.login_as(client, session, other)
    assert client.get(f"/profiles/{w.wuhua.code}").status_code == 404
    assert session.scalar(select(func.count()).select_from(BackgroundJob).where(BackgroundJob.kind == jobs.KIND)) == 0
