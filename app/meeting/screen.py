"""The 问题清单 and the 督办事项 as big-screen slides: the items split into pages (问题清单 by the lines
their reasons take, 督办事项 ``per_slide`` a page), each a context for templates/meeting/_slide_problems.html
or _slide_followups.html. The meeting mode
(app/boards/pages.py) picks the slides; no user here — ``org`` comes from the display link's scope."""

from __future__ import annotations

import math
from typing import Any, TypeVar

from sqlmodel import Session

from app.boards.periods import Period
from app.meeting import followups as follow_ups
from app.meeting import problems as problem_list
from app.models import Organisation

T = TypeVar("T")
# Characters of 28-px type on one line of a 1080p slide's list, with room to spare (the list is about
# 1,800 px wide inside its margins: 64 Chinese characters); Latin letters and digits count about half.
CHARS_PER_LINE = 62


def chunk_rows(items: list[T], sizes: list[int], limit: int) -> list[list[T]]:
    """``items`` (each ``sizes[i]`` rows tall) in order, on as few slides of at most ``limit`` rows as
    possible, evened out (rows 14 and 3 make slides of 9 and 8, not 14 and 3). An item taller than
    ``limit`` gets a slide of its own."""
    def greedy(cap: int) -> list[list[T]]:
        out: list[list[T]] = []
        used = cap + 1
        for item, size in zip(items, sizes, strict=True):
            if used + size > cap:
                out.append([])
                used = 0
            out[-1].append(item)
            used += size
        return out

    if not items:
        return []
    fewest = len(greedy(limit))
    cap = min(limit, max(sizes))
    while len(greedy(cap)) > fewest:  # the smallest slide height that needs no more slides
        cap += 1
    return greedy(cap)


def text_lines(text: str) -> int:
    """How many lines ``text`` takes on a slide (Chinese characters full width, the rest half)."""
    width = sum(1.0 if ord(c) >= 0x2E80 else 0.55 for c in text)
    return max(1, math.ceil(width / CHARS_PER_LINE))


def split(items: list[Any], per_slide: int) -> list[list[Any]]:
    """``items`` in pages of ``per_slide`` (one empty page when there are none: the slide says so)."""
    if per_slide < 1:
        raise ValueError("per_slide must be at least 1")
    return [items[i:i + per_slide] for i in range(0, len(items), per_slide)] or [[]]


def _slides(kind: str, title: str, org: Organisation, period: Period, items: list[Any], pages: list[list[Any]],
            **extra: Any) -> list[dict[str, Any]]:
    firsts = [1]
    for page in pages[:-1]:
        firsts.append(firsts[-1] + len(page))
    return [{"kind": kind, "title": title, "org": org, "period": period, "items": page, "page": n,
             "first": first, "pages": len(pages), "total": len(items), **extra}
            for n, (page, first) in enumerate(zip(pages, firsts, strict=True), start=1)]


def problem_slides(session: Session, org: Organisation, period: Period, rows: int) -> list[dict[str, Any]]:
    """The 问题清单 of ``org`` for ``period`` as slides of at most ``rows`` lines: an item is its title line,
    the lines of its reason and one for its padding and gap, so long reasons make more slides, never
    smaller type."""
    items = problem_list.problems(session, org, period)
    pages = chunk_rows(items, [2 + text_lines(p.why) for p in items], rows) or [[]]
    return _slides("problems", "问题清单", org, period, items, pages)


def followup_slides(session: Session, org: Organisation, period: Period, per_slide: int) -> list[dict[str, Any]]:
    """What the meeting opens with — last meeting's 督办事项 and those still open — as slides, each with
    its status and, for items from the 问题清单, the figures then and now."""
    rows = follow_ups.previous_followups(session, org, period)
    current = problem_list.problems(session, org, period) if any(r.source_kind != follow_ups.MANUAL for r in rows) \
        else []
    items = follow_ups.views(session, rows, current=current)
    counts = {s: sum(1 for v in items if v.status == s) for s in follow_ups.STATUS_LABELS}
    return _slides("followups", "上次研判会督办事项", org, period, items, split(items, per_slide), counts=counts,
                   labels=follow_ups.STATUS_LABELS)
