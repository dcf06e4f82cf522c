"""The report's Word file as offices expect it (issue 19, part 7): A4 portrait, the 公文 styles with
their fonts and fallbacks, wide tables in landscape sections with the header repeated, cells as
on the report page (thousands separators), 近期活动 never cut inside a word, hostile names literal."""

from __future__ import annotations

from datetime import date
from io import BytesIO

import lxml.html
import pytest
from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml.ns import qn
from docx.shared import Cm, Mm, Pt
from docx.table import Table
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from app import docx_style as style
from app.models import ExemplarNomination, Member, NominationStatus
from app.reports.docx import to_docx
from app.reports.service import build_report
from app.reports.tables import ABRIDGE_AT, abridge, cell_text
from tests import factories as f
from tests.reports.conftest import TODAY, YEAR

pytestmark = pytest.mark.dates
SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the file's format: once is enough

LONG = ("在五华区果园开展技术指导，培训农户1,200人次，发放资料3000份，现场解答问题50个，"
        "走访脱贫户12户并捐赠价值12.5万元的设备。")


@pytest.fixture(autouse=True)
def _today(clock):
    clock.freeze_on(TODAY)


def _selected(world, citation: str) -> None:
    """The member selected as the year's 典型 with ``citation`` (the report's 典型 section shows it)."""
    world.s.add(ExemplarNomination(member_id=world.member.member_id, org_id=world.kunming.id, year=YEAR,
                                   citation=citation, status=NominationStatus.selected,
                                   created_by_user_id=world.staff.id, submission_key="w1"))
    world.s.flush()


def _word(world, q3) -> Document:
    world.standard()
    return Document(BytesIO(to_docx(build_report(world.s, world.kunming, q3))))


def _tables_by_caption(doc: Document) -> list[tuple[str, int, Table]]:
    """Each table with the caption above it and the section it sits in (a paragraph carrying a
    w:sectPr ends a section)."""
    found, section, caption = [], 0, ""
    tables = iter(doc.tables)
    for block in doc.element.body.iterchildren():
        if block.tag == qn("w:tbl"):
            found.append((caption, section, next(tables)))
        elif block.tag == qn("w:p"):
            if block.find(f"{qn('w:pPr')}/{qn('w:sectPr')}") is not None:
                section += 1
            elif block.find(f"{qn('w:pPr')}/{qn('w:pStyle')}") is not None and block.find(
                    f"{qn('w:pPr')}/{qn('w:pStyle')}").get(qn("w:val")) == doc.styles[style.TABLE_CAPTION].style_id:
                caption = "".join(t.text or "" for t in block.iter(qn("w:t")))
    return found


def _joined(doc: Document) -> dict[str, list[list[str]]]:
    """The report's tables as Word shows them, a table split by columns put back together: each
    part after the first repeats the leading columns (the row's name), which are dropped here."""
    whole: dict[str, list[list[str]]] = {}
    for caption, _, table in _tables_by_caption(doc):
        rows = [[c.text for c in r.cells] for r in table.rows]
        title = caption.removesuffix("（续）")
        if title not in whole:
            whole[title] = rows
            continue
        first = whole[title]
        repeat = next(n for n in range(len(rows[0])) if rows[0][n] != first[0][n])
        assert [r[:repeat] for r in rows] == [r[:repeat] for r in first]
        whole[title] = [a + b[repeat:] for a, b in zip(first, rows, strict=True)]
    return whole


