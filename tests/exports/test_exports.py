"""Raw exports: the CSV read back with the csv module, scope and refusals, and the Excel job end to
end on a committed database (a real background thread), opened with openpyxl."""

from __future__ import annotations

import csv
import io
import time
from datetime import date

import pytest
from openpyxl import load_workbook

from app.auth.principal import Principal
from app.exports import jobs
from app.exports import service as exports
from app.models import ActivityStatus, GrantRole
from app.storage import get_storage
from tests import factories as f

# The activities are last year's: every period the tests ask for has begun and ended, whatever today is.
YEAR = f.this_year() - 1
pytestmark = pytest.mark.dates

HEAD = ["编号", "活动日期", "状态", "助推方向", "实事", "县（市、区）", "乡镇/村", "计入单位", "组织单位", "记录人",
        "参与委员人数"]


@pytest.fixture(autouse=True)
def _export_dir(monkeypatch, tmp_path):
    from app.config import get_settings

    monkeypatch.setenv("SZT_UPLOAD_DIR", str(tmp_path / "uploads"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


class World:
    def __init__(self, s):
        self.s = s
        self.wuhua, self.panlong, self.qujing_county = f.org(s, "530102"), f.org(s, "530103"), f.org(s, "530302")
        self.task = f.task(s, 7)  # 培训讲座 (次), 义医义诊 (次), 医疗设备投入资金 (万元)
        inds = f.indicators(s, self.task)
        self.count = next(i for i in inds if i.kind == "count")
        self.money = next(i for i in inds if i.kind == "money")
        self.member = f.make_member(s, self.wuhua, name="张三")
        self.friend = f.make_member(s, self.wuhua, name="李四")
        self.recorder = f.make_user(s, member=self.member, grants=((GrantRole.member, self.wuhua),))
        self.a = f.make_activity(s, recorder=self.recorder, credited=self.wuhua, county=self.wuhua, task_=self.task,
                                 values={self.count.id: 3, self.money.id: 1250}, status=ActivityStatus.verified,
                                 occurred_on=date(YEAR, 3, 5), participants=(self.member, self.friend))
        self.a.description = "=SUM(A1) 义诊，联系人 13812345678"
        self.b = f.make_activity(s, recorder=self.recorder, credited=self.wuhua, county=self.panlong, task_=self.task,
                                 values={self.money.id: 800}, occurred_on=date(YEAR, 4, 1))
        other_member = f.make_member(s, self.qujing_county)
        other = f.make_user(s, member=other_member, grants=((GrantRole.member, self.qujing_county),))
        self.c = f.make_activity(s, recorder=other, credited=self.qujing_county, county=self.qujing_county,
                                 task_=self.task, values={self.count.id: 9}, occurred_on=date(YEAR, 3, 9))
        s.flush()
        self.phones = {m.phone for m in (self.member, self.friend, other_member)}


@pytest.fixture
def world(session) -> World:
    return World(session)


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.text[:300]
    raw = response.content
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8
    assert b"\r\n" in raw
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def test_csv_has_the_headers_values_and_money_of_the_scope_and_no_phone(client, session, world):
    staff = f.persona(session, "province_staff")
    f.login_as(client, session, staff)
    r = client.get("/exports/activities.csv", params={"org": "530100", "period": f"{YEAR}", "status": ""})
    assert "filename*=UTF-8''" in r.headers["content-disposition"]
    rows = _csv(r)
    header = rows[0]
    assert header[:11] == HEAD and header[-2:] == ["简述", "提交时间"]
    assert f"{world.money.name}（万元）" in header or any(h.endswith(f"·{world.money.name}（万元）") for h in header)
    by_id = {int(row[0]): dict(zip(header, row, strict=True)) for row in rows[1:]}
    assert set(by_id) == {world.a.id, world.b.id}  # 曲靖's activity is outside 昆明
    a = by_id[world.a.id]
    money_col = next(h for h in header if h.endswith(f"{world.money.name}（万元）"))
    count_col = f"{world.count.name}（{world.count.unit}）"
    assert a["活动日期"] == f"{YEAR}-03-05" and a["状态"] == "已通过" and a["县（市、区）"] == world.wuhua.name
    assert a["实事"] == world.task.name and a["记录人"] == "张三" and a["参与委员人数"] == "2"
    assert a[money_col] == "12.50" and a[count_col] == "3"
    assert a["简述"].startswith("'=SUM")  # never a formula in Excel
    assert "138****5678" in a["简述"]
    b = by_id[world.b.id]
    assert b[money_col] == "8.00" and b[count_col] == "" and b["状态"] == "待审核"
    other_task_col = next(h for h in header if h.startswith("发展产业项目"))
    assert a[other_task_col] == ""  # the activity's task lacks it
    text = r.content.decode("utf-8-sig")
    assert not any(phone in text for phone in world.phones) and "13812345678" not in text


def test_csv_filters_by_status_place_and_task(client, session, world):
    f.login_as(client, session, f.persona(session, "province_staff"))
    ids = lambda **p: {int(row[0]) for row in _csv(client.get("/exports/activities.csv", params={"period": f"{YEAR}", **p}))[1:]}  # noqa: E731
    assert ids(org="530100", status="verified") == {world.a.id}
    assert ids(org="530103", by="place") == {world.b.id}  # done in 盘龙区, credited to 五华区
    assert ids(org="530103") == set()
    assert ids(org="530000", task=str(world.task.id)) >= {world.a.id, world.b.id, world.c.id}
    assert ids(org="530000", period=f"{YEAR}-q2") >= {world.b.id} and world.a.id not in ids(org="530000", period=f"{YEAR}-q2")


def test_outsider_sees_no_rows_of_another_county_and_404_outside_scope(client, session, world):
    f.login_as(client, session, f.persona(session, "outsider_staff"))  # 曲靖
    rows = _csv(client.get("/exports/activities.csv", params={"org": "530300", "period": f"{YEAR}"}))
    assert {int(r[0]) for r in rows[1:]} == {world.c.id}
    assert client.get("/exports/activities.csv", params={"org": "530100", "period": f"{YEAR}"}).status_code == 404
    assert client.get("/exports", params={"org": "530102"}).status_code == 404
    assert client.post("/exports/jobs", data={"org": "530100", "period": f"{YEAR}"}).status_code == 404


def test_bad_filters_are_refused_in_chinese(client, session, world):
    f.login_as(client, session, f.persona(session, "province_staff"))
    for params in ({"org": "530000", "period": f"{YEAR}-13"}, {"org": "530000", "status": "lost"},
                   {"org": "530000", "task": "abc"}, {"org": "530000", "by": "moon"}, {"period": f"{YEAR}"}):
        r = client.get("/exports/activities.csv", params=params)
        assert r.status_code == 422, params
        assert "请" in r.text or "有误" in r.text or "没有" in r.text
        assert "导出条件有误" in r.text or "请选择组织" in r.text
    page = client.get("/exports", params={"org": "530000", "period": "nope"})
    assert page.status_code == 422 and "统计期间" in page.text


def test_export_page_shows_the_count_and_the_actions(client, session, world):
    f.login_as(client, session, f.persona(session, "prefecture_staff"))
    page = client.get("/exports", params={"org": "530100", "period": f"{YEAR}"})
    assert page.status_code == 200
    assert "共 <strong>2</strong> 条活动" in page.text and "下载 CSV" in page.text and "生成 Excel" in page.text
    assert "还没有 Excel 导出" in page.text
    empty = client.get("/exports", params={"org": "530100", "period": f"{YEAR - 1}"})
    assert "没有可导出的活动" in empty.text and "生成 Excel" not in empty.text


def test_member_without_reading_role_gets_a_clear_404(client, session, world):
    f.login_as(client, session, world.recorder)
    r = client.get("/exports")
    assert r.status_code == 404 and "没有可导出" in r.text


def test_csv_export_is_audited(client, session, world):
    from sqlalchemy import select

    from app.models import AuditLog

    staff = f.persona(session, "province_staff")
    f.login_as(client, session, staff)
    _csv(client.get("/exports/activities.csv", params={"org": "530100", "period": f"{YEAR}"}))
    entry = session.scalar(select(AuditLog).where(AuditLog.action == "export.activities.csv",
                                                  AuditLog.actor_user_id == staff.id))
    assert entry is not None and '"org": "530100"' in entry.after


def test_xlsx_splits_sheets_at_the_limit_and_keeps_numbers(tmp_path):
    cols = [*exports.FIXED_HEAD, exports.Column("金额（万元）", "money", 12, 1), *exports.FIXED_TAIL]
    rows = ((n, date(YEAR, 1, 1), "已通过", "方向", "实事", "县", "", "单位", "", "人", 1, 1234, "=1+1", None)
            for n in range(1, 6))
    path = tmp_path / "x.xlsx"
    assert exports.write_xlsx(path, cols, rows, sheet_rows=2) == 5
    wb = load_workbook(path)
    assert wb.sheetnames == ["活动明细", "活动明细（2）", "活动明细（3）"]
    ws = wb["活动明细"]
    assert ws.freeze_panes == "A2" and ws["A1"].value == "编号"
    assert ws["L2"].value == 12.34 and ws["L2"].number_format == "0.00" and ws["A2"].value == 1
    assert ws["M2"].value == "=1+1" and ws["M2"].data_type == "s"
    assert [r[0].value for r in wb["活动明细（3）"].iter_rows(min_row=2)] == [5]


# --- the Excel job, end to end on a committed database ---------------------------------------------

def _seed(url: str) -> dict:
    from app.db import make_engine, write_session
    from app.seed.province import init_province

    engine = make_engine(url)
    with write_session(engine) as s:
        init_province(s, "53")
        w = World(s)
        owner = f.with_password(s, f.persona(s, "prefecture_staff"))
        other = f.with_password(s, f.persona(s, "province_admin"))
        s.commit()
        out = {"owner": owner.login, "other": other.login, "ids": {w.a.id, w.b.id}, "money": w.money.name}
    engine.dispose()
    return out


def _login(client, login: str) -> None:
    import re

    client.get("/login")
    anon = client.cookies.get("szt_csrf")
    r = client.post("/login", data={"login": login, "password": f.PASSWORD, "csrf_token": anon, "next": "/exports"})
    assert r.status_code == 200, r.text[:300]
    token = re.search(r'"X-CSRF-Token": "([^"]+)"', r.text).group(1)
    client.headers["X-CSRF-Token"] = token


def test_xlsx_job_runs_in_the_background_and_only_its_owner_downloads(fresh_url, use_database):
    from fastapi.testclient import TestClient

    from app.main import create_app

    seeded = _seed(fresh_url)
    use_database(fresh_url)
    app = create_app()
    with TestClient(app, base_url="http://testserver") as owner, TestClient(app, base_url="http://testserver") as other:
        _login(owner, seeded["owner"])
        _login(other, seeded["other"])
        r = owner.post("/exports/jobs", data={"org": "530100", "period": f"{YEAR}", "by": "org"}, follow_redirects=False)
        assert r.status_code == 303, r.text[:300]
        job_url = r.headers["location"]
        deadline = time.monotonic() + 30
        while True:
            page = owner.get(job_url, headers={"HX-Request": "true"})
            assert page.status_code == 200
            if "已完成" in page.text:
                break
            assert "失败" not in page.text, page.text
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert "hx-trigger" not in page.text  # finished: the polling stops
        assert "2 / 2" in page.text and "下载 Excel" in page.text
        assert other.get(job_url).status_code == 404
        assert other.get(job_url + "/download").status_code == 404
        download = owner.get(job_url + "/download")
        assert download.status_code == 200 and download.headers["content-type"].startswith(exports.XLSX)
        assert "filename*=UTF-8''" in download.headers["content-disposition"]
        assert "我最近的 Excel 导出" in owner.get("/exports").text
    wb = load_workbook(io.BytesIO(download.content))
    ws = wb["活动明细"]
    rows = list(ws.iter_rows(values_only=True))
    header = rows[0]
    assert list(header[:11]) == HEAD and ws.freeze_panes == "A2"
    assert {r[0] for r in rows[1:]} == seeded["ids"] and len(rows) == 3
    money_at = next(n for n, h in enumerate(header) if h.endswith(f"{seeded['money']}（万元）"))
    assert sorted(r[money_at] for r in rows[1:]) == [8.0, 12.5]  # numbers, not text
    assert all(isinstance(r[0], int) and isinstance(r[10], int) for r in rows[1:])


def _queued_export(engine, login: str) -> tuple[Principal, int, int]:
    """The owner's export of 昆明市 for the year, queued through the page's use case: (principal, user id, job id)."""
    from sqlalchemy import select

    from app.auth.service import build_principal
    from app.db import write_session
    from app.models import UserAccount

    with write_session(engine) as s:
        user = s.scalar(select(UserAccount).where(UserAccount.login == login))
        by = build_principal(s, user)
        scope = exports.parse_scope(s, by, org="530100", period=f"{YEAR}", status="", task=None, scope_by="org")
        return by, user.id, jobs.create_job(s, by, scope).id


def test_an_export_whose_worker_was_lost_is_written_again_by_another(fresh_url, clock):
    from datetime import timedelta

    from app.db import make_engine, read_session
    from app.jobs import service as background
    from app.models import BackgroundJob

    seeded = _seed(fresh_url)
    engine = make_engine(fresh_url)
    db = background.Databases(engine)
    try:
        by, _, job_id = _queued_export(engine, seeded["owner"])
        start = clock.now()
        clock.freeze(start)
        lost = background.claim(db, "crashed-host:77:x")  # its process died half-way through the file
        assert lost is not None and lost.id == job_id
        (jobs.export_dir() / f"{job_id}-half.xlsx.part").write_bytes(b"half")
        clock.freeze(start + timedelta(seconds=background.STALE_SECONDS + 5))
        assert background.recover_stale(db) == ([job_id], [])
        assert background.run_pending(db) == 1
        with read_session(engine) as s:
            row = s.get(BackgroundJob, job_id)
            assert (row.status, row.progress_done, row.progress_total, row.attempts) == ("done", 2, 2, 2)
            key = jobs.file_key(jobs.job_for_owner(s, by, job_id))
        assert load_workbook(io.BytesIO(get_storage().get(key)))["活动明细"].max_row == 3
        assert not list(jobs.export_dir().glob("*.part"))  # the cut-off run's half file is gone
    finally:
        engine.dispose()


def test_an_export_that_fails_says_why_in_chinese(fresh_url):
    from sqlalchemy import delete

    from app.db import make_engine, read_session, write_session
    from app.jobs import service as background
    from app.models import RoleGrant

    seeded = _seed(fresh_url)
    engine = make_engine(fresh_url)
    try:
        by, user_id, job_id = _queued_export(engine, seeded["owner"])
        with write_session(engine) as s:
            # Before a worker takes it, the owner loses the grant that let them read 昆明市.
            s.execute(delete(RoleGrant).where(RoleGrant.user_id == user_id))
            s.commit()
        background.run_pending(background.Databases(engine))
        with read_session(engine) as s:
            job = jobs.job_for_owner(s, by, job_id)
            assert job.status == "failed" and job.error.startswith("导出失败：") and jobs.label(job) == "失败"
    finally:
        engine.dispose()
