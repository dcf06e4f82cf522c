"""Figures by 界别 and by 专委会: for an organisation and a period, each group's 参与率 and its
参加活动人次 — the overview board's section, the report's tables and ``GET /api/v1/orgs/{code}/breakdown``.

The groups: by 界别 (``Member.sector``), every member serving in the organisation's subtree; by
专委会, the members whose membership in the organisation itself sits on one of its own committees
(``Membership.committee_id``; a committee belongs to its membership's organisation).

The counting rule is 参与率's, not a second one: a member is active in a group in the months a
membership of that group was in force, and took part when they took part in a verified activity
(``participation_month``) in one of those months of the period — app/rollup/service.py's month masks
(``masks_from``), with the group in place of the organisation. A group's 参加活动人次 (``participations``)
is the sum, over its members, of the verified activities each took part in (a confirmed participant)
in the months they were active in the group — ``participation_month.activities``, the rollup's own
counter: an activity with three members of one 界别 counts three 人次 there. Issue 19 counted distinct
activities instead, from every participant row of the period: 8.5 s for the province at 1,000,000
activities and minutes at 5,000,000, paid on each change of the board (bench/README.md, boards.py);
the counter makes it a read of the members' months. The 界别 rows' active members and members who
took part add up to the subtree's 参与率 (each member has one 界别).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from app.boards.periods import Period
from app.boards.service import Participation
from app.db import Prepared
from app.models import (
    Committee,
    Member,
    Membership,
    Organisation,
    ParticipationMonth,
)
from app.models.people import serving_during
from app.orgs.service import subtree_ids
from app.rollup.service import SPAN_MASK, kept_years, masks_from

BY_LABELS: dict[str, str] = {"sector": "界别", "committee": "专委会"}
NO_SECTOR = "未填界别"


@dataclass
class GroupFigures:
    """One 界别 or 专委会: its 参与率 (active members, those who took part) and its activities."""

    name: str
    participation: Participation
    participations: int  # 参加活动人次: the members' verified activities in their months in the group
    committee_id: int | None = None


@dataclass
class Breakdown:
    by: str
    org: Organisation
    period: Period
    groups: list[GroupFigures]

    @property
    def label(self) -> str:
        return BY_LABELS[self.by]


def _seats(org: Organisation, by: str) -> tuple[Any, list]:
    """The group column and the conditions on ``membership`` of one breakdown."""
    if by == "sector":
        return Member.sector, [Membership.org_id.in_(subtree_ids(org.id))]
    return Membership.committee_id, [Membership.org_id == org.id, Membership.committee_id.is_not(None)]


def _figures(session: Session, org: Organisation, period: Period, by: str) -> dict[Any, tuple[int, int, int]]:
    """group -> (active, took part, 人次), all three by the counters' month masks: the seats of the
    period and the members' months in ``participation_month`` (with how many verified activities),
    each month kept for the groups the member was active in that month."""
    group, where = _seats(org, by)
    conn = session.connection()  # plain rows: no ORM loading of some 100 000 tuples
    in_period = serving_during(period.start, period.end)
    seats = conn.execute(
        select(Membership.member_id, group, Membership.start_date, Membership.end_date)
        .join(Member, Member.id == Membership.member_id).where(*where, in_period)).all()
    if not seats:
        return {}
    seated = select(Membership.member_id).where(*where, in_period)
    # A year whose counters are not kept has no verified participation yet (rollup.ensure_year).
    kept = period.year in kept_years(session)
    # Integers only, some 300 000 rows for a province at 1M: straight off SQLite's cursor (db.Prepared),
    # SQLAlchemy's rows would cost three times the query.
    months = Prepared(
        select(ParticipationMonth.member_id, ParticipationMonth.month, ParticipationMonth.activities)
        .where(ParticipationMonth.member_id.in_(seated), ParticipationMonth.activities > 0,
               ParticipationMonth.month.between(period.month_from, period.month_to))
    ).execute(conn, {}).fetchall() if kept else []
    # The masks are keyed by integers: the groups are numbered here and named again below.
    names = sorted({s[1] for s in seats}, key=str)
    number = {name: n for n, name in enumerate(names)}
    masks = masks_from([(m, number[g], start, end) for m, g, start, end in seats],
                       [(m, month) for m, month, _ in months], [], [period.year])
    span = SPAN_MASK[(period.first, period.last)]
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    active_in: dict[int, list[tuple[int, int]]] = defaultdict(list)  # member -> [(group, active months)]
    for (member, n, _), (active, taken, _) in masks.items():
        if active & span:
            counts[n][0] += 1
            counts[n][1] += bool(active & taken & span)
            active_in[member].append((n, active & span))
    for member, month, activities in months:
        for n, active in active_in.get(member, ()):
            if active >> (month % 100 - 1) & 1:
                counts[n][2] += activities
    return {names[n]: (a, t, p) for n, (a, t, p) in counts.items()}


def breakdown(session: Session, org: Organisation, period: Period, by: str) -> Breakdown:
    """The groups of ``org`` for ``period`` by 界别 (``by="sector"``: every 界别 with a member serving
    in the subtree, most members first) or by 专委会 (``by="committee"``: every committee of the
    organisation itself, in its own order, empty ones included)."""
    figures = _figures(session, org, period, by)
    if by == "sector":
        groups = [GroupFigures(name=sector or NO_SECTOR, participation=Participation(a, t), participations=n)
                  for sector, (a, t, n) in figures.items()]
        groups.sort(key=lambda g: (-g.participation.active, g.name))
        return Breakdown(by, org, period, groups)
    committees = session.execute(select(Committee.id, Committee.name).where(Committee.org_id == org.id)
                                 .order_by(Committee.id)).all()
    return Breakdown(by, org, period, [
        GroupFigures(name=name, participation=Participation(*figures.get(cid, (0, 0, 0))[:2]),
                     participations=figures.get(cid, (0, 0, 0))[2], committee_id=cid) for cid, name in committees])
