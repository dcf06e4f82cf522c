"""Keeping the boards' rollup exact, in the transaction of every change (app/models/rollup.py).

Writers describe an activity's effect on the figures as a :class:`Contribution` — before and after
their change — and call :func:`apply`; the difference goes into the rollup as additive upserts
(one statement for the figures, one for the stamps), and, when who took part in a verified
activity changed, into the participation counters. Membership changes (换届, transfers, imports)
take a :func:`member_masks` snapshot before and call :func:`members_changed` after. The counters
also keep 动员面 (``reached``): app/rollup/reach.py adds a member's newly reached month the same way.

:func:`recount` computes every figure again from the raw rows with set-based SQL, independently
of the incremental path; :func:`check` compares the two and :func:`rebuild` replaces the stored
figures with the recount (bulk loads end with it). ``python -m app rollup --check | --rebuild``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from sqlalchemy import Connection, bindparam, case, delete, func, literal, select, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from app.clock import today_cn, yyyymm
from app.db import AddingUpsert, deferred, write_work
from app.models import (
    Activity,
    ActivityParticipant,
    ActivityStatus,
    ActivityValue,
    AppMeta,
    Campaign,
    HistoryEntry,
    Member,
    MemberReach,
    Membership,
    Organisation,
    OrgClosure,
    ParticipantStatus,
    ParticipationCounter,
    ParticipationMonth,
    Rollup,
    RollupStamp,
)
from app.models.people import serving_during
from app.models.rollup import COUNT
from app.orgs.service import ancestor_pairs

COUNTED = (ActivityStatus.verified.value, ActivityStatus.pending.value)
YEARS_KEY = "rollup_years"  # app_meta: the years whose participation counters are kept
# app_meta: the first month (yyyymm) anyone was reached — 动员面 is tracked from then on, and a
# period wholly before it reads 「未统计」, never 0 % (app/rollup/reach.py sets it).
SINCE_KEY = "reach_since"

# The 78 spans of months inside a year, and each one's month mask (bit 0 = January).
SPANS: tuple[tuple[int, int], ...] = tuple((a, b) for a in range(1, 13) for b in range(a, 13))
SPAN_MASK: dict[tuple[int, int], int] = {(a, b): ((1 << b) - 1) ^ ((1 << (a - 1)) - 1) for a, b in SPANS}
FULL_YEAR = (1 << 12) - 1


@dataclass(frozen=True)
class Contribution:
    """What one activity adds to the figures: nothing unless pending or verified."""

    status: str
    credited_org_id: int
    county_id: int
    task_id: int
    month: int  # yyyymm
    values: Mapping[int, int] = field(default_factory=dict)  # indicator id -> value
    members: frozenset[int] = frozenset()  # confirmed participants (the recorder included)

    def with_status(self, status: str) -> Contribution:
        return replace(self, status=status)


def contribution(session: Session, activity: Activity) -> Contribution:
    """The contribution of a loaded activity as it stands in the database now."""
    return contributions(session, [activity])[activity.id]


def contributions(session: Session, activities: Iterable[Activity]) -> dict[int, Contribution]:
    """The contributions of several loaded activities: two queries, however many (bulk verify)."""
    activities = list(activities)
    ids = [a.id for a in activities]
    values: dict[int, dict[int, int]] = defaultdict(dict)
    members: dict[int, set[int]] = defaultdict(set)
    if ids:
        conn = session.connection()
        for activity_id, indicator_id, value in conn.execute(_VALUES_OF, {"ids": ids}):
            values[activity_id][indicator_id] = value
        for activity_id, member_id in conn.execute(_MEMBERS_OF, {"ids": ids}):
            members[activity_id].add(member_id)
    return {a.id: Contribution(status=str(a.status), credited_org_id=a.credited_org_id, county_id=a.county_id,
                               task_id=a.task_id, month=yyyymm(a.occurred_on), values=values[a.id],
                               members=frozenset(members[a.id])) for a in activities}


_VALUES_OF = select(ActivityValue.activity_id, ActivityValue.indicator_id, ActivityValue.value).where(
    ActivityValue.activity_id.in_(bindparam("ids", expanding=True)))
_MEMBERS_OF = select(ActivityParticipant.activity_id, ActivityParticipant.member_id).where(
    ActivityParticipant.activity_id.in_(bindparam("ids", expanding=True)),
    ActivityParticipant.status == ParticipantStatus.confirmed.value)
_ANCESTORS = ancestor_pairs(bindparam("ids", expanding=True))


# --- the incremental path ----------------------------------------------------------------------

def _insert(conn: Connection):  # noqa: ANN202 - the dialect's INSERT with ON CONFLICT
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)


_UPSERTS: dict[tuple, AddingUpsert] = {}  # built once per table: building costs more than running


def _upsert(table, keys: list[str], columns: list[str]) -> AddingUpsert:  # noqa: ANN001
    """INSERT … ON CONFLICT DO UPDATE SET column = column + excluded.column."""
    cache_key = (table.name, tuple(keys), tuple(columns))
    stmt = _UPSERTS.get(cache_key)
    if stmt is None:
        stmt = _UPSERTS[cache_key] = AddingUpsert(table, keys, columns)
    return stmt


def _upsert_add(conn: Connection, table, keys: list[str], columns: list[str], rows: list[dict]) -> None:  # noqa: ANN001
    """The upsert for many rows at once."""
    if rows:
        _upsert(table, keys, columns).executemany(conn, rows)


_ROLLUP_KEY = ["scope", "unit_id", "year", "task_id", "indicator_id", "month"]


def _stamp_rows(units: Iterable[tuple[str, int]]) -> list[dict]:
    return [{"scope": s, "unit_id": u, "version": 1} for s, u in sorted(set(units))]


def _bump(conn: Connection, units: Iterable[tuple[str, int]]) -> None:
    _upsert_add(conn, RollupStamp.__table__, ["scope", "unit_id"], ["version"], _stamp_rows(units))


def touch(session: Session, units: Iterable[tuple[str, int]]) -> None:
    """Tell open boards of ``units`` that what they show changed (e.g. a target): bump their stamps."""
    _bump(session.connection(), units)


def apply(session: Session, changes: Iterable[tuple[Contribution | None, Contribution | None]], *,
          lineage: Mapping[int, Sequence[int]] | None = None) -> None:
    """Add ``after - before`` of each change to the rollup, in the session's transaction.

    ``lineage``: each credited organisation with the ids above it, when the caller holds them already
    (a submission checked its rules against the cached tree, app/activities/facts.py)."""
    changes = [(b, a) for b, a in changes if b != a]
    if not changes:
        return
    conn = session.connection()
    credited = {c.credited_org_id for pair in changes for c in pair if c is not None}
    ancestors: dict[int, list[int]] = defaultdict(list)
    if lineage is not None and all(org in lineage for org in credited):  # not set(lineage): every organisation
        ancestors.update({org: list(lineage[org]) for org in credited})
    else:
        for descendant, ancestor in conn.execute(_ANCESTORS, {"ids": sorted(credited)}):
            ancestors[descendant].append(ancestor)

    # In a group commit's batch (app/db.py) the sums wait for the batch's end: the province's and the
    # prefectures' rows, which every submission of the batch adds to, are then written once. On
    # PostgreSQL they are written in the COMMIT's round trip: those rows stay locked only that long.
    # The figures are added straight to the use case's staged sums (dropped if it fails).
    staged = deferred(session, "rollup", Sums)
    sums = staged if staged is not None else Sums()
    figures = sums.figures
    took_part: Counter[tuple[int, int]] = Counter()
    for before, after in changes:
        for sign, c in ((-1, before), (1, after)):
            if c is None or c.status not in COUNTED:
                continue
            col = 0 if c.status == ActivityStatus.verified else 1
            adds = [(COUNT, sign), *((indicator, sign * value) for indicator, value in c.values.items())]
            units = [("org", a) for a in ancestors[c.credited_org_id]] + [("place", c.county_id)]
            for scope, unit in units:
                for indicator, amount in adds:
                    figures[(scope, unit, c.month, c.task_id, indicator)][col] += amount
            if c.status == ActivityStatus.verified:
                for member in c.members:
                    took_part[(member, c.month)] += sign

    if staged is None:
        write_work(conn, sums)
    took_part = Counter({k: n for k, n in took_part.items() if n})
    if took_part:
        _participation_changed(session, took_part)


class Sums:
    """Figures to add to the rollup — (scope, unit, month, task, indicator) → [verified, pending] — and
    the stamps to bump, theirs and any other's (``stamp``): one use case's, or a batch's summed
    (``db.BatchWork``). Written figures first, stamps second, each sorted: every transaction that
    writes them takes those rows' locks in one order (PostgreSQL)."""

    def __init__(self) -> None:
        self.figures: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
        self.units: set[tuple[str, int]] = set()

    def stamp(self, units: Iterable[tuple[str, int]]) -> None:
        self.units.update(units)

    def absorb(self, other: Sums) -> None:
        for key, (verified, pending) in other.figures.items():
            mine = self.figures[key]
            mine[0] += verified
            mine[1] += pending
        self.units |= other.units

    def statements(self, conn: Connection) -> list[tuple[AddingUpsert, list[dict]]]:
        rows = [{"scope": k[0], "unit_id": k[1], "year": k[2] // 100, "month": k[2], "task_id": k[3],
                 "indicator_id": k[4], "verified": v[0], "pending": v[1]}
                for k, v in sorted(self.figures.items()) if v != [0, 0]]
        stamps = _stamp_rows(self.units | {(r["scope"], r["unit_id"]) for r in rows})
        found: list[tuple[AddingUpsert, list[dict]]] = []
        if rows:
            found.append((_upsert(Rollup.__table__, _ROLLUP_KEY, ["verified", "pending"]), rows))
        if stamps:
            found.append((_upsert(RollupStamp.__table__, ["scope", "unit_id"], ["version"]), stamps))
        return found


