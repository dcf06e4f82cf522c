"""Plausibility rules as catalogue data: which apply to an activity, cached with a version.

A rule belongs to an organisation and applies in its subtree. Every rule of the credited
organisation and of its ancestors applies at once, so a prefecture's own rule can only tighten the
province's (the tightest bound wins; every ratio rule must hold). The rules of a process are
cached and keyed by a version kept in ``app_meta``: any change of a rule calls
:func:`bump_version` in its transaction, and every process sees the new rules on its next write.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from app.db import database_key
from app.models import AppMeta, Indicator, IndicatorKind, OrgClosure, PlausibilityRule, RuleKind, Task

VERSION_KEY = "quality_rules_version"
DEFAULT_RULES_FILE = Path(__file__).resolve().parent.parent / "data" / "plausibility.json"


@dataclass(frozen=True)
class Bound:
    rule_id: int
    org_id: int
    indicator_id: int
    max_value: int  # stored units (money: hundredths of 万元)
    source: str


@dataclass(frozen=True)
class Ratio:
    rule_id: int
    org_id: int
    indicator_id: int  # numerator
    per_indicator_id: int  # denominator
    min_ratio: float | None  # display units: 万元 per 人, 人 per 次 …
    max_ratio: float | None
    source: str


@dataclass(frozen=True)
class Rules:
    """The rules in force for one credited organisation."""

    bounds: dict[int, Bound] = field(default_factory=dict)  # indicator → the tightest bound
    ratios: tuple[Ratio, ...] = ()


_VERSION = select(AppMeta.value).where(AppMeta.key == VERSION_KEY)  # asked at every write: built once
_lock = threading.Lock()
_cache: dict[str, Any] = {"version": None, "rows": (), "by_org": {}}
_seen: dict[str, tuple[float, str]] = {}  # database → (when read, version) for current_version(fresh=False)


RECHECK_SECONDS = 2.0  # how stale another process's rule change may be here; this process's is at once


def current_version(session: Session, *, fresh: bool = True) -> str:
    """The rules' version in this database, prefixed by which database it is (a process may use
    several: the tests, a restore): a cache filled from one never answers for another.
    ``fresh=False``: the version this process read less than RECHECK_SECONDS ago, if any (every
    write asks; a change made by another process is seen within that time)."""
    database = database_key(session)
    if not fresh:
        with _lock:
            seen = _seen.get(database)
        if seen is not None and time.monotonic() - seen[0] < RECHECK_SECONDS:
            return seen[1]
    version = f"{database}#{session.connection().execute(_VERSION).scalar() or '0'}"
    with _lock:
        _seen[database] = (time.monotonic(), version)
    return version


def bump_version(session: Session) -> None:
    """Call in the transaction of any change of a rule: every process reloads its rules. The new
    version is random, never a count: a change rolled back leaves no number a later change reuses."""
    conn = session.connection()
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    new = uuid.uuid4().hex
    stmt = dialect.insert(AppMeta.__table__).values(key=VERSION_KEY, value=new)
    conn.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"value": new}))
    with _lock:
        _cache["version"] = None
        _seen.clear()


def forget() -> None:
    """Drop this process's cached rules (tests that roll a database back use it)."""
    with _lock:
        _cache.update(version=None, rows=None, by_org={})
        _seen.clear()


def _load(session: Session) -> tuple:
    return tuple(session.execute(select(
        PlausibilityRule.id, PlausibilityRule.org_id, PlausibilityRule.indicator_id, PlausibilityRule.kind,
        PlausibilityRule.max_value, PlausibilityRule.per_indicator_id, PlausibilityRule.min_ratio,
        PlausibilityRule.max_ratio, PlausibilityRule.source)).all())


def effective_rules(session: Session, org_id: int) -> Rules:
    """The rules for activities credited to ``org_id`` (its own and its ancestors'), as of at most
    RECHECK_SECONDS ago for another process's change, at once for this process's."""
    version = current_version(session, fresh=False)
    with _lock:
        if _cache["version"] != version:
            _cache.update(version=version, rows=None, by_org={})
        cached = _cache["by_org"].get(org_id)
        rows = _cache["rows"]
    if cached is not None:
        return cached
    if rows is None:
        rows = _load(session)
    lineage = set(session.scalars(select(OrgClosure.ancestor_id).where(OrgClosure.descendant_id == org_id)))
    bounds: dict[int, Bound] = {}
    ratios: list[Ratio] = []
    for rid, owner, ind, kind, max_value, per, lo, hi, source in rows:
        if owner not in lineage:
            continue
        if kind == RuleKind.bound:
            if ind not in bounds or max_value < bounds[ind].max_value:
                bounds[ind] = Bound(rid, owner, ind, max_value, source)
        else:
            ratios.append(Ratio(rid, owner, ind, per, lo, hi, source))
    rules = Rules(bounds, tuple(sorted(ratios, key=lambda r: r.rule_id)))
    with _lock:
        if _cache["version"] == version:
            _cache["rows"] = rows
            _cache["by_org"][org_id] = rules
    return rules


# --- the defaults ----------------------------------------------------------------------------------

def load_defaults(session: Session, *, owner_org_id: int, campaign_id: int, path: Path = DEFAULT_RULES_FILE) -> int:
    """The default rules of app/data/plausibility.json for the campaign's tasks, owned by the
    province; indicators are found by task short name and indicator name. A no-op when the owner
    already has rules. Returns the number of rules added (no commit)."""
    if session.scalar(select(PlausibilityRule.id).where(PlausibilityRule.org_id == owner_org_id).limit(1)):
        return 0
    data = json.loads(path.read_text(encoding="utf-8"))
    found = {(short, name): (ind_id, kind) for ind_id, short, name, kind in session.execute(
        select(Indicator.id, Task.short_name, Indicator.name, Indicator.kind).join(Task, Task.id == Indicator.task_id)
        .where(Task.campaign_id == campaign_id, Task.owner_org_id == owner_org_id))}
    added = 0
    for item in data["rules"]:
        target = found.get((item["task"], item["indicator"]))
        if target is None:
            continue
        ind_id, kind = target
        if item["kind"] == "bound":
            scale = 100 if kind == IndicatorKind.money else 1
            session.add(PlausibilityRule(org_id=owner_org_id, indicator_id=ind_id, kind=RuleKind.bound,
                                         max_value=round(item["max"] * scale), source=item["source"]))
        else:
            per = found.get((item["task"], item["per"]))
            if per is None:
                continue
            session.add(PlausibilityRule(org_id=owner_org_id, indicator_id=ind_id, kind=RuleKind.ratio,
                                         per_indicator_id=per[0], min_ratio=item.get("min"),
                                         max_ratio=item.get("max"), source=item["source"]))
        added += 1
    if added:
        session.flush()
        bump_version(session)
    return added
