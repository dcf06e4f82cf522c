"""The targets page: the grid, HTMX and plain saves with errors inline, the Excel export and the
import with its preview and confirmation."""

from __future__ import annotations

import re
from io import BytesIO

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.models import AnnualTarget, AuditLog
from app.targets import excel
from tests import factories as f
from tests.targets.conftest import YEAR

pytestmark = pytest.mark.dates

HX = {"HX-Request": "true"}
TICKET = re.compile(r'name="ticket" value="([^"]*)"')
FINGERPRINT = re.compile(r'name="fingerprint" value="([^"]*)"')


def _login(client, session, user):
    f.login_as(client, session, user)
    return user


def _targets(session) -> int:
    return session.scalar(select(func.count()).select_from(AnnualTarget))


def _grid_form(page: str) -> dict[str, str]:
    """Every field of the grid form as the browser would send it back unchanged."""
    form = page[page.index('id="targets-grid"'):]
    fields = dict(re.findall(r'name="((?:org|year|csrf_token|[vo]-\d+-\d+))" value="([^"]*)"', form))
    return fields


# --- the grid ---------------------------------------------------------------------------------------

def test_the_grid_renders_for_staff(client, session, world):
    world.put(world.wuhua, world.money, 1250)
    _login(client, session, world.prefecture_staff)
    r = client.get("/targets")
    assert r.status_code == 200 and "<html" in r.text
    assert "年度目标" in r.text and f'<option value="{YEAR}" selected>' in r.text
    assert 'option value="530100" selected' in r.text  # the top staff organisation by default
    assert "五华区" in r.text and "盘龙区" in r.text and "医疗帮扶" in r.text and "（万元）" in r.text
    assert f'name="v-{world.wuhua.id}-{world.money.id}" value="12.5"' in r.text
    assert f'name="o-{world.wuhua.id}-{world.money.id}" value="12.5"' in r.text
    assert 'class="grid-scroll"' in r.text and "下级合计" in r.text
    assert 'href="/targets/export.xlsx?org=530100&amp;year=' in r.text and 'enctype="multipart/form-data"' in r.text
    assert '<a href="/targets">年度目标</a>' in r.text  # the nav link


def test_the_org_picker_offers_only_the_staff_scope(client, session, world):
    _login(client, session, world.county_staff)
    r = client.get("/targets")
    options = re.findall(r'<option value="(\d{6})"', r.text)
    assert options == ["530102"]
    assert "没有下一级组织" in r.text and "下级合计" not in r.text


def test_choosing_another_org_with_htmx_answers_the_workspace(client, session, world):
    _login(client, session, world.prefecture_staff)
    r = client.get("/targets", params={"org": "530102", "year": YEAR + 1}, headers=HX)
    assert r.status_code == 200 and "<html" not in r.text
    assert r.text.lstrip().startswith('<div id="targets-workspace">')
    assert f"上一级：{world.kunming.name}" in r.text
    assert f'<option value="{YEAR + 1}" selected>' in r.text


@pytest.mark.parametrize("who, status", [("member", 403), ("viewer", 403), ("kunming_viewer", 403)])
def test_non_staff_are_refused(client, session, world, who, status):
    _login(client, session, getattr(world, who))
    r = client.get("/targets")
    assert r.status_code == status and "只有「双助推」办公室人员可以设置年度目标" in r.text
    assert '<a href="/targets">' not in r.text


def test_outside_the_scope_is_not_found(client, session, world):
    _login(client, session, world.county_staff)
    for code in ("530100", "530103", "530300", "999999", "abc"):
        r = client.get("/targets", params={"org": code})
        assert r.status_code == 404, code
    assert client.get("/targets/export.xlsx", params={"org": "530100"}).status_code == 404


def test_a_bad_year_is_a_clear_error(client, session, world):
    _login(client, session, world.county_staff)
    assert "年份须在 2020" in client.get("/targets", params={"year": "1999"}).text
    r = client.get("/targets", params={"year": "20x6"})
    assert r.status_code == 422 and "年份格式不正确" in r.text