def _bump_in(session: Session, units: Iterable[tuple[str, int]]) -> None:
    """Bump the stamps of ``units`` with the use case's staged sums when it has them (a batch, or the
    COMMIT's round trip on PostgreSQL), else now. A review's participation counters move in the middle
    of its transaction; bumping their stamps there would take the stamps' locks before the rollup's
    rows, which its sums take at the COMMIT — the reverse of a submission's order, a deadlock."""
    sums = deferred(session, "rollup", Sums)
    if sums is None:
        _bump(session.connection(), units)
    else:
        sums.stamp(units)


def add_figures(session: Session, deltas: Mapping[tuple[str, int, int, int, int], int]) -> None:
    """Add verified amounts that are no activity (汇总录入, app/history): ``(scope, unit, month,
    task, indicator) -> amount``. No activity count and no participation change with them."""
    conn = session.connection()
    rows = [{"scope": k[0], "unit_id": k[1], "year": k[2] // 100, "month": k[2], "task_id": k[3],
             "indicator_id": k[4], "verified": n, "pending": 0} for k, n in sorted(deltas.items()) if n]
    _upsert_add(conn, Rollup.__table__, _ROLLUP_KEY, ["verified", "pending"], rows)
    _bump(conn, {(k[0], k[1]) for k, n in deltas.items() if n})


