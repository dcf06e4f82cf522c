"""履职档案 as a Word file in the 公文 format (app/docx_style.py): the page's parts — identity, seats
across terms, 挂联, counts per year, 典型 honours, then every activity (the page pages them; the file
lists them all). Figures are written as the page shows them (``reports.tables.cell_text``, the
activities' ``display`` values). The phone is never written: a file travels further than a page."""

from __future__ import annotations

from collections.abc import Iterable
from io import BytesIO

from docx.document import Document as DocumentObject

from app import docx_style as style
from app.clock import now_cn
from app.profiles.schemas import Profile, ProfileActivity
from app.reports.tables import cell_text

NUMERALS = "一二三四五六七八九十"


def term_label(number: int) -> str:
    return f"第{number}届"


def span(start, end) -> str:  # noqa: ANN001 - dates
    return f"{start.isoformat()} 至 {end.isoformat() if end else '今'}"


def values_text(a: ProfileActivity) -> str:
    """An activity's figures as the page shows them: 「培训农户 12 人次，…」."""
    return "，".join(f"{v.name} {v.display}{v.unit}" for v in a.values) or "—"


def summary(profile: Profile) -> str:
    """The record's opening sentence (identity; no phone)."""
    m = profile.member
    parts = [f"界别：{m.sector}"]
    if m.enterprise:
        parts.append(f"委员企业：{m.enterprise}")
    seat = next((s for s in profile.memberships if s.current), None)
    if seat:
        parts.append(f"现任{seat.org_name}{term_label(seat.term_number)}{seat.role_label}"
                     + (f"（{seat.title}）" if seat.title else ""))
    elif profile.memberships:
        parts.append("现不在任")
    if profile.committee_name:
        parts.append(f"专委会：{profile.committee_name}")
    return "；".join(parts) + "。"


def _section(doc: DocumentObject, n: int, title: str) -> None:
    doc.add_paragraph(f"{NUMERALS[n]}、{title}", style=style.HEADING_1)


def _table_or_none(doc: DocumentObject, caption: str, header: list[str], rows: list[list[str]],
                   numeric: list[bool], empty: str) -> None:
    if not rows:
        doc.add_paragraph(empty, style=style.BODY)
        return
    style.add_table(doc, caption, header, rows, numeric)


def write_profile(doc: DocumentObject, profile: Profile, activities: Iterable[ProfileActivity]) -> None:
    """One member's record into ``doc`` (several records make a committee's file)."""
    name = profile.member.name
    doc.add_paragraph(f"{name}履职档案", style=style.TITLE)
    doc.add_paragraph(summary(profile), style=style.BODY)

    _section(doc, 0, "任职经历")
    _table_or_none(doc, f"{name}·任职经历", ["组织", "届次", "身份", "职务", "专委会", "任职时间"],
                   [[s.org_name, term_label(s.term_number), s.role_label, s.title or "—", s.committee_name or "—",
                     span(s.start_date, s.end_date)] for s in profile.memberships],
                   [False] * 6, "无任职记录。")
    _section(doc, 1, "挂联")
    _table_or_none(doc, f"{name}·挂联", ["挂联地点", "角色", "时间", "状态"],
                   [[link.county_name + (f"·{link.site_name}" if link.site_name else ""), link.role_label,
                     span(link.start_date, link.end_date), link.state_label] for link in profile.links],
                   [False] * 4, "无挂联。")
    _section(doc, 2, "年度履职统计")
    _table_or_none(doc, f"{name}·年度履职统计（次）", ["年份", "活动", "已审核", "本人记录", "参与", "到过的县"],
                   [[f"{y.year}年", *(cell_text("count", n) for n in (y.total, y.verified, y.recorded, y.joined,
                                                                        y.counties))] for y in profile.years],
                   [False, True, True, True, True, True], "尚无活动。")
    _section(doc, 3, "典型荣誉")
    doc.add_paragraph("；".join(f"{h.year}年{h.title}" for h in profile.honours) + "。" if profile.honours
                      else "暂无。", style=style.BODY)
    _section(doc, 4, "活动明细")
    rows = [[a.occurred_on.isoformat(), a.task_name, a.county_name + (f"·{a.site_name}" if a.site_name else ""),
             a.role_label, a.status_label, values_text(a)] for a in activities]
    numeric = [False] * 6
    # Too wide for the portrait page: a landscape section of its own, then back (the next record starts upright).
    style.turn_page(doc, landscape=bool(rows) and not style.fits(rows, numeric, landscape=False))
    _table_or_none(doc, f"{name}·活动明细", ["日期", "实事", "地点", "身份", "状态", "指标"], rows, numeric,
                   "尚无活动。")
    style.turn_page(doc, landscape=False)


def to_docx(profile: Profile, activities: Iterable[ProfileActivity]) -> bytes:
    doc = style.official_document(f"{profile.member.name}履职档案")
    write_profile(doc, profile, activities)
    doc.add_paragraph(f"生成时间：{now_cn().strftime('%Y-%m-%d %H:%M')}（北京时间）。", style=style.BODY)
    out = BytesIO()
    doc.save(out)
    return out.getvalue()
