"""The big screen's slides (issue 19): the office's playlist turned into pages that each fit one screen.

A slide is (organisation, part). Parts of an organisation's progress (by organisation,
``boards.overview``): ``summary`` (the headline figures), ``figures-N`` (the indicator table, a few
tasks per slide), ``map`` (the province's 州市), ``ranking-N`` (the next level down, ``RANKING_ROWS``
a slide). Parts of a key county (by place, ``boards.county_board``): ``county`` (rank, activities,
挂联 and the latest activities), ``place-N`` (its figures), ``trend`` and ``own-N`` (the county 政协's
own progress). Long content becomes more slides, never smaller type. The figures are the boards' own
(app/boards/service.py); this module only decides what goes on which slide.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlmodel import Session

from app.boards import charts, periods
from app.boards import service as boards
from app.meeting import screen
from app.meeting.screen import chunk_rows
from app.meeting.settings import playlist_of, settings_for
from app.models import Organisation
from app.orgs.service import counties_of, key_counties

# What fits a 1920×1080 screen at 28 px body type (tests/e2e/test_meeting_screen.py measures it).
FIGURE_ROWS = 16  # task headings + indicator rows on one figures slide
PLACE_ROWS = 16  # the county's figures (three columns)
OWN_ROWS = 9  # the county 政协's own indicator rows under its headline figures
RANKING_ROWS = 12  # rows of a ranking or of the lagging key counties
LATEST_ON_SLIDE = 4
LAGGING_DETAIL = 5  # the lowest lagging key counties shown page by page after the list of them all

_PART = re.compile(r"^(summary|map|county|trend|(figures|ranking|lagging|place|own|problems|followups)-([1-9][0-9]?))$")
# 问题清单 lines / 督办事项 items on one slide, in 28-px type (app/meeting/screen.py).
# Lines of 问题清单 on one 1080p slide (an item: title, reason, one line of padding): six items of a one-line
# reason, five of a two-line one (tests/e2e/test_meeting_screen.py measures it).
PROBLEMS_ROWS = 20
FOLLOWUPS_PER_SLIDE = 3
COUNTY_PARTS = ("county", "place", "trend", "own")

T = TypeVar("T")


@dataclass(frozen=True)
class Slide:
    code: str  # the organisation shown
    part: str
    title: str  # the position bar's words for it


# --- splitting ---------------------------------------------------------------------------------

def _task_rows(task: boards.TaskFigures | boards.TaskInfo) -> int:
    indicators = task.indicators if isinstance(task, boards.TaskInfo) else task.task.indicators
    return 1 + len(indicators)


def figure_pages(tasks: list[Any], limit: int = FIGURE_ROWS) -> list[list[Any]]:
    """The tasks (TaskInfo or TaskFigures) on each figures slide: a task heading with its indicators."""
    return chunk_rows(tasks, [_task_rows(t) for t in tasks], limit)


def row_pages(count: int) -> list[range]:
    """The rows (by index) of a ranking of ``count`` on each slide, evened out: 16 are 8 and 8."""
    pages = chunk_rows(list(range(count)), [1] * count, RANKING_ROWS)
    return [range(page[0], page[-1] + 1) for page in pages]


def own_pages(tasks: list[Any]) -> list[list[boards.IndicatorFigure]]:
    """The county 政协's own indicator rows (no task headings), ``OWN_ROWS`` a slide."""
    rows = [f for t in tasks for f in t.indicators]
    return chunk_rows(rows, [1] * len(rows), OWN_ROWS)


# --- the playlist --------------------------------------------------------------------------------

def playlist(session: Session, top: Organisation, period: periods.Period,
             kinds: list[str] | None = None) -> list[Slide]:
    """Every slide of ``top``'s playlist (its office's setting unless ``kinds`` is given), in order."""
    kinds = kinds if kinds is not None else playlist_of(settings_for(session, top.id))
    return [s for kind in kinds for s in slides_of_kind(session, top, kind, period)]


def slides_of_kind(session: Session, top: Organisation, kind: str, period: periods.Period) -> list[Slide]:
    """The slides one playlist kind stands for: the one place a new kind of page is added."""
    if kind == "overview":  # a key county's overview is its county board (its own progress included)
        return county_slides(session, top) if top.is_key_county else overview_slides(session, top)
    if kind == "lagging":
        return lagging_slides(session, top, period)
    if kind in ("problems", "followups"):
        pages = meeting_slides(session, top, kind, period)
        title = "问题清单" if kind == "problems" else "上次研判会督办事项"
        return [Slide(top.code, f"{kind}-{n}", f"{title} {n}/{len(pages)}") for n in range(1, len(pages) + 1)]
    if kind == "counties":
        return [s for c in counties_of(session, top.id)
                for s in (county_slides(session, c) if c.is_key_county else overview_slides(session, c))]
    return []