def _participation_changed(session: Session, delta: Counter[tuple[int, int]]) -> None:
    conn = session.connection()
    members = {m for m, _ in delta}
    years = {month // 100 for _, month in delta}
    for year in years:
        ensure_year(session, year)
    before = member_masks(session, members, years)
    _upsert_add(conn, ParticipationMonth.__table__, ["member_id", "month"], ["activities"],
                [{"member_id": m, "month": month, "activities": n} for (m, month), n in sorted(delta.items())])
    _apply_masks(session, before, member_masks(session, members, years))


# (member, org, year) -> (active months, months taken part, months reached: 动员面)
Masks = dict[tuple[int, int, int], tuple[int, int, int]]
NO_MASKS = (0, 0, 0)


def kept_years(session: Session) -> set[int]:
    raw = session.connection().scalar(select(AppMeta.value).where(AppMeta.key == YEARS_KEY))
    return {int(y) for y in raw.split(",") if y} if raw else set()


def _active_mask(start: date, end: date | None, year: int) -> int:
    if start.year > year or (end is not None and end.year < year):
        return 0
    first = start.month if start.year == year else 1
    last = end.month if end is not None and end.year == year else 12
    return SPAN_MASK[(first, last)]


def _month_bits(months: Iterable[tuple[int, int]], years: set[int]) -> dict[tuple[int, int], int]:
    """(member, yyyymm) rows -> (member, year) -> the months' mask."""
    bits: dict[tuple[int, int], int] = defaultdict(int)
    for member, month in months:
        if month // 100 in years:
            bits[(member, month // 100)] |= 1 << (month % 100 - 1)
    return bits


def masks_from(memberships: Iterable[tuple[int, int, date, date | None]],
                months: Iterable[tuple[int, int]], reached: Iterable[tuple[int, int]], years: Iterable[int]) -> Masks:
    """(member, org, year) -> (A, P, R): the months of ``year`` the member belonged to org's subtree,
    the months they took part in a verified activity and the months they were reached (member_reach).
    ``memberships`` rows are (member, ancestor org, start, end) — one per ancestor of each
    membership's organisation; ``months`` and ``reached`` rows are (member, yyyymm)."""
    years = set(years)
    active: dict[tuple[int, int, int], int] = defaultdict(int)
    for member, org, start, end in memberships:
        for year in years:
            mask = _active_mask(start, end, year)
            if mask:
                active[(member, org, year)] |= mask
    taken, got = _month_bits(months, years), _month_bits(reached, years)
    return {k: (a, taken.get((k[0], k[2]), 0), got.get((k[0], k[2]), 0)) for k, a in active.items()}


# Each membership once per organisation at or above its own: a member counts in every subtree they serve in.
_LINEAGE = ancestor_pairs().subquery("lineage")
_ALL_MEMBERSHIPS = (
    select(Membership.member_id, _LINEAGE.c.ancestor_id, Membership.start_date, Membership.end_date)
    .join(_LINEAGE, _LINEAGE.c.org_id == Membership.org_id)
)
_MEMBERSHIPS_OF = _ALL_MEMBERSHIPS.where(Membership.member_id.in_(bindparam("members", expanding=True)))
_MONTHS_OF = select(ParticipationMonth.member_id, ParticipationMonth.month).where(
    ParticipationMonth.member_id.in_(bindparam("members", expanding=True)),
    ParticipationMonth.activities > 0)
_REACHED_OF = select(MemberReach.member_id, MemberReach.month).where(
    MemberReach.member_id.in_(bindparam("members", expanding=True)))


def member_masks(session: Session, members: Iterable[int], years: Iterable[int] | None = None) -> Masks:
    """The masks of some members in the kept years (all of them, or those of ``years`` kept)."""
    kept = kept_years(session)
    years = kept if years is None else kept & set(years)
    members = sorted(set(members))
    if not members or not years:
        return {}
    conn = session.connection()
    return masks_from(conn.execute(_MEMBERSHIPS_OF, {"members": members}).all(),
                       conn.execute(_MONTHS_OF, {"members": members}).all(),
                       conn.execute(_REACHED_OF, {"members": members}).all(), years)


def _span_counts(groups: Mapping[tuple[int, int, int, int, int], int]) -> dict[tuple[int, int, int, int], list[int]]:
    """(org, year, A, P, R) -> n  ==>  (org, year, a, b) -> [active, took_part, reached]: a member
    counts in a span when active in a month of it, and took part / was reached in such a month."""
    out: dict[tuple[int, int, int, int], list[int]] = defaultdict(lambda: [0, 0, 0])
    for (org, year, a_mask, p_mask, r_mask), n in groups.items():
        taken, reached = p_mask & a_mask, r_mask & a_mask
        for (first, last), span in SPAN_MASK.items():
            if a_mask & span:
                row = out[(org, year, first, last)]
                row[0] += n
                if taken & span:
                    row[1] += n
                if reached & span:
                    row[2] += n
    return out


_COUNTED = ["active", "took_part", "reached"]


def _apply_masks(session: Session, before: Masks, after: Masks) -> None:
    groups: Counter[tuple[int, int, int, int, int]] = Counter()
    for key in before.keys() | after.keys():
        old, new = before.get(key, NO_MASKS), after.get(key, NO_MASKS)
        if old == new:
            continue
        _, org, year = key
        groups[(org, year, *old)] -= 1
        groups[(org, year, *new)] += 1
    counts = _span_counts({k: n for k, n in groups.items() if n})
    rows = [{"org_id": k[0], "year": k[1], "first_month": k[2], "last_month": k[3],
             "active": v[0], "took_part": v[1], "reached": v[2]} for k, v in counts.items() if any(v)]
    conn = session.connection()
    _upsert_add(conn, ParticipationCounter.__table__, ["org_id", "year", "first_month", "last_month"],
                _COUNTED, rows)
    _bump_in(session, {("org", r["org_id"]) for r in rows})


def members_changed(session: Session, before: Masks, members: Iterable[int]) -> None:
    """After memberships of ``members`` changed: ``before`` is :func:`member_masks` taken first."""
    _apply_masks(session, before, member_masks(session, members))


def members_reached(session: Session, members: list[int], month: int) -> None:
    """After member_reach rows of ``members`` for ``month`` were inserted (app/rollup/reach.py ``mark``):
    their 动员面 counters, and ``reach_since`` when this is the first month ever reached."""
    conn = session.connection()
    since = reach_since(conn)
    if since is None or month < since:
        _set_since(conn, month)
        # Periods that read 「未统计」 may now have a 动员面 (0 % where nobody was reached): every board.
        _bump(conn, {("org", o) for o in conn.scalars(select(Organisation.id))})
    year = month // 100
    if year not in kept_years(session):
        ensure_year(session, year)  # built with the member_reach rows just inserted
        return
    # Hold the members' rows (PostgreSQL; SQLite's writer holds the lock anyway), as membership
    # changes do: two transactions reaching one member in different months then queue, and the
    # second's masks see the first's row — each adds only its own month.
    conn.execute(select(Member.id).where(Member.id.in_(members)).order_by(Member.id).with_for_update())
    after = member_masks(session, members, [year])
    bit = 1 << (month % 100 - 1)
    _apply_masks(session, {k: (a, p, r & ~bit) for k, (a, p, r) in after.items()}, after)


_OWN_MEMBERSHIPS = (
    select(Membership.member_id, Membership.org_id, Membership.start_date, Membership.end_date)
    .where(Membership.org_id.in_(bindparam("orgs", expanding=True)),
           serving_during(bindparam("first_day"), bindparam("last_day")))
)


def own_counters(session: Session, org_ids: Iterable[int], year: int, first: int,
                 last: int) -> dict[int, tuple[int, int, int]]:
    """org -> (active, took_part, reached) of the members whose membership is in the organisation
    itself (not its subtree), for the months ``first..last`` of ``year``: the counters' rule, read from
    the memberships, ``participation_month`` and ``member_reach`` because the counters are kept per
    subtree only."""
    org_ids = sorted(set(org_ids))
    out = dict.fromkeys(org_ids, (0, 0, 0))
    if not org_ids:
        return out
    conn = session.connection()
    # The year's memberships; the masks then keep the months of the span.
    memberships = conn.execute(_OWN_MEMBERSHIPS, {"orgs": org_ids, "first_day": date(year, 1, 1),
                                                  "last_day": date(year, 12, 31)}).all()
    # A year whose counters are not kept has no verified participation and nobody reached yet
    # (see ensure_year, which both paths call first).
    kept = bool(memberships) and year in kept_years(session)
    members = {"members": sorted({m for m, *_ in memberships})}
    months = conn.execute(_MONTHS_OF, members).all() if kept else []
    reached = conn.execute(_REACHED_OF, members).all() if kept else []
    span = SPAN_MASK[(first, last)]
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    for (_, org, _), (a_mask, p_mask, r_mask) in masks_from(memberships, months, reached, [year]).items():
        if a_mask & span:
            counts[org][0] += 1
            if a_mask & p_mask & span:
                counts[org][1] += 1
            if a_mask & r_mask & span:
                counts[org][2] += 1
    out.update({o: (a, t, r) for o, (a, t, r) in counts.items()})
    return out


# --- kept years --------------------------------------------------------------------------------

def _set_years(conn: Connection, years: set[int]) -> None:
    value = ",".join(str(y) for y in sorted(years))
    stmt = _insert(conn)(AppMeta.__table__).values(key=YEARS_KEY, value=value)
    conn.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"value": value}))


