"""推进会对比稿: what moved between a frozen report (the version presented to the last 推进会) and
today — a paragraph 「从X月X日推进会到今天，……」, the units that rose or fell in the ranking, and the
督办事项 closed since that day and still open (issue 19, part 6).

The figures then are read from the frozen report's stored content, never recomputed (data verified
since must not change what the meeting was told); the figures now are today's :func:`build_report`
for the same organisation. Numbers are written by the report's own helpers (``cell_text`` for
figures with thousands separators, ``narrative.percent`` for rates), so the two read alike.
The page, the API and the Word file all read the one dict :func:`compare_to_frozen` returns.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from io import BytesIO
from typing import Any

from sqlmodel import Session

from app import docx_style as style
from app.auth.principal import Principal
from app.boards.periods import Period
from app.clock import now_cn, to_cn
from app.meeting import followups as fu_service
from app.models import Organisation
from app.reports import narrative
from app.reports.service import build_report, frozen_for_download
from app.reports.tables import cell_text

MOVES = {"rose": "上升", "fell": "下降"}
_BOARD_LINK = re.compile(r"^/boards/(\d+)\?")
FOLLOWUPS_READ = 500  # an organisation's meetings decide a handful a month: all of them, in one read


def _day(moment: datetime, today: datetime) -> str:
    """X月X日 (with the year when it is not this year's)."""
    text = f"{moment.month}月{moment.day}日"
    return text if moment.year == today.year else f"{moment.year}年{text}"


def _indicators(then: dict, now: dict) -> list[dict]:
    """Every indicator of today's catalogue with its verified figure then (0 when the frozen report
    did not have it) and now, in catalogue order."""
    before = {(t["task_id"], i["id"]): i["verified"] for t in then["figures"] for i in t["indicators"]}
    out = []
    for t in now["figures"]:
        for i in t["indicators"]:
            was, is_ = before.get((t["task_id"], i["id"]), 0), i["verified"]
            kind = "money" if i["kind"] == "money" else "count"
            out.append({"task": t["short_name"], "name": i["name"], "unit": i["unit"], "kind": kind,
                        "then": was, "now": is_, "delta": is_ - was,
                        "then_text": cell_text(kind, was), "now_text": cell_text(kind, is_),
                        "delta_text": _signed(kind, is_ - was)})
    return out


def _signed(kind: str, diff: int) -> str:
    return ("+" if diff > 0 else "−" if diff < 0 else "") + cell_text(kind, abs(diff))


def _points(then: float | None, now: float | None) -> str | None:
    """The change of a rate in percentage points: +1.6个百分点 (None when either is unknown)."""
    if then is None or now is None:
        return None
    diff = round((now - then) * 1000) / 1000
    sign = "+" if diff > 0 else "−" if diff < 0 else ""
    return f"{sign}{narrative.percent(abs(diff)).removesuffix('%')}个百分点"


def _ranking(report: dict) -> dict[str, tuple[str, int | None]]:
    """The ranking table as {organisation code (its name when the link is missing): (name, rank)}."""
    table = next((t for t in report["tables"] if t["key"] == "ranking"), None)
    if table is None:
        return {}
    out = {}
    for n, row in enumerate(table["rows"]):
        links = table.get("links") or []
        found = _BOARD_LINK.match((links[n][1] if n < len(links) else None) or "")
        out[found.group(1) if found else row[1]] = (row[1], row[0])
    return out


def movers(then: dict, now: dict) -> list[dict]:
    """Units whose rank changed between the two reports (rose first, then fell; larger moves first)."""
    before, after = _ranking(then), _ranking(now)
    out: list[dict[str, Any]] = []
    for key, (name, rank) in after.items():
        was = before.get(key, (name, None))[1]
        if rank is None or was is None or rank == was:
            continue
        out.append({"code": key if key.isdigit() else None, "name": name, "then": was, "now": rank,
                    "change": was - rank, "direction": "rose" if rank < was else "fell",
                    "direction_label": MOVES["rose" if rank < was else "fell"]})
    out.sort(key=lambda m: (m["direction"] != "rose", -abs(m["change"]), m["now"]))
    return out


def _followups(session: Session, org: Organisation, since: datetime) -> tuple[list[dict], list[dict]]:
    """(closed since ``since``, still open) of ``org``'s meetings and those it owns."""
    done, _ = fu_service.list_followups(session, org, status="done", per_page=FOLLOWUPS_READ)
    still, _ = fu_service.list_followups(session, org, status="open", per_page=FOLLOWUPS_READ)
    closed_since = sorted(((r, at) for r in done if (at := to_cn(r.closed_at)) is not None and at > since),
                          key=lambda pair: pair[1])
    views = {v.row.id: v for v in fu_service.views(session, [*(r for r, _ in closed_since), *still], current=None)}
    closed = [{"id": r.id, "title": r.title, "owner": views[r.id].owner.name, "due_on": r.due_on.isoformat(),
               "closed_on": at.strftime("%Y-%m-%d"), "note": r.closed_note or ""} for r, at in closed_since]
    open_ = [{"id": r.id, "title": r.title, "owner": views[r.id].owner.name, "due_on": r.due_on.isoformat(),
              "status": views[r.id].status, "status_label": views[r.id].status_label} for r in still]
    return closed, open_


def _paragraph(*, day: str, org_name: str, then: dict, now: dict, indicators: list[dict],
               participation: dict, closed: int, still_open: int, overdue: int) -> str:
    scope = narrative.scope_word(org_name)
    sentences = []
    acts = then["activities"], now["activities"]
    moved = [i for i in indicators if i["delta"]]
    if acts[1] == acts[0] and not moved:
        sentences.append(f"从{day}推进会到今天，{scope}已审核的活动和各项指标数字没有变化")
    else:
        head = (f"从{day}推进会到今天，{scope}已审核活动由{cell_text('count', acts[0])}次"
                f"{'增至' if acts[1] >= acts[0] else '减至'}{cell_text('count', acts[1])}次"
                f"（{_signed('count', acts[1] - acts[0]) or '持平'}）")
        parts = [f"{i['name']}由{i['then_text']}{i['unit']}{'增至' if i['delta'] > 0 else '减至'}"
                 f"{i['now_text']}{i['unit']}（{i['delta_text']}）" for i in moved]
        sentences.append(head + ("，其中" + "，".join(parts) if parts else ""))
    if participation["then"] is not None and participation["now"] is not None:
        rates = participation["then"], participation["now"]
        said = [narrative.percent(r) for r in rates]  # prose says rates as the report's narrative does
        sentences.append(f"参与率由{said[0]}{'升至' if rates[1] > rates[0] else '降至'}{said[1]}"
                         f"（{participation['points']}）" if participation["points"] != "0个百分点"
                         else f"参与率保持在{said[1]}")
    if closed or still_open:
        tail = f"推进会以来办结督办事项{closed}项，尚未办结{still_open}项"
        sentences.append(tail + (f"（其中已超期{overdue}项）" if overdue else ""))
    return "；".join(sentences) + "。"


def _caveat(then: dict, today: Period) -> str | None:
    """A warning when the frozen report did not count from the start of today's year: its figures and
    today's year to date then differ by more than what happened since the meeting."""
    if then["first"] == 1 and then["year"] == today.year and today.first == 1:
        return None
    return (f"注意：冻结的报告统计期间为{then['label']}，今天按{today.label}统计，两者口径不同，"
            "下列变化中含统计期间不同带来的差别。")


def compare_to_frozen(session: Session, by: Principal, frozen_id: int, today_period: Period) -> dict:
    """The 对比稿 of a frozen report the caller reads (else 404) against today's report of the same
    organisation for ``today_period`` (the pages pass this year to date): a JSON-ready dict."""
    frozen = frozen_for_download(session, by, frozen_id)
    org = session.get_one(Organisation, frozen.org_id)
    then = json.loads(frozen.content)
    now = build_report(session, org, today_period)
    today = now_cn()
    frozen_at = to_cn(frozen.created_at) or today  # created_at is never null (a column default)
    day = _day(frozen_at, today)
    indicators = _indicators(then, now)
    rate_then, rate_now = then["participation"].get("rate"), now["participation"].get("rate")
    participation = {"then": rate_then, "now": rate_now,
                     "then_text": cell_text("rate", rate_then), "now_text": cell_text("rate", rate_now),
                     "points": _points(rate_then, rate_now)}
    closed, still_open = _followups(session, org, frozen_at)
    paragraph = _paragraph(day=day, org_name=org.name, then=then, now=now, indicators=indicators,
                           participation=participation, closed=len(closed), still_open=len(still_open),
                           overdue=sum(1 for f in still_open if f["status"] == "overdue"))
    return {
        "caveat": _caveat(then["period"], today_period),
        "title": f"{org.name}推进会对比稿（{day}推进会—{_day(today, today)}）",
        "org": {"code": org.code, "name": org.name},
        "frozen": {"id": frozen.id, "title": frozen.title, "period_label": then["period"]["label"],
                   "frozen_at": frozen_at.strftime("%Y-%m-%d %H:%M"), "day": day},
        "today": {"period_key": today_period.key, "period_label": today_period.label,
                  "generated_at": today.strftime("%Y-%m-%d %H:%M")},
        "paragraph": paragraph,
        "activities": {"then": then["activities"], "now": now["activities"],
                       "then_text": cell_text("count", then["activities"]),
                       "now_text": cell_text("count", now["activities"]),
                       "delta_text": _signed("count", now["activities"] - then["activities"])},
        "indicators": indicators,
        "participation": participation,
        "movers": movers(then, now),
        "closed": closed,
        "open": still_open,
    }


def to_docx(comparison: dict) -> bytes:
    """The 对比稿 as a 公文-format Word file: the title, the paragraph, then the movers and follow-ups."""
    doc = style.official_document(comparison["title"])
    doc.add_paragraph(comparison["title"], style=style.TITLE)
    doc.add_paragraph(comparison["paragraph"], style=style.BODY)
    if comparison["caveat"]:
        doc.add_paragraph(comparison["caveat"], style=style.BODY)
    doc.add_paragraph(f"对比：{comparison['frozen']['title']}（{comparison['frozen']['frozen_at']}冻结）与今天的"
                      f"{comparison['today']['period_label']}数字。", style=style.BODY)
    tables = [
        ("主要指标变化", ["指标", f"{comparison['frozen']['day']}", "今天", "变化"],
         [["已审核活动（次）", comparison["activities"]["then_text"], comparison["activities"]["now_text"],
           comparison["activities"]["delta_text"] or "—"],
          *[[f"{i['task']}·{i['name']}（{i['unit']}）", i["then_text"], i["now_text"], i["delta_text"] or "—"]
            for i in comparison["indicators"]],
          ["参与率", comparison["participation"]["then_text"], comparison["participation"]["now_text"],
           comparison["participation"]["points"] or "—"]], [False, True, True, True]),
        ("排名变化", ["组织", "当时名次", "现在名次", "变化"],
         [[m["name"], str(m["then"]), str(m["now"]), m["direction_label"] + str(abs(m["change"]))]
          for m in comparison["movers"]], [False, True, True, False]),
        ("推进会以来办结的督办事项", ["督办事项", "责任组织", "办结日期", "办结说明"],
         [[f["title"], f["owner"], f["closed_on"], f["note"]] for f in comparison["closed"]], [False] * 4),
        ("尚未办结的督办事项", ["督办事项", "责任组织", "办结期限", "状态"],
         [[f["title"], f["owner"], f["due_on"], f["status_label"]] for f in comparison["open"]], [False] * 4),
    ]
    for caption, header, rows, numeric in tables:
        if rows:
            style.add_table(doc, caption, header, rows, numeric)
        else:
            doc.add_paragraph(caption, style=style.TABLE_CAPTION)
            doc.add_paragraph("无。", style=style.BODY)
    doc.add_paragraph(f"生成时间：{comparison['today']['generated_at']}（北京时间）。", style=style.BODY)
    out = BytesIO()
    doc.save(out)
    return out.getvalue()
