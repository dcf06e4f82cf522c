"""Word files as offices expect them (党政机关公文格式, GB/T 9704): A4 portrait, the standard margins,
named styles instead of fonts set run by run, page numbers 「— 1 —」 in the footer, wide tables in
A4 landscape sections of their own (split by columns when even that is too narrow) with the header
row repeated on every page.

Every .docx we hand out starts from ``official_document()`` and writes paragraphs in the styles
below. The fonts are the ones offices have (方正小标宋简体, 仿宋_GB2312, 黑体, 楷体_GB2312); each is
declared in the font table with the system font that stands in for it (仿宋_GB2312 → 仿宋 → FangSong
…), so a machine without the 方正 / GB2312 fonts still shows proper Chinese rather than a Japanese
or Latin substitute (the stock template's East Asian theme font is Japanese, so the document
defaults are replaced too).
"""

from __future__ import annotations

from dataclasses import dataclass

from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.section import Section
from docx.shared import Cm, Length, Pt
from docx.table import Table
from lxml import etree

A4_WIDTH, A4_HEIGHT = Cm(21), Cm(29.7)
# GB/T 9704 margins of the portrait page (the left one is the binding edge).
MARGINS = {"top_margin": Cm(3.7), "bottom_margin": Cm(3.5), "left_margin": Cm(2.8), "right_margin": Cm(2.6)}
# A landscape page is the same sheet turned: its binding edge is now at the top; the sides are
# narrower so a table with a column per indicator has room.
LANDSCAPE_MARGINS = {"top_margin": Cm(2.8), "bottom_margin": Cm(2.6), "left_margin": Cm(2.5),
                     "right_margin": Cm(2.5)}

TITLE_FONT, BODY_FONT, HEI_FONT, KAI_FONT, PAGE_NUMBER_FONT = "方正小标宋简体", "仿宋_GB2312", "黑体", "楷体_GB2312", "宋体"
LATIN_FONT = "Times New Roman"  # digits and Latin letters in 公文

# Per font: the font that stands in for it (w:altName — a chain ending in the Windows font's English
# name) and the PANOSE of that family (Word picks the closest installed font by charset and PANOSE
# when no name in the chain is there).
FALLBACKS = {
    TITLE_FONT: ("宋体", "02010600030101010101"),
    BODY_FONT: ("仿宋", "02010609060101010101"),
    KAI_FONT: ("楷体", "02010609060101010101"),
    HEI_FONT: ("SimHei", "02010609060101010101"),
    "宋体": ("SimSun", "02010600030101010101"),
    "仿宋": ("FangSong", "02010609060101010101"),
    "楷体": ("KaiTi", "02010609060101010101"),
}

TITLE, BODY, HEADING_1, HEADING_2 = "公文标题", "公文正文", "公文一级标题", "公文二级标题"
TABLE_CAPTION, TABLE_HEADER, TABLE_TEXT, TABLE_NUMBER = "表题", "表格表头", "表格文字", "表格数字"
PAGE_NUMBER, TABLE_STYLE = "页码", "公文表格"

BODY_SIZE = Pt(16)  # 三号
LINE = Pt(28.95)  # fixed line spacing: 22 lines on the type area, as GB/T 9704 asks
TABLE_SIZE = Pt(10.5)  # 五号


@dataclass(frozen=True)
class ParagraphStyle:
    name: str
    style_id: str
    font: str
    size: Length
    align: WD_ALIGN_PARAGRAPH | None = None
    indent_chars: int = 0  # first-line indent in characters of the style's own size
    line: Length | None = LINE  # exact line spacing; None = single
    outline: int | None = None  # heading level in Word's navigation pane (0 = level 1)
    keep_with_next: bool = False