def reach_since(conn: Connection) -> int | None:
    """The first month (yyyymm) 动员面 was tracked, or None before anyone was ever reached."""
    raw = conn.scalar(select(AppMeta.value).where(AppMeta.key == SINCE_KEY))
    return int(raw) if raw else None


def _set_since(conn: Connection, month: int) -> None:
    """Tracking began in ``month`` at the latest: keep the earlier of it and the stored month."""
    stmt = _insert(conn)(AppMeta.__table__).values(key=SINCE_KEY, value=str(month))
    conn.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"value": stmt.excluded.value},
                                            where=AppMeta.__table__.c.value > stmt.excluded.value))


def ensure_year(session: Session, year: int) -> None:
    """Keep participation counters for ``year`` from now on (built once from the raw rows)."""
    kept = kept_years(session)
    if year in kept:
        return
    conn = session.connection()
    # From the kept months (participation_month), not the raw participation: a change being applied
    # (_participation_changed) may or may not be in the raw rows yet — its caller may have flushed it
    # or not — while the kept months never hold it before its masks are added, so the year is built
    # as it was before the change and the change is counted once.
    pm = ParticipationMonth.__table__.c
    months = conn.execute(select(pm.member_id, pm.month).where(pm.activities > 0)).all()
    counts = _recount_counters(conn, {year}, months=months)
    conn.execute(delete(ParticipationCounter).where(ParticipationCounter.year == year))
    _insert_counters(conn, counts)
    _set_years(conn, kept | {year})
    _bump_in(session, {("org", k[0]) for k in counts})  # open boards of the year read the counters now


