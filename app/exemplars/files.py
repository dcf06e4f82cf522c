"""A 典型's files for publicity: 典型事迹材料 as a Word file in the 公文 format (app/docx_style.py) with the
page's figures, and the photo pack — the original photos of their verified activities (those the caller
reads), in a zip capped at :data:`PACK_MAX_BYTES` with a note naming what was left out."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from io import BytesIO

from sqlalchemy import select
from sqlmodel import Session

from app import docx_style as style
from app.activities import photos
from app.clock import now_cn
from app.exemplars.service import SCORE_EXPLAINED, Exemplar
from app.models import ActivityPhoto
from app.storage import Missing, get_storage

PACK_MAX_BYTES = 50 * 1024 * 1024  # a pack that still travels by the office's usual channels
NUMERALS = "一二三四五六七八九十"


def figures(ex: Exemplar) -> list[list[str]]:
    """The evidence table as the page shows it: (项目, 数量, 每项得分, 得分)."""
    rows = [[label, f"{n:,}{unit}", str(weight), str(points)] for label, n, weight, unit, points in ex.candidate.parts]
    rows.append(["合计", "", "", str(ex.candidate.score)])
    return rows


def _section(doc, n: int, title: str) -> None:  # noqa: ANN001 - a Document
    doc.add_paragraph(f"{NUMERALS[n]}、{title}", style=style.HEADING_1)


def to_docx(ex: Exemplar) -> bytes:
    r, m = ex.row, ex.member
    doc = style.official_document(f"{m.name}典型事迹材料")
    doc.add_paragraph(f"{m.name}典型事迹材料", style=style.TITLE)
    doc.add_paragraph(f"{m.name}，{m.sector}，{r.org_name}推荐的{r.n.year}年度「双助推」典型。", style=style.BODY)
    _section(doc, 0, "推荐事迹")
    for para in [p for p in r.n.citation.splitlines() if p.strip()]:
        doc.add_paragraph(para.strip(), style=style.BODY)
    _section(doc, 1, "履职成效（已审核）")
    style.add_table(doc, f"{m.name}·{r.n.year}年履职证据", ["项目", "数量", "每项得分", "得分"], figures(ex),
                    [False, True, True, True])
    if ex.candidate.outcomes:
        doc.add_paragraph("成效：" + "，".join(f"{name}{total}" for name, total in ex.candidate.outcomes) + "。",
                          style=style.BODY)
    doc.add_paragraph(SCORE_EXPLAINED, style=style.BODY)
    _section(doc, 2, "已审核活动")
    rows = [[a.occurred_on.isoformat(), a.task, a.county, "，".join(a.figures) or "—"] for a in ex.acts]
    if rows:
        style.add_table(doc, f"{m.name}·已审核活动", ["日期", "实事", "地点", "指标"], rows, [False] * 4)
    else:
        doc.add_paragraph("没有您可查看的已审核活动。", style=style.BODY)
    doc.add_paragraph(f"生成时间：{now_cn().strftime('%Y-%m-%d %H:%M')}（北京时间）。", style=style.BODY)
    out = BytesIO()
    doc.save(out)
    return out.getvalue()


@dataclass(frozen=True)
class PackPlan:
    """Which photos go in the pack: (archive name, storage key) and how many were left out by the cap."""

    files: list[tuple[str, str]]
    total_bytes: int
    left_out: list[str]


def plan_pack(session: Session, ex: Exemplar, *, cap: int = PACK_MAX_BYTES) -> PackPlan:
    ids = [pid for a in ex.acts for pid in a.photo_ids]
    stored = {p.id: p for p in session.scalars(select(ActivityPhoto).where(ActivityPhoto.id.in_(ids)))} if ids else {}
    files, left_out, total = [], [], 0
    for a in ex.acts:
        for n, pid in enumerate(a.photo_ids, start=1):
            p = stored.get(pid)
            if p is None:
                continue
            # UTF-8 names (zipfile sets the UTF-8 flag for them): 2026-03-02_五华区_产业帮扶_1.jpg
            name = f"{a.occurred_on.isoformat()}_{a.county}_{a.task}_{n}.jpg".replace("/", "-")
            if total + p.bytes > cap:
                left_out.append(name)
                continue
            total += p.bytes
            files.append((name, photos.key_of(p.storage_key)))
    return PackPlan(files, total, left_out)


def pack_message(plan: PackPlan, *, cap: int = PACK_MAX_BYTES) -> str | None:
    """What the page says when the cap leaves photos out (None when all fit)."""
    if not plan.left_out:
        return None
    return (f"照片较多：打包上限为 {cap // (1024 * 1024)} MB，照片包只含 {len(plan.files)} 张，"
            f"另有 {len(plan.left_out)} 张未打包（见包内「说明.txt」），请在各活动页查看或下载。")


def to_zip(plan: PackPlan, ex: Exemplar) -> bytes:
    out = BytesIO()
    storage = get_storage()
    missing = []
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as z:  # JPEGs do not compress
        for name, key in plan.files:
            try:
                z.writestr(name, storage.get(key))
            except Missing:
                missing.append(name)
        note = [f"{ex.member.name}（{ex.row.n.year}年度「双助推」典型）已审核活动的原始照片，共 {len(plan.files) - len(missing)} 张。"]
        if plan.left_out:
            note.append(f"超过 {PACK_MAX_BYTES // (1024 * 1024)} MB 打包上限未打包的照片：" + "、".join(plan.left_out))
        if missing:
            note.append("存储中找不到的照片：" + "、".join(missing))
        z.writestr("说明.txt", "\n".join(note) + "\n")
    return out.getvalue()