def meeting_slides(session: Session, org: Organisation, kind: str, period: periods.Period) -> list[dict[str, Any]]:
    """The 问题清单 (``problems``) or last meeting's 督办事项 (``followups``) of ``org`` as slide contexts."""
    if kind == "problems":
        return screen.problem_slides(session, org, period, PROBLEMS_ROWS)
    return screen.followup_slides(session, org, period, FOLLOWUPS_PER_SLIDE)


def overview_slides(session: Session, org: Organisation) -> list[Slide]:
    tasks, _ = boards.catalogue(session, org.id)
    kids = session.scalar(select(func.count()).select_from(Organisation).where(Organisation.parent_id == org.id)) or 0
    out = [Slide(org.code, "summary", f"{org.name} · 总览")]
    pages = figure_pages(tasks)
    out += [Slide(org.code, f"figures-{n}", f"{org.name} · 指标 {n}/{len(pages)}") for n in range(1, len(pages) + 1)]
    if org.parent_id is None and kids:
        out.append(Slide(org.code, "map", f"{org.name} · 各州市进度"))
    ranking = len(row_pages(kids))
    out += [Slide(org.code, f"ranking-{n}", f"{org.name} · 排名 {n}/{ranking}") for n in range(1, ranking + 1)]
    return out


def county_slides(session: Session, county: Organisation) -> list[Slide]:
    tasks, _ = boards.catalogue(session, county.id)
    place = figure_pages(tasks, PLACE_ROWS)
    own = own_pages(tasks)
    return ([Slide(county.code, "county", f"{county.name} · 重点帮扶县")]
            + [Slide(county.code, f"place-{n}", f"{county.name} · 指标 {n}/{len(place)}")
               for n in range(1, len(place) + 1)]
            + [Slide(county.code, "trend", f"{county.name} · 每月活动")]
            + [Slide(county.code, f"own-{n}", f"{county.name} · 县政协自身工作 {n}/{len(own)}")
               for n in range(1, len(own) + 1)])


def lagging_rows(session: Session, top: Organisation,
                 period: periods.Period) -> list[tuple[boards.RankRow, Organisation]]:
    """The key counties of ``top``'s subtree behind pace, lowest progress score first, each with its
    parent: their rows in their parent's ranking (the boards' own score and behind-pace rule)."""
    counties = key_counties(session, top.id)
    wanted = {c.id for c in counties}
    parents = session.scalars(select(Organisation).where(
        Organisation.id.in_({c.parent_id for c in counties if c.parent_id is not None})))
    rows = [(r, parent) for parent in parents
            for r in boards.overview(session, parent, period).ranking if r.org.id in wanted and r.behind]
    rows.sort(key=lambda rp: (rp[0].score if rp[0].score is not None else 0.0, rp[0].org.code))
    return rows


def lagging_slides(session: Session, top: Organisation, period: periods.Period) -> list[Slide]:
    """The lagging key counties: their list (``lagging-N``, lowest first), then the full slides of
    the ``LAGGING_DETAIL`` lowest — 35 counties' every page would take the meeting an hour."""
    rows = lagging_rows(session, top, period)
    pages = len(row_pages(len(rows)))
    out = [Slide(top.code, f"lagging-{n}", f"进度落后的重点县 {n}/{pages}") for n in range(1, pages + 1)]
    return out + [s for r, _ in rows[:LAGGING_DETAIL] for s in county_slides(session, r.org)]


# --- one slide ---------------------------------------------------------------------------------

def parse_part(part: str | None, org: Organisation, top: Organisation) -> tuple[str, int]:
    """(part name, page number) of a slide's ``part``; a missing part is the organisation's first
    slide (a key county's own slide, unless it is the screen's top organisation). ValueError if bad."""
    if not part:
        return ("county", 0) if org.is_key_county and org.id != top.id else ("summary", 0)
    m = _PART.match(part)
    if not m:
        raise ValueError(part)
    return (m.group(2), int(m.group(3))) if m.group(2) else (m.group(1), 0)


