"""The targets' Excel file: the grid written out for offline filling, and read back.

Layout of the sheet ``<year>年度目标`` (the title carries the year, which the import checks):

- row 1: 组织代码, 组织名称, then one column per indicator, "task·indicator（unit）";
- row 2 (hidden): ``#指标编号`` and each column's indicator id — columns are matched by id, so a
  renamed header does no harm, and a moved or deleted column is caught, never misread;
- row 3 on: one organisation per row, matched by its 6-digit code (kept as text so Excel does not
  turn 530102 into a number, nor drop leading zeros of any future code).

The sheet is protected without a password (codes, names and ids are locked against slips; the
value cells are not), header and code columns are frozen, counts are whole numbers, money has two
decimals. Reading never trusts the file: every problem becomes an ``Issue`` with row and column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from io import BytesIO
from typing import TYPE_CHECKING, Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from app.errors import Invalid
from app.limits import check_xlsx
from app.xlsx import workbook_bytes

if TYPE_CHECKING:
    from app.targets.service import Grid

SHEET_SUFFIX = "年度目标"
ID_MARK = "#指标编号"
FIRST_VALUE_COLUMN = 3
FIRST_DATA_ROW = 3
MAX_ROWS = 1000  # a province has ~150 organisations; more is not a targets file
MAX_COLUMNS = 300
SCAN_ROWS = 20_000
MAX_UNPACKED = 20 * 1024 * 1024  # MAX_ROWS × MAX_COLUMNS cells of a few dozen bytes each, with room
_SHEET_TITLE = re.compile(r"^\s*(\d{4})" + SHEET_SUFFIX + r"\s*$")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Issue:
    """One problem of an uploaded file, said where it is: Excel row number and column letter."""

    row: int | None
    column: str
    header: str
    message: str

    @property
    def where(self) -> str:
        if self.row is None:
            return "整个文件"
        return f"第 {self.row} 行" + (f"，{self.column} 列" if self.column else "")


@dataclass(frozen=True)
class SheetCell:
    column: int
    indicator_id: int
    header: str
    raw: str | None  # the cell as text for the parser; None when empty

    @property
    def letter(self) -> str:
        return get_column_letter(self.column)


@dataclass(frozen=True)
class SheetRow:
    row: int
    code: str
    name: str
    cells: list[SheetCell]


@dataclass(frozen=True)
class Sheet:
    year: int | None
    rows: list[SheetRow]
    issues: list[Issue]


# --- writing ------------------------------------------------------------------------------------

def workbook(grid: Grid) -> bytes:
    """The grid as an .xlsx file that ``read_sheet`` reads back to the same targets."""
    wb = Workbook()
    ws = wb.active
    ws.title = f"{grid.year}{SHEET_SUFFIX}"
    columns = grid.columns
    bold, locked_fill = Font(bold=True), PatternFill("solid", fgColor="F2F4F7")
    ws.append(["组织代码", "组织名称", *(f"{c.task.short_name}·{c.header}" for c in columns)])
    ws.append([ID_MARK, "", *(c.id for c in columns)])
    for cell in ws[1]:
        cell.font = bold
        cell.fill = locked_fill
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    ws.row_dimensions[1].height = 48
    ws.row_dimensions[2].hidden = True
    for r in grid.rows:
        ws.append([r.org.code, r.org.name, *(_number(c.value, c.column.is_money) for c in r.cells)])
        row = ws.max_row
        ws.cell(row, 1).number_format = "@"  # text: a code, not a number
        if r.is_self:
            ws.cell(row, 2).font = bold
        for index, c in enumerate(r.cells, start=FIRST_VALUE_COLUMN):
            cell = ws.cell(row, index)
            cell.number_format = "0.00" if c.column.is_money else "0"
            cell.protection = Protection(locked=False)
    last_row = ws.max_row
    for index, c in enumerate(columns, start=FIRST_VALUE_COLUMN):
        letter = get_column_letter(index)
        ws.column_dimensions[letter].width = 14
        if last_row >= FIRST_DATA_ROW:
            # Excel refuses a negative number, a fraction of a count, on the spot.
            rule = DataValidation(
                type="decimal" if c.is_money else "whole", operator="greaterThanOrEqual", formula1="0",
                allow_blank=True, showErrorMessage=True, errorTitle="数值有误",
                error="请填写不小于 0 的金额（万元，最多两位小数）" if c.is_money else "请填写不小于 0 的整数",
            )
            rule.add(f"{letter}{FIRST_DATA_ROW}:{letter}{last_row}")
            ws.add_data_validation(rule)
    ws.column_dimensions["A"].width = 11
    ws.column_dimensions["B"].width = 22
    ws.freeze_panes = ws.cell(FIRST_DATA_ROW, FIRST_VALUE_COLUMN).coordinate
    # Locked against slips, not against people: no password; sorting and resizing stay allowed.
    ws.protection.sheet = True
    ws.protection.formatColumns = False
    ws.protection.formatRows = False
    ws.protection.sort = False
    ws.protection.deleteRows = False  # leaving an organisation out of the import is allowed
    _notes(wb, grid)
    return workbook_bytes(wb)


def _number(value: int | None, is_money: bool) -> int | float | None:
    if value is None:
        return None
    # Hundredths of 万元 as 万元: a float with at most two decimals, which reads back exactly.
    return value / 100 if is_money else value


def _notes(wb: Workbook, grid: Grid) -> None:
    notes = wb.create_sheet("填写说明")
    for line in (
        f"{grid.org.name} {grid.year} 年年度目标（本级及下一级组织），导出自「双助推行动平台」。",
        "每个目标是该组织整个辖区（含下级）全年的目标。计数类填不小于 0 的整数；金额单位为万元，最多两位小数。",
        "空白表示没有目标：导入时，原有目标的单元格被清空，该目标会被清除（导入前的预览会列出）。",
        "请不要改动组织代码和隐藏的第 2 行（指标编号），也不要改工作表名称；可以删除不想改动的组织所在的行。",
        "填好后在「年度目标」页面选择同一年份，点击「导入 Excel」，核对预览后确认。",
    ):
        notes.append([line])
    notes.column_dimensions["A"].width = 100
    for row in notes.iter_rows():
        row[0].alignment = Alignment(wrap_text=True)


# --- reading ------------------------------------------------------------------------------------

def cell_text(value: Any) -> str | None:
    """A cell's value as the text a person would have typed (None: empty)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value)  # TRUE/FALSE: not a figure, refused by the parser
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # Excel shows 15 significant digits; beyond them a float is binary noise (0.1 + 0.2).
        return format(value, ".15g")
    text = str(value).strip()
    return text or None


