"""The report as a Word document (python-docx): title, narrative, the tables, and a caption with
the data's scope and the time of generation (Beijing time)."""

from __future__ import annotations

from io import BytesIO

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

from app.reports.tables import cell_text

FONT = "仿宋"  # the body font of official documents; Word falls back when it is missing


def _cjk(run, size: float | None = None, bold: bool = False) -> None:  # noqa: ANN001
    run.font.name = FONT
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), FONT)
    if size:
        run.font.size = Pt(size)
    run.bold = bold


def to_docx(report: dict) -> bytes:
    doc = Document()
    section = doc.sections[0]
    # Landscape: the tables have a column per indicator.
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = section.page_height, section.page_width
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(2))
    doc.core_properties.title = report["title"]

    head = doc.add_paragraph()
    head.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _cjk(head.add_run(report["title"]), 18, bold=True)
    for sentences in report["paragraphs"]:
        p = doc.add_paragraph()
        p.paragraph_format.first_line_indent = Pt(28)
        _cjk(p.add_run("".join(sentences)), 14)

    for table in report["tables"]:
        title = doc.add_paragraph()
        _cjk(title.add_run(table["title"]), 12, bold=True)
        if not table["rows"]:
            _cjk(doc.add_paragraph().add_run(table["empty"]), 10.5)
            continue
        columns = table["columns"]
        grid = doc.add_table(rows=1, cols=len(columns))
        grid.style = "Table Grid"
        for cell, col in zip(grid.rows[0].cells, columns, strict=True):
            cell.text = ""
            _cjk(cell.paragraphs[0].add_run(col["name"]), 8, bold=True)
        for row in table["rows"]:
            cells = grid.add_row().cells
            for cell, col, value in zip(cells, columns, row, strict=True):
                para = cell.paragraphs[0]
                if col["kind"] != "text":
                    para.alignment = WD_ALIGN_PARAGRAPH.RIGHT
                _cjk(para.add_run(cell_text(col["kind"], value)), 8)

    caption = doc.add_paragraph()
    _cjk(caption.add_run(f"{report['scope_note']}生成时间：{report['generated_at']}（北京时间）。"), 9)
    out = BytesIO()
    doc.save(out)
    return out.getvalue()
