"""问题清单 for the monthly 研判 meeting (issue 19): what lags in an organisation's subtree for a period,
and why, each item with its figures and a link to what is behind them.

Every figure is read from the module that owns it — never recounted here a second way:

- ``behind_pace``: the organisation's indicators under 90 % of the pro-rated target
  (``boards.service.overview``, ``IndicatorFigure.behind``);
- ``imbalance``: 工作推进不平衡 — units one level down whose progress score is behind (the boards'
  ranking, ``RankRow.behind``), with the rank change against the month before;
- ``uncovered_county``: key counties with no 挂联 leader in force (``links.service.coverage``);
- ``idle_leader``: linked leaders with no verified activity of their own in their county for N months
  (挂联实效, ``links.service.link_effect``; N = the office's ``link_idle_months``);
- ``backlog``: queues with pending activities older than their service level (``quality.backlog``);
- ``participation_drop`` / ``mobilisation_drop``: 参与率 / 动员面 of the period's last month at least
  5 percentage points under the month before (``boards.service.participation``).

``problems()`` takes an organisation the caller has already loaded through its scope (``OrgForRead``
on pages and the API, the display link's subtree on the big screen), and reads as a reader of exactly
that subtree: the loaders it calls are the same ones an API token of that subtree goes through.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlmodel import Session

from app.auth.principal import Principal
from app.boards import service as boards
from app.boards.periods import Period, span
from app.clock import today_cn
from app.links.service import coverage, link_effect
from app.models import (
    GrantRole,
    Organisation,
)
from app.orgs.service import ancestor_pairs
from app.quality import backlog
from app.reports.tables import cell_text
from app.reports.tables import link as activities_link

DROP_POINTS = 5.0  # a fall of this many percentage points or more in a month is a problem

KINDS = {
    "behind_pace": "指标落后于时间进度",
    "imbalance": "工作推进不平衡",
    "uncovered_county": "重点帮扶县无挂联领导",
    "idle_leader": "挂联领导未到县开展活动",
    "backlog": "审核积压超期",
    "participation_drop": "参与率下降",
    "mobilisation_drop": "动员面下降",
}

Figure = int | float | str | None


@dataclass(frozen=True)
class Problem:
    """One item of the 问题清单: ``kind`` (a key of KINDS) and ``ref`` name it stably across meetings
    (a 督办事项 made from it keeps both, and finds it again to show the figures now)."""

    kind: str
    ref: str
    title: str  # who or what, short: 「发展产业项目」, 「盘龙区政协」
    why: str  # the Chinese sentence with the figures
    link: str  # what is behind the figures
    figures: dict[str, Figure] = field(default_factory=dict)

    @property
    def kind_label(self) -> str:
        return KINDS[self.kind]

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.ref)

    def snapshot(self) -> str:
        """The item as a 督办事项 keeps it (``figure_then``): the sentence and the figures, as JSON."""
        return json.dumps({"why": self.why, "figures": self.figures}, ensure_ascii=False, sort_keys=True)


# --- numbers as people read them ---------------------------------------------------------------------

def number(kind: str, value: int) -> str:
    """A count or an amount (hundredths of 万元) with thousands separators: the reports' one rule."""
    return cell_text(kind, value)


def pct(ratio: float | None) -> str:
    return cell_text("rate", ratio)


def _points(ratio: float | None) -> float | None:
    """A rate in percentage points, rounded so that float noise never decides a threshold."""
    return None if ratio is None else round(ratio * 100, 6)


def drop_points(before: float | None, now: float | None) -> float | None:
    """How many percentage points a rate fell (negative: it rose); None when either is unknown."""
    b, n = _points(before), _points(now)
    return None if b is None or n is None else round(b - n, 6)


def is_drop(before: float | None, now: float | None) -> bool:
    """A fall of DROP_POINTS percentage points or more."""
    d = drop_points(before, now)
    return d is not None and d >= DROP_POINTS


# --- reading as the organisation's own reader --------------------------------------------------------

def _reader(org: Organisation) -> Principal:
    """A read-only view of ``org``'s subtree, as an API token of that subtree has (app/tokens/service.py
    ``principal_for``): the scoped loaders of backlog and coverage ask it, and answer for exactly the
    subtree the caller's own loader already granted."""
    return Principal(user_id=0, login="", display_name="问题清单", member_id=None,
                     grants=((GrantRole.viewer, org.id),), roles=frozenset({GrantRole.viewer}))