def screen_chart(option: dict, scale: float, *, dark: bool = False) -> dict:
    """A board chart's option with type for the room: 28 px labels at 1080p, times ``scale``; light
    text on the dark theme."""
    option = copy.deepcopy(option)
    px, big = round(28 * scale), round(32 * scale)
    text: dict[str, Any] = {"fontSize": px} | ({"color": "#f0f3f6"} if dark else {})
    option["textStyle"] = dict(text)
    if "title" in option:
        option["title"]["textStyle"] = text | {"fontSize": big}
    if "legend" in option:
        option["legend"] |= {"textStyle": dict(text), "itemWidth": round(40 * scale), "itemHeight": round(24 * scale),
                             "top": round(48 * scale) if "title" in option else 0}
    if "grid" in option:
        option["grid"] |= {"top": round(120 * scale), "right": round(48 * scale)}
    for axis in ("xAxis", "yAxis"):
        if axis in option:
            option[axis] |= {"axisLabel": dict(text), "nameTextStyle": dict(text)}
    if "visualMap" in option:
        option["visualMap"] |= {"textStyle": dict(text), "itemWidth": round(36 * scale),
                                "itemHeight": round(24 * scale), "itemGap": round(10 * scale)}
    # A series' labels (the map's names) stay dark on their white halo: the regions' colours are the
    # same in either theme.
    label = {"fontSize": px, "lineHeight": round(34 * scale), "textBorderWidth": round(3 * scale)}
    for series in option.get("series", []):
        series["label"] = {**series.get("label", {}), **label}
        for item in series.get("data", []):
            if isinstance(item, dict) and isinstance(item.get("label"), dict):
                item["label"] |= label | {k: v for k, v in series["label"].items() if k in ("color", "textBorderColor")}
    option.pop("media", None)  # the phone's layout: a screen is never that narrow
    return option


def slide_context(session: Session, org: Organisation, part: str, page: int, period: periods.Period,
                  scale: float, *, dark: bool = False) -> dict:
    """What the slide template needs for one part (404 for a page past the last)."""
    from app.errors import NotFound

    missing = NotFound("大屏没有这一页（可能数据已变化，请刷新）")
    if part in COUNTY_PARTS:
        cb = boards.county_board(session, org, period)
        ctx: dict[str, Any] = {"cb": cb}
        if part == "place":
            pages = figure_pages(cb.tasks, PLACE_ROWS)
            if page > len(pages):
                raise missing
            ctx |= {"tasks": pages[page - 1], "page": page, "pages": len(pages)}
        elif part == "own":
            pages = own_pages(cb.own.tasks if cb.own else [])
            if page > len(pages) or cb.own is None:
                raise missing
            ctx |= {"rows": pages[page - 1], "page": page, "pages": len(pages)}
        elif part == "trend":
            ctx["trend_option"] = screen_chart(charts.trend_option(cb.trend_months, cb.trend, unit="次"), scale,
                                                 dark=dark)
        elif part == "county":
            ctx["latest"] = cb.latest[:LATEST_ON_SLIDE]
        return ctx
    if part in ("problems", "followups"):
        listed = meeting_slides(session, org, part, period)
        if page > len(listed):
            raise missing
        return {"mt": listed[page - 1], "page": page, "pages": len(listed)}
    if part == "lagging":
        rows = lagging_rows(session, org, period)
        spans = row_pages(len(rows))
        if page > len(spans):
            raise missing
        at = spans[page - 1]
        ctx = {"lagging": rows[at.start:at.stop], "page": page, "pages": len(spans), "first_row": at.start,
               "lagging_total": len(rows)}
        return ctx
    ov = boards.overview(session, org, period)
    ctx = {"ov": ov}
    if part == "figures":
        pages = figure_pages(ov.tasks)
        if page > len(pages):
            raise missing
        ctx |= {"tasks": pages[page - 1], "page": page, "pages": len(pages),
                "first_task": sum(len(p) for p in pages[:page - 1])}
    elif part == "ranking":
        spans = row_pages(len(ov.ranking))
        if page > len(spans):
            raise missing
        ctx |= {"rows": ov.ranking[spans[page - 1].start:spans[page - 1].stop], "page": page, "pages": len(spans)}
    elif part == "map":
        if org.parent_id is not None or not ov.ranking:
            raise missing
        # 「迪庆州」 rather than 「迪庆藏族自治州政协」 on the map: charts.short_name shortens the 州's name.
        ctx["map_option"] = screen_chart(charts.progress_map_option(
            {r.org.code: r.score for r in ov.ranking},
            {r.org.code: r.org.name.removesuffix("政协") for r in ov.ranking}), scale, dark=dark)
    return ctx
