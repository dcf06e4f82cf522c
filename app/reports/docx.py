"""The report as a Word document in the 公文 format (app/docx_style.py): title, narrative, the
tables (a wide one in an A4 landscape section of its own, then back to portrait), and a caption with
the data's scope and the time of generation (Beijing time). Cells read as on the report page: the
same ``cell_text``."""

from __future__ import annotations

from io import BytesIO

from app import docx_style as style
from app.reports.tables import cell_text


def to_docx(report: dict) -> bytes:
    doc = style.official_document(report["title"])
    doc.add_paragraph(report["title"], style=style.TITLE)
    for sentences in report["paragraphs"]:
        doc.add_paragraph("".join(sentences), style=style.BODY)

    for table in report["tables"]:
        columns = table["columns"]
        if not table["rows"]:
            doc.add_paragraph(table["title"], style=style.TABLE_CAPTION)
            doc.add_paragraph(table["empty"], style=style.BODY)
            continue
        cells = [[cell_text(c["kind"], v) for c, v in zip(columns, row, strict=True)] for row in table["rows"]]
        numeric = [c["kind"] != "text" for c in columns]
        # A table too wide for the portrait page gets a landscape section (split further if need be).
        style.turn_page(doc, landscape=not style.fits(cells, numeric, landscape=False))
        # A part of a split table starts with the row's name (and its rank or number before it).
        repeat = next((n for n, c in enumerate(columns) if c["kind"] == "text"), 0) + 1
        style.add_table(doc, table["title"], [c["name"] for c in columns], cells, numeric, repeat=repeat)

    style.turn_page(doc, landscape=False)
    doc.add_paragraph(f"{report['scope_note']}生成时间：{report['generated_at']}（北京时间）。", style=style.BODY)
    out = BytesIO()
    doc.save(out)
    return out.getvalue()
