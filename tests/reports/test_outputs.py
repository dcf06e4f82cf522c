"""Word, Excel, the page, the API and the command line say the same; frozen reports do not move;
scope and permissions."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date
from io import BytesIO

import pytest
from docx import Document
from openpyxl import load_workbook
from sqlalchemy import select

from app.boards import periods
from app.models import AuditLog, FrozenReport
from app.reports.docx import to_docx
from app.reports.service import build_report, freeze_report
from app.reports.xlsx import to_xlsx
from tests import factories as f
from tests.reports.conftest import TODAY, YEAR

pytestmark = pytest.mark.dates


@pytest.fixture(autouse=True)
def _today(clock):  # the pages' and the CLI's "today" is the tests' known day
    clock.freeze_on(TODAY)


def test_docx_holds_the_narrative_tables_and_caption(world, q3):
    world.standard()
    report = build_report(world.s, world.kunming, q3)
    doc = Document(BytesIO(to_docx(report)))
    texts = [p.text for p in doc.paragraphs]
    assert texts[0] == report["title"]
    assert texts[1] == "".join(report["paragraphs"][0]) and texts[2] == "".join(report["paragraphs"][1])
    assert "销售金额112.5万元" in texts[1]
    assert texts[-1].startswith("数据范围：昆明市政协及其下级组织") and "（北京时间）" in texts[-1]
    units = doc.tables[0]
    header = [c.text for c in units.rows[0].cells]
    assert header[:2] == ["组织", "已审核活动（次）"]
    rows = {r.cells[0].text: [c.text for c in r.cells] for r in units.rows[1:]}
    money = header.index("农产品销售·销售金额（万元）")
    assert rows["五华区政协"][1] == "4" and rows["五华区政协"][money] == "112.5" and rows["合计"][1] == "4"


def report_score(report) -> int:
    return next(t for t in report["tables"] if t["key"] == "members")["rows"][0][4]


def test_xlsx_has_a_sheet_per_table_with_numbers_as_numbers(world, q3):
    world.standard()
    report = build_report(world.s, world.kunming, q3)
    wb = load_workbook(BytesIO(to_xlsx(report)))
    assert wb.sheetnames == ["报告正文", "下级组织", "成效", "重点帮扶县", "排名与落后", "典型委员", "分界别"]  # 分专委会: 昆明 has no committees here
    assert wb["报告正文"]["A2"].value == "".join(report["paragraphs"][0])
    ws = wb["下级组织"]
    assert ws.freeze_panes == "B3"
    header = [c.value for c in ws[2]]
    rows = {r[0]: r for r in ws.iter_rows(min_row=3, values_only=True)}
    wuhua = rows["五华区政协"]
    assert wuhua[1] == 4 and isinstance(wuhua[1], int)
    assert wuhua[header.index("农产品销售·销售金额（万元）")] == 112.5
    assert wuhua[header.index("特色产业与技术服务·发展产业项目（个）")] == 2
    assert wuhua[header.index("参与率")] == pytest.approx(0.5)
    assert ws.cell(3 + list(rows).index("五华区政协"), header.index("参与率") + 1).number_format == "0.0%"
    assert ws.column_dimensions["A"].width >= 10
    members = wb["典型委员"]
    first = next(members.iter_rows(min_row=3, values_only=True))
    assert first[4] == report_score(report) and first[5] == 4 and isinstance(first[5], int)  # 证据得分, 已审核活动
    assert wb["重点帮扶县"]["A3"].value == "五华区政协"


def test_page_api_and_cli_agree(client, session, world, monkeypatch, capsys):
    world.standard()
    f.login_as(client, session, world.staff)
    page = client.get(f"/reports?org=530100&period={YEAR}-ytdq3")
    assert page.status_code == 200
    report = build_report(session, world.kunming, periods.parse(f"{YEAR}-ytdq3", TODAY))
    for para in report["paragraphs"]:
        assert "".join(para) in page.text
    assert f'href="/boards/530102/activities?period={YEAR}-ytdq3&amp;task={world.t1.id}"' in page.text
    assert 'action="/reports/freeze"' in page.text and f"/reports/report.docx?org=530100&amp;period={YEAR}-ytdq3" in page.text
    fragment = client.get(f"/reports?org=530102&period={YEAR}-q3", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and 'id="preview"' in fragment.text and "<html" not in fragment.text

    api = client.get(f"/api/v1/reports/summary?org=530100&from={YEAR}-01&to={YEAR}-09")
    assert api.status_code == 200
    body = api.json()
    assert body["period_key"] == f"{YEAR}-ytdq3" and body["title"] == report["title"]
    assert body["narrative"] == report["text"] and body["activities"] == 4
    sales = next(i for t in body["figures"] for i in t["indicators"] if i["id"] == world.sales_money.id)
    assert (sales["verified"], sales["text"]) == (11250, "112.5")

    import app.cli as cli

    @contextmanager
    def _same_session():
        yield session

    monkeypatch.setattr(cli, "read_session", _same_session)
    assert cli.main(["report", "--org", "530100", "--from", f"{YEAR}-01", "--to", f"{YEAR}-09"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == report["title"]  # 2026-01..2026-09 is the page's 2026-ytdq3
    for para in report["paragraphs"]:
        assert "".join(para) in out


def test_cli_writes_files_and_refuses_bad_input(session, world, monkeypatch, capsys, tmp_path):
    import app.cli as cli

    world.standard()

    @contextmanager
    def _same_session():
        yield session

    monkeypatch.setattr(cli, "read_session", _same_session)
    out = tmp_path / "r.xlsx"
    assert cli.main(["report", "--org", "530102", "--from", f"{YEAR}-07", "--to", f"{YEAR}-09", "--format", "xlsx",
                     "--out", str(out)]) == 0
    assert load_workbook(out)["下级组织"]["A3"].value == "本组织没有下级组织。"
    docx_out = tmp_path / "r.docx"
    assert cli.main(["report", "--org", "530102", "--from", f"{YEAR}-07", "--to", f"{YEAR}-09", "--format", "docx",
                     "--out", str(docx_out)]) == 0
    assert "开展农产品线上线下销售活动3次" in Document(str(docx_out)).paragraphs[1].text
    capsys.readouterr()
    assert cli.main(["report", "--org", "530102", "--from", f"{YEAR - 1}-11", "--to", f"{YEAR}-02"]) == 2
    assert "同一年" in capsys.readouterr().err
    assert cli.main(["report", "--org", "999999", "--from", f"{YEAR}-01", "--to", f"{YEAR}-02"]) == 2
    assert "没有代码为 999999 的组织" in capsys.readouterr().err
    assert cli.main(["report", "--org", "abc", "--from", f"{YEAR}-01", "--to", f"{YEAR}-02"]) == 2
    assert cli.main(["report", "--org", "530102", "--from", f"{YEAR}-1", "--to", f"{YEAR}-02"]) == 2
    assert "YYYY-MM" in capsys.readouterr().err
    assert cli.main(["report", "--org", "530102", "--from", f"{YEAR}-01", "--to", f"{YEAR}-02", "--format", "docx"]) == 2


def test_downloads_from_the_page(client, session, world):
    world.standard()
    f.login_as(client, session, world.viewer)
    word = client.get(f"/reports/report.docx?org=530102&period={YEAR}-ytdq3")
    assert word.status_code == 200 and word.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "开展义医义诊1次" in Document(BytesIO(word.content)).paragraphs[1].text
    excel = client.get(f"/reports/report.xlsx?org=530102&period={YEAR}-ytdq3&compare=1")
    assert excel.status_code == 200
    assert "较上一期" in load_workbook(BytesIO(excel.content))["报告正文"]["A4"].value
    assert client.get("/reports/report.pdf?org=530102").status_code == 404


def test_frozen_report_stays_identical_after_new_activities(client, session, world):
    world.standard()
    frozen = freeze_report(session, by=world.p(world.staff), org=world.kunming,
                           period=periods.parse(f"{YEAR}-ytdq3", TODAY))
    docx, xlsx, content = bytes(frozen.docx), bytes(frozen.xlsx), frozen.content
    audit = session.scalar(select(AuditLog).where(AuditLog.action == "report.freeze",
                                                  AuditLog.target_id == str(frozen.id)))
    assert audit is not None and audit.actor_user_id == world.staff.id and audit.org_id == world.kunming.id

    world.verify(world.log("later", world.t2, {world.sales.id: 7, world.sales_money.id: "3"}, on=date(YEAR, 9, 1)))
    fresh = build_report(session, world.kunming, periods.parse(f"{YEAR}-ytdq3", TODAY))
    assert "开展农产品线上线下销售活动10次" in fresh["text"]

    f.login_as(client, session, world.viewer)
    listing = client.get("/reports/frozen")
    assert listing.status_code == 200 and frozen.title in listing.text
    got_docx = client.get(f"/reports/frozen/{frozen.id}.docx")
    got_xlsx = client.get(f"/reports/frozen/{frozen.id}.xlsx")
    assert got_docx.content == docx and got_xlsx.content == xlsx
    session.expire_all()
    assert session.get(FrozenReport, frozen.id).content == content
    assert "开展农产品线上线下销售活动3次" in Document(BytesIO(got_docx.content)).paragraphs[1].text


def test_freezing_through_the_page_is_for_staff(client, session, world):
    world.standard()
    csrf = f.login_as(client, session, world.viewer)
    page = client.get(f"/reports?org=530100&period={YEAR}-ytdq3")
    assert 'action="/reports/freeze"' not in page.text
    denied = client.post("/reports/freeze", data={"org": "530100", "period": f"{YEAR}-ytdq3", "csrf_token": csrf})
    assert denied.status_code == 403

    client.cookies.clear()
    csrf = f.login_as(client, session, world.staff)
    done = client.post("/reports/freeze", data={"org": "530100", "period": f"{YEAR}-ytdq3", "csrf_token": csrf},
                       follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith("/reports/frozen?new=")
    assert session.scalar(select(FrozenReport).where(FrozenReport.org_id == world.kunming.id)) is not None


def test_outsiders_and_bad_input(client, session, world):
    world.standard()
    frozen = freeze_report(session, by=world.p(world.staff), org=world.kunming, period=periods.parse(f"{YEAR}-q3", TODAY))
    csrf = f.login_as(client, session, world.outsider)  # 曲靖 staff
    assert client.get("/reports?org=530100").status_code == 404
    assert client.get(f"/reports/report.docx?org=530102&period={YEAR}-q3").status_code == 404
    assert client.get(f"/api/v1/reports/summary?org=530100&from={YEAR}-01&to={YEAR}-03").status_code == 404
    assert client.get(f"/reports/frozen/{frozen.id}.docx").status_code == 404
    assert frozen.title not in client.get("/reports/frozen").text
    assert client.post("/reports/freeze", data={"org": "530100", "period": f"{YEAR}-q3", "csrf_token": csrf}).status_code == 404
    own = client.get("/reports")  # their own prefecture by default
    assert own.status_code == 200 and "曲靖市政协" in own.text and "昆明市政协" not in own.text

    assert client.get(f"/reports?org=530300&period={YEAR}-q9").status_code == 422
    assert client.get("/reports?org=abc").status_code == 422
    assert client.get("/reports?org=999999").status_code == 404
    bad = client.get(f"/api/v1/reports/summary?org=530300&from={YEAR - 1}-11&to={YEAR}-02")
    assert bad.status_code == 422 and bad.json()["code"] == "bad_period" and "同一年" in bad.json()["detail"]
    assert client.get(f"/api/v1/reports/summary?org=530300&from={YEAR}-1&to={YEAR}-02").status_code == 422
    assert client.get(f"/api/v1/reports/summary?org=530300&from={YEAR}-12&to={YEAR}-12").status_code == 422  # not begun
    assert client.get("/api/v1/reports/summary?org=530300").status_code == 422
    assert client.get("/reports/frozen/99999999.docx").status_code == 404

    client.cookies.clear()
    assert client.get(f"/api/v1/reports/summary?org=530300&from={YEAR}-01&to={YEAR}-02").status_code == 401
    assert client.get("/reports", follow_redirects=False).status_code == 303  # to the login page


def test_nav_links_to_reports_for_readers(client, session, world):
    f.login_as(client, session, world.viewer)
    assert 'href="/reports"' in client.get("/reports").text
    client.cookies.clear()
    f.login_as(client, session, world.member)
    assert client.get("/reports").status_code == 404  # a member reads no organisation's figures


def test_mobilisation_in_the_sentence_page_word_and_excel(client, session, world):
    """「委员动员面达到X%，参与率达到X%」 once members are reached; 「自X年X月起统计」 for a period that
    began before tracking; a frozen report keeps what it said (「未统计」) after tracking begins."""
    from datetime import datetime

    from app.clock import CN
    from app.rollup import reach

    world.standard()
    q3 = periods.parse(f"{YEAR}-q3", TODAY)
    frozen = freeze_report(session, by=world.p(world.staff), org=world.wuhua, period=q3)
    assert "全区政协委员动员面未统计，参与率达到50%" in frozen.content

    reach.mark(session, [world.idle.id], datetime(YEAR, 8, 5, 9, tzinfo=CN), via="notified")
    report = build_report(session, world.wuhua, q3)
    sentence = f"全区政协委员动员面达到50%（自{YEAR}年8月起统计），参与率达到50%，共有1名委员参与。"
    assert report["paragraphs"][1] == [sentence]
    assert report["mobilisation"] == {"active": 2, "reached": 1, "rate": 0.5, "since": f"{YEAR}-08"}
    august = build_report(session, world.wuhua, periods.parse(f"{YEAR}-08", TODAY))
    assert august["paragraphs"][1] == ["全区政协委员动员面达到50%，参与率达到50%，共有1名委员参与。"]
    assert sentence in [p.text for p in Document(BytesIO(to_docx(report))).paragraphs]
    sheet = load_workbook(BytesIO(to_xlsx(report)))["报告正文"]
    assert sentence in [row[0] for row in sheet.iter_rows(values_only=True)]

    f.login_as(client, session, world.staff)
    page = client.get(f"/reports?org=530102&period={YEAR}-q3")
    assert sentence in page.text and f"50.0%（1 / 2 名，自{YEAR}年8月起统计）" in page.text
    assert any("全区政协委员动员面未统计" in p.text for p in Document(BytesIO(bytes(frozen.docx))).paragraphs)
