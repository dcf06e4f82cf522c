"""app/xlsx.py: text in a workbook or CSV we hand out stays text, never a formula (issue 15).

Each workbook the application writes is read back through its route in tests/test_hostile_sweep.py;
here the rule itself, on both kinds of openpyxl workbook, and the report's workbook."""

from __future__ import annotations

from io import BytesIO

import pytest
from openpyxl import Workbook, load_workbook

from app.reports.xlsx import to_xlsx
from app.xlsx import csv_text, text_row, workbook_bytes

HOSTILE = ['=HYPERLINK("http://evil","x")', "+1+2", "-1+2", "@SUM(A1)", "\t=1", "\r=1", "=1+1"]


def _cells(data: bytes, sheet: str | None = None) -> list:
    wb = load_workbook(BytesIO(data))
    ws = wb[sheet] if sheet else wb.active
    return [cell for row in ws.iter_rows() for cell in row if cell.value is not None]


@pytest.mark.parametrize("write_only", [False, True], ids=["ordinary", "write-only"])
def test_formula_looking_text_is_text_and_numbers_stay_numbers(write_only):
    wb = Workbook(write_only=write_only)
    ws = wb.create_sheet("表") if write_only else wb.active
    if write_only:
        ws.append(text_row(ws, [*HOSTILE, -3, 2.5]))
    else:
        ws.append([*HOSTILE, -3, 2.5])
        ws.cell(row=2, column=1, value="=HYPERLINK(\"http://evil\",\"y\")")
    cells = _cells(workbook_bytes(wb), "表" if write_only else None)
    texts = [c for c in cells if isinstance(c.value, str)]
    assert [c.value for c in texts[:len(HOSTILE)]] == HOSTILE  # the literal text, no apostrophe
    assert all(c.data_type == "s" for c in texts), [(c.coordinate, c.data_type) for c in texts]
    numbers = {c.coordinate: (c.value, c.data_type) for c in cells if not isinstance(c.value, str)}
    assert sorted(numbers.values()) == [(-3, "n"), (2.5, "n")]


def test_the_report_workbook_keeps_a_hostile_name_as_text():
    name = '=HYPERLINK("http://evil","x")'
    report = {
        "title": "报告", "paragraphs": [[name + "开展活动。"]], "scope_note": "范围", "generated_at": "今天",
        "tables": [{"key": "units", "title": "下级组织", "empty": "无",
                    "columns": [{"name": "组织", "kind": "text"}, {"name": "活动数", "kind": "count"},
                                {"name": "金额", "kind": "money"}],
                    "rows": [[name, 3, -150], ["-5", 0, None]]}],
    }
    cells = {c.coordinate: c for c in _cells(to_xlsx(report), "下级组织")}
    assert (cells["A3"].value, cells["A3"].data_type) == (name, "s")
    assert (cells["A4"].value, cells["A4"].data_type) == ("-5", "s")
    assert (cells["C3"].value, cells["C3"].data_type) == (-1.5, "n")  # a real negative number
    body = _cells(to_xlsx(report), "报告正文")
    assert all(c.data_type == "s" for c in body)


def test_csv_fields_that_excel_would_run_get_an_apostrophe():
    assert [csv_text(v) for v in HOSTILE] == ["'" + v for v in HOSTILE]
    assert csv_text("大理州") == "大理州" and csv_text("") == ""
