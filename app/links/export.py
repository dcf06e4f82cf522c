"""The coverage table as an Excel workbook, for the monthly meeting's papers."""

from __future__ import annotations

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from app.links.schemas import Coverage
from app.xlsx import workbook_bytes

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADERS = ["序号", "州（市）", "重点帮扶县", "覆盖情况", "挂联领导", "挂联领导人数", "联络员", "助推点挂联数", "待调整人数"]
WIDTHS = [6, 14, 16, 14, 48, 12, 28, 12, 10]
# The rows the meeting must see at once, as on the page.
FILLS = {"uncovered": PatternFill("solid", fgColor="FEE4E2"), "attention": PatternFill("solid", fgColor="FEF0C7")}


def coverage_workbook(cov: Coverage, *, scope_name: str) -> bytes:
    """One row per key county: counts are numbers (Excel sums them), header frozen, columns sized."""
    wb = Workbook()
    ws = wb.active
    ws.title = "挂联覆盖"
    ws.append(HEADERS)
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(vertical="center")
    for n, row in enumerate(cov.rows, start=1):
        leaders = "、".join(f"{x.name}（{x.post}）" + ("【待调整】" if x.needs_reassignment else "") for x in row.leaders)
        liaisons = "、".join(x.name for x in row.liaisons)
        ws.append([n, row.prefecture_name, row.county_name, row.status_label, leaders, len(row.leaders), liaisons,
                   row.site_links, sum(1 for x in row.leaders if x.needs_reassignment)])
        fill = FILLS.get(row.status)
        if fill is not None:
            for cell in ws[ws.max_row]:
                cell.fill = fill
    for row in ws.iter_rows(min_row=2, min_col=5, max_col=5):
        row[0].alignment = Alignment(wrap_text=True, vertical="top")
    for index, width in enumerate(WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions
    summary = wb.create_sheet("说明")
    for line in (
        [f"{scope_name}重点帮扶县挂联覆盖情况（截至 {cov.on.isoformat()}）"],
        ["重点帮扶县", cov.total],
        ["无挂联领导", cov.uncovered],
        ["挂联领导待调整", cov.attention],
        ["已覆盖", cov.covered],
        ["说明：以县级挂联领导计；联络员和乡镇/村/示范点的挂联不计入覆盖。待调整指领导已不再担任该县或上级政协的领导职务。"],
    ):
        summary.append(line)
    summary.column_dimensions["A"].width = 30
    summary.column_dimensions["B"].width = 10
    return workbook_bytes(wb)