def test_anonymous_is_sent_to_login(client):
    r = client.get("/targets", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=/targets")


# --- saving -------------------------------------------------------------------------------------------

def test_htmx_save_answers_the_grid_with_what_was_saved(client, session, world):
    _login(client, session, world.prefecture_staff)
    fields = _grid_form(client.get("/targets").text)
    fields[f"v-{world.kunming.id}-{world.count.id}"] = "300"
    fields[f"v-{world.wuhua.id}-{world.money.id}"] = "88.8"
    r = client.post("/targets", data=fields, headers=HX)
    assert r.status_code == 200 and "<html" not in r.text
    assert r.text.lstrip().startswith('<form id="targets-grid"')
    assert "已保存：新增 2 项" in r.text
    assert f'name="v-{world.wuhua.id}-{world.money.id}" value="88.8"' in r.text
    assert f'name="o-{world.wuhua.id}-{world.money.id}" value="88.8"' in r.text
    assert world.target(world.kunming, world.count) == 300 and world.target(world.wuhua, world.money) == 8880
    assert session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "target.set")) == 2


def test_errors_come_back_inline_and_nothing_is_saved(client, session, world):
    world.put(world.wuhua, world.count, 5)
    _login(client, session, world.prefecture_staff)
    fields = _grid_form(client.get("/targets").text)
    fields[f"v-{world.kunming.id}-{world.count.id}"] = "300"  # good
    fields[f"v-{world.wuhua.id}-{world.count.id}"] = "2.5"  # a fraction of a count
    fields[f"v-{world.panlong.id}-{world.money.id}"] = "-1"  # negative
    r = client.post("/targets", data=fields, headers=HX)
    assert r.status_code == 422 and "<html" not in r.text
    assert "有 2 项填写有误，全部未保存" in r.text
    assert r.text.count('class="cell-error"') == 2
    assert f"{world.count.name}：请填写整数（单位：次），不能有小数" in r.text
    assert f"{world.money.name}：目标不能为负数" in r.text
    # What was typed stays, so the user fixes only the bad cells.
    assert f'name="v-{world.wuhua.id}-{world.count.id}" value="2.5"' in r.text
    assert f'name="v-{world.kunming.id}-{world.count.id}" value="300"' in r.text
    assert 'aria-invalid="true"' in r.text
    assert world.target(world.kunming, world.count) is None and world.target(world.wuhua, world.count) == 5
    assert _targets(session) == 1


