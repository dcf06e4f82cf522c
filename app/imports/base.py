"""The import kinds' common ground: columns, rows read from a file, the plan and its errors, the registry.

An import kind (organisations and sites, members, targets, 挂联, history) says which columns its
template has (:class:`ColumnSpec`), turns the rows read from an uploaded file into a :class:`Plan`
— how many rows would be created / updated / left unchanged, and every :class:`RowError` with its
row, column and Chinese message — without writing anything, and later writes that plan inside the
caller's transaction. The caller (``app/imports/service.py``) does the rest once for every kind:
reading the file (:func:`read_rows`: .xlsx or .csv, header found wherever it is, merged header
cells, blank rows skipped, the template's example row ignored), scope checks shared by all kinds
(:class:`Orgs`), the one audit entry per import with its counts, the commit, progress.

A kind registers itself with :func:`register` when its module is imported
(``app/imports/registry.py`` imports them all). Subclass :class:`BaseKind`::

    class HistoryKind(BaseKind):
        code, label = "history", "历史数据（汇总录入）"
        columns = [ColumnSpec("org_code", "组织代码", required=True, text=True, example="530102"), ...]

        def plan(self, session, by, rows, progress): ...   # reads only
        def commit(self, session, by, plan): ...            # writes plan.payload; never commits

    register(HistoryKind())

Rows carry their values keyed by :attr:`ColumnSpec.key` (not by header text, which people
retype): ``row.get("org_code")`` is the cell as text, ``""`` when blank. The value parsers
(:func:`parse_date`, :func:`parse_phone`, :func:`parse_int`, :func:`parse_choice`) raise
:class:`BadCell` with the Chinese message to report for that cell.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, ClassVar, Protocol

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation
from sqlmodel import Session

from app.auth.principal import STAFF_ROLES, Principal
from app.errors import Invalid, NotFound
from app.limits import check_xlsx
from app.xlsx import workbook_bytes

MAX_ROWS = 100_000  # a province has ~30,000 members; more is not one import
HEADER_SCAN = 10  # the header row is looked for in the first rows (a title row may sit above it)
# A sheet may declare itself 16,384 columns wide and a million rows long (formatting dragged to its
# end); read that far, one blank file held the import worker for minutes. A template has ~15
# columns; past this many blank rows in a row nothing more is read.
MAX_COLUMNS = 200
MAX_BLANK_RUN = 1_000
MAX_ERRORS_KEPT = 5_000  # a file wrong throughout: the first ones are enough to fix it
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHEET_TITLE = "导入数据"
NOTES_TITLE = "填写说明"
CHOICES_TITLE = "选项"
OUT_OF_SCOPE = "组织不在您的管理范围内"

Progress = Callable[[int], None]


def no_progress(_: int) -> None:
    return None


# --- columns, rows, errors, plans ----------------------------------------------------------------

@dataclass(frozen=True)
class ColumnSpec:
    """One column of a kind's template.

    ``key`` names the value in :class:`Row`; ``header`` is the Chinese header the template writes
    and the reader looks for (``aliases``: other headers people use for it). ``choices`` become a
    data-validation list in the template (a kind may also give them per database, see
    :meth:`BaseKind.choices`); ``text`` formats the column as text so Excel keeps leading zeros and
    long digit strings (codes, phones).
    """

    key: str
    header: str
    required: bool = False
    note: str = ""
    example: str = ""
    choices: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    text: bool = False
    width: int = 14


@dataclass(frozen=True)
class Row:
    """One non-blank row of the file: its number as the spreadsheet shows it, values by column key.

    Every column the file has is in ``values`` (blank cells as ``""``); a column the file lacks is
    not — ``has(key)`` tells "left blank" (clear it) from "not in this file" (keep what is stored).
    """

    number: int
    values: dict[str, str]

    def get(self, key: str) -> str:
        return self.values.get(key, "")

    def has(self, key: str) -> bool:
        return key in self.values


@dataclass(frozen=True)
class RowError:
    """One problem: row number (0 = the whole file), the column's header, a Chinese message."""

    row: int
    column: str
    message: str

    @property
    def where(self) -> str:
        if not self.row:
            return "整个文件"
        return f"第 {self.row} 行" + (f"「{self.column}」" if self.column else "")


