"""The report's tables, from the boards' rollup: per organisation one level down × indicator, per key
county × indicator (by place), the ranking with the indicators behind pace, 典型 (selected, or the
candidates ranked on evidence), and 参与率 by 界别 and by 专委会 (app/boards/breakdown.py). Each table is a plain dict: title, columns (name, kind),
rows of plain values, and per cell the link to the activities behind it (or None).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session, col

from app.boards import breakdown
from app.boards import service as boards
from app.boards.periods import Period
from app.exemplars import service as exemplars
from app.models import (
    Organisation,
)
from app.models.rollup import COUNT
from app.orgs.service import key_counties
from app.reports.narrative import amount
from app.web import grouped

TOP_MEMBERS = 20  # 典型候选: listed when the province has selected no 典型 for the year


UNTRACKED = "未统计"  # a 动员面 cell of a period before tracking began (never 0%)


def cell_text(kind: str, value) -> str:  # noqa: ANN001 - a cell: str, int, float or None
    """A cell as people read it: money without spurious decimals, rates as percentages, — for none."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if kind == "rate":
        return f"{value * 100:.1f}%"
    # Thousands separators in tables (the page, Word, the text output): 1,234 and 152,306.5 — grouped
    # here once, whether or not ``amount`` groups already.
    return grouped(amount(kind, value))


PHRASE_ENDS = "。；！？，、：;!?\n "  # where a phrase ends: a Chinese text is cut only there
ABRIDGE_AT = 40  # 近期活动: about this many characters of each activity's description


def phrase_ends_at(text: str, n: int) -> bool:
    """Whether a phrase ends before ``text[n]``: a Chinese stop or pause, a space, or a Latin comma
    or colon that is not inside a number (1,000 and 10:30 are one word)."""
    ch = text[n]
    if ch in PHRASE_ENDS:
        return True
    inside_number = 0 < n < len(text) - 1 and text[n - 1].isdigit() and text[n + 1].isdigit()
    return ch in ",:" and not inside_number


def abridge(text: str, limit: int = ABRIDGE_AT) -> str:
    """``text``, or its beginning up to the last phrase end within ``limit`` characters (the first
    one after it when there is none) followed by 「…」 — never cut inside a word or a number. A text
    without any phrase end is kept whole (Word and the page wrap it)."""
    text = text.strip()
    if len(text) <= limit:
        return text
    ends = [n for n in range(1, len(text)) if phrase_ends_at(text, n)]
    cut = max((n for n in ends if n <= limit), default=None) or next(iter(ends), None)
    head = text[:cut].rstrip(PHRASE_ENDS + ",:") if cut else ""
    if not head or len(head) == len(text.rstrip(PHRASE_ENDS + ",:")):
        return text
    return head + "…"


def link(org_code: str, period: Period, *, task: int | None = None, scope: str = "org") -> str:
    """The activities behind a figure (the boards' list, filtered by the caller's own reading scope)."""
    url = f"/boards/{org_code}/activities?period={period.key}"
    if task:
        url += f"&task={task}"
    if scope != "org":
        url += f"&scope={scope}"
    return url


def _columns(tasks: list[boards.TaskInfo]) -> list[dict]:
    return [{"name": f"{t.short_name}·{i.name}（{i.unit}）", "kind": i.kind, "task": t.id, "indicator": i.id}
            for t in tasks for i in t.indicators]


def _row_values(got: dict[tuple[int, int], tuple[int, int]], columns: list[dict]) -> list[int]:
    return [got.get((c["task"], c["indicator"]), (0, 0))[0] for c in columns]


def activities(got: dict[tuple[int, int], tuple[int, int]]) -> int:
    return sum(v for (_, i), (v, _) in got.items() if i == COUNT)


def _pct_or_none(p: boards.Participation) -> float | None:
    return p.rate


def _reach_cell(p: boards.Participation) -> float | str | None:
    """动员面: a rate, 「未统计」 before tracking began, None when nobody served."""
    return p.mobilisation_rate if p.tracked else UNTRACKED