# --- recount from the raw rows -----------------------------------------------------------------

def _month_of(conn: Connection, column):  # noqa: ANN001, ANN202
    if conn.dialect.name == "postgresql":
        return func.cast(func.extract("year", column) * 100 + func.extract("month", column), Rollup.month.type)
    return func.cast(func.strftime("%Y%m", column), Rollup.month.type)


def _recount_figures(conn: Connection) -> dict[tuple, tuple[int, int]]:
    # The one place outside app/orgs/service.py that reads the closure table itself (documented in
    # docs/ARCHITECTURE.md): the recount is a handful of set-based GROUP BYs over every activity, written
    # against the tables' columns so that it stays independent of the incremental path it checks.
    # First per (credited organisation, county, month, task, indicator) — one pass over the activities
    # and their values —, then those sums per ancestor of the credited organisation and per county:
    # the closure multiplies the few grouped rows, not the millions of raw ones.
    a, v, c = Activity.__table__.c, ActivityValue.__table__.c, OrgClosure.__table__.c
    month = _month_of(conn, a.occurred_on)
    is_verified = a.status == ActivityStatus.verified.value
    is_pending = a.status == ActivityStatus.pending.value

    def both(amount):  # noqa: ANN001, ANN202 - the verified and the pending sum of ``amount``
        return (func.sum(case((is_verified, amount), else_=0)).label("verified"),
                func.sum(case((is_pending, amount), else_=0)).label("pending"))

    keys = (a.credited_org_id.label("org_id"), a.county_id.label("county_id"), month.label("month"),
            a.task_id.label("task_id"))
    by_credit = union_all(
        select(*keys, v.indicator_id.label("indicator_id"), *both(v.value)).select_from(Activity.__table__)
        .join(ActivityValue.__table__, v.activity_id == a.id).where(a.status.in_(COUNTED))
        .group_by(a.credited_org_id, a.county_id, month, a.task_id, v.indicator_id),
        select(*keys, literal(COUNT).label("indicator_id"), *both(literal(1))).select_from(Activity.__table__)
        .where(a.status.in_(COUNTED)).group_by(a.credited_org_id, a.county_id, month, a.task_id),
    ).cte("by_credit")
    b = by_credit.c
    sums = (func.sum(b.verified), func.sum(b.pending))
    parts = [
        select(literal("org").label("scope"), c.ancestor_id.label("unit_id"), b.month, b.task_id, b.indicator_id,
               *sums).select_from(by_credit.join(OrgClosure.__table__, c.descendant_id == b.org_id))
        .group_by(c.ancestor_id, b.month, b.task_id, b.indicator_id),
        select(literal("place").label("scope"), b.county_id.label("unit_id"), b.month, b.task_id, b.indicator_id,
               *sums).group_by(b.county_id, b.month, b.task_id, b.indicator_id),
    ]
    # 汇总录入 (history_entry): verified amounts of the organisation and its ancestors, and of a
    # county by place; no activity count.
    h, o = HistoryEntry.__table__.c, Organisation.__table__.c
    parts.append(select(literal("org").label("scope"), c.ancestor_id.label("unit_id"), h.month, h.task_id,
                        h.indicator_id, func.sum(h.value), literal(0)).select_from(HistoryEntry.__table__)
                 .join(OrgClosure.__table__, c.descendant_id == h.org_id)
                 .group_by(c.ancestor_id, h.month, h.task_id, h.indicator_id))
    parts.append(select(literal("place").label("scope"), h.org_id.label("unit_id"), h.month, h.task_id,
                        h.indicator_id, func.sum(h.value), literal(0)).select_from(HistoryEntry.__table__)
                 .join(Organisation.__table__, o.id == h.org_id).where(o.level == "county")
                 .group_by(h.org_id, h.month, h.task_id, h.indicator_id))
    figures: dict[tuple, tuple[int, int]] = defaultdict(lambda: (0, 0))
    for r in conn.execute(union_all(*parts)):
        key, old = (r[0], r[1], r[2], r[3], r[4]), figures[(r[0], r[1], r[2], r[3], r[4])]
        figures[key] = (old[0] + int(r[5]), old[1] + int(r[6]))
    return {k: v for k, v in figures.items() if v != (0, 0)}