@dataclass
class Plan:
    """What an import would do. ``payload`` is whatever the kind's commit needs (never shown).

    ``fingerprint`` identifies exactly what would be written: the confirmation plans again inside
    its write transaction and refuses when it differs from the preview's (somebody changed the
    data meanwhile). Kinds that leave it blank are compared by their counts.
    """

    kind: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    payload: Any = None
    rows: int = 0
    fingerprint: str = ""
    notices: list[str] = field(default_factory=list)  # worth knowing before confirming, not errors

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def changes(self) -> int:
        return self.created + self.updated

    @property
    def error_rows(self) -> int:
        return len({e.row for e in self.errors})

    def counts(self) -> dict[str, int]:
        return {"rows": self.rows, "created": self.created, "updated": self.updated,
                "unchanged": self.unchanged, "errors": len(self.errors), "error_rows": self.error_rows}

    def identity(self) -> str:
        return self.fingerprint or f"{self.created}/{self.updated}/{self.unchanged}/{len(self.errors)}"

    def error(self, row: int | Row, column: str | ColumnSpec, message: str) -> None:
        number = row.number if isinstance(row, Row) else row
        header = column.header if isinstance(column, ColumnSpec) else column
        self.errors.append(RowError(number, header, message))


class ImportKind(Protocol):
    code: str
    label: str
    columns: list[ColumnSpec]

    def choices(self, session: Session, by: Principal) -> dict[str, list[str]]: ...

    def notes(self) -> list[str]: ...

    def plan(self, session: Session, by: Principal, rows: list[Row], progress: Progress) -> Plan: ...

    def commit(self, session: Session, by: Principal, plan: Plan) -> None: ...


class BaseKind:
    """Defaults for a kind: no per-database choices, no extra notes. ``plan`` and ``commit`` are the kind's."""

    code: ClassVar[str] = ""
    label: ClassVar[str] = ""
    columns: ClassVar[list[ColumnSpec]] = []

    def choices(self, session: Session, by: Principal) -> dict[str, list[str]]:
        """Data-validation lists that depend on the database (e.g. indicator names), by column key."""
        return {}

    def notes(self) -> list[str]:
        """Lines for the template's 填写说明 sheet, before the per-column notes."""
        return []

    def column(self, key: str) -> ColumnSpec:
        return next(c for c in self.columns if c.key == key)

    def plan(self, session: Session, by: Principal, rows: list[Row], progress: Progress) -> Plan:
        raise NotImplementedError

    def commit(self, session: Session, by: Principal, plan: Plan) -> None:
        raise NotImplementedError


KINDS: dict[str, ImportKind] = {}


def register(kind: ImportKind) -> ImportKind:
    KINDS[kind.code] = kind
    return kind


def get_kind(code: str) -> ImportKind:
    from app.imports import registry  # noqa: F401 - every kind registered before anyone asks

    kind = KINDS.get((code or "").strip())
    if kind is None:
        raise NotFound("没有这种导入类型", code="import_kind_unknown")
    return kind


# --- scope shared by the kinds -------------------------------------------------------------------

class Orgs:
    """Every organisation by code, and which of them the importing staff member manages: read once
    per import (a province has ~150), so no kind asks the database row by row."""

    def __init__(self, session: Session, by: Principal) -> None:
        from sqlalchemy import select

        from app.models import Organisation

        self.by_code: dict[str, Organisation] = {o.code: o for o in session.scalars(select(Organisation))}
        self.by_id = {o.id: o for o in self.by_code.values()}
        self.managed: set[int] = set(session.scalars(by.scope(*STAFF_ROLES)))

    def find(self, raw: str) -> tuple[Any, str | None]:
        """(organisation, None) when ``raw`` names one the caller manages, else (org or None, message)."""
        code = normalise(raw)
        if not code:
            return None, "缺少组织代码"
        if not code.isdigit() or len(code) not in (2, 4, 6):
            return None, f"组织代码「{raw}」格式不正确，应为 6 位行政区划代码（如 530102）"
        org = self.by_code.get(code.ljust(6, "0"))
        if org is None:
            return None, f"组织代码 {code} 不存在"
        if org.id not in self.managed:
            return org, f"{OUT_OF_SCOPE}：{org.name}（{org.code}）"
        return org, None


