"""Reading real files: merged and two-row headers, title rows, blank rows, numbers and dates as Excel
stores them, the example row, unreadable and header-less files."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from openpyxl import Workbook

from app.errors import Invalid
from app.imports.base import BadCell, get_kind, parse_date, parse_int, parse_phone, read_rows
from tests.imports.conftest import fill, to_csv

COLUMNS = get_kind("members").columns


def _xlsx(build) -> bytes:
    wb = Workbook()
    build(wb.active)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_merged_title_and_two_row_header_with_excel_types():
    def build(ws):
        ws["A1"] = "2026年五华区政协委员名单"
        ws.merge_cells("A1:F1")
        # Row 2–3: 姓名 and 组织代码 merged over both rows; 联系方式 a group over 手机号码.
        ws["A2"], ws["B2"], ws["C2"], ws["D2"], ws["E2"] = "序号", "姓名", "联系方式", "组织代码", "界别"
        ws.merge_cells("B2:B3")
        ws.merge_cells("D2:D3")
        ws.merge_cells("E2:E3")
        ws["C3"] = "手机号码"
        ws["F2"] = "任职开始日期"
        ws.merge_cells("F2:F3")
        ws.append([1, "张一", 13912340001, 530102, "经济界", datetime(2026, 3, 1)])
        ws.append([2, "张二", "１３９１２３４０００２", "530102", "经济界", "2026.3.2"])
        for _ in range(5):
            ws.append([None] * 6)  # trailing blank rows, as Excel keeps formatted ones
        ws.cell(row=30, column=1, value=None)
    rows = read_rows(_xlsx(build), "名单.xlsx", COLUMNS)
    assert [r.number for r in rows] == [4, 5]
    first, second = rows
    assert (first.get("name"), first.get("phone"), first.get("org_code"), first.get("start")) == (
        "张一", "13912340001", "530102", "2026-03-01")
    assert parse_phone(second.get("phone")) == "13912340002"
    assert parse_date(second.get("start")).isoformat() == "2026-03-02"
    assert not first.has("role")  # the file has no 身份 column: kept as stored, not cleared


def test_example_row_skipped_only_right_under_the_header(session, world):
    example = [c.example for c in COLUMNS]
    data = fill(session, world.admin, "members", [example], keep_example=True)
    rows = read_rows(data, "t.xlsx", COLUMNS)
    assert [r.number for r in rows] == [3]  # the example left at row 2 is skipped, a copy further down is not


def test_tab_separated_and_gb18030_csv():
    text = "姓名\t手机号\t组织代码\t界别\n张三\t13912340003\t530102\t经济界\n"
    rows = read_rows(text.encode("gb18030"), "a.csv", COLUMNS)
    assert rows[0].get("name") == "张三" and rows[0].get("sector") == "经济界"


def test_unreadable_headerless_and_missing_columns():
    with pytest.raises(Invalid, match="无法读取该文件"):
        read_rows(b"PK\x03\x04 not really a zip", "a.xlsx", COLUMNS)
    with pytest.raises(Invalid, match=r"旧版 \.xls"):
        read_rows(b"\xd0\xcf\x11\xe0 old excel", "a.xls", COLUMNS)
    with pytest.raises(Invalid, match="找不到表头"):
        read_rows(to_csv([["a", "b"], ["1", "2"]]), "a.csv", COLUMNS)
    with pytest.raises(Invalid) as exc:
        read_rows(to_csv([["姓名", "手机号"], ["张三", "13912340003"]]), "a.csv", COLUMNS)
    assert exc.value.message == "文件缺少必填列：「组织代码」、「界别」；请使用本页提供的模板"


def test_empty_file_is_refused(session, world):
    with pytest.raises(Invalid, match="没有数据行"):
        world.preview(world.admin, "members", fill(session, world.admin, "members", []))


@pytest.mark.parametrize("raw, wanted", [
    ("2026-03-01", "2026-03-01"), ("2026/3/1", "2026-03-01"), ("2026.3.1", "2026-03-01"),
    ("2026年3月1日", "2026-03-01"), ("２０２６年３月１日", "2026-03-01"), ("20260301", "2026-03-01"),
    ("46082", "2026-03-01"), ("46082.0", "2026-03-01"), ("2026-03-01 00:00:00", "2026-03-01"),
])
def test_dates(raw, wanted):
    assert parse_date(raw).isoformat() == wanted


@pytest.mark.parametrize("raw", ["2026-02-30", "3/1/2026", "明天", "123"])
def test_bad_dates(raw):
    with pytest.raises(BadCell, match="无法识别"):
        parse_date(raw)


@pytest.mark.parametrize("raw", ["139 1234 0001", "+86 139-1234-0001", "１３９１２３４０００１", "13912340001.0", "(139)12340001"])
def test_phones(raw):
    assert parse_phone(raw) == "13912340001"


def test_ints():
    assert parse_int("１,２００") == 1200 and parse_int("12.0") == 12
    with pytest.raises(BadCell):
        parse_int("1.5")


def test_a_phone_is_read_by_the_members_own_rule():
    from app.errors import Invalid
    from app.manage.service import member_phone

    for raw in ("１３９ 1234-0001", "+86 13912340001", "13912340001.0", "(139)12340001"):
        assert parse_phone(raw) == member_phone(raw) == "13912340001"
    for raw in ("12812340001", "1391234000", "139abc40001"):
        with pytest.raises(BadCell) as cell:
            parse_phone(raw)
        with pytest.raises(Invalid) as form:
            member_phone(raw)
        assert str(cell.value) == form.value.message == f"手机号「{raw}」格式不正确，应为 11 位手机号码"