def units_table(session: Session, org: Organisation, period: Period, tasks: list[boards.TaskInfo]) -> dict:
    """Per organisation one level down × indicator (by organisation), then 本级 (what is credited to
    the organisation itself), then the subtree's total: every count and money column adds up to 合计.

    动员面 and 参与率 are no sums: each row's is the distinct rate of its own members (本级: memberships
    in the organisation itself), 合计's that of the whole subtree. An organisation without children has no
    table (its 本级 is its 合计). 本级 shows even when it is all zeros, so the sum visibly holds.
    """
    kids = session.execute(select(col(Organisation.id), col(Organisation.name), col(Organisation.code))
                           .where(col(Organisation.parent_id) == org.id).order_by(col(Organisation.code))).all()
    cols = _columns(tasks)
    columns = [{"name": "组织", "kind": "text"}, {"name": "已审核活动（次）", "kind": "count"},
               *[{"name": c["name"], "kind": c["kind"], "task": c["task"], "indicator": c["indicator"]} for c in cols],
               {"name": "动员面", "kind": "rate"}, {"name": "参与率", "kind": "rate"}]
    rows: list[list] = []
    links: list[list] = []
    keys: list[dict] = []
    table = {"key": "units", "title": "下级组织分项统计（按组织，已审核）", "columns": columns,
             "rows": rows, "links": links, "row_keys": keys, "empty": "本组织没有下级组织。"}
    if not kids:
        return table
    units = [k.id for k in kids] + [org.id]
    got = boards.figures(session, "org", units, period)
    part = boards.participation(session, units, period)
    own = boards.own_figures(got, org.id, [k.id for k in kids])
    own_part = boards.own_participation(session, [org.id], period)[org.id]
    for kid in kids:
        figs = got.get(kid.id, {})
        rows.append([kid.name, activities(figs), *_row_values(figs, cols), _reach_cell(part[kid.id]),
                     _pct_or_none(part[kid.id])])
        links.append([f"/reports?org={kid.code}&period={period.key}", link(kid.code, period),
                      *[link(kid.code, period, task=c["task"]) for c in cols], None, None])
        keys.append({"code": kid.code, "row": "unit"})
    # The boards list a subtree's activities, not the organisation's own: no list behind these cells.
    rows.append([f"{org.name}本级", activities(own), *_row_values(own, cols), _reach_cell(own_part),
                 _pct_or_none(own_part)])
    links.append([None] * len(columns))
    keys.append({"code": org.code, "row": "own"})
    figs = got.get(org.id, {})
    rows.append(["合计", activities(figs), *_row_values(figs, cols), _reach_cell(part[org.id]),
                 _pct_or_none(part[org.id])])
    links.append([None, link(org.code, period), *[link(org.code, period, task=c["task"]) for c in cols], None, None])
    keys.append({"code": org.code, "row": "total"})
    return table


def counties_table(session: Session, org: Organisation, period: Period, tasks: list[boards.TaskInfo]) -> dict:
    """Per key county in the subtree × indicator, counted by place, with its rank among all key counties."""
    counties = key_counties(session, org.id)
    cols = _columns(tasks)
    ids = [c.id for c in counties]
    got = boards.figures(session, "place", ids, period)
    summary = boards.county_summaries(session, ids, period)
    rows, links = [], []
    for c in counties:
        figs = got.get(c.id, {})
        s = summary.get(c.id)
        rows.append([c.name, s.rank if s else None, activities(figs), *_row_values(figs, cols)])
        links.append([f"/c/{c.code}?period={period.key}", None, link(c.code, period, scope="place"),
                      *[link(c.code, period, task=col["task"], scope="place") for col in cols]])
    return {"key": "counties", "title": "重点帮扶县分项统计（按活动地点，已审核）",
            "columns": [{"name": "重点帮扶县", "kind": "text"}, {"name": "全省重点县排名", "kind": "rank"},
                        {"name": "已审核活动（次）", "kind": "count"},
                        *[{"name": c["name"], "kind": c["kind"]} for c in cols]],
            "rows": rows, "links": links, "empty": "辖区内没有重点帮扶县。"}


def outcomes_table(org: Organisation, period: Period, figures: list[boards.TaskFigures]) -> dict:
    """成效 (outcome indicators) per task of the subtree, by organisation, verified: a column per outcome
    (受益群众 of every task in one column), a row per task that carries outcomes, and 合计 — the totals
    the board's 成效 line states (boards.service.outcome_totals). Apart from the effort figures."""
    totals = boards.outcome_totals(figures)
    keys = [(o.name, o.unit, o.kind) for o in totals]
    rows: list[list] = []
    links: list[list] = []
    for t in figures:
        if not t.outcomes:
            continue
        mine = {(f.indicator.name, f.indicator.unit, f.indicator.kind): f.verified for f in t.outcomes}
        rows.append([t.task.short_name, *[mine.get(k) for k in keys]])
        links.append([None, *[link(org.code, period, task=t.task.id) if k in mine else None for k in keys]])
    if rows:
        rows.append(["合计", *[o.verified for o in totals]])
        links.append([None, *[link(org.code, period)] * len(totals)])
    return {"key": "outcomes", "title": "成效统计（按组织，已审核；成效为选填，不计入进度得分）",
            "columns": [{"name": "实事", "kind": "text"},
                        *[{"name": f"{name}（{unit}）", "kind": kind} for name, unit, kind in keys]],
            "rows": rows, "links": links, "empty": "本届活动的实事没有成效指标。"}