@SQLITE
def test_every_section_is_a4_portrait_but_the_wide_tables(world, q3):
    doc = _word(world, q3)
    orientations = []
    for section in doc.sections:
        landscape = section.orientation == WD_ORIENT.LANDSCAPE
        width, height = (Cm(29.7), Cm(21)) if landscape else (Cm(21), Cm(29.7))
        assert abs(section.page_width - width) <= Mm(1) and abs(section.page_height - height) <= Mm(1)
        orientations.append(landscape)
    first = doc.sections[0]
    margins = (first.top_margin, first.bottom_margin, first.left_margin, first.right_margin)
    assert all(abs(got - want) < Mm(0.1) for got, want in zip(margins, (Cm(3.7), Cm(3.5), Cm(2.8), Cm(2.6)),
                                                              strict=True))
    assert not orientations[0] and not orientations[-1] and any(orientations)

    placed = _tables_by_caption(doc)
    landscape = {caption for caption, n, _ in placed if orientations[n]}
    # 下级组织 and 重点县 have a column per indicator (21 and 20 here): landscape, in two parts each.
    assert landscape == {"下级组织分项统计（按组织，已审核）", "下级组织分项统计（按组织，已审核）（续）",
                         "重点帮扶县分项统计（按活动地点，已审核）", "重点帮扶县分项统计（按活动地点，已审核）（续）"}
    for caption, n, table in placed:
        section = doc.sections[n]
        room = section.page_width - section.left_margin - section.right_margin
        assert sum(c.width for c in table.columns) <= room + Mm(1), caption  # no table runs off the page
        for column in table.columns:  # a number stays on one line: half an em a digit at 五号, 0.38 cm margins
            numbers = [c.text for c in column.cells[1:] if c.paragraphs[0].style.name == style.TABLE_NUMBER]
            assert all(column.width >= Pt(10.5 / 2) * len(text) + Cm(0.38) for text in numbers), (caption, numbers)
        assert table.style.name == style.TABLE_STYLE
        header = table.rows[0]._tr.trPr
        assert header is not None and header.find(qn("w:tblHeader")) is not None  # repeated on every page
        assert all(r._tr.trPr is None or r._tr.trPr.find(qn("w:tblHeader")) is None for r in table.rows[1:])
    report = build_report(world.s, world.kunming, q3)
    for table in report["tables"]:
        assert _joined(doc)[table["title"]][0] == [c["name"] for c in table["columns"]]  # no column lost

    footer = doc.sections[0].footer.paragraphs[0]
    assert footer.text == "— 1 —" and " PAGE " in footer._p.xml


FONTS = [(style.TITLE, "方正小标宋简体", 22), (style.BODY, "仿宋_GB2312", 16), (style.HEADING_1, "黑体", 16),
         (style.HEADING_2, "楷体_GB2312", 16), (style.TABLE_TEXT, "仿宋_GB2312", 10.5),
         (style.TABLE_NUMBER, "仿宋_GB2312", 10.5)]


@SQLITE
def test_the_styles_carry_the_official_fonts_and_sizes(world, q3):
    doc = _word(world, q3)
    part = next(r.target_part for r in doc.part.rels.values() if r.reltype.endswith("/fontTable"))
    fonts = {e.get(qn("w:name")): e for e in etree.fromstring(part.blob)}
    for name, font, size in FONTS:
        s = doc.styles[name]
        assert s.font.size == Pt(size), name
        assert s.element.rPr.rFonts.get(qn("w:eastAsia")) == font
        assert s.element.rPr.rFonts.get(qn("w:eastAsiaTheme")) is None  # no theme font overriding it
        # The font table names the stand-in a machine without the font uses, down to a system font.
        chain = [font]
        while chain[-1] in fonts and fonts[chain[-1]].find(qn("w:altName")) is not None:
            chain.append(fonts[chain[-1]].find(qn("w:altName")).get(qn("w:val")))
            assert fonts[chain[-2]].find(qn("w:charset")).get(qn("w:val")) == "86"  # GB2312
        assert chain[-1] in {"SimSun", "FangSong", "KaiTi", "SimHei"}, chain
    assert doc.styles.element.find(qn("w:docDefaults")).find(f"{qn('w:rPrDefault')}/{qn('w:rPr')}/{qn('w:rFonts')}") \
        .get(qn("w:eastAsia")) == "仿宋_GB2312"  # unstyled text too: not the template's Japanese theme font


@SQLITE
def test_title_body_and_cells_use_the_styles(world, q3):
    doc = _word(world, q3)
    body = doc.styles[style.BODY].paragraph_format
    assert body.first_line_indent == Pt(32)  # two characters of 三号
    assert doc.styles[style.BODY].element.pPr.ind.get(qn("w:firstLineChars")) == "200"
    assert body.line_spacing_rule == WD_LINE_SPACING.EXACTLY and 28 <= body.line_spacing.pt <= 29
    assert doc.styles[style.TITLE].paragraph_format.alignment == WD_ALIGN_PARAGRAPH.CENTER
    paragraphs = [p for p in doc.paragraphs if p.text]
    assert paragraphs[0].style.name == style.TITLE
    assert all(p.style.name == style.BODY for p in paragraphs[1:3])
    assert all(not p.runs or all(r.font.size is None and r.font.name is None for r in p.runs) for p in paragraphs)

    units = doc.tables[0]
    header = [c.text for c in units.rows[0].cells]
    assert {c.paragraphs[0].style.name for c in units.rows[0].cells} == {style.TABLE_HEADER}
    wuhua = next(r for r in units.rows if r.cells[0].text == "五华区政协")
    assert wuhua.cells[0].paragraphs[0].style.name == style.TABLE_TEXT
    money = wuhua.cells[header.index("农产品销售·销售金额（万元）")].paragraphs[0]
    assert money.style.name == style.TABLE_NUMBER and money.text == "112.5"
    assert doc.styles[style.TABLE_NUMBER].paragraph_format.alignment == WD_ALIGN_PARAGRAPH.RIGHT


