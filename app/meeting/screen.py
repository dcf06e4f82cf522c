"""The 问题清单 and the 督办事项 as big-screen slides: the items split into pages of ``per_slide``, each
a context for templates/meeting/_slide_problems.html or _slide_followups.html. The meeting mode
(app/boards/pages.py) picks the slides; no user here — ``org`` comes from the display link's scope."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from app.boards.periods import Period
from app.meeting import followups as follow_ups
from app.meeting import problems as problem_list
from app.models import Organisation


def split(items: list[Any], per_slide: int) -> list[list[Any]]:
    """``items`` in pages of ``per_slide`` (one empty page when there are none: the slide says so)."""
    if per_slide < 1:
        raise ValueError("per_slide must be at least 1")
    return [items[i:i + per_slide] for i in range(0, len(items), per_slide)] or [[]]


def _slides(kind: str, title: str, org: Organisation, period: Period, items: list[Any], per_slide: int,
            **extra: Any) -> list[dict[str, Any]]:
    pages = split(items, per_slide)
    return [{"kind": kind, "title": title, "org": org, "period": period, "items": page, "page": n,
             "first": (n - 1) * per_slide + 1, "pages": len(pages), "total": len(items), **extra}
            for n, page in enumerate(pages, start=1)]


def problem_slides(session: Session, org: Organisation, period: Period, per_slide: int) -> list[dict[str, Any]]:
    """The 问题清单 of ``org`` for ``period`` as slides."""
    items = problem_list.problems(session, org, period)
    return _slides("problems", "问题清单", org, period, items, per_slide)


def followup_slides(session: Session, org: Organisation, period: Period, per_slide: int) -> list[dict[str, Any]]:
    """What the meeting opens with — last meeting's 督办事项 and those still open — as slides, each with
    its status and, for items from the 问题清单, the figures then and now."""
    rows = follow_ups.previous_followups(session, org, period)
    current = problem_list.problems(session, org, period) if any(r.source_kind != follow_ups.MANUAL for r in rows) \
        else []
    items = follow_ups.views(session, rows, current=current)
    counts = {s: sum(1 for v in items if v.status == s) for s in follow_ups.STATUS_LABELS}
    return _slides("followups", "上次研判会督办事项", org, period, items, per_slide, counts=counts,
                   labels=follow_ups.STATUS_LABELS)
