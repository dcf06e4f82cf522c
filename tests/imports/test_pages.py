"""Import pages: staff only, template download, upload → preview with errors → fix → confirm → result."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.imports.base import SHEET_TITLE
from app.jobs import service as background
from app.models import Member
from app.rollup import service as rollup
from tests import factories as f
from tests.imports.conftest import fill


@pytest.fixture
def inline_jobs(session, monkeypatch):
    """Queued jobs run at once in the request, on the test's own session (no worker could see it)."""
    monkeypatch.setattr(background, "wake", lambda: background.run_pending(background.SameSession(session=session)))


def _job_url(response) -> str:
    assert response.status_code == 303, response.text
    return response.headers["location"]


def test_non_staff_are_refused(client, session):
    f.login_as(client, session, f.persona(session, "member"))
    assert client.get("/imports").status_code == 403
    assert client.get("/imports/templates/members.xlsx").status_code == 403


def test_template_has_header_example_and_lists(client, session):
    f.login_as(client, session, f.persona(session, "county_staff"))
    page = client.get("/imports")
    assert page.status_code == 200 and "委员名单" in page.text and "/imports/templates/members.xlsx" in page.text
    r = client.get("/imports/templates/members.xlsx")
    assert r.status_code == 200
    wb = load_workbook(io.BytesIO(r.content))
    ws = wb[SHEET_TITLE]
    assert [c.value for c in ws[1]][:3] == ["姓名（必填）", "手机号（必填）", "组织代码（必填）"]
    assert ws["B2"].value == "13800000000"
    starts = {str(dv.sqref).split(":")[0] for dv in ws.data_validations.dataValidation}
    assert {"D2", "E2"} <= starts  # 界别 and 身份 offer lists
    lists = wb["选项"]
    assert lists.sheet_state == "hidden"
    values = {c.value for col in lists.iter_cols() for c in col}
    assert {"委员", "常委", "主席会议成员", "经济界"} <= values


def test_upload_preview_errors_then_fix_and_commit(client, session, inline_jobs):
    rollup.ensure_year(session, f.this_year())
    user = f.persona(session, "county_staff")
    token = f.login_as(client, session, user)
    from app.auth.service import build_principal
    by = build_principal(session, user)
    bad = fill(session, by, "members", [["李四", "13912345678", "530102", "经济界"],
                                        ["王五", "1391234", "530102", "经济界"]])
    r = client.post("/imports", data={"kind": "members", "csrf_token": token},
                    files={"file": ("名单.xlsx", bad, "application/octet-stream")}, follow_redirects=False)
    page = client.get(_job_url(r))
    assert page.status_code == 200
    assert "有错误的行" in page.text and "第 4 行" in page.text and "格式不正确" in page.text
    assert "确认导入" not in page.text
    job_id = _job_url(r).rsplit("/", 1)[1]
    refused = client.post(f"/imports/jobs/{job_id}/commit", data={"csrf_token": token}, follow_redirects=False)
    assert refused.status_code == 422
    good = fill(session, by, "members", [["李四", "13912345678", "530102", "经济界"],
                                         ["王五", "13912345679", "530102", "经济界"]])
    r = client.post("/imports", data={"kind": "members", "csrf_token": token},
                    files={"file": ("名单.xlsx", good, "application/octet-stream")}, follow_redirects=False)
    url = _job_url(r)
    page = client.get(url)
    assert "确认导入" in page.text and re.search(r'<div class="num">2</div><div class="label">新增', page.text)
    done = client.post(url + "/commit", data={"csrf_token": token}, follow_redirects=False)
    result = client.get(_job_url(done))
    assert "导入完成：新增 2 行" in result.text and "生成激活码" in result.text
    assert session.scalar(select(Member).where(Member.phone == "13912345679")) is not None
    assert rollup.check(session) == []


def test_someone_elses_job_is_404(client, session, inline_jobs):
    user = f.persona(session, "county_staff")
    token = f.login_as(client, session, user)
    from app.auth.service import build_principal
    data = fill(session, build_principal(session, user), "members", [["李四", "13912345670", "530102", "经济界"]])
    url = _job_url(client.post("/imports", data={"kind": "members", "csrf_token": token},
                               files={"file": ("a.xlsx", data, "application/octet-stream")}, follow_redirects=False))
    f.login_as(client, session, f.persona(session, "prefecture_staff"))
    assert client.get(url).status_code == 404
    assert client.get("/imports/jobs/not-a-job").status_code == 404


@pytest.mark.parametrize("kind, header, listed", [
    ("orgs", "代码（必填）", "县级政协"), ("members", "姓名（必填）", "主席会议成员"),
    ("targets", "组织代码（必填）", "医疗帮扶·义医义诊"), ("assignments", "领导手机号（必填）", "联络员"),
])
def test_every_kind_has_a_template(client, session, kind, header, listed):
    f.login_as(client, session, f.persona(session, "prefecture_staff"))
    r = client.get(f"/imports/templates/{kind}.xlsx")
    assert r.status_code == 200 and "filename*=UTF-8''" in r.headers["content-disposition"]
    wb = load_workbook(io.BytesIO(r.content))
    assert wb[SHEET_TITLE]["A1"].value == header
    assert listed in {c.value for col in wb["选项"].iter_cols() for c in col}
    assert "填写说明" in wb.sheetnames


def test_upload_without_a_file_or_of_an_unknown_kind(client, session):
    token = f.login_as(client, session, f.persona(session, "county_staff"))
    r = client.post("/imports", data={"kind": "members", "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 422 and "请选择要上传的文件" in r.text
    r = client.post("/imports", data={"kind": "nothing", "csrf_token": token},
                    files={"file": ("a.csv", b"x", "text/csv")}, follow_redirects=False)
    assert r.status_code == 404
    assert client.get("/imports/templates/nothing.xlsx").status_code == 404


def test_the_page_lists_the_kinds_in_order(client, session):
    f.login_as(client, session, f.persona(session, "county_staff"))
    text = client.get("/imports").text
    found = [text.index(f'id="kind-{k}"') for k in ("orgs", "members", "targets", "assignments", "history")]
    assert found == sorted(found)


def test_long_error_lists_are_paginated(client, session, inline_jobs):
    user = f.persona(session, "county_staff")
    token = f.login_as(client, session, user)
    from app.auth.service import build_principal
    rows = [[f"委员{i}", f"1391234{i:04d}", "999999", "经济界"] for i in range(60)]  # 60 unknown organisations
    data = fill(session, build_principal(session, user), "members", rows)
    url = _job_url(client.post("/imports", data={"kind": "members", "csrf_token": token},
                               files={"file": ("a.xlsx", data, "application/octet-stream")}, follow_redirects=False))
    first = client.get(url).text
    assert "第 1 / 2 页" in first and "第 3 行" in first and "第 53 行" not in first
    second = client.get(url + "?page=2").text
    assert "第 53 行" in second and "第 2 / 2 页" in second