STYLES = (
    ParagraphStyle(TITLE, "GwTitle", TITLE_FONT, Pt(22), WD_ALIGN_PARAGRAPH.CENTER, line=Pt(35)),
    ParagraphStyle(BODY, "GwBody", BODY_FONT, BODY_SIZE, WD_ALIGN_PARAGRAPH.JUSTIFY, indent_chars=2),
    ParagraphStyle(HEADING_1, "GwHeading1", HEI_FONT, BODY_SIZE, indent_chars=2, outline=0, keep_with_next=True),
    ParagraphStyle(HEADING_2, "GwHeading2", KAI_FONT, BODY_SIZE, indent_chars=2, outline=1, keep_with_next=True),
    ParagraphStyle(TABLE_CAPTION, "GwTableCaption", HEI_FONT, Pt(14), WD_ALIGN_PARAGRAPH.CENTER, line=Pt(24), outline=1,
                   keep_with_next=True),
    ParagraphStyle(TABLE_HEADER, "GwTableHeader", HEI_FONT, TABLE_SIZE, WD_ALIGN_PARAGRAPH.CENTER, line=None),
    ParagraphStyle(TABLE_TEXT, "GwTableText", BODY_FONT, TABLE_SIZE, WD_ALIGN_PARAGRAPH.LEFT, line=None),
    ParagraphStyle(TABLE_NUMBER, "GwTableNumber", BODY_FONT, TABLE_SIZE, WD_ALIGN_PARAGRAPH.RIGHT, line=None),
    ParagraphStyle(PAGE_NUMBER, "GwPageNumber", PAGE_NUMBER_FONT, Pt(14), WD_ALIGN_PARAGRAPH.CENTER, line=None),
)


def _set_fonts(rpr, font: str) -> None:  # noqa: ANN001 - a w:rPr element
    fonts = rpr.get_or_add_rFonts()
    for attr in list(fonts.attrib):  # a theme font attribute would win over the names we set
        del fonts.attrib[attr]
    fonts.set(qn("w:ascii"), LATIN_FONT)
    fonts.set(qn("w:hAnsi"), LATIN_FONT)
    fonts.set(qn("w:eastAsia"), font)
    fonts.set(qn("w:hint"), "eastAsia")


def _add_paragraph_style(doc: DocumentObject, spec: ParagraphStyle) -> None:
    style = doc.styles.add_style(spec.name, WD_STYLE_TYPE.PARAGRAPH)
    style.base_style = doc.styles["Normal"]
    style.quick_style = True
    style.style_id = spec.style_id  # an ASCII id: some readers mishandle ids in Chinese
    style.font.size = spec.size
    _set_fonts(style.element.get_or_add_rPr(), spec.font)
    fmt = style.paragraph_format
    fmt.space_before = fmt.space_after = Pt(0)
    if spec.align is not None:
        fmt.alignment = spec.align
    if spec.line is not None:
        fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        fmt.line_spacing = spec.line
    else:
        fmt.line_spacing_rule = WD_LINE_SPACING.SINGLE
    fmt.first_line_indent = Pt(spec.size.pt * spec.indent_chars) if spec.indent_chars else Pt(0)
    if spec.indent_chars:
        # In characters too, so the indent stays two characters if someone changes the size.
        style.element.pPr.get_or_add_ind().set(qn("w:firstLineChars"), str(spec.indent_chars * 100))
    if spec.keep_with_next:
        fmt.keep_with_next = True
    if spec.outline is not None:
        level = OxmlElement("w:outlineLvl")
        level.set(qn("w:val"), str(spec.outline))
        style.element.pPr.insert_element_before(level, "w:divId", "w:cnfStyle", "w:rPr", "w:sectPr", "w:pPrChange")


def _defaults(doc: DocumentObject) -> None:
    """Unstyled text (a section break's empty paragraph, a caption) is 仿宋 in Chinese, not the
    template's Calibri / Japanese theme fonts, and paragraphs have no space after."""
    defaults = doc.styles.element.find(qn("w:docDefaults"))
    rpr = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr"))
    _set_fonts(rpr, BODY_FONT)
    lang = rpr.find(qn("w:lang"))
    if lang is not None:
        lang.set(qn("w:val"), "en-US")
        lang.set(qn("w:eastAsia"), "zh-CN")
    spacing = defaults.find(qn("w:pPrDefault")).find(qn("w:pPr")).find(qn("w:spacing"))
    if spacing is not None:
        spacing.set(qn("w:after"), "0")
        spacing.set(qn("w:line"), "240")
    normal = doc.styles["Normal"]
    normal.font.size = BODY_SIZE
    _set_fonts(normal.element.get_or_add_rPr(), BODY_FONT)


