"""Spreadsheets we hand out hold text as text: never a formula (issue 15, formula injection).

A member, place, organisation or indicator may be named ``=HYPERLINK("http://x","y")``; openpyxl
stores any string that starts with ``=`` as a formula, which Excel runs when the file is opened.
Every workbook the application writes goes through here:

- ``workbook_bytes(wb)`` saves an ordinary (in-memory) workbook after turning every formula cell
  into a text cell — our workbooks hold no formulas of their own (data validation rules are not
  cells), so whatever looks like one came from someone's text;
- ``text_row(ws, values)`` is for write-only (streamed) workbooks, which cannot be walked before
  saving: each such string goes in as an explicit text cell;
- ``csv_text(value)`` is the same rule for CSV, which has no cell types: Excel reads a field that
  starts with ``= + - @``, a tab or a carriage return as a formula, so an apostrophe keeps it text.

Numbers stay numbers (a real negative number is a number, not text), dates stay dates, and the
text is kept exactly: an .xlsx cell of type text needs no apostrophe.
"""

from __future__ import annotations

from collections.abc import Iterable
from io import BytesIO
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def looks_like_formula(value: object) -> bool:
    """A string a spreadsheet program would take for a formula."""
    return isinstance(value, str) and value.startswith(FORMULA_START)


def text_cell(ws: Any, value: Any, **style: Any) -> Any:
    """``value`` as ``ws.append`` takes it: a formula-looking string becomes an explicit text cell.

    With ``style`` (``font=…``) it is always a cell, styled so.
    """
    if not style and not looks_like_formula(value):
        return value
    cell = WriteOnlyCell(ws, value=value)
    if looks_like_formula(value):
        cell.data_type = "s"
    for name, setting in style.items():
        setattr(cell, name, setting)
    return cell


def text_row(ws: Any, values: Iterable[Any]) -> list[Any]:
    """A row for ``ws.append`` (write-only or not) in which no string is a formula."""
    return [text_cell(ws, v) for v in values]


def workbook_bytes(wb: Workbook) -> bytes:
    """The saved .xlsx, every formula-looking cell of an ordinary workbook turned into text first
    (a write-only workbook's rows went through ``text_row`` as they were written)."""
    for ws in [] if wb.write_only else wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    cell.data_type = "s"
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


def csv_text(value: str) -> str:
    """A CSV field that Excel shows as the text it is: an apostrophe before a formula-like start."""
    return "'" + value if looks_like_formula(value) else value