# --- value parsers ---------------------------------------------------------------------------------

class BadCell(ValueError):
    """A cell that cannot be read; ``str(exc)`` is the Chinese message for the person."""


def normalise(text: str) -> str:
    """Full-width digits, letters and spaces to half-width (NFKC); ends trimmed."""
    return unicodedata.normalize("NFKC", text or "").strip()


def parse_phone(text: str) -> str:
    """A mainland mobile number as 11 digits, by the members' own rule (``manage.service.member_phone``)."""
    from app.manage.service import member_phone  # the members' module imports much; load it when used

    try:
        return member_phone(text)
    except Invalid as exc:
        raise BadCell(exc.message) from None


_DATE_TEXT = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_DATE_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_EXCEL_EPOCH = date(1899, 12, 30)


def parse_date(text: str) -> date:
    """2026-03-01, 2026/3/1, 2026.3.1, 2026年3月1日, 20260301, an Excel serial (46082) → a date."""
    raw = normalise(text)
    raw = raw.split(" ")[0] if re.match(r"^\d{4}-\d{2}-\d{2} \d", raw) else raw  # a datetime cell
    match = _DATE_TEXT.match(raw) or _DATE_COMPACT.match(raw)
    try:
        if match:
            return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        if re.fullmatch(r"\d{5}(\.0+)?", raw):
            serial = int(float(raw))
            if 20_000 <= serial <= 80_000:  # 1954 … 2119: a date typed into an unformatted cell
                return _EXCEL_EPOCH + timedelta(days=serial)
    except ValueError:
        pass
    raise BadCell(f"日期「{text}」无法识别，请写成 2026-03-01 或 2026年3月1日")


def parse_int(text: str, *, what: str = "数值", minimum: int = 0) -> int:
    raw = normalise(text).replace(",", "")
    if re.fullmatch(r"-?\d+(\.0+)?", raw):
        value = int(float(raw)) if "." in raw else int(raw)
        if value < minimum:
            raise BadCell(f"{what}不能小于 {minimum}")
        return value
    raise BadCell(f"{what}「{text}」不是整数")


def parse_choice(text: str, choices: dict[str, Any], *, what: str) -> Any:
    """The value a label stands for (labels and values both accepted); BadCell lists the labels."""
    raw = normalise(text)
    if raw in choices:
        return choices[raw]
    values = {str(v): v for v in choices.values()}
    if raw in values:
        return values[raw]
    labels = "、".join(dict.fromkeys(k for k in choices if not k.isascii()))
    raise BadCell(f"{what}「{text}」不正确，应为：{labels}")


def parse_bool(text: str, *, what: str) -> bool:
    return parse_choice(text, {"是": True, "否": False, "Y": True, "N": False, "1": True, "0": False}, what=what)


# --- reading a file --------------------------------------------------------------------------------

