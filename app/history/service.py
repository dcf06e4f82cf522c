"""汇总录入: past figures from old spreadsheets, as aggregate entries (app/models/history.py).

Staff import, for organisations of their subtree, one figure per organisation × month (or
quarter) × indicator. Every way in (the ``history`` import kind, the command line, tests) ends in
:func:`plan_history` (each row checked, compared with what is stored) and :func:`commit_history`
(write, rollup, audit — one transaction). Match key: organisation × indicator × month, so importing
the same sheet twice changes nothing the second time.

Decisions:

- A quarter (一季度 … 四季度) is stored on the quarter's last month with ``span = 3``: a report of
  the quarter, its half-year or year shows it whole; a single month other than the quarter's last
  does not show it. A quarter and a month of the same quarter for one organisation and indicator are
  refused together (the figure would count twice).
- The entries count in the rollup as *verified* amounts of their indicator: ``org`` scope for the
  organisation and every ancestor, and ``place`` scope when the organisation is a county (a county's
  old sheets describe work in the county). They add no activity count and no participation: 参与率
  is untouched. :func:`history_in` tells boards and reports when a figure includes them.
- Only the current campaign's indicators the organisation sees can be entered; values are parsed as
  the activities parse them (money in 万元, stored as hundredths).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlmodel import Session

from app.activities.service import display_value, parse_value
from app.audit.service import record
from app.auth.principal import STAFF_ROLES, Principal
from app.catalogue.service import current_campaign, indicators_for
from app.clock import now_utc, today_cn
from app.errors import Conflict, Forbidden, Invalid
from app.imports.base import Orgs, Progress, no_progress
from app.models import HistoryEntry, Indicator, Organisation, OrgLevel, Task
from app.orgs.service import ancestor_pairs, subtree_ids
from app.rollup import service as rollup

MIN_YEAR = 2000
MAX_NOTE = 200
STAFF_ONLY = "只有「双助推」办公室人员可以录入历史数据"
CN_QUARTER = {1: "第一季度", 2: "第二季度", 3: "第三季度", 4: "第四季度"}

# The template's columns, in order (the import kind and the errors name them).
COL_ORG, COL_YEAR, COL_PERIOD, COL_INDICATOR, COL_VALUE, COL_NOTE = "组织代码", "年份", "月份或季度", "指标", "数值", "备注"
COLUMNS = (COL_ORG, COL_YEAR, COL_PERIOD, COL_INDICATOR, COL_VALUE, COL_NOTE)

CREATE, UPDATE, UNCHANGED = "create", "update", "unchanged"
ACTION_LABELS = {CREATE: "新增", UPDATE: "修改", UNCHANGED: "不变"}


@dataclass(frozen=True)
class HistoryRow:
    """One row as read from a file (cells as typed) and its row number there (for messages)."""

    row: int
    org_code: Any
    year: Any
    period: Any  # 月份或季度
    indicator: Any  # name or id
    value: Any
    note: Any = ""


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    message: str


@dataclass(frozen=True)
class Planned:
    row: int
    org: Organisation
    indicator: Indicator
    month: int
    span: int
    value: int
    note: str
    before: HistoryEntry | None

    @property
    def action(self) -> str:
        b = self.before
        if b is None:
            return CREATE
        return UNCHANGED if (b.value, b.span, b.note) == (self.value, self.span, self.note) else UPDATE

    @property
    def label(self) -> str:
        return ACTION_LABELS[self.action]

    @property
    def period_label(self) -> str:
        return period_label(self.month, self.span)

    @property
    def value_text(self) -> str:
        return display_value(self.indicator.kind, self.value)

    @property
    def before_text(self) -> str:
        return "" if self.before is None else display_value(self.indicator.kind, self.before.value)


@dataclass
class HistoryPlan:
    entries: list[Planned] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for e in self.entries if e.action == action)

    @property
    def counts(self) -> dict[str, int]:
        return {a: self.count(a) for a in (CREATE, UPDATE, UNCHANGED)}

    @property
    def effective(self) -> list[Planned]:
        return [e for e in self.entries if e.action != UNCHANGED]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def fingerprint(self) -> str:
        """Identifies what would be written: a preview confirmed later must still hold."""
        text = ";".join(f"{e.org.id},{e.indicator.id},{e.month},{e.span},{e.value},{e.note},"
                        f"{None if e.before is None else (e.before.value, e.before.span, e.before.note)}"
                        for e in self.entries)
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def summary(self) -> str:
        n = self.counts
        if not self.effective:
            return "没有改动"
        return "已导入：" + "，".join(f"{ACTION_LABELS[a]} {n[a]} 条" for a in (CREATE, UPDATE) if n[a])


def period_label(month: int, span: int) -> str:
    year, m = divmod(month, 100)
    return f"{year}年{CN_QUARTER[m // 3]}" if span == 3 else f"{year}年{m}月"


# --- reading cells -------------------------------------------------------------------------------

def _text(raw: Any) -> str:
    if raw is None:
        return ""
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    return unicodedata.normalize("NFKC", str(raw)).replace(" ", "").strip()


_QUARTER_WORDS = {"一": 1, "二": 2, "三": 3, "四": 4, "1": 1, "2": 2, "3": 3, "4": 4}
_QUARTER = re.compile(r"^(?:第?([一二三四1-4])季度?|Q([1-4]))$", re.IGNORECASE)
_MONTH = re.compile(r"^(\d{1,2})(?:月(?:份)?)?$")


def parse_period(raw: Any) -> tuple[int, int]:
    """(last month, span) of 月份或季度: 3 / 3月 / 03 → (3, 1); 一季度 / 第1季度 / Q1 → (3, 3)."""
    text = _text(raw)
    if (m := _MONTH.match(text)) and 1 <= int(m.group(1)) <= 12:
        return int(m.group(1)), 1
    if q := _QUARTER.match(text):
        n = _QUARTER_WORDS[q.group(1) or q.group(2)]
        return n * 3, 3
    raise Invalid("月份或季度应为 1–12 的月份，或 一季度 至 四季度（如 3、3月、Q1、第一季度）", code="bad_period")


def parse_year(raw: Any, *, today: date | None = None) -> int:
    text, now = _text(raw).removesuffix("年"), (today or today_cn()).year
    if not text.isdigit() or not MIN_YEAR <= int(text) <= now:
        raise Invalid(f"年份应为 {MIN_YEAR} 至 {now} 之间的四位数字", code="bad_year")
    return int(text)


def require_staff(by: Principal) -> None:
    if not by.has_role(*STAFF_ROLES):
        raise Forbidden(STAFF_ONLY, code="staff_only")


# --- planning -------------------------------------------------------------------------------------

class _Lookup:
    """Organisations by code (read once, with the caller's managed set) and the indicators each sees."""

    def __init__(self, session: Session, by: Principal, orgs: Orgs | None = None) -> None:
        self.session, self.by = session, by
        self.orgs = orgs or Orgs(session, by)
        self.campaign = current_campaign(session)
        self._indicators: dict[int, list[Indicator]] = {}

    def indicators(self, org_id: int) -> list[Indicator]:
        if org_id not in self._indicators:
            self._indicators[org_id] = (indicators_for(self.session, org_id, self.campaign.id)
                                        if self.campaign else [])
        return self._indicators[org_id]


def _indicator(lookup: _Lookup, org: Organisation, raw: Any) -> Indicator:
    text = _text(raw)
    if not text:
        raise Invalid("请填写指标名称或编号", code="indicator_missing")
    seen = lookup.indicators(org.id)
    if text.isdigit():
        found = [i for i in seen if i.id == int(text)]
    else:
        found = [i for i in seen if _text(i.name) == text]
    if len(found) > 1:
        raise Invalid(f"指标「{text}」有多个同名，请改填指标编号", code="indicator_ambiguous")
    if not found:
        raise Invalid(f"找不到指标「{text}」（或{org.name}不使用该指标）", code="indicator_not_found")
    return found[0]


def plan_history(session: Session, by: Principal, rows: Iterable[HistoryRow], *, orgs: Orgs | None = None,
                 progress: Progress = no_progress, today: date | None = None) -> HistoryPlan:
    """Check every row and compare it with what is stored: nothing is written.

    Errors name the row and the column; a row with an error is left out of the entries (the commit
    refuses a plan with errors, so nothing of a file with an error is written).
    """
    require_staff(by)
    lookup = _Lookup(session, by, orgs)
    plan = HistoryPlan()
    now = today or today_cn()
    current = now.year * 100 + now.month
    parsed: list[tuple[int, Organisation, Indicator, int, int, int, str]] = []
    for n, r in enumerate(rows, start=1):
        if n % 1000 == 0:
            progress(n)
        errors: list[RowError] = []

        def fail(column: str, message: str) -> None:
            errors.append(RowError(r.row, column, message))  # noqa: B023 - used at once

        org, problem = lookup.orgs.find(_text(r.org_code))
        if problem:
            org = None
            fail(COL_ORG, problem)
        year = month = span = None
        try:
            year = parse_year(r.year, today=now)
        except Invalid as exc:
            fail(COL_YEAR, exc.message)
        try:
            month, span = parse_period(r.period)
        except Invalid as exc:
            fail(COL_PERIOD, exc.message)
        if year is not None and month is not None and year * 100 + month > current:
            fail(COL_PERIOD, "该季度尚未结束，不能录入" if span == 3 else "不能录入未来的月份")
        indicator = value = None
        if org is not None:
            try:
                indicator = _indicator(lookup, org, r.indicator)
            except Invalid as exc:
                fail(COL_INDICATOR, exc.message)
        if indicator is not None:
            try:
                value = parse_value(indicator, r.value)
                if value is None:
                    fail(COL_VALUE, "请填写数值")
            except Invalid as exc:
                fail(COL_VALUE, exc.message)
        note = "" if r.note is None else str(r.note).strip()
        if len(note) > MAX_NOTE:
            fail(COL_NOTE, f"备注不能超过 {MAX_NOTE} 字")
        if errors:
            plan.errors.extend(errors)
            continue
        parsed.append((r.row, org, indicator, year * 100 + month, span, value, note))

    # Within the file: one figure per key, and no quarter beside a month of the same quarter.
    first_row: dict[tuple[int, int, int], int] = {}
    quarters: dict[tuple[int, int, int], list[tuple[int, int]]] = defaultdict(list)  # (org, ind, q-end) -> (row, span)
    kept = []
    for p in parsed:
        row, org, ind, month, span = p[:5]
        key = (org.id, ind.id, month)
        if key in first_row:
            plan.errors.append(RowError(row, COL_PERIOD, f"与第 {first_row[key]} 行重复（同一组织、指标和月份）"))
            continue
        first_row[key] = row
        q_end = (month // 100) * 100 + ((month % 100 - 1) // 3 + 1) * 3
        clash = [other for other, other_span in quarters[(org.id, ind.id, q_end)] if 3 in (span, other_span)]
        quarters[(org.id, ind.id, q_end)].append((row, span))
        if clash:
            plan.errors.append(RowError(row, COL_PERIOD,
                                        f"与第 {clash[0]} 行同属一个季度：同一指标不能既录季度数又录月度数"))
            continue
        kept.append(p)

    stored = _stored(session, {(p[1].id, p[2].id) for p in kept})
    for row, org, ind, month, span, value, note in kept:
        before = stored.get((org.id, ind.id, month))
        q_end = (month // 100) * 100 + ((month % 100 - 1) // 3 + 1) * 3
        q_months = range(q_end - 2, q_end + 1)
        # Against what is stored: a month inside a stored quarter, or a quarter over stored months.
        clash = [e for m in q_months if (e := stored.get((org.id, ind.id, m))) is not None
                 and e.month != month and 3 in (span, e.span)]
        if clash:
            plan.errors.append(RowError(row, COL_PERIOD, f"已录入{period_label(clash[0].month, clash[0].span)}"
                                        "的数据：同一指标不能既录季度数又录月度数"))
            continue
        plan.entries.append(Planned(row, org, ind, month, span, value, note, before))
    plan.errors.sort(key=lambda e: (e.row, COLUMNS.index(e.column)))
    return plan


def _stored(session: Session, pairs: set[tuple[int, int]]) -> dict[tuple[int, int, int], HistoryEntry]:
    if not pairs:
        return {}
    orgs, inds = {o for o, _ in pairs}, {i for _, i in pairs}
    return {(e.org_id, e.indicator_id, e.month): e for e in session.scalars(
        select(HistoryEntry).where(HistoryEntry.org_id.in_(orgs), HistoryEntry.indicator_id.in_(inds))
        .execution_options(populate_existing=True))  # bulk writes bypass the identity map: read afresh
        if (e.org_id, e.indicator_id) in pairs}


# --- committing ----------------------------------------------------------------------------------

def _units(session: Session, orgs: Iterable[Organisation]) -> dict[int, list[tuple[str, int]]]:
    """Per organisation, the rollup units its entries count in: itself and every ancestor, and itself
    by place when it is a county."""
    orgs = {o.id: o for o in orgs}
    units: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for descendant, ancestor in session.execute(ancestor_pairs(orgs)):
        units[descendant].append(("org", ancestor))
    for org in orgs.values():
        if org.level == OrgLevel.county:
            units[org.id].append(("place", org.id))
    return units


def commit_history(session: Session, by: Principal, plan: HistoryPlan, *, expected: str | None = None) -> HistoryPlan:
    """Write the plan's changes, add them to the rollup and audit them, in one transaction. Commits.

    ``expected``: the fingerprint of the preview confirmed; when the data moved since, 409.
    """
    require_staff(by)
    if plan.errors:
        raise Invalid(f"文件中有 {len(plan.errors)} 处错误，请改正后重新上传", code="has_errors")
    if expected is not None and expected != plan.fingerprint:
        raise Conflict("数据在预览之后有变化，请重新预览后再确认", code="stale_preview")
    if plan.effective:
        write_history(session, by, plan)
        session.commit()
    return plan


def write_history(session: Session, by: Principal, plan: HistoryPlan) -> None:
    """Write a checked plan (no errors): entries, rollup, one audit entry per organisation. Never
    commits (the caller's transaction: :func:`commit_history`, or the import framework's)."""
    changes = plan.effective
    if not changes:
        return
    now = now_utc()
    units = _units(session, {c.org.id: c.org for c in changes}.values())
    deltas: dict[tuple[str, int, int, int, int], int] = defaultdict(int)
    audit: dict[int, list[dict]] = defaultdict(list)
    created, updated = [], []
    for c in changes:
        before = c.before.value if c.before is not None else 0
        if c.before is None:
            created.append({"org_id": c.org.id, "task_id": c.indicator.task_id, "indicator_id": c.indicator.id,
                            "month": c.month, "span": c.span, "value": c.value, "note": c.note,
                            "created_by_user_id": by.user_id, "created_at": now, "updated_at": now})
        else:
            updated.append({"b_id": c.before.id, "b_value": c.value, "b_span": c.span, "b_note": c.note,
                            "b_now": now})
        for scope, unit in units[c.org.id]:
            deltas[(scope, unit, c.month, c.indicator.task_id, c.indicator.id)] += c.value - before
        audit[c.org.id].append({"period": c.period_label, "indicator": c.indicator.name, "unit": c.indicator.unit,
                                "before": c.before_text or None, "after": c.value_text, "action": c.label})
    # Bulk statements (executemany), not one ORM flush per row: 15,000 rows in seconds on PostgreSQL.
    session.flush()
    conn, table = session.connection(), HistoryEntry.__table__
    for start in range(0, len(created), 5000):
        conn.execute(table.insert(), created[start:start + 5000])
    if updated:
        conn.execute(table.update().where(table.c.id == bindparam("b_id")).values(
            value=bindparam("b_value"), span=bindparam("b_span"), note=bindparam("b_note"),
            updated_at=bindparam("b_now")), updated)
        for c in changes:
            if c.before is not None:
                session.expire(c.before)  # loaded before the bulk update: read afresh when next used
    rollup.add_figures(session, deltas)
    orgs = {c.org.id: c.org for c in changes}
    for org_id, items in sorted(audit.items()):
        record(session, actor=by.actor, action="history.import", target_type="organisation",
               target_id=org_id, org_id=org_id,
               after={"org": orgs[org_id].name, "entries": items[:200], "count": len(items)})


# --- labelling figures ----------------------------------------------------------------------------

@dataclass(frozen=True)
class HistoryNote:
    """The 汇总录入 periods inside a figure's period, for the label beside it."""

    periods: tuple[str, ...]

    @property
    def text(self) -> str:
        shown = list(self.periods)
        if len(shown) > 4:
            shown = [shown[0], "…", shown[-1]]
        return "含汇总录入数据：" + "、".join(shown)

    def __str__(self) -> str:
        return self.text


def history_in(session: Session, org_id: int, period: Any, *, scope: str = "org") -> HistoryNote | None:
    """Whether the figures of ``org_id`` (scope ``org``: its subtree; ``place``: the county by place)
    for ``period`` (anything with ``month_from`` / ``month_to``, e.g. a boards Period) include
    汇总录入 entries; None when they do not."""
    stmt = select(HistoryEntry.month, HistoryEntry.span).distinct().where(
        HistoryEntry.month.between(period.month_from, period.month_to))
    if scope == "place":  # only a county's own entries count by place
        stmt = stmt.join(Organisation, Organisation.id == HistoryEntry.org_id).where(
            HistoryEntry.org_id == org_id, Organisation.level == OrgLevel.county.value)
    else:
        stmt = stmt.where(HistoryEntry.org_id.in_(subtree_ids(org_id)))
    found = sorted(set(session.execute(stmt).all()))
    if not found:
        return None
    labels = list(dict.fromkeys(period_label(m, s) for m, s in found))
    return HistoryNote(tuple(labels))


PER_PAGE = 50


@dataclass(frozen=True)
class EntryRow:
    entry: HistoryEntry
    org: Organisation
    indicator: Indicator
    task: str

    @property
    def period_label(self) -> str:
        return period_label(self.entry.month, self.entry.span)

    @property
    def value_text(self) -> str:
        return display_value(self.indicator.kind, self.entry.value)


def stored_entries(session: Session, org: Organisation, *, page: int = 1) -> tuple[list[EntryRow], int]:
    """One page of the entries of ``org``'s subtree (newest month first) and how many there are."""
    where = select(HistoryEntry.id).where(HistoryEntry.org_id.in_(subtree_ids(org.id)))
    total = session.scalar(select(func.count()).select_from(where.subquery())) or 0
    rows = session.execute(
        select(HistoryEntry, Organisation, Indicator, Task.short_name)
        .join(Organisation, Organisation.id == HistoryEntry.org_id)
        .join(Indicator, Indicator.id == HistoryEntry.indicator_id)
        .join(Task, Task.id == HistoryEntry.task_id)
        .where(HistoryEntry.id.in_(where))
        .order_by(HistoryEntry.month.desc(), Organisation.code, Task.sort_order, Indicator.sort_order, HistoryEntry.id)
        .limit(PER_PAGE).offset((max(page, 1) - 1) * PER_PAGE)).all()
    return [EntryRow(*r) for r in rows], total