def read_sheet(data: bytes) -> Sheet:
    """The organisations and typed values of an uploaded targets file, with every problem found."""
    try:
        # Before openpyxl unpacks anything: a province's targets file is ~20 KB, ~1 MB unpacked.
        check_xlsx(data, max_unpacked=MAX_UNPACKED, max_shared=MAX_UNPACKED // 4,
                   advice="请重新导出模板填写，只保留需要导入的组织")
    except Invalid as exc:
        return Sheet(None, [], [Issue(None, "", "", exc.message)])
    try:
        wb = load_workbook(BytesIO(data), read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - any unreadable upload is the same answer to a person
        return Sheet(None, [], [Issue(None, "", "", "无法读取该文件，请上传本系统导出的 Excel 文件（.xlsx）")])
    try:
        return _read(wb)
    finally:
        wb.close()


def _read(wb: Workbook) -> Sheet:
    found = [(ws, _SHEET_TITLE.match(ws.title)) for ws in wb.worksheets]
    found = [(ws, m) for ws, m in found if m]
    if not found:
        return Sheet(None, [], [Issue(None, "", "", f"文件中没有「某年{SHEET_SUFFIX}」工作表（如「2026{SHEET_SUFFIX}」），"
                                                  "请使用本页面导出的文件填写")])
    if len(found) > 1:
        return Sheet(None, [], [Issue(None, "", "", f"文件中有多个「{SHEET_SUFFIX}」工作表，请只保留一个")])
    ws, match = found[0]
    year = int(match.group(1))
    lines = ws.iter_rows(values_only=True, max_col=MAX_COLUMNS)
    header = list(next(lines, ()) or ())
    ids = list(next(lines, ()) or ())
    if not ids or cell_text(ids[0]) != ID_MARK:
        return Sheet(year, [], [Issue(2, "A", "", "隐藏的第 2 行（指标编号）被改动或删除，请重新导出模板后填写")])
    issues: list[Issue] = []
    columns: list[tuple[int, int, str]] = []  # (column, indicator id, header)
    for index in range(FIRST_VALUE_COLUMN, max(len(header), len(ids)) + 1):
        title = cell_text(header[index - 1]) if index <= len(header) else None
        raw_id = cell_text(ids[index - 1]) if index <= len(ids) else None
        if raw_id is None and title is None:
            continue
        if raw_id is None or not raw_id.isdigit():
            issues.append(Issue(1, get_column_letter(index), title or "",
                                "无法识别的列（隐藏的指标编号缺失），请使用导出的模板，不要插入新列"))
            continue
        columns.append((index, int(raw_id), title or ""))
    rows: list[SheetRow] = []
    for number, values in enumerate(lines, start=FIRST_DATA_ROW):
        if number > SCAN_ROWS:
            break  # formatting dragged far down leaves empty rows; nothing is read past here
        values = list(values or ())
        if all(cell_text(v) is None for v in values):
            continue  # an empty line between rows is nothing
        if len(rows) == MAX_ROWS:
            issues.append(Issue(number, "", "", f"超过 {MAX_ROWS} 个组织，请只保留需要导入的组织"))
            break
        code = cell_text(values[0]) if values else None
        name = (cell_text(values[1]) if len(values) > 1 else None) or ""
        cells = [
            SheetCell(column=index, indicator_id=ind, header=title,
                      raw=cell_text(values[index - 1]) if index <= len(values) else None)
            for index, ind, title in columns
        ]
        rows.append(SheetRow(row=number, code=code or "", name=name, cells=cells))
    if not rows and not issues:
        issues.append(Issue(None, "", "", "文件中没有任何组织的目标（从第 3 行起，每行一个组织）"))
    return Sheet(year, rows, issues)
