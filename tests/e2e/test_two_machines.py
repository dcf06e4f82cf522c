"""Two server processes — two machines, as far as the application can tell — on one PostgreSQL
database, their files in one S3-compatible bucket (moto's server), both running job workers:

- an API token's rate limit holds across both (requests split between them are counted together);
- an export started on one runs once (one run, one file) and downloads from the other;
- a photo uploaded through one is served by the other;
- a board open on one moves when the other verifies an activity.

With CI=true this runs (PostgreSQL is required), never skips.
"""

from __future__ import annotations

import io
import re
import time

import httpx
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import select, text

from app import clock
from app.auth.service import build_principal
from app.db import make_engine, read_session, write_session
from app.models import BackgroundJob, UserAccount
from app.tokens import service as tokens
from tests.conftest import temporary_database
from tests.e2e.conftest import log_in_http, second_server, serve_app, verified_count
from tests.s3 import ACCESS_KEY, REGION, SECRET_KEY, make_bucket, moto_server, s3_env

PROVINCE_STAFF, MEMBER, VIEWER = "13900000002", "13900000007", "13900000008"
RATE = 5


def _token(url: str) -> str:
    engine = make_engine(url)
    try:
        with write_session(engine) as s:
            staff = s.scalar(select(UserAccount).where(UserAccount.login == PROVINCE_STAFF))
            province = s.execute(text("SELECT id FROM organisation WHERE code = '530000'")).scalar_one()
            _, raw = tokens.create_token(s, build_principal(s, staff), name="两台机器的测试", org_id=province,
                                         level="aggregate", rate_per_minute=RATE)
        return raw
    finally:
        engine.dispose()


def _rate_limit_holds_across_both(bases: list[str], raw: str) -> None:
    headers = {"Authorization": f"Bearer {raw}"}
    answers = [httpx.get(bases[n % 2] + "/api/v1/catalogue", headers=headers, timeout=30) for n in range(RATE + 2)]
    assert [a.status_code for a in answers] == [200] * RATE + [429, 429]  # 3 on one, 2 on the other: the limit
    assert [a.headers["X-RateLimit-Remaining"] for a in answers[:RATE]] == [str(RATE - 1 - n) for n in range(RATE)]
    assert int(answers[RATE].headers["Retry-After"]) >= 1


def _export_runs_once(first: str, second: str, url: str, s3, bucket: str) -> None:
    staff, token = log_in_http(first, PROVINCE_STAFF)
    page = staff.get("/exports").text
    period = re.search(r'<select name="period">\s*<option value="([^"]+)"', page).group(1)
    made = staff.post("/exports/jobs", data={"org": "530000", "period": period, "status": "", "task": "", "by": "org"},
                      headers={"X-CSRF-Token": token, "Origin": first}, follow_redirects=False)
    assert made.status_code in (303, 200), made.text
    job_id = int(re.search(r"/exports/jobs/(\d+)", made.headers.get("location") or made.headers["HX-Redirect"]).group(1))
    other, _ = log_in_http(second, PROVINCE_STAFF)
    deadline = time.monotonic() + 60
    engine = make_engine(url)
    try:
        while True:
            with read_session(engine) as s:
                job = s.get(BackgroundJob, job_id)
            if job.status in ("done", "failed"):
                break
            assert time.monotonic() < deadline, job
            time.sleep(0.3)
        assert (job.status, job.attempts) == ("done", 1), job.error  # one run, though both workers were free
    finally:
        engine.dispose()
    download = other.get(f"/exports/jobs/{job_id}/download")  # from the machine that did not write it
    assert download.status_code == 200, download.text
    assert load_workbook(io.BytesIO(download.content))["活动明细"].max_row > 1
    files = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="szt/exports/").get("Contents", [])]
    assert files == [f"szt/exports/{job.file_name}"]  # one file, in the bucket


def _photo_served_by_the_other(first: str, second: str, url: str) -> None:
    member, _ = log_in_http(first, MEMBER)
    form = member.get("/activities/new").text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form).group(1)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    task = re.search(r'name="task_id".*?<option value="(\d+)"', form, re.DOTALL).group(1)
    county = re.search(r'name="county_id".*?<option value="(\d+)"[^>]*selected', form, re.DOTALL).group(1)
    today = re.search(r'name="occurred_on" value="[^"]*" max="([^"]+)"', form).group(1)  # the server's today
    engine = make_engine(url)
    try:
        with read_session(engine) as s:
            indicator = s.execute(text(
                "SELECT i.id FROM indicator i JOIN organisation o ON o.id = i.owner_org_id "
                "WHERE i.task_id = :task AND i.kind = 'count' AND o.parent_id IS NULL ORDER BY i.id LIMIT 1"),
                {"task": int(task)}).scalar_one()
    finally:
        engine.dispose()
    photo = io.BytesIO()
    Image.new("RGB", (64, 48), "red").save(photo, "JPEG")
    answer = member.post("/activities", data={
        "csrf_token": csrf, "idempotency_key": key, "task_id": task, "county_id": county,
        "occurred_on": today, "description": "两台机器的照片测试",
        f"value_{indicator}": "1"}, files=[("photos", ("p.jpg", photo.getvalue(), "image/jpeg"))],
        headers={"Origin": first}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    activity_id = int(re.search(r"/activities/(\d+)", answer.headers["location"]).group(1))
    page = member.get(f"/activities/{activity_id}").text
    photo_url = re.search(rf'(/activities/{activity_id}/photos/\d+)', page).group(1)
    other, _ = log_in_http(second, MEMBER)
    served = other.get(photo_url)
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(served.content)).size == (64, 48)


def _board_moves(first: str, second: str) -> None:
    viewer, _ = log_in_http(second, VIEWER)
    board = viewer.get("/boards/530000")
    version = int(re.search(r'data-version="(\d+)"', board.text).group(1))
    before = verified_count(board.text)
    assert viewer.get(f"/boards/530000?since={version}").status_code == 204
    staff, token = log_in_http(first, PROVINCE_STAFF)
    pending = staff.get("/api/v1/activities", params={"status": "pending", "per_page": 1}).json()["items"][0]
    answer = staff.post(f"/api/v1/activities/{pending['id']}/verify", headers={"X-CSRF-Token": token, "Origin": first})
    assert answer.status_code == 200, answer.text
    moved = viewer.get(f"/boards/530000?since={version}", headers={"HX-Request": "true"})
    assert moved.status_code == 200 and verified_count(moved.text) == before + 1


def test_two_machines_on_one_postgresql_and_one_bucket(tmp_path):
    import boto3

    with temporary_database("postgresql", tmp_path) as url, moto_server() as endpoint:
        make_bucket(endpoint, "szt-two")
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION, aws_access_key_id=ACCESS_KEY,
                          aws_secret_access_key=SECRET_KEY)
        env = {"DATABASE_URL": url, "SZT_JOB_WORKERS": "1", **s3_env(endpoint, "szt-two")}
        # Each machine its own upload folder: whatever they share, they share through the bucket.
        other_env = {**env, "SZT_UPLOAD_DIR": str(tmp_path / "other-uploads"), "SZT_TODAY": clock.now_cn().isoformat()}
        with serve_app(tmp_path, demo_activities=1500, env=env) as first, second_server(tmp_path, other_env) as second:
            _rate_limit_holds_across_both([first.base, second], _token(url))
            _export_runs_once(first.base, second, url, s3, "szt-two")
            _photo_served_by_the_other(first.base, second, url)
            _board_moves(first.base, second)
        assert not (tmp_path / "uploads").exists() and not (tmp_path / "other-uploads").exists()
