"""Zip bombs and endless blank sheets: an uploaded .xlsx is measured before openpyxl unpacks it, and a
sheet is read only as far as it holds something (app/limits.py check_xlsx, app/imports/base.py)."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from openpyxl import Workbook

from app.errors import Invalid
from app.imports import base
from app.imports.base import ColumnSpec, read_rows
from app.limits import check_xlsx
from app.targets import excel
from tests.imports.conftest import headers, to_csv

PHONE = [ColumnSpec("phone", "手机号", required=True, text=True)]
MB = 1024 * 1024


def _xlsx(*, sheet_tail: bytes = b"", dimension: bytes | None = None, shared: bytes | None = None) -> bytes:
    """A one-column workbook (手机号, one phone), its sheet XML given ``sheet_tail`` (more rows), its
    declared ``dimension`` and its shared strings replaced — built in memory, as an attacker would."""
    wb = Workbook()
    wb.active.append(["手机号"])
    wb.active.append(["13900000001"])
    plain = io.BytesIO()
    wb.save(plain)
    out = io.BytesIO()
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</sheetData>", sheet_tail + b"</sheetData>")
                if dimension:
                    data = re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="' + dimension + b'"/>', data)
            if shared is not None and info.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"</Relationships>", b'<Relationship Id="rIdS" Target="sharedStrings.xml" Type='
                                    b'"http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
                                    b'sharedStrings"/></Relationships>')
            if shared is not None and info.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                                    b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
            z.writestr(info.filename, data)
        if shared is not None:
            z.writestr("xl/sharedStrings.xml", shared)
    return out.getvalue()


def _shared_strings(count: int) -> bytes:
    head = (b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/'
            b'spreadsheetml/2006/main" count="%d" uniqueCount="%d">' % (count, count))
    return head + b"<si><t>13900000001</t></si>" * count + b"</sst>"


@pytest.fixture
def never_opened(monkeypatch):
    """openpyxl must not even open these files."""
    def refuse(*_args, **_kwargs):
        raise AssertionError("openpyxl opened a file that should have been refused first")

    monkeypatch.setattr(base, "load_workbook", refuse)
    monkeypatch.setattr(excel, "load_workbook", refuse)


def test_a_workbook_of_shared_strings_is_refused_before_openpyxl_unpacks_it(never_opened):
    # 30 MB of strings packed into a few hundred KB: openpyxl would hold every one in memory.
    bomb = _xlsx(shared=_shared_strings(30 * MB // 26))
    assert len(bomb) < MB
    with pytest.raises(Invalid) as refused:
        read_rows(bomb, "members.xlsx", PHONE)
    assert refused.value.code == "xlsx_too_large"
    assert refused.value.message.startswith("文件解压后过大（最多 100 MB，其中文字最多 20 MB）")


def test_a_part_packed_a_thousandfold_is_refused(never_opened):
    # Under every size limit, but no sheet compresses like this: 8 MB of one repeated comment.
    bomb = _xlsx(sheet_tail=b"<!--" + b"a" * (8 * MB) + b"-->")
    with pytest.raises(Invalid) as refused:
        read_rows(bomb, "members.xlsx", PHONE)
    assert refused.value.code == "xlsx_too_large"


def test_the_targets_file_has_tighter_limits_and_says_so_as_an_issue(never_opened):
    bomb = _xlsx(shared=_shared_strings(8 * MB // 26))  # fine for an import, not for a targets file
    sheet = excel.read_sheet(bomb)
    assert sheet.rows == [] and len(sheet.issues) == 1
    assert sheet.issues[0].message.startswith("文件解压后过大（最多 20 MB，其中文字最多 5 MB）")


def test_limits_hold_at_their_edges():
    ordinary = _xlsx()
    check_xlsx(ordinary)  # a real workbook passes
    check_xlsx(b"phone\n13900000001\n")  # not a zip: the reader says what it is
    with pytest.raises(Invalid):
        check_xlsx(ordinary, max_unpacked=1024)


def test_a_sheet_of_a_million_blank_rows_declared_16384_columns_wide_is_read_only_while_it_holds_something(
        monkeypatch):
    # Formatting dragged to the sheet's end: 2.5 MB of empty rows that used to hold the import
    # worker for minutes (each padded out to the declared 16,384 columns).
    blank = b"".join(b'<row r="%d"/>' % n for n in range(3, 1_000_003))
    late = b'<row r="1000003"><c r="A1000003" t="inlineStr"><is><t>13900000002</t></is></c></row>'
    sheet = _xlsx(sheet_tail=blank + late, dimension=b"A1:XFD1000003")
    cells = 0
    real_cell_text = base.cell_text

    def counted(value):
        nonlocal cells
        cells += 1
        assert cells <= 1_000_000, "read far past the blank rows"
        return real_cell_text(value)

    monkeypatch.setattr(base, "cell_text", counted)
    rows = read_rows(sheet, "members.xlsx", PHONE)
    assert [r.values["phone"] for r in rows] == ["13900000001"]  # what follows 1,000 blank rows is not read
    assert cells <= (base.MAX_BLANK_RUN + 2) * base.MAX_COLUMNS
    assert rows.blank_from == 3  # … and the preview says so (below)


def test_the_preview_says_where_reading_stopped_and_a_file_read_to_its_end_says_nothing(world):
    one = ["张一", "13912340301", "530102", "经济界"]
    later = ["张二", "13912340302", "530102", "经济界"]
    stopped = world.preview(world.prefecture_staff, "members",
                            to_csv([headers("members"), one, *[[]] * 1_000, later]), "名单.csv")
    assert stopped.created == 1  # 张二 after the blank run is not read …
    assert ("第 3 行起连续 1,000 行为空，之后的内容没有读取；如果后面还有数据，请删除中间的空行后重新上传"
            in stopped.notices)  # … and the preview says so
    whole = world.preview(world.prefecture_staff, "members", to_csv([headers("members"), one, later, [], []]), "名单.csv")
    assert whole.created == 2 and not any("之后的内容没有读取" in n for n in whole.notices)


def test_blank_rows_inside_the_data_are_still_skipped():
    rows = b"".join(b'<row r="%d"/>' % n for n in range(3, 900))
    later = b'<row r="900"><c r="A900" t="inlineStr"><is><t>13900000002</t></is></c></row>'
    found = read_rows(_xlsx(sheet_tail=rows + later, dimension=b"A1:A900"), "members.xlsx", PHONE)
    assert [r.values["phone"] for r in found] == ["13900000001", "13900000002"]


def test_an_import_preview_of_a_bomb_is_refused_in_chinese(world, never_opened):
    with pytest.raises(Invalid) as refused:
        world.preview(world.prefecture_staff, "members", _xlsx(shared=_shared_strings(30 * MB // 26)))
    assert refused.value.code == "xlsx_too_large" and "请删除多余的空行、空列和工作表后另存" in refused.value.message