def ranking_table(session: Session, org: Organisation, period: Period) -> dict:
    """The organisations one level down by progress score, and the indicators each is behind pace on."""
    ov = boards.overview(session, org, period)
    rows, links = [], []
    for r in ov.ranking:
        # Each unit's figures as the board judged them against pace (one rule, one read).
        behind = "、".join(f"{t.task.short_name}·{f.indicator.name}" for t in r.tasks for f in t.indicators if f.behind)
        rows.append([r.rank, r.org.name, r.score, _reach_cell(r.participation), r.participation.rate,
                     r.verified_activities, "工作推进不平衡" if r.behind else "", behind])
        links.append([None, f"/boards/{r.org.code}?period={period.key}", None, None, None, link(r.org.code, period),
                      None, None])
    return {"key": "ranking", "title": "进度排名与落后指标（按年度目标的时间进度）",
            "columns": [{"name": "名次", "kind": "rank"}, {"name": "组织", "kind": "text"},
                        {"name": "进度得分", "kind": "rate"}, {"name": "动员面", "kind": "rate"},
                        {"name": "参与率", "kind": "rate"},
                        {"name": "已审核活动（次）", "kind": "count"}, {"name": "状态", "kind": "text"},
                        {"name": "落后于进度的指标", "kind": "text"}],
            "rows": rows, "links": links, "empty": "本组织没有下级组织，无排名。"}


def members_table(session: Session, org: Organisation, period: Period) -> dict:
    """典型: the 典型 the province selected for the period's year among the subtree's members (app/exemplars),
    with their evidence in the period; when none is selected, the candidates ranked on verified evidence
    (成效, breadth, joint activities, newcomers brought — the raw count capped), labelled as candidates."""
    chosen = exemplars.selected_for(session, org, period)
    columns = [{"name": "序号", "kind": "rank"}, {"name": "姓名", "kind": "text"},
               {"name": "所在组织", "kind": "text"}, {"name": "界别", "kind": "text"},
               {"name": "证据得分", "kind": "count"}, {"name": "已审核活动（次）", "kind": "count"}]
    if chosen:
        found = exemplars.ranked(session, org, period, only=[r.n.member_id for r in chosen])
        exemplars.describe(session, org, period, found)
        figures = {c.member_id: c for c in found}
        rows = []
        for n, r in enumerate(chosen, start=1):
            c = figures.get(r.n.member_id) or exemplars.Candidate(r.n.member_id)
            rows.append([n, r.member_name, c.org_name or r.org_name, r.sector, c.score, c.activities,
                         f"{r.org_name}推荐：{abridge(r.n.citation)}"])
        return {"key": "members", "title": f"典型：{period.year}年选树的典型（{len(rows)} 名）",
                "columns": [*columns, {"name": "推荐事迹", "kind": "text"}],
                "rows": rows, "links": [[None] * 7 for _ in rows], "empty": ""}
    shown, _ = exemplars.candidates(session, org, period, per_page=TOP_MEMBERS)
    rows = [[n, c.name, c.org_name, c.sector, c.score, c.activities, exemplars.evidence_text(c)]
            for n, c in enumerate(shown, start=1)]
    return {"key": "members", "title": f"典型候选：按已审核证据排名（前 {TOP_MEMBERS} 名，{period.year}年尚未选树典型）",
            "columns": [*columns, {"name": "证据", "kind": "text"}],
            "rows": rows, "links": [[None] * 7 for _ in rows], "empty": "本期还没有委员参加已审核的活动。"}



def breakdown_table(session: Session, org: Organisation, period: Period, by: str) -> dict:
    """分界别统计 (``by="sector"``: the subtree's members by 界别) or 分专委会统计 (``by="committee"``:
    the organisation's own members by its committees): 参与率 and 参加活动人次 (app/boards/breakdown.py,
    as on the board and in the API)."""
    got = breakdown.breakdown(session, org, period, by)
    rows = [[g.name, g.participation.active, g.participation.took_part, g.participation.rate, g.participations]
            for g in got.groups]
    scope = "本组织及下级的全部在任委员" if by == "sector" else "本级委员"
    return {"key": "sectors" if by == "sector" else "committees",
            "title": f"分{got.label}统计（{scope}，已审核）",
            "columns": [{"name": got.label, "kind": "text"}, {"name": "在任委员（名）", "kind": "count"},
                        {"name": "参与委员（名）", "kind": "count"}, {"name": "参与率", "kind": "rate"},
                        {"name": "参加活动人次", "kind": "count"}],
            "rows": rows, "links": [[None] * 5 for _ in rows],
            "empty": "本期没有在任委员。" if by == "sector" else "本组织没有专委会。"}
