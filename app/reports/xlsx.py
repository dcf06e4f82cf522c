"""The report as an Excel workbook (openpyxl): the narrative on a first sheet, then one sheet per
table — numbers as numbers (money in 万元 as a number in the General format, so 152306 and 12.5
show without spurious decimals; rates as percentages), headers frozen,
columns sized to their content."""

from __future__ import annotations

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from app.xlsx import workbook_bytes

SHEET_NAMES = {"units": "下级组织", "counties": "重点帮扶县", "ranking": "排名与落后", "members": "典型委员",
               "sectors": "分界别", "committees": "分专委会", "outcomes": "成效"}


def cell_value(kind: str, value):  # noqa: ANN001, ANN201 - a table cell as Excel should hold it
    """Money (hundredths of 万元) as 万元: an int when whole, else a float with its 2 decimals."""
    if value is None:
        return None
    if kind == "money":
        return value // 100 if value % 100 == 0 else round(value / 100, 2)
    return value


def _width(text: str) -> float:
    # A CJK character is about two Latin ones wide.
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text) + 2


def to_xlsx(report: dict) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "报告正文"
    ws.column_dimensions["A"].width = 120
    ws.append([report["title"]])
    ws["A1"].font = Font(bold=True, size=14)
    for sentences in report["paragraphs"]:
        ws.append(["".join(sentences)])
        ws.cell(ws.max_row, 1).alignment = Alignment(wrap_text=True, vertical="top")
    ws.append([])
    ws.append([report["scope_note"]])
    ws.append([f"生成时间：{report['generated_at']}（北京时间）"])

    for table in report["tables"]:
        sheet = wb.create_sheet(SHEET_NAMES.get(table["key"], table["key"])[:31])
        columns = table["columns"]
        sheet.append([table["title"]])
        sheet["A1"].font = Font(bold=True)
        sheet.append([c["name"] for c in columns])
        for cell in sheet[2]:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(wrap_text=True, vertical="center")
        sheet.freeze_panes = "B3"  # the header rows and the name column stay in view
        widths = [min(_width(c["name"]), 24) for c in columns]
        for row in table["rows"]:
            sheet.append([cell_value(c["kind"], v) for c, v in zip(columns, row, strict=True)])
            for n, (c, v) in enumerate(zip(columns, row, strict=True)):
                cell = sheet.cell(sheet.max_row, n + 1)
                if c["kind"] == "rate" and isinstance(v, int | float):
                    cell.number_format = "0.0%"
                elif c["kind"] == "count":
                    cell.number_format = "#,##0"
                widths[n] = max(widths[n], min(_width(str(v if v is not None else "")), 60))
        if not table["rows"]:
            sheet.append([table["empty"]])
        for n, w in enumerate(widths, start=1):
            sheet.column_dimensions[get_column_letter(n)].width = w
    return workbook_bytes(wb)