def _recount_months(conn: Connection) -> dict[tuple[int, int], int]:
    a, p = Activity.__table__.c, ActivityParticipant.__table__.c
    month = _month_of(conn, a.occurred_on)
    stmt = (select(p.member_id, month, func.count()).select_from(ActivityParticipant.__table__)
            .join(Activity.__table__, a.id == p.activity_id)
            .where(a.status == ActivityStatus.verified.value, p.status == ParticipantStatus.confirmed.value)
            .group_by(p.member_id, month))
    return {(m, mo): n for m, mo, n in conn.execute(stmt)}


def _recount_counters(conn: Connection, years: set[int],
                      months: Iterable[tuple[int, int]] | None = None) -> dict[tuple[int, int, int, int], list[int]]:
    """Counters of ``years`` from memberships, the participation ``months`` (member, yyyymm) — by default
    the raw participation, not the kept months — and member_reach (动员面's raw rows themselves)."""
    memberships = conn.execute(_ALL_MEMBERSHIPS).all()
    reached = conn.execute(select(MemberReach.member_id, MemberReach.month)).all()
    masks = masks_from(memberships, _recount_months(conn).keys() if months is None else months, reached, years)
    groups = Counter((org, year, *m) for (_, org, year), m in masks.items())
    return {k: v for k, v in _span_counts(groups).items() if any(v)}


