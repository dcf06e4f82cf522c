"""What every activity write checks, read in one statement: the probe, and the cached facts it vouches for.

A submission's rules need two kinds of fact:

- **slow ones**, the same for thousands of submissions: the current campaign and its first year, each
  实事's campaign, owner and indicators, each organisation's level, name and lineage (``org_closure``),
  the closed months. They are held per process and database in a ``WriteFacts`` snapshot, keyed by
  ``app_meta.write_facts_version``, which triggers on exactly those tables move on every change
  (migration 0019: a random value, so a change rolled back never leaves a value a later one reuses);
- **fast ones**, particular to this submission: whether the submission key was already used, whether
  anything of its county and 实事 lies within a day (the duplicate check), the site's county and name,
  the recorder's member name (for the answer) and the recorder's verified history of its indicators
  (the flags).

``probe`` asks for all the fast ones *and the version* in one statement inside the write's own
transaction; only when the version differs from the snapshot's is the snapshot reloaded (six small
statements, once per change, in any process). So the cache is never stale — it is checked in the very
transaction that relies on it — and costs no statement of its own.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import (
    Connection,
    String,
    bindparam,
    cast,
    func,
    literal,
    null,
    select,
    union_all,
)
from sqlmodel import Session

from app.activities.common import _core
from app.db import Prepared, database_key
from app.models import (
    Activity,
    ActivityStatus,
    ActivityValue,
    AppMeta,
    Campaign,
    ClosedMonth,
    Indicator,
    Member,
    Organisation,
    OrgClosure,
    Site,
    Task,
)
from app.quality import duplicates as dup

VERSION_KEY = "write_facts_version"  # moved by the triggers of migration 0019


@dataclass(frozen=True)
class IndicatorFact:
    """An indicator as the rules and the answer read it (``parse_value`` reads name, unit and kind)."""

    id: int
    name: str
    unit: str
    kind: str
    is_outcome: bool
    owner_org_id: int


@dataclass(frozen=True)
class WriteFacts:
    """The slow facts, as of ``version`` of one database."""

    version: str
    campaign_id: int | None
    start_year: int | None
    org_level: dict[int, str]
    org_name: dict[int, str]
    lineage: dict[int, tuple[int, ...]]  # an organisation and every one above it, nearest first
    tasks: dict[int, tuple[int, int, str]]  # id → (campaign, owner organisation, name)
    indicators: dict[int, tuple[IndicatorFact, ...]]  # 实事 → its indicators, as the read model orders them
    closed: frozenset[tuple[int, int]]  # (organisation, yyyymm)

    def task_ok(self, task_id: int, credited: int) -> bool:
        """The 实事 is the current campaign's and owned by the credited organisation or one above it."""
        task = self.tasks.get(task_id)
        return (task is not None and self.campaign_id is not None and task[0] == self.campaign_id
                and task[1] in self.lineage.get(credited, ()))

    def is_within(self, org_id: int, ancestor_id: int) -> bool:
        return ancestor_id in self.lineage.get(org_id, ())

    def month_closed(self, org_id: int, month: int) -> bool:
        """Closed for the organisation by itself or an organisation above it (months.month_closed's rule)."""
        return any((above, month) in self.closed for above in self.lineage.get(org_id, ()))

    def indicators_for(self, task_id: int, org_id: int) -> dict[int, IndicatorFact]:
        """The 实事's indicators the organisation works with (owned by it or an organisation above it)."""
        lineage = self.lineage.get(org_id, ())
        return {i.id: i for i in self.indicators.get(task_id, ()) if i.owner_org_id in lineage}


@dataclass(frozen=True)
class Probe:
    """One submission's fast facts, and the slow ones checked against the version read with them."""

    facts: WriteFacts
    existing_id: int | None  # the activity this recorder already recorded with this submission key
    site_county: int | None
    site_name: str | None
    member_name: str | None  # the recorder's member name
    history: dict[int, tuple[int, int]] = field(default_factory=dict)  # indicator → (verified values, largest)
    # The live activities of this county and 实事 within a day (app/quality/duplicates.py ``nearby``), and
    # the figures of those dated otherwise (activity → indicator → value): the duplicate checks' data.
    near: tuple[dup.Nearby, ...] = ()
    near_figures: dict[int, dict[int, int]] = field(default_factory=dict)


# --- the probe: one statement ----------------------------------------------------------------------