def cell_text(value: Any) -> str:
    """A cell as the text a person typed: dates as yyyy-mm-dd, whole floats without .0."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else format(value, ".15g")
    return str(value).strip()


def _header_key(text: str) -> str:
    return re.sub(r"[\s*＊()（）:：]", "", normalise(text)).replace("（必填）", "").replace("必填", "")


class RowsRead(list):
    """The data rows of a file (a list of :class:`Row`), and where reading stopped early, if it did:
    ``blank_from`` is the first row of the :data:`MAX_BLANK_RUN` blank rows after which nothing more was
    read (``None``: the file was read to its end)."""

    blank_from: int | None = None


def _until_blank_run(rows: Iterable[tuple[int, list[str]]], stopped: list[int]) -> Iterator[tuple[int, list[str]]]:
    """The rows up to the first :data:`MAX_BLANK_RUN` blank rows in a row (their first row number is
    appended to ``stopped`` when that is why reading ended)."""
    blank = 0
    for number, cells in rows:
        blank = 0 if any(cells) else blank + 1
        if blank >= MAX_BLANK_RUN:
            stopped.append(number - MAX_BLANK_RUN + 1)
            return
        yield number, cells[:MAX_COLUMNS]


def blank_stop_notice(rows: RowsRead) -> str | None:
    """What the preview says when the file's reading stopped at a long run of blank rows: the rows
    after it were not read, which matters only if data follows (formatted empty rows often do)."""
    if rows.blank_from is None:
        return None
    return (f"第 {rows.blank_from:,} 行起连续 {MAX_BLANK_RUN:,} 行为空，之后的内容没有读取；"
            "如果后面还有数据，请删除中间的空行后重新上传")


def _grid_rows(data: bytes, filename: str) -> Iterable[tuple[int, list[str]]]:
    """(row number, cells as text) of the first sheet (or the template's own sheet)."""
    name = (filename or "").lower()
    if name.endswith(".csv") or data[:4] != b"PK\x03\x04":
        if name.endswith((".xls", ".xlsx")) and not name.endswith(".csv"):
            raise Invalid("无法读取该文件：请上传 .xlsx 或 .csv 文件（旧版 .xls 请先在 Excel 中另存为 .xlsx）",
                          code="import_unreadable")
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise Invalid("无法识别该 CSV 文件的编码，请另存为 UTF-8 编码的 CSV 或 .xlsx", code="import_unreadable")
        sample = text[:4096]
        delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
        for number, cells in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), start=1):
            yield number, [c.strip() for c in cells]
        return
    check_xlsx(data)  # before openpyxl unpacks anything
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - any unreadable upload is the same answer to a person
        raise Invalid("无法读取该文件，请上传 .xlsx 或 .csv 文件", code="import_unreadable") from None
    try:
        ws = wb[SHEET_TITLE] if SHEET_TITLE in wb.sheetnames else wb.worksheets[0]
        # Rows are padded to the width the sheet declares: never past MAX_COLUMNS (none declared: as stored).
        width = min(ws.max_column, MAX_COLUMNS) if ws.max_column else None
        for number, values in enumerate(ws.iter_rows(values_only=True, max_col=width), start=1):
            yield number, [cell_text(v) for v in values]
    finally:
        wb.close()


def _match_headers(cells: list[str], above: list[str], lookup: dict[str, str]) -> dict[int, str]:
    """Column index → column key for one candidate header row (a blank cell takes the one above:
    a header merged over two rows keeps its text in the upper cell only)."""
    found: dict[int, str] = {}
    for i, text in enumerate(cells):
        key = lookup.get(_header_key(text)) if text else None
        if key is None and not text and i < len(above) and above[i]:
            key = lookup.get(_header_key(above[i]))
        if key is not None and key not in found.values():
            found[i] = key
    return found


def read_rows(data: bytes, filename: str, columns: Sequence[ColumnSpec]) -> RowsRead:
    """The non-blank data rows of an uploaded .xlsx/.csv, values by column key.

    The header row is the row among the first :data:`HEADER_SCAN` that names the most of
    ``columns`` (a title row above it, or a two-row header with merged cells, is fine). Blank rows
    are skipped wherever they are (after :data:`MAX_BLANK_RUN` of them in a row the file ends, and
    columns past :data:`MAX_COLUMNS` are not read); the template's example row, left in place right
    under the header, too.
    Invalid when the file cannot be read, has no header naming the required columns, or is too long.
    """
    lookup: dict[str, str] = {}
    for c in columns:
        for text in (c.header, *c.aliases):
            lookup[_header_key(text)] = c.key
    example = {c.key: c.example for c in columns}
    stopped: list[int] = []
    rows = _until_blank_run(_grid_rows(data, filename), stopped)
    head: list[tuple[int, list[str]]] = []
    for item in rows:
        head.append(item)
        if len(head) >= HEADER_SCAN:
            break
    best: tuple[int, dict[int, str]] = (-1, {})
    previous: list[str] = []
    for index, (_, cells) in enumerate(head):
        found = _match_headers(cells, previous, lookup)
        if len(found) > len(best[1]):
            best = (index, found)
        previous = cells
    index, mapping = best
    keys = set(mapping.values())
    missing = [c.header for c in columns if c.required and c.key not in keys]
    if not mapping:
        raise Invalid("文件中找不到表头：请使用本页提供的模板，第一行为列名（如「"
                      + "」「".join(c.header for c in columns[:3]) + "」）", code="import_no_header")
    if missing:
        raise Invalid("文件缺少必填列：" + "、".join(f"「{h}」" for h in missing) + "；请使用本页提供的模板",
                      code="import_missing_columns")

    def body() -> Iterable[tuple[int, list[str]]]:
        yield from head[index + 1:]
        yield from rows

    out = RowsRead()
    first_data = head[index][0] + 1
    for number, cells in body():
        values = {key: (cells[i] if i < len(cells) else "") for i, key in mapping.items()}
        if not any(values.values()):
            continue
        if number == first_data and any(example.values()) and all(
                values.get(k, "") == (v or "") for k, v in example.items()):
            continue  # the template's example row, left in place right under the header
        out.append(Row(number, values))
        if len(out) > MAX_ROWS:
            raise Invalid(f"文件超过 {MAX_ROWS:,} 行，请分成几个文件导入", code="import_too_long")
    out.blank_from = stopped[0] if stopped else None
    return out