def _board(org: Organisation, period: Period) -> str:
    return f"/boards/{org.code}?period={period.key}"


# --- the kinds ----------------------------------------------------------------------------------------

def _behind_pace(ov: boards.Overview, period: Period) -> list[Problem]:
    out = []
    for t in ov.tasks:
        for f in t.indicators:
            if not f.behind or f.pace is None or f.target is None:
                continue
            kind, unit = f.indicator.kind, f.indicator.unit
            pace = round(f.pace)
            why = (f"{f.indicator.name}已审核 {number(kind, f.verified)} {unit}，按时间进度应完成 {number(kind, pace)} {unit}"
                   f"（年度目标 {number(kind, f.target)} {unit}），只完成时间进度的 {pct(f.progress)}，低于 90%。")
            out.append(Problem("behind_pace", f"indicator:{f.indicator.id}", f.indicator.name, why,
                               activities_link(ov.org.code, period, task=t.task.id),
                               {"verified": f.verified, "pace": pace, "target": f.target,
                                "progress": f.progress, "unit": unit, "kind": kind}))
    return out


def _imbalance(ov: boards.Overview, period: Period) -> list[Problem]:
    scored = [r.score for r in ov.ranking if r.score is not None]
    mean = sum(scored) / len(scored) if scored else None
    out = []
    for r in ov.ranking:
        if not r.behind:
            continue
        change = r.rank_change
        moved = ("" if change is None else "，名次与上月持平" if change == 0
                 else f"，比上月上升 {change} 名" if change > 0 else f"，比上月下降 {-change} 名")
        before = f"（上月第 {r.previous_rank} 名）" if r.previous_rank is not None else ""
        why = (f"{r.org.name}进度得分 {pct(r.score)}，低于 90%，同级平均 {pct(mean)}；"
               f"在 {len(scored)} 个下级组织中排第 {r.rank} 名{before}{moved}。")
        out.append(Problem("imbalance", f"org:{r.org.code}", r.org.name, why, _board(r.org, period),
                           {"score": r.score, "siblings_mean": mean, "rank": r.rank,
                            "previous_rank": r.previous_rank, "rank_change": change, "ranked": len(scored)}))
    return out


def _uncovered(session: Session, org: Organisation, period: Period, on: date) -> list[Problem]:
    cov = coverage(session, _reader(org), prefecture_id=org.id, today=on)
    codes = dict(session.execute(select(Organisation.id, Organisation.code).where(
        Organisation.id.in_([r.county_id for r in cov.rows]))).all()) if cov.rows else {}
    out = []
    for row in cov.rows:
        if row.status == "covered":
            continue
        if row.status == "uncovered":
            why = f"重点帮扶县{row.county_name}截至 {on.isoformat()} 没有在任的挂联领导。"
        else:
            names = "、".join(x.name for x in row.leaders)
            why = f"重点帮扶县{row.county_name}的挂联领导（{names}）已不在该县或上级任领导职务，挂联待调整。"
        out.append(Problem("uncovered_county", f"county:{codes[row.county_id]}", row.county_name, why,
                           f"/links/coverage?prefecture_id={row.prefecture_id or ''}",
                           {"status": row.status, "leaders": len(row.leaders), "on": on.isoformat()}))
    return out


SHOWN_NAMES = 5  # leaders named in a unit's sentence; the rest are counted