def _font_table(doc: DocumentObject) -> None:
    """Declare each 公文 font with its stand-in (w:altName), GB2312 charset and PANOSE."""
    part = next(r.target_part for r in doc.part.rels.values() if r.reltype.endswith("/fontTable"))
    fonts = parse_xml(part.blob)
    for name, (alt, panose) in FALLBACKS.items():
        fonts.append(parse_xml(
            f'<w:font {nsdecls("w")} w:name="{name}"><w:altName w:val="{alt}"/>'
            f'<w:panose1 w:val="{panose}"/><w:charset w:val="86"/><w:family w:val="auto"/>'
            '<w:pitch w:val="variable"/></w:font>'))
    # The stock font table is a plain part (python-docx has no API for it): replace its bytes.
    part._blob = etree.tostring(fonts, xml_declaration=True, encoding="UTF-8", standalone=True)


def _table_style(doc: DocumentObject) -> None:
    style = doc.styles.add_style(TABLE_STYLE, WD_STYLE_TYPE.TABLE)
    style.style_id = "GwTable"
    style.base_style = doc.styles["Table Grid"]
    style.font.size = TABLE_SIZE
    _set_fonts(style.element.get_or_add_rPr(), BODY_FONT)


def _page_number(section: Section) -> None:
    """「— 1 —」 centred in the footer: a PAGE field between two dashes."""
    para = section.footer.paragraphs[0]
    para.style = PAGE_NUMBER
    para.add_run("— ")
    for kind, text in (("begin", None), ("instr", " PAGE "), ("separate", None), ("text", "1"), ("end", None)):
        run = para.add_run()
        if kind == "instr":
            instr = OxmlElement("w:instrText")
            instr.set(qn("xml:space"), "preserve")
            instr.text = text
            run._r.append(instr)
        elif kind == "text":
            run.text = text
        else:
            char = OxmlElement("w:fldChar")
            char.set(qn("w:fldCharType"), kind)
            run._r.append(char)
    para.add_run(" —")


def _page(section: Section, *, landscape: bool) -> None:
    if landscape:
        section.orientation = WD_ORIENT.LANDSCAPE
        section.page_width, section.page_height = A4_HEIGHT, A4_WIDTH
    else:
        section.orientation = WD_ORIENT.PORTRAIT
        section.page_width, section.page_height = A4_WIDTH, A4_HEIGHT
    for side, value in (LANDSCAPE_MARGINS if landscape else MARGINS).items():
        setattr(section, side, value)
    section.footer_distance = Cm(2.5)


def official_document(title: str) -> DocumentObject:
    """An empty 公文: A4 portrait, the styles above, page numbers in the footer."""
    doc = Document()
    doc.core_properties.title = title
    _defaults(doc)
    for spec in STYLES:
        _add_paragraph_style(doc, spec)
    _table_style(doc)
    _font_table(doc)
    _page(doc.sections[0], landscape=False)
    _page_number(doc.sections[0])
    return doc


def is_landscape(doc: DocumentObject) -> bool:
    return doc.sections[-1].orientation == WD_ORIENT.LANDSCAPE


def turn_page(doc: DocumentObject, *, landscape: bool) -> None:
    """Go on in a new section on a new page, landscape or portrait (the footer carries over)."""
    if is_landscape(doc) != landscape:
        _page(doc.add_section(WD_SECTION.NEW_PAGE), landscape=landscape)


def text_width(*, landscape: bool) -> int:
    """The type area's width on an A4 page of that orientation (EMU)."""
    margins = LANDSCAPE_MARGINS if landscape else MARGINS
    return (A4_HEIGHT if landscape else A4_WIDTH) - margins["left_margin"] - margins["right_margin"]


HALF_EM = TABLE_SIZE // 2  # a digit or Latin letter at 五号; a CJK character takes two
CELL_PADDING = Cm(0.4)  # the cell's left and right margins (0.19 cm each) and its borders
NARROWEST = 6  # half-ems: a column is at least three CJK characters wide (its header wraps there)
TEXT_ON_ONE_LINE = 16  # half-ems of a text cell kept on one line before it wraps (Chinese wraps anywhere)
TEXT_AT_MOST = 40  # half-ems a long text column asks for when there is room


def _display_width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


@dataclass(frozen=True)
class _Need:
    least: int  # EMU: a number on one line, a text wrapped at TEXT_ON_ONE_LINE
    wish: int  # EMU: a text on fewer lines when there is room