def test_a_plain_form_post_redirects_and_shows_what_was_saved(client, session, world):
    _login(client, session, world.county_staff)
    fields = _grid_form(client.get("/targets").text)
    fields[f"v-{world.wuhua.id}-{world.count.id}"] = "9"
    r = client.post("/targets", data=fields, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/targets?org=530102&year={YEAR}&saved=1"
    assert "已保存 1 项改动" in client.get(r.headers["location"]).text
    assert world.target(world.wuhua, world.count) == 9


def test_a_plain_form_with_errors_gets_the_whole_page_back(client, session, world):
    _login(client, session, world.county_staff)
    fields = _grid_form(client.get("/targets").text)
    fields[f"v-{world.wuhua.id}-{world.money.id}"] = "1.005"
    r = client.post("/targets", data=fields)
    assert r.status_code == 422 and "<html" in r.text and "金额最多两位小数" in r.text
    assert _targets(session) == 0


def test_clearing_a_cell_removes_the_target(client, session, world):
    world.put(world.wuhua, world.count, 5)
    _login(client, session, world.county_staff)
    fields = _grid_form(client.get("/targets").text)
    fields[f"v-{world.wuhua.id}-{world.count.id}"] = ""
    r = client.post("/targets", data=fields, headers=HX)
    assert r.status_code == 200 and "清除 1 项" in r.text
    assert world.target(world.wuhua, world.count) is None


def test_a_save_for_a_cell_outside_the_scope_changes_nothing(client, session, world):
    _login(client, session, world.county_staff)
    fields = _grid_form(client.get("/targets").text)
    fields[f"v-{world.wuhua.id}-{world.count.id}"] = "1"
    fields[f"v-{world.panlong.id}-{world.count.id}"] = "1"  # a sibling county, added by hand
    r = client.post("/targets", data=fields, headers=HX)
    assert r.status_code == 404 and _targets(session) == 0


def test_saving_needs_the_csrf_token(client, session, world):
    _login(client, session, world.county_staff)
    fields = _grid_form(client.get("/targets").text)
    fields[f"v-{world.wuhua.id}-{world.count.id}"] = "1"
    del client.headers["X-CSRF-Token"]
    fields.pop("csrf_token")
    assert client.post("/targets", data=fields).status_code == 403 and _targets(session) == 0


# --- Excel export ---------------------------------------------------------------------------------------

def _export(client, **params) -> bytes:
    r = client.get("/targets/export.xlsx", params=params)
    assert r.status_code == 200 and r.headers["content-type"] == excel.XLSX
    assert "attachment" in r.headers["content-disposition"]
    return r.content


def test_the_export_reads_back_with_numbers_as_numbers(client, session, world):
    world.put(world.kunming, world.count, 120)
    world.put(world.wuhua, world.money, 1250)
    _login(client, session, world.prefecture_staff)
    wb = load_workbook(BytesIO(_export(client, org="530100", year=YEAR)))
    ws = wb[f"{YEAR}年度目标"]
    assert ws.freeze_panes == "C3"
    assert ws.row_dimensions[2].hidden and ws["A2"].value == excel.ID_MARK
    assert ws["A1"].value == "组织代码" and ws["B1"].value == "组织名称"
    headers = [c.value for c in ws[1]]
    ids = [c.value for c in ws[2]]
    money_col = ids.index(world.money.id) + 1
    count_col = ids.index(world.count.id) + 1
    assert headers[money_col - 1] == f"医疗帮扶·{world.money.name}（万元）"
    codes = [ws.cell(r, 1).value for r in range(3, ws.max_row + 1)]
    assert codes[0] == "530100" and "530102" in codes and isinstance(codes[0], str)
    kunming_row, wuhua_row = 3, 3 + codes.index("530102")
    assert ws.cell(kunming_row, count_col).value == 120 and isinstance(ws.cell(kunming_row, count_col).value, int)
    money = ws.cell(wuhua_row, money_col)
    assert money.value == 12.5 and isinstance(money.value, float) and money.number_format == "0.00"
    assert ws.cell(wuhua_row, count_col).value is None and ws.cell(wuhua_row, count_col).number_format == "0"
    assert ws.protection.sheet and not ws.cell(wuhua_row, money_col).protection.locked
    assert ws.column_dimensions["B"].width >= 20
    assert "填写说明" in wb.sheetnames


def test_an_empty_grid_exports_a_template(client, session, world):
    _login(client, session, world.county_staff)
    ws = load_workbook(BytesIO(_export(client)))[f"{YEAR}年度目标"]
    assert [ws.cell(r, 1).value for r in range(3, ws.max_row + 1)] == ["530102"]
    assert all(ws.cell(3, c).value is None for c in range(3, ws.max_column + 1))


# --- Excel import -------------------------------------------------------------------------------------------

def _workbook(data: bytes):
    wb = load_workbook(BytesIO(data))
    return wb, wb.worksheets[0]


def _saved(wb) -> bytes:
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


def _columns(ws) -> dict[int, int]:
    return {c.value: c.column for c in ws[2] if isinstance(c.value, int)}


def _row_of(ws, code: str) -> int:
    return next(r for r in range(3, ws.max_row + 1) if ws.cell(r, 1).value == code)


def _upload(client, data: bytes, year: int = YEAR, org: str = "530100"):
    return client.post("/targets/import", data={"year": str(year), "org": org},
                       files={"file": ("目标.xlsx", data, excel.XLSX)})


def _confirm(client, preview_html: str, year: int = YEAR, org: str = "530100"):
    return client.post("/targets/import/commit", follow_redirects=False, data={
        "ticket": TICKET.search(preview_html).group(1), "fingerprint": FINGERPRINT.search(preview_html).group(1),
        "year": str(year), "org": org})


def test_import_previews_then_commits_and_a_second_import_changes_nothing(client, session, world):
    world.put(world.kunming, world.count, 100)
    world.put(world.panlong, world.count, 40)
    world.put(world.wuhua, world.count, 7)
    _login(client, session, world.prefecture_staff)
    wb, ws = _workbook(_export(client, org="530100", year=YEAR))
    cols = _columns(ws)
    ws.cell(_row_of(ws, "530100"), cols[world.count.id]).value = 150  # update
    ws.cell(_row_of(ws, "530102"), cols[world.money.id]).value = 66.25  # create
    ws.cell(_row_of(ws, "530102"), cols[world.count.id]).value = "8"  # update, typed as text
    ws.cell(_row_of(ws, "530103"), cols[world.count.id]).value = None  # clear
    data = _saved(wb)

    preview = _upload(client, data)
    assert preview.status_code == 200, preview.text
    html = preview.text
    counts = [int(n) for n in re.findall(r'<div class="num">(\d+)</div>', html)]
    assert counts == [1, 2, 0, 1]  # 新增, 修改, 不变, 清除
    assert "将清除 1 项已有目标" in html and "确认导入（4 项改动）" in html
    assert _targets(session) == 3 and world.target(world.kunming, world.count) == 100  # nothing yet

    done = _confirm(client, html)
    assert done.status_code == 303 and done.headers["location"] == f"/targets?org=530100&year={YEAR}&imported=4"
    assert world.target(world.kunming, world.count) == 150 and world.target(world.wuhua, world.money) == 6625
    assert world.target(world.wuhua, world.count) == 8 and world.target(world.panlong, world.count) is None
    actions = session.scalars(select(AuditLog.action).where(AuditLog.target_type == "annual_target")).all()
    assert sorted(actions) == ["target.clear", "target.set", "target.set", "target.set"]
    assert "导入完成：4 项目标已更新" in client.get(done.headers["location"]).text

    again = _upload(client, data)
    assert again.status_code == 200
    assert [int(n) for n in re.findall(r'<div class="num">(\d+)</div>', again.text)] == [0, 0, 3, 0]
    assert "完全一致，无需导入" in again.text and "确认导入" not in again.text


def test_a_file_with_bad_rows_lists_every_error_and_imports_nothing(client, session, world):
    _login(client, session, world.prefecture_staff)
    wb, ws = _workbook(_export(client, org="530100", year=YEAR))
    cols = _columns(ws)
    wuhua, panlong = _row_of(ws, "530102"), _row_of(ws, "530103")
    ws.cell(wuhua, cols[world.count.id]).value = -4
    ws.cell(wuhua, cols[world.money.id]).value = 1.234
    ws.cell(panlong, cols[world.count.id]).value = 2.5
    ws.cell(panlong, cols[world.money.id]).value = "很多"
    ws.cell(_row_of(ws, "530100"), cols[world.count.id]).value = 10  # a good cell: still not imported
    last = ws.max_row
    ws.cell(last + 1, 1).value = "539999"
    ws.cell(last + 2, 1).value = "530300"  # 曲靖: another prefecture
    ws.cell(last + 2, cols[world.count.id]).value = 1
    ws.cell(last + 3, 1).value = "5301"
    ws.cell(last + 3, cols[world.count.id]).value = 1
    ws.cell(last + 4, 1).value = "530102"  # twice
    r = _upload(client, _saved(wb))
    assert r.status_code == 422
    html = r.text
    assert "文件中有 8 处错误，没有导入任何目标" in html
    letter = excel.get_column_letter
    expected = [
        (wuhua, letter(cols[world.count.id]), "目标不能为负数"),
        (wuhua, letter(cols[world.money.id]), "金额最多两位小数"),
        (panlong, letter(cols[world.count.id]), "不能有小数"),
        (panlong, letter(cols[world.money.id]), "请填写金额"),
        (last + 1, "A", "组织代码 539999 不存在"),
        (last + 2, "A", "曲靖市政协（530300）不在您的管辖范围内"),
        (last + 3, "A", "重复出现"),  # 5301 pads to 530100, which row 3 already has
        (last + 4, "A", "重复出现"),
    ]
    rows = re.findall(r'data-label="位置" class="nowrap">([^<]+)</td>\s*<td data-label="列">[^<]*</td>\s*'
                      r'<td data-label="问题">([^<]+)</td>', html)
    assert len(rows) == 8
    for row, column, message in expected:
        assert any(where == f"第 {row} 行，{column} 列" and message in text for where, text in rows), (row, message)
    assert "确认导入" not in html and 'name="ticket"' not in html
    assert _targets(session) == 0


def test_a_file_of_another_year_is_refused(client, session, world):
    _login(client, session, world.county_staff)
    data = _export(client, year=YEAR + 1)
    r = _upload(client, data, year=YEAR, org="530102")
    assert r.status_code == 422 and f"文件是 {YEAR + 1} 年的目标，当前选择的是 {YEAR} 年" in r.text


@pytest.mark.parametrize("mangle, message", [
    (lambda wb, ws: setattr(ws, "title", "Sheet1"), "文件中没有「某年年度目标」工作表"),
    (lambda wb, ws: setattr(ws["A2"], "value", None), "隐藏的第 2 行（指标编号）被改动或删除"),
    (lambda wb, ws: ws.delete_rows(3, ws.max_row), "文件中没有任何组织的目标"),
])
def test_a_mangled_sheet_is_refused_with_a_reason(client, session, world, mangle, message):
    _login(client, session, world.county_staff)
    wb, ws = _workbook(_export(client))
    mangle(wb, ws)
    r = _upload(client, _saved(wb), org="530102")
    assert r.status_code == 422 and message in r.text


def test_not_an_excel_file_or_no_file_is_a_clear_error(client, session, world):
    _login(client, session, world.county_staff)
    r = _upload(client, b"code,value\n530102,5\n", org="530102")
    assert r.status_code == 422 and "无法读取该文件" in r.text
    r = client.post("/targets/import", data={"year": str(YEAR), "org": "530102"})
    assert r.status_code == 422 and "请选择要导入的 Excel 文件" in r.text


def test_an_oversized_upload_is_refused(client, session, world, monkeypatch):
    from app.targets import pages

    monkeypatch.setattr(pages, "MAX_BODY", 10_000)
    _login(client, session, world.county_staff)
    r = _upload(client, b"x" * 20_000, org="530102")
    assert r.status_code == 413


def test_a_confirmation_after_a_change_meanwhile_is_previewed_again(client, session, world):
    world.put(world.wuhua, world.count, 5)
    _login(client, session, world.county_staff)
    wb, ws = _workbook(_export(client))
    ws.cell(3, _columns(ws)[world.count.id]).value = 9
    preview = _upload(client, _saved(wb), org="530102")
    session.execute(AnnualTarget.__table__.update().values(value=6))  # a colleague, meanwhile
    r = _confirm(client, preview.text, org="530102")
    assert r.status_code == 409 and "预览之后目标已有变化" in r.text
    assert world.target(world.wuhua, world.count) == 6
    assert re.search(r"<td data-label=\"原目标\" class=\"num\">6</td>", r.text)
    # Confirming the new preview imports.
    assert _confirm(client, r.text, org="530102").status_code == 303
    assert world.target(world.wuhua, world.count) == 9


def test_a_forged_or_foreign_ticket_imports_nothing(client, session, world):
    _login(client, session, world.county_staff)
    wb, ws = _workbook(_export(client))
    ws.cell(3, _columns(ws)[world.count.id]).value = 9
    preview = _upload(client, _saved(wb), org="530102")
    ticket = TICKET.search(preview.text).group(1)
    fingerprint = FINGERPRINT.search(preview.text).group(1)
    forged = ticket[:-1] + ("0" if ticket[-1] != "0" else "1")
    r = client.post("/targets/import/commit", data={"ticket": forged, "fingerprint": fingerprint,
                                                    "year": str(YEAR), "org": "530102"})
    assert r.status_code == 422 and "导入文件已过期或无效，请重新上传" in r.text
    # Another staff member of the same county cannot confirm this user's upload.
    colleague = f.make_user(session, grants=((f.GrantRole.staff, world.wuhua),))
    _login(client, session, colleague)
    r = client.post("/targets/import/commit", data={"ticket": ticket, "fingerprint": fingerprint,
                                                    "year": str(YEAR), "org": "530102"})
    assert r.status_code == 422 and _targets(session) == 0


def test_the_staged_file_is_removed_after_the_import(client, session, world, uploads_in_tmp):
    _login(client, session, world.county_staff)
    wb, ws = _workbook(_export(client))
    ws.cell(3, _columns(ws)[world.count.id]).value = 9
    preview = _upload(client, _saved(wb), org="530102")
    assert len(list((uploads_in_tmp / "imports").iterdir())) == 1
    assert _confirm(client, preview.text, org="530102").status_code == 303
    assert list((uploads_in_tmp / "imports").iterdir()) == []


def test_members_cannot_import(client, session, world):
    _login(client, session, world.member)
    r = client.post("/targets/import", data={"year": str(YEAR)}, files={"file": ("a.xlsx", b"x", excel.XLSX)})
    assert r.status_code == 403


def test_blank_rows_and_trailing_formatting_are_ignored(client, session, world):
    _login(client, session, world.county_staff)
    wb, ws = _workbook(_export(client))
    ws.cell(3, _columns(ws)[world.count.id]).value = 4
    ws.insert_rows(3)  # an empty line above the data
    ws.cell(3000, 5).number_format = "0.00"  # formatting far below, no value
    r = _upload(client, _saved(wb), org="530102")
    assert r.status_code == 200 and "确认导入（1 项改动）" in r.text


def test_without_a_current_campaign_the_page_says_so(client, session, world):
    from app.models import Campaign

    session.execute(Campaign.__table__.update().values(is_current=False))
    _login(client, session, world.county_staff)
    r = client.get("/targets")
    assert r.status_code == 200 and "尚未载入活动目录" in r.text and 'name="v-' not in r.text
    assert "导出 Excel" not in r.text