def _idle_leaders(session: Session, org: Organisation, period: Period) -> list[Problem]:
    """挂联实效's flag (app/links/service.py ``link_effect``: linked N months without an own verified
    activity in the county, N the office's setting). A county's meeting gets one item per leader; above
    it, one per unit one level down (the demo province has some 300 flagged links of 1,289: a meeting
    decides per unit, and the unit's board and coverage list the names)."""
    flagged = [e for e in link_effect(session, _reader(org), org, period) if e.idle]
    if not flagged:
        return []
    months = flagged[0].idle_months
    if org.level == "county":
        out = []
        for e in flagged:
            when = f"最近一次在 {e.last_activity_on.isoformat()}" if e.last_activity_on else "挂联以来没有记录"
            why = f"{e.leader_name}挂联{e.county_name}，{months} 个月以上没有本人参加的已审核活动在该县（{when}）。"
            out.append(Problem("idle_leader", f"leader:{e.leader_member_id}:{e.county_code}",
                               f"{e.leader_name} · {e.county_name}", why, "/links/coverage",
                               {"months": months, "last": e.last_activity_on.isoformat() if e.last_activity_on
                                else None, "since": e.since.isoformat()}))
        return out
    pairs = ancestor_pairs({e.county_id for e in flagged}).subquery()
    unit_of: dict[int, Organisation] = dict(session.execute(  # each county -> its unit one level down
        select(pairs.c.org_id, Organisation).join(Organisation, Organisation.id == pairs.c.ancestor_id)
        .where(Organisation.parent_id == org.id)).all())
    grouped: dict[int, list] = {}
    for e in flagged:
        grouped.setdefault(unit_of[e.county_id].id, []).append(e)
    out = []
    units = {u.id: u for u in unit_of.values()}
    for unit in sorted(units.values(), key=lambda u: u.code):
        rows = grouped.get(unit.id, [])
        if not rows:
            continue
        leaders = sorted({e.leader_name for e in rows})
        names = "、".join(leaders[:SHOWN_NAMES]) + (f"等 {len(leaders)} 人" if len(leaders) > SHOWN_NAMES else "")
        why = (f"{unit.name}范围内有 {len(rows):,} 条挂联（{names}）{months} 个月以上没有领导本人参加的已审核活动"
               f"在所挂联的县。")
        link = f"/links/coverage?prefecture_id={unit.id}" if unit.level == "prefecture" else "/links/coverage"
        out.append(Problem("idle_leader", f"unit:{unit.code}", unit.name, why, link,
                           {"months": months, "links": len(rows), "leaders": len(leaders)}))
    return out


def _backlog(session: Session, org: Organisation) -> list[Problem]:
    out = []
    for row in backlog.backlog(session, _reader(org), org.id):
        if not row.overdue:
            continue
        who = f"{row.org.name}本级" if row.own else row.org.name
        why = (f"{who}有 {row.overdue:,} 条活动待审核超过服务时限 {row.sla_days} 天（共 {row.pending:,} 条待审核，"
               f"最久已等 {row.oldest_age_days} 天）。")
        out.append(Problem("backlog", f"{'own' if row.own else 'org'}:{row.org.code}", who, why,
                           f"/boards/{org.code}/backlog",
                           {"overdue": row.overdue, "pending": row.pending, "sla_days": row.sla_days,
                            "oldest_age_days": row.oldest_age_days}))
    return out


def _last_two_months(period: Period) -> tuple[Period, Period]:
    """The period's last month and the month before it (December of the year before for January)."""
    now = span(period.year, period.last, period.last)
    before = now.previous_across_years()  # the reports' 环比 rule: one month back, across the year end
    assert before is not None  # a single month always has one before it
    return now, before


def _drops(session: Session, org: Organisation, period: Period, kids: list[Organisation]) -> list[Problem]:
    units = [org, *kids]
    month, before = _last_two_months(period)
    ids = [u.id for u in units]
    now_p, before_p = boards.participation(session, ids, month), boards.participation(session, ids, before)
    out = []
    for u in units:
        a, b = now_p[u.id], before_p[u.id]
        for kind, name, now_rate, before_rate in (
                ("participation_drop", "参与率", a.rate, b.rate),
                ("mobilisation_drop", "动员面", a.mobilisation_rate, b.mobilisation_rate)):
            if not is_drop(before_rate, now_rate):
                continue
            fell = drop_points(before_rate, now_rate)
            why = (f"{u.name}{month.label}{name} {pct(now_rate)}，比{before.label}（{pct(before_rate)}）"
                   f"下降 {fell:.1f} 个百分点。")
            out.append(Problem(kind, f"org:{u.code}", u.name, why, _board(u, month),
                               {"now": now_rate, "before": before_rate, "points": fell,
                                "month": f"{month.year}-{month.last:02d}"}))
    return out


# --- the list -----------------------------------------------------------------------------------------

def problems(session: Session, org: Organisation, period: Period) -> list[Problem]:
    """The 问题清单 of ``org``'s subtree for ``period``, in KINDS' order (``org`` already scoped by the caller)."""
    on = min(period.end, today_cn())  # who is linked: the period's last day, or today while it runs
    ov = boards.overview(session, org, period)
    kids = [r.org for r in ov.ranking]
    return [*_behind_pace(ov, period), *_imbalance(ov, period), *_uncovered(session, org, period, on),
            *_idle_leaders(session, org, period), *_backlog(session, org), *_drops(session, org, period, kids)]


def by_key(items: list[Problem]) -> dict[tuple[str, str], Problem]:
    return {p.key: p for p in items}