def _probe_statement() -> Any:
    version = select(AppMeta.value).where(AppMeta.key == VERSION_KEY).scalar_subquery()
    existing = (select(Activity.id).where(Activity.recorder_user_id == bindparam("user_id"),
                                          Activity.idempotency_key == bindparam("key"))
                .limit(1).scalar_subquery())
    site_county = select(Site.county_id).where(Site.id == bindparam("site_id")).scalar_subquery()
    site_name = select(Site.name).where(Site.id == bindparam("site_id")).scalar_subquery()
    member_name = select(Member.name).where(Member.id == bindparam("member_id")).scalar_subquery()
    head = select(literal(0).label("kind"), existing.label("a"), null().label("b"),
                  site_county.label("c"), version.label("t1"), member_name.label("t2"), site_name.label("t3"))
    # The recorder's own verified values of this 实事 (app/quality/flags.py: the member's history), driven
    # from ix_activity_recorder_user_id_status: filtered by indicator ids instead, SQLite would walk every
    # value of those indicators (ix_activity_value_indicator_id) — 1.7 ms against 0.17 ms on the bench.
    theirs = select(Activity.id).where(Activity.recorder_user_id == bindparam("user_id"),
                                       Activity.status == ActivityStatus.verified.value,
                                       Activity.id != bindparam("exclude_id"))
    history = (select(literal(1), ActivityValue.indicator_id, func.count(), func.max(ActivityValue.value),
                      null(), null(), null())
               .where(ActivityValue.activity_id.in_(theirs), ActivityValue.task_id == bindparam("task_id"))
               .group_by(ActivityValue.indicator_id))
    # The duplicate checks' data (app/quality/duplicates.py): the live activities of this county and 实事
    # within a day, and the figures of those dated otherwise — nearly always none, at the month's end
    # a few; read here, they cost the submission no statement of their own.
    near = dup.nearby_select().cte("near")
    found = select(literal(2), near.c.id, near.c.recorder_user_id, null(), cast(near.c.occurred_on, String),
                   null(), null())
    figures = select(literal(3), ActivityValue.activity_id, ActivityValue.indicator_id, ActivityValue.value,
                     null(), null(), null()).where(ActivityValue.activity_id.in_(
                         select(near.c.id).where(near.c.occurred_on != bindparam("occurred_on",
                                                                                 type_=Activity.occurred_on.type))))
    return union_all(head, history, found, figures)


_PROBE = Prepared(_probe_statement())


def probe(session: Session, *, user_id: int, key: str | None, county_id: int, task_id: int, occurred_on: date,
          site_id: int | None, member_id: int | None, exclude_id: int | None = None) -> Probe:
    """The submission's fast facts and the slow ones, in one round trip (the slow ones reloaded only
    when their version moved). Runs in the caller's transaction."""
    conn = _core(session)
    rows = _PROBE.execute(conn, {
        "user_id": user_id, "key": key, "site_id": site_id or 0, "member_id": member_id or 0,
        "occurred_on": occurred_on,
        **dup.nearby_params(county_id=county_id, task_id=task_id, occurred_on=occurred_on, site_id=site_id,
                            exclude_id=exclude_id, days=dup.NEAR_DAYS),
    }).fetchall()
    head = next(r for r in rows if r[0] == 0)
    history = {int(r[1]): (int(r[2]), int(r[3])) for r in rows if r[0] == 1 and r[2]}
    near = tuple(sorted(dup.Nearby(int(r[1]), dup.as_day(r[4]), int(r[2])) for r in rows if r[0] == 2))
    figures: dict[int, dict[int, int]] = {}
    for r in rows:
        if r[0] == 3:
            figures.setdefault(int(r[1]), {})[int(r[2])] = int(r[3])
    return Probe(facts=facts_for(conn, head[4] or ""), existing_id=head[1], site_county=head[3],
                 site_name=head[6], member_name=head[5], history=history, near=near, near_figures=figures)


# --- the slow facts, per process and database ----------------------------------------------------

_lock = threading.Lock()
_cached: dict[str, WriteFacts] = {}


def facts_for(conn: Connection, version: str) -> WriteFacts:
    """The snapshot for ``version`` of this connection's database: the cached one, or loaded now."""
    database = database_key(conn)
    with _lock:
        found = _cached.get(database)
    if found is not None and found.version == version and version:
        return found
    loaded = _load(conn, version)
    with _lock:
        _cached[database] = loaded
    return loaded


def current_facts(session: Session) -> WriteFacts:
    """The snapshot as of now, for callers outside a submission (its version read in one statement)."""
    conn = _core(session)
    version = conn.execute(select(AppMeta.value).where(AppMeta.key == VERSION_KEY)).scalar() or ""
    return facts_for(conn, version)


def forget() -> None:
    """Drop this process's snapshots (tests that replace a database under the same address)."""
    with _lock:
        _cached.clear()


def _load(conn: Connection, version: str) -> WriteFacts:
    campaign = conn.execute(select(Campaign.id, Campaign.start_year).where(Campaign.is_current.is_(True))
                            .limit(1)).first()
    levels, names = {}, {}
    for org_id, level, name in conn.execute(select(Organisation.id, Organisation.level, Organisation.name)):
        levels[org_id], names[org_id] = str(level), name
    lineage: dict[int, list[int]] = defaultdict(list)
    for descendant, ancestor in conn.execute(select(OrgClosure.descendant_id, OrgClosure.ancestor_id)
                                             .order_by(OrgClosure.descendant_id, OrgClosure.depth)):
        lineage[descendant].append(ancestor)
    tasks = {t: (c, o, n) for t, c, o, n in conn.execute(select(Task.id, Task.campaign_id, Task.owner_org_id,
                                                                Task.name))}
    indicators: dict[int, list[IndicatorFact]] = defaultdict(list)
    for row in conn.execute(select(Indicator.task_id, Indicator.id, Indicator.name, Indicator.unit, Indicator.kind,
                                   Indicator.is_outcome, Indicator.owner_org_id)
                            .order_by(Indicator.task_id, Indicator.is_outcome, Indicator.sort_order, Indicator.id)):
        indicators[row[0]].append(IndicatorFact(row[1], row[2], row[3], str(row[4]), bool(row[5]), row[6]))
    closed = frozenset((o, m) for o, m in conn.execute(select(ClosedMonth.org_id, ClosedMonth.month)))
    return WriteFacts(
        version=version, campaign_id=campaign[0] if campaign else None,
        start_year=campaign[1] if campaign else None, org_level=levels, org_name=names,
        lineage={k: tuple(v) for k, v in lineage.items()}, tasks=tasks,
        indicators={k: tuple(v) for k, v in indicators.items()}, closed=closed)
