"""The report's prose in the office's own style, filled with verified figures.

The words are data: each task's sentence is its catalogue wording (``task.narrative_prefix`` and
each indicator's ``narrative``, e.g. 发展产业项目{value}{unit}), and the sentences around them
(opening, 动员面 and participation, 环比/同比) come from app/data/report_wording.json, keyed by the campaign's
code — a new campaign brings its own entry. This module only decides which phrases to say:

- one sentence per task in catalogue order, its indicators joined by「，」; an indicator with
  nothing verified is left out, and the tasks with nothing at all are named together in one plain
  sentence at the end (never "0万元" mid-sentence);
- money in 万元 without spurious decimals (152306万元, 12.5万元); counts without separators.
"""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sqlalchemy import select
from sqlmodel import Session

from app.boards.periods import CN_QUARTER, Period
from app.models import AppMeta, Campaign, Indicator, Task
from app.web import format_money

WORDING_FILE = Path(__file__).resolve().parent.parent / "data" / "report_wording.json"
CN_MONTH = {m: f"{m}月" for m in range(1, 13)}


@lru_cache
def _all_wording(path: Path = WORDING_FILE) -> dict[str, dict[str, str]]:
    return json.loads(path.read_text(encoding="utf-8"))


def wording(campaign_code: str | None) -> dict[str, str]:
    """The sentences of ``campaign_code``'s reports (the default entry for a campaign without its own)."""
    data = _all_wording()
    return {**data["_default"], **data.get(campaign_code or "", {})}


def override_key(campaign_code: str | None, key: str) -> str:
    """Where the office's own wording of one sentence is kept (app_meta; set on /manage/wording)."""
    return f"wording:{campaign_code or '_default'}:{key}"


def wording_for(session: Session, campaign_code: str | None) -> dict[str, str]:
    """The sentences of ``campaign_code``'s reports: the office's edits over the file's defaults."""
    words = wording(campaign_code)
    prefix = override_key(campaign_code, "")
    edited = session.execute(select(AppMeta.key, AppMeta.value).where(AppMeta.key.startswith(prefix))).all()
    return words | {k.removeprefix(prefix): v for k, v in edited if k.removeprefix(prefix) in words}


@dataclass(frozen=True)
class Phrasing:
    """The catalogue's wording of the current campaign: per task a prefix, per indicator a phrase."""

    campaign_code: str | None
    campaign_name: str
    prefixes: dict[int, str]
    phrases: dict[int, str]


def phrasing(session: Session) -> Phrasing:
    current = session.execute(select(Campaign.id, Campaign.code, Campaign.name)
                              .where(Campaign.is_current.is_(True))).first()
    if current is None:
        return Phrasing(None, "", {}, {})
    prefixes = dict(session.execute(select(Task.id, Task.narrative_prefix).where(Task.campaign_id == current.id)).all())
    phrases = dict(session.execute(select(Indicator.id, Indicator.narrative).join(Task, Task.id == Indicator.task_id)
                                   .where(Task.campaign_id == current.id)).all())
    return Phrasing(current.code, current.name, prefixes, phrases)


# --- placeholders --------------------------------------------------------------------------------

# Templates are data that staff edit (an indicator's phrase, the office's sentences): they are
# filled by plain replacement of {name}, never by str.format, whose format specs and attribute
# access would let a stored ``开展{value:>999999999}{unit}`` write a gigabyte of spaces (issue 15).
_PIECE = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


def fill(template: str, **values: object) -> str:
    """``template`` with each ``{name}`` given in ``values`` replaced by it (``{{``/``}}`` are braces).

    Anything else in braces — an unknown name, ``{value:>9}``, ``{value.__class__}`` — is left as
    the text it is: a template stored before its check was strict can never blow up a report.
    """
    def one(found: re.Match[str]) -> str:
        piece, name = found.group(0), found.group(1)
        if name is None:
            return piece[0]
        return str(values[name]) if name in values else piece

    return _PIECE.sub(one, template)


def placeholders(template: str) -> set[str]:
    """The ``{name}`` placeholders of a template; ValueError (in Chinese) for anything else in braces."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        raise ValueError("花括号须成对（占位符写作 {名称}）") from None
    names = set()
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if spec or conversion or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", field):
            raise ValueError(f"占位符「{{{field}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}}」"
                             "有误：花括号里只能写占位符的名称，不能加格式、冒号或其他内容")
        names.add(field)
    return names


# --- small words ---------------------------------------------------------------------------------

def amount(kind: str, value: int) -> str:
    """A value as the text says it: counts as they are, money (hundredths of 万元) without spurious decimals."""
    return format_money(value) if kind == "money" else str(value)


def percent(ratio: float) -> str:
    """83.4%, 100%: one decimal, none when it is zero."""
    text = f"{ratio * 100:.1f}"
    return (text.removesuffix(".0")) + "%"


def when(period: Period) -> str:
    """How the speech names the period: 自2026年初截至第三季度末, 2026年第三季度, 2026年9月 …"""
    y, a, b = period.year, period.first, period.last
    if a == 1 and b == 12:
        return f"{y}年"
    if a == 1 and b == 6:
        return f"{y}年上半年"
    if a == 7 and b == 12:
        return f"{y}年下半年"
    if a % 3 == 1 and b == a + 2:
        return f"{y}年{CN_QUARTER[b // 3]}"
    if a == 1 and b > 1:
        return f"自{y}年初截至{CN_QUARTER[b // 3]}末" if b % 3 == 0 else f"自{y}年初截至{b}月末"
    if a == b:
        return f"{y}年{a}月"
    return f"{y}年{a}月至{b}月"


def scope_word(org_name: str) -> str:
    """全省 / 全州 / 全市 / 全县 / 全区: the subtree as the speech calls it, from the organisation's name."""
    place = org_name.removesuffix("政协").strip()
    for tail in ("省", "自治区", "州", "市", "县", "区", "旗"):
        if place.endswith(tail):
            return "全" + ("区" if tail == "自治区" else tail)
    return "全辖区"