def _page_tables(html: str) -> dict[str, list[list[str]]]:
    tree = lxml.html.fromstring(html)
    return {t.get("data-table"): [[c.text_content().strip() for c in r.xpath("./th|./td")] for r in t.xpath(".//tr")]
            for t in tree.xpath("//table[@data-table]")}


def test_word_cells_equal_the_report_page_with_thousands_separators(client, session, world, q3):
    world.standard()
    world.verify(world.log("big", world.t1, {world.services.id: 1200, world.projects.id: 3}, on=date(YEAR, 9, 30),
                           description=LONG))
    world.verify(world.log("money", world.t2, {world.sales.id: 1, world.sales_money.id: "1234.56"},
                           on=date(YEAR, 6, 6)))
    _selected(world, LONG)  # the 典型 section shows the citation, abridged
    f.login_as(client, session, world.staff)
    page = client.get(f"/reports?org=530100&period={YEAR}-ytdq3")
    assert page.status_code == 200
    on_page = _page_tables(page.text)
    report = build_report(session, world.kunming, q3)
    doc = Document(BytesIO(to_docx(report)))
    joined = _joined(doc)
    in_word = [joined[t["title"]] for t in report["tables"]]
    assert in_word == [on_page[t["key"]] for t in report["tables"]]

    header = in_word[0][0]
    wuhua = next(r for r in in_word[0] if r[0] == "五华区政协")
    assert wuhua[header.index("特色产业与技术服务·提供技术服务（次）")] == "1,205"
    assert wuhua[header.index("农产品销售·销售金额（万元）")] == "1,347.06"
    name = session.get(Member, world.member.member_id).name
    members = in_word[[t["key"] for t in report["tables"]].index("members")]
    citation = next(r for r in members if r[1] == name)[-1]
    shown = citation.split("：", 1)[1]
    assert shown == "在五华区果园开展技术指导，培训农户1,200人次，发放资料3000份…"  # the last pause within 40


def test_cell_text_is_the_one_number_format():
    assert cell_text("count", 1234567) == "1,234,567" and cell_text("count", 12) == "12"
    assert cell_text("money", 15230600) == "152,306" and cell_text("money", 123456) == "1,234.56"
    assert cell_text("money", 1250) == "12.5" and cell_text("rate", 0.5) == "50.0%"
    assert cell_text("rank", None) == "—" and cell_text("text", "1234") == "1234"


PIECES = st.lists(st.sampled_from(["脱贫", "培训", "农户", "1,200", "30", "3000份", "10:30", "abc", "Excel", "，", "。",
                                   "、", "；", " ", ",", ":", "果", "12.5万元"]), max_size=40)


@given(PIECES)
def test_recent_activities_are_cut_only_between_phrases(pieces):
    text = "".join(pieces)
    shown = abridge(text)
    whole = text.strip()
    if shown == whole:
        return
    assert shown.endswith("…") and len(whole) > ABRIDGE_AT
    head = shown.removesuffix("…")
    assert head and whole.startswith(head)
    after = whole[len(head)]
    # What follows the cut is punctuation or a space, never the rest of a word or a number.
    assert after in "。；！？，、：;!?,: \n"
    if after in ",:":  # 1,200 and 10:30 are one word
        assert not (head[-1].isdigit() and whole[len(head) + 1:len(head) + 2].isdigit())


def test_a_long_text_without_any_pause_is_kept_whole():
    assert abridge("果" * 100) == "果" * 100
    assert abridge("资助" * 30 + "，后来") == "资助" * 30 + "…"  # the first pause after the limit


@SQLITE
def test_hostile_names_and_descriptions_show_literally(world, q3):
    world.s.get(Member, world.member.member_id).name = '=HYPERLINK("http://x","点")'
    markup = "<w:p><w:r><w:t>注入</w:t></w:r></w:p>&amp;"
    world.verify(world.log("h", world.t1, {world.projects.id: 1}, on=date(YEAR, 9, 30), description=markup))
    _selected(world, markup)
    doc = _word(world, q3)
    members = next(t for t in doc.tables if [c.text for c in t.rows[0].cells[:2]] == ["序号", "姓名"])
    row = next(r for r in members.rows if r.cells[1].text == '=HYPERLINK("http://x","点")')
    assert markup in row.cells[-1].text
    assert "注入" not in [p.text for p in doc.paragraphs]  # no paragraph of its own: it stayed text