def _needs(rows: list[list[str]], numeric: list[bool]) -> list[_Need]:
    """What each column needs: a number never wraps (it would break inside the number), a text may."""
    needs = []
    for n, is_number in enumerate(numeric):
        longest = max((_display_width(r[n]) for r in rows), default=0)
        least = max(NARROWEST, longest if is_number else min(longest, TEXT_ON_ONE_LINE))
        wish = least if is_number else max(least, min(longest, TEXT_AT_MOST))
        needs.append(_Need(least * HALF_EM + CELL_PADDING, wish * HALF_EM + CELL_PADDING))
    return needs


def fits(rows: list[list[str]], numeric: list[bool], *, landscape: bool) -> bool:
    """Whether a table of these cells fits the type area's width in one piece."""
    return sum(n.least for n in _needs(rows, numeric)) <= text_width(landscape=landscape)


def _parts(needs: list[_Need], room: int, repeat: int) -> list[list[int]]:
    """The columns split into tables that each fit ``room``, each starting with the first ``repeat``
    columns (the row's name), in order."""
    fixed = list(range(repeat))
    base = sum(needs[i].least for i in fixed)
    parts, current, used = [], list(fixed), base
    for i in range(repeat, len(needs)):
        if used + needs[i].least > room and len(current) > repeat:
            parts.append(current)
            current, used = list(fixed), base
        current.append(i)
        used += needs[i].least
    parts.append(current)
    return parts


def _widths(needs: list[_Need], room: int) -> list[int]:
    """Fill ``room``: every column its least, what is left to the texts that wish for more, then to all."""
    least = sum(n.least for n in needs)
    if least >= room:
        return [n.least for n in needs]
    wish = sum(n.wish for n in needs)
    if wish <= room:
        return [n.wish * room // wish for n in needs]
    more = wish - least
    return [n.least + (n.wish - n.least) * (room - least) // more for n in needs]


def _styled(cell, style_id: str, text: str) -> None:  # noqa: ANN001 - a table cell
    para = cell.paragraphs[0]
    para._p.get_or_add_pPr().style = style_id
    para.add_run(text)


def _one_table(doc: DocumentObject, header: list[str], rows: list[list[str]], numeric: list[bool],
               widths: list[int]) -> Table:
    table = doc.add_table(rows=1, cols=len(header))
    table.style = TABLE_STYLE
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    # Styles by id on the elements: python-docx's lookup by name reads every style, per paragraph.
    ids = {s.name: s.style_id for s in STYLES}
    # Word reads the cells' widths, LibreOffice the grid's; rows added later take the grid's.
    for column, width in zip(table.columns, widths, strict=True):
        column.width = width
    head = table.rows[0]
    for cell, name, width in zip(head.cells, header, widths, strict=True):
        cell.width = width
        _styled(cell, ids[TABLE_HEADER], name)
    trpr = head._tr.get_or_add_trPr()
    for tag in ("w:cantSplit", "w:tblHeader"):
        trpr.append(OxmlElement(tag))
    for values in rows:
        row = table.add_row()
        row._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))
        for cell, value, is_number in zip(row.cells, values, numeric, strict=True):
            _styled(cell, ids[TABLE_NUMBER] if is_number else ids[TABLE_TEXT], value)
    return table


def add_table(doc: DocumentObject, caption: str, header: list[str], rows: list[list[str]], numeric: list[bool],
              *, repeat: int = 1) -> list[Table]:
    """A captioned table in the 公文 table style: the header row repeated on every page, rows never
    split across pages, numbers (given already formatted) right-aligned and never wrapped, widths
    by content. A table wider than the page is split by columns into tables captioned 「（续）」,
    each starting with the first ``repeat`` columns."""
    room = text_width(landscape=is_landscape(doc))
    needs = _needs(rows, numeric)
    tables = []
    for n, cols in enumerate(_parts(needs, room, repeat)):
        doc.add_paragraph(caption if n == 0 else f"{caption}（续）", style=TABLE_CAPTION)
        tables.append(_one_table(doc, [header[i] for i in cols], [[r[i] for i in cols] for r in rows],
                                 [numeric[i] for i in cols], _widths([needs[i] for i in cols], room)))
    return tables