def _insert_counters(conn: Connection, counts: Mapping[tuple[int, int, int, int], list[int]]) -> None:
    rows = [{"org_id": k[0], "year": k[1], "first_month": k[2], "last_month": k[3],
             "active": v[0], "took_part": v[1], "reached": v[2]} for k, v in counts.items()]
    for start in range(0, len(rows), 5000):
        conn.execute(ParticipationCounter.__table__.insert(), rows[start:start + 5000])


def wanted_years(conn: Connection) -> set[int]:
    """The campaign's start year (or the first activity's, or the first month anyone was reached)
    through this year."""
    now = today_cn().year
    first_reached = conn.scalar(select(func.min(MemberReach.month)))
    first = [y for y in (
        conn.scalar(select(Campaign.start_year).where(Campaign.is_current.is_(True))),
        conn.scalar(select(func.min(Activity.occurred_on))),
        first_reached // 100 if first_reached is not None else None,
    ) if y is not None]
    start = min([y if isinstance(y, int) else (y.year if isinstance(y, date) else int(str(y)[:4]))
                 for y in first] + [now])
    return set(range(start, now + 1))


@dataclass
class Recount:
    figures: dict[tuple, tuple[int, int]]
    months: dict[tuple[int, int], int]
    counters: dict[tuple[int, int, int, int], list[int]]
    years: set[int]


def recount(conn: Connection, years: set[int] | None = None) -> Recount:
    years = wanted_years(conn) if years is None else years
    months = _recount_months(conn)  # once: the counters are made from the same raw participation
    return Recount(_recount_figures(conn), months, _recount_counters(conn, years, months=months.keys()), years)