# --- the template ------------------------------------------------------------------------------------

def template(kind: ImportKind, session: Session, by: Principal) -> bytes:
    """The kind's .xlsx template: header row, one example row, lists where a column has choices,
    a 填写说明 sheet (what each column takes) and the choices on a sheet of their own."""
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET_TITLE
    notes_ws = wb.create_sheet(NOTES_TITLE)
    lists_ws = wb.create_sheet(CHOICES_TITLE)
    choices = {c.key: list(c.choices) for c in kind.columns if c.choices} | kind.choices(session, by)
    head_fill = PatternFill("solid", fgColor="DDEBF7")
    for i, c in enumerate(kind.columns, start=1):
        letter = get_column_letter(i)
        cell = ws.cell(row=1, column=i, value=c.header + ("（必填）" if c.required else ""))
        cell.font = Font(bold=True)
        cell.fill = head_fill
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        example = ws.cell(row=2, column=i, value=c.example or None)
        example.font = Font(italic=True, color="808080")
        if c.text:
            example.number_format = "@"
            ws.column_dimensions[letter].number_format = "@"  # typed codes and phones stay text
        ws.column_dimensions[letter].width = max(c.width, len(c.header) * 2 + 4)
        values = choices.get(c.key) or []
        if values:
            col = lists_ws.max_column + (1 if lists_ws.cell(row=1, column=1).value is not None else 0)
            lists_ws.cell(row=1, column=col, value=c.header).font = Font(bold=True)
            for r, v in enumerate(values, start=2):
                lists_ws.cell(row=r, column=col, value=v)
            ref = f"{quote_sheetname(CHOICES_TITLE)}!${get_column_letter(col)}$2:${get_column_letter(col)}${len(values) + 1}"
            dv = DataValidation(type="list", formula1=ref, allow_blank=not c.required, showErrorMessage=True,
                                errorTitle="请从列表中选择", error=f"「{c.header}」请从下拉列表中选择")
            dv.add(f"{letter}2:{letter}{MAX_ROWS + 1}")
            ws.add_data_validation(dv)
    ws.freeze_panes = "A2"
    notes_ws.column_dimensions["A"].width = 18
    notes_ws.column_dimensions["B"].width = 80
    lines = [f"{kind.label}导入模板", "第 2 行是示例（灰色斜体），导入时自动忽略，可以删除或覆盖。",
             "同一文件可以重复导入：已存在且相同的行不作修改。", *kind.notes(), ""]
    for r, line in enumerate(lines, start=1):
        notes_ws.cell(row=r, column=1, value=line)
    notes_ws.cell(row=1, column=1).font = Font(bold=True, size=14)
    start = len(lines) + 1
    notes_ws.cell(row=start, column=1, value="列").font = Font(bold=True)
    notes_ws.cell(row=start, column=2, value="说明").font = Font(bold=True)
    for r, c in enumerate(kind.columns, start=start + 1):
        notes_ws.cell(row=r, column=1, value=c.header + ("（必填）" if c.required else ""))
        text = c.note + (("；可选：" + "、".join(choices[c.key][:30])) if choices.get(c.key) else "")
        notes_ws.cell(row=r, column=2, value=text).alignment = Alignment(wrap_text=True)
    if lists_ws.cell(row=1, column=1).value is None:
        wb.remove(lists_ws)
    else:
        lists_ws.sheet_state = "hidden"
    return workbook_bytes(wb)


def template_name(kind: ImportKind) -> str:
    return f"{kind.label}导入模板.xlsx"