# --- the sentences -------------------------------------------------------------------------------

def task_sentence(prefix: str, parts: list[tuple[str, str, str, int]]) -> str | None:
    """``prefix`` + the phrases of the indicators with something verified; None when all are zero.

    ``parts``: (phrase template, unit, kind, verified value) in catalogue order.
    """
    said = [fill(phrase, value=amount(kind, value), unit=unit) for phrase, unit, kind, value in parts if value > 0]
    if not said:
        return None
    return prefix + "，".join(said) + "。"


def change(words: dict[str, str], against: str, now: int, before: int) -> str:
    if before == 0:
        return fill(words["from_zero"], against=against) if now else fill(words["same"], against=against)
    diff = now - before
    if diff == 0:
        return fill(words["same"], against=against)
    key = "up" if diff > 0 else "down"
    return fill(words[key], against=against, diff=abs(diff), pct=percent(abs(diff) / before))


def mobilisation_phrase(words: dict[str, str], mobilisation: dict | None) -> str:
    """动员面 as the participation sentence says it: 达到90.3%, 达到90.3%（自2026年11月起统计）, 未统计."""
    if mobilisation is None or mobilisation.get("rate") is None:
        return fill(words["mobilisation_untracked"])
    rate = percent(mobilisation["rate"])
    since = mobilisation.get("since")
    if since:
        year, month = since.split("-")
        return fill(words["mobilisation_since"], reach_rate=rate, since=f"{year}年{int(month)}月")
    return fill(words["mobilisation"], reach_rate=rate)


def paragraphs(*, words: dict[str, str], campaign_name: str, org_name: str, period: Period,
               tasks: list[dict], participation: dict, compare: dict | None,
               mobilisation: dict | None = None, outcomes: str = "") -> list[list[str]]:
    """The report's paragraphs, each a list of sentences.

    ``tasks``: [{"name", "prefix", "indicators": [{"phrase", "unit", "kind", "verified"}]}] in
    catalogue order; ``participation``: {"active", "took_part"}; ``mobilisation``: {"rate", "since"
    (YYYY-MM or None)}, None when untracked; ``compare``: {"activities", "previous": {"label",
    "activities"} | None, "year_earlier": {...}} or None; ``outcomes``: the verified outcomes as one
    phrase (惠及群众1200人，带动就业35人 — boards.service.outcome_sentence), said in a paragraph of
    their own after the tasks', apart from the effort figures; "" says nothing.
    """
    scope = scope_word(org_name)
    common = {"when": when(period), "scope": scope, "campaign": campaign_name}
    sentences, idle = [], []
    for t in tasks:
        s = task_sentence(t["prefix"], [(i["phrase"], i["unit"], i["kind"], i["verified"]) for i in t["indicators"]])
        if s is None:
            idle.append(t["name"])
        else:
            sentences.append(s)
    if sentences:
        first = [fill(words["opening"], **common) + sentences[0], *sentences[1:]]
        if idle:
            first.append(fill(words["idle_tasks"], tasks="、".join(f"“{n}”" for n in idle)))
    else:
        first = [fill(words["nothing"], **common)]
    out = [first]
    if outcomes:
        out.append([fill(words["outcomes"], **common, outcomes=outcomes)])

    active, took_part = participation["active"], participation["took_part"]
    reach = mobilisation_phrase(words, mobilisation)
    if not active:
        second = fill(words["no_members"], **common)
    elif not took_part:
        second = fill(words["participation_none"], **common, active=active, mobilisation=reach)
    else:
        second = fill(words["participation"], **common, rate=percent(took_part / active), took_part=took_part,
                      mobilisation=reach)
    out.append([second])

    if compare is not None:
        changes = []
        for key, against in (("previous", "against_previous"), ("year_earlier", "against_year")):
            other = compare.get(key)
            if other is not None:
                changes.append(change(words, fill(words[against], period=other["label"]),
                                      compare["activities"], other["activities"]))
        if changes:
            out.append([fill(words["compare"], count=compare["activities"], changes="；".join(changes))])
    return out