def stored(conn: Connection, years: set[int]) -> Recount:
    r, m, pc = Rollup.__table__.c, ParticipationMonth.__table__.c, ParticipationCounter.__table__.c
    figures = {(row[0], row[1], row[2], row[3], row[4]): (row[5], row[6]) for row in conn.execute(
        select(r.scope, r.unit_id, r.month, r.task_id, r.indicator_id, r.verified, r.pending))
        if (row[5], row[6]) != (0, 0)}
    months = {(a, b): n for a, b, n in conn.execute(select(m.member_id, m.month, m.activities)) if n}
    counters = {(a, y, f, la): [n, t, r] for a, y, f, la, n, t, r in conn.execute(
        select(pc.org_id, pc.year, pc.first_month, pc.last_month, pc.active, pc.took_part, pc.reached)
        .where(pc.year.in_(sorted(years)))) if (n, t, r) != (0, 0, 0)}
    return Recount(figures, months, counters, years)


def _plain(value):  # noqa: ANN001, ANN202 - lists and tuples compare equal
    return tuple(value) if isinstance(value, list | tuple) else value


def check(session: Session) -> list[str]:
    """Differences between the stored rollup and a recount from the raw rows (empty: exact)."""
    conn = session.connection()
    kept = kept_years(session)
    expected, actual = recount(conn, kept), stored(conn, kept)
    problems: list[str] = []
    for name in ("figures", "months", "counters"):
        want, have = getattr(expected, name), getattr(actual, name)
        for key in sorted(want.keys() | have.keys(), key=str):
            if _plain(want.get(key)) != _plain(have.get(key)):
                problems.append(f"{name} {key}: stored {have.get(key)} recounted {want.get(key)}")
    # A year is kept from its first verified participation on (reads fall back to the memberships
    # before that): verified participation in a year not kept means a writer skipped the rollup.
    reached_years = {m // 100 for m in conn.scalars(select(func.distinct(MemberReach.month)))}
    missing = ({month // 100 for _, month in expected.months} | reached_years) - kept
    if missing:
        problems.append(f"participation counters not kept for {sorted(missing)}")
    # 动员面 reads "untracked" before reach_since: it may not start after a month someone was reached.
    first, since = conn.scalar(select(func.min(MemberReach.month))), reach_since(conn)
    if first is not None and (since is None or since > first):
        problems.append(f"reach_since {since} after the first month reached {first}")
    return problems


def rebuild(session: Session) -> Recount:
    """Replace the stored rollup with a recount (bulk loads, repairs). Does not commit."""
    conn = session.connection()
    fresh = recount(conn)
    for table in (Rollup, ParticipationMonth, ParticipationCounter):
        conn.execute(delete(table))
    rows = [{"scope": k[0], "unit_id": k[1], "year": k[2] // 100, "month": k[2], "task_id": k[3],
             "indicator_id": k[4], "verified": v[0], "pending": v[1]} for k, v in fresh.figures.items()]
    for start in range(0, len(rows), 5000):
        conn.execute(Rollup.__table__.insert(), rows[start:start + 5000])
    months = [{"member_id": m, "month": mo, "activities": n} for (m, mo), n in fresh.months.items()]
    for start in range(0, len(months), 5000):
        conn.execute(ParticipationMonth.__table__.insert(), months[start:start + 5000])
    _insert_counters(conn, fresh.counters)
    _set_years(conn, fresh.years)
    first = conn.scalar(select(func.min(MemberReach.month)))
    if first is not None:
        _set_since(conn, first)
    units = {("org", k[1]) for k in fresh.figures if k[0] == "org"} | {("place", k[1]) for k in fresh.figures
                                                                       if k[0] == "place"}
    units |= {("org", k[0]) for k in fresh.counters}
    _bump(conn, units)
    return fresh


__all__ = [
    "SPANS",
    "SPAN_MASK",
    "Contribution",
    "add_figures",
    "apply",
    "check",
    "contribution",
    "contributions",
    "ensure_year",
    "kept_years",
    "member_masks",
    "members_changed",
    "members_reached",
    "reach_since",
    "rebuild",
    "recount",
    "touch",
]
