"""Annual targets (年度目标): who may set them, what a valid one is, and every change audited.

A target is an organisation's target for its *whole subtree*, per indicator and calendar year; the
boards pro-rate it to a period's end to get the pace (DOMAIN.md, "The rhythm of the work"). Staff
of an organisation set its own targets and those of the organisations one level down (a
prefecture's office sets the prefecture's and each county's), on a grid or through an Excel file.

Every way in — the page, the Excel import, the JSON API — ends in ``plan_targets`` (what would
change, checked) and ``apply_plan`` (write, audit, commit; ``write_plan`` without the commit, for the
import's transaction): the rules are here once. A blank cell
means "no target": clearing one that exists is a change like any other, and is audited.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.activities.service import display_value, parse_value
from app.audit.service import record
from app.auth.principal import STAFF_ROLES, Principal, org_for_read
from app.catalogue.service import current_campaign, indicators_for
from app.clock import now_utc, today_cn
from app.errors import Conflict, Forbidden, Invalid
from app.models import AnnualTarget, Indicator, IndicatorKind, Organisation, Task
from app.orgs.service import children, get_by_code
from app.rollup import service as rollup
from app.targets.excel import Issue, read_sheet

MIN_YEAR = 2020
STAFF_ONLY = "只有「双助推」办公室人员可以设置年度目标"

CellKey = tuple[int, int]  # (org_id, indicator_id)


# --- years and organisations -------------------------------------------------------------------

def year_bounds() -> tuple[int, int]:
    """Targets are set from MIN_YEAR up to next year (set in December for January)."""
    return MIN_YEAR, today_cn().year + 1


def check_year(year: int) -> int:
    low, high = year_bounds()
    if not low <= year <= high:
        message = f"年份须在 {low} 至 {high} 年之间"
        raise Invalid(message, code="bad_year", errors={"year": message})
    return year


def require_staff(by: Principal) -> None:
    if not by.has_role(*STAFF_ROLES):
        raise Forbidden(STAFF_ONLY, code="staff_only")


def default_org(session: Session, by: Principal, *, roles: Iterable = STAFF_ROLES) -> Organisation:
    """The highest organisation ``by`` holds one of ``roles`` on (codes sort top-down)."""
    orgs = by.grant_orgs(session, *roles)
    if not orgs:
        raise Forbidden(STAFF_ONLY, code="staff_only")
    return orgs[0]


def staff_orgs(session: Session, by: Principal) -> list[Organisation]:
    """Every organisation whose targets ``by`` may set, in code order (tree order)."""
    return list(session.scalars(
        select(Organisation).where(Organisation.id.in_(by.scope(*STAFF_ROLES))).order_by(Organisation.code)
    ))


def _settable_problem(session: Session, by: Principal, org: Organisation) -> str | None:
    """Why ``by`` may not set ``org``'s targets, or None when they may."""
    if by.can(session, org.id, *STAFF_ROLES):
        return None
    return f"{org.name}（{org.code}）不在您的管辖范围内，不能设置其年度目标"


# --- values ------------------------------------------------------------------------------------

_NEGATIVE = re.compile(r"^\s*[-－−]")
_DECIMAL = re.compile(r"^\s*\d+[.．。](\d+)\s*$")


def parse_target(indicator: Indicator, raw: Any) -> int | None:
    """A typed target as the stored integer (money → hundredths of 万元); None for a blank cell.

    The activities' parser decides (one notion of a valid figure); the common mistakes get a
    message of their own so that a staff member sees at once what to fix.
    """
    try:
        return parse_value(indicator, raw)
    except Invalid:
        text = str(raw)
        if _NEGATIVE.match(text):
            raise Invalid(f"{indicator.name}：目标不能为负数", code="negative") from None
        decimal = _DECIMAL.match(text)
        if decimal and indicator.kind == IndicatorKind.count:
            raise Invalid(f"{indicator.name}：请填写整数（单位：{indicator.unit}），不能有小数", code="fraction") from None
        if decimal and len(decimal.group(1)) > 2:
            raise Invalid(f"{indicator.name}：金额最多两位小数（单位：万元）", code="too_many_decimals") from None
        raise


def display(indicator: Indicator, value: int | None) -> str:
    return "" if value is None else display_value(indicator.kind, value)


# --- the grid ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    indicator: Indicator
    task: Task

    @property
    def id(self) -> int:
        return self.indicator.id

    @property
    def is_money(self) -> bool:
        return self.indicator.kind == IndicatorKind.money

    @property
    def header(self) -> str:
        return f"{self.indicator.name}（{self.indicator.unit}）"


@dataclass(frozen=True)
class TaskGroup:
    task: Task
    columns: list[Column]


@dataclass(frozen=True)
class Cell:
    org_id: int
    column: Column
    value: int | None  # as stored now
    text: str  # what the input shows: the stored value, or what was typed when it was refused
    error: str | None = None

    @property
    def name(self) -> str:
        return f"v-{self.org_id}-{self.column.id}"

    @property
    def shown_name(self) -> str:
        return f"o-{self.org_id}-{self.column.id}"

    @property
    def shown(self) -> str:
        return display(self.column.indicator, self.value)


@dataclass(frozen=True)
class Row:
    org: Organisation
    is_self: bool
    cells: list[Cell]


@dataclass(frozen=True)
class Grid:
    org: Organisation
    year: int
    groups: list[TaskGroup]
    rows: list[Row]
    editable: bool
    # Per indicator: the children's targets summed, and a warning when it disagrees with the parent.
    child_sums: dict[int, str] = field(default_factory=dict)
    warnings: dict[int, str] = field(default_factory=dict)

    @property
    def columns(self) -> list[Column]:
        return [c for g in self.groups for c in g.columns]

    @property
    def error_count(self) -> int:
        return sum(1 for r in self.rows for c in r.cells if c.error)

    def with_input(self, texts: Mapping[CellKey, str], errors: Mapping[CellKey, str]) -> Grid:
        """The same grid showing what was typed, with each refused cell's message beside it."""
        def typed(c: Cell) -> Cell:
            key = (c.org_id, c.column.id)
            return replace(c, text=texts.get(key, c.text), error=errors.get(key))

        rows = [replace(r, cells=[typed(c) for c in r.cells]) for r in self.rows]
        return replace(self, rows=rows)


def columns_for(session: Session, org_id: int) -> list[TaskGroup]:
    """The current campaign's indicators ``org_id`` sees, grouped by task in catalogue order."""
    campaign = current_campaign(session)
    if campaign is None:
        return []
    # Outcome indicators (成效) carry no target: the boards never weigh them against one.
    indicators = [i for i in indicators_for(session, org_id, campaign.id) if not i.is_outcome]
    tasks = {t.id: t for t in session.scalars(select(Task).where(Task.id.in_({i.task_id for i in indicators})))}
    groups: list[TaskGroup] = []
    for ind in indicators:
        if not groups or groups[-1].task.id != ind.task_id:
            groups.append(TaskGroup(task=tasks[ind.task_id], columns=[]))
        groups[-1].columns.append(Column(indicator=ind, task=tasks[ind.task_id]))
    return groups


def _stored(session: Session, org_ids: list[int], indicator_ids: Iterable[int], year: int) -> dict[CellKey, int]:
    ids = list(indicator_ids)
    if not org_ids or not ids:
        return {}
    rows = session.execute(
        select(AnnualTarget.org_id, AnnualTarget.indicator_id, AnnualTarget.value).where(
            AnnualTarget.year == year, AnnualTarget.org_id.in_(org_ids), AnnualTarget.indicator_id.in_(ids))
    )
    return {(o, i): v for o, i, v in rows}


def target_grid(session: Session, by: Principal, *, org: Organisation, year: int) -> Grid:
    """The targets of ``org`` and of the organisations one level down, for ``year``.

    ``org`` comes from a loader of app.deps (read scope at least); editing needs a staff grant over it.
    """
    check_year(year)
    org_for_read(session, by, org.id)  # the service's own guard: the same rule as the routes' loaders
    groups = columns_for(session, org.id)
    orgs = [org, *children(session, org.id)]
    columns = [c for g in groups for c in g.columns]
    stored = _stored(session, [o.id for o in orgs], (c.id for c in columns), year)
    rows = [
        Row(org=o, is_self=o.id == org.id, cells=[
            Cell(org_id=o.id, column=c, value=(v := stored.get((o.id, c.id))), text=display(c.indicator, v))
            for c in columns
        ])
        for o in orgs
    ]
    sums, warnings = _child_check(org, orgs[1:], columns, stored)
    return Grid(org=org, year=year, groups=groups, rows=rows, child_sums=sums, warnings=warnings,
                editable=by.can(session, org.id, *STAFF_ROLES))


def _child_check(org: Organisation, kids: list[Organisation], columns: list[Column],
                 stored: Mapping[CellKey, int]) -> tuple[dict[int, str], dict[int, str]]:
    """The children's sum per indicator, and a warning (never a refusal) when it exceeds the parent's.

    Above the parent's target the children promise more than the whole subtree can deliver —
    usually a typo. Below it is the normal case, not warned about: the parent's target covers its
    own members too (a target is for the whole subtree), and they make up the difference.
    """
    sums, warnings = {}, {}
    if not kids:
        return sums, warnings
    for c in columns:
        values = [stored[(k.id, c.id)] for k in kids if (k.id, c.id) in stored]
        if not values:
            continue
        total = sum(values)
        sums[c.id] = display(c.indicator, total)
        parent = stored.get((org.id, c.id))
        if parent is None:
            continue
        if total > parent:
            unit = c.indicator.unit
            warnings[c.id] = (f"下级目标合计 {display(c.indicator, total)}{unit}，"
                              f"高于本级目标 {display(c.indicator, parent)}{unit}")
    return sums, warnings


# --- planning and applying changes -----------------------------------------------------------------

CREATE, UPDATE, CLEAR, UNCHANGED = "create", "update", "clear", "unchanged"
ACTION_LABELS = {CREATE: "新增", UPDATE: "修改", CLEAR: "清除", UNCHANGED: "不变"}


@dataclass(frozen=True)
class Change:
    org: Organisation
    indicator: Indicator
    before: int | None
    after: int | None

    @property
    def action(self) -> str:
        if self.before == self.after:
            return UNCHANGED
        if self.before is None:
            return CREATE
        return CLEAR if self.after is None else UPDATE

    @property
    def label(self) -> str:
        return ACTION_LABELS[self.action]

    @property
    def before_text(self) -> str:
        return display(self.indicator, self.before)

    @property
    def after_text(self) -> str:
        return display(self.indicator, self.after)


@dataclass(frozen=True)
class Plan:
    year: int
    changes: list[Change]

    def count(self, action: str) -> int:
        return sum(1 for c in self.changes if c.action == action)

    @property
    def counts(self) -> dict[str, int]:
        return {a: self.count(a) for a in (CREATE, UPDATE, UNCHANGED, CLEAR)}

    @property
    def effective(self) -> list[Change]:
        return [c for c in self.changes if c.action != UNCHANGED]

    @property
    def fingerprint(self) -> str:
        """Identifies exactly what would be written: a preview confirmed later must still hold."""
        text = ";".join(f"{c.org.id},{c.indicator.id},{c.before},{c.after}" for c in self.changes)
        return hashlib.sha256(f"{self.year}|{text}".encode()).hexdigest()[:32]

    def summary(self) -> str:
        n = self.counts
        if not self.effective:
            return "没有改动"
        parts = [f"{ACTION_LABELS[a]} {n[a]} 项" for a in (CREATE, UPDATE, CLEAR) if n[a]]
        return "已保存：" + "，".join(parts)


class _Visible:
    """Which indicators each organisation sees (its own and its ancestors'), asked once per org."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.campaign = current_campaign(session)
        self._by_org: dict[int, dict[int, Indicator]] = {}

    def __call__(self, org_id: int) -> dict[int, Indicator]:
        if org_id not in self._by_org:
            found = indicators_for(self.session, org_id, self.campaign.id) if self.campaign else []
            self._by_org[org_id] = {i.id: i for i in found if not i.is_outcome}  # 成效: no targets
        return self._by_org[org_id]


def plan_targets(session: Session, by: Principal, *, year: int, values: Mapping[CellKey, int | None],
                 orgs: Mapping[int, Organisation]) -> Plan:
    """What setting ``values`` would change, in organisation-code then catalogue order.

    ``values`` have been parsed and their organisations (``orgs``) checked as settable by
    ``by``; this compares them with what is stored.
    """
    check_year(year)
    stored = _stored(session, list({o for o, _ in values}), {i for _, i in values}, year)
    visible = _Visible(session)
    # A blank cell where there is no target is not a change, nor an "unchanged target": left out.
    changes = [
        Change(org=orgs[o], indicator=visible(o)[i], before=stored.get((o, i)), after=v)
        for (o, i), v in values.items() if v is not None or (o, i) in stored
    ]
    changes.sort(key=lambda c: (c.org.code, c.indicator.task_id, c.indicator.sort_order, c.indicator.id))
    return Plan(year=year, changes=changes)


def _snapshot(change: Change, value: int | None, year: int) -> dict | None:
    if value is None:
        return None
    return {"year": year, "org": change.org.name, "indicator": change.indicator.name,
            "value": display(change.indicator, value), "unit": change.indicator.unit}


def apply_plan(session: Session, by: Principal, plan: Plan) -> Plan:
    """Write every change of ``plan`` and audit each one, all in one transaction. Commits."""
    write_plan(session, by, plan)
    session.commit()
    return plan


def write_plan(session: Session, by: Principal, plan: Plan) -> None:
    """Write every change of ``plan`` and audit each one in the caller's transaction (the import's,
    beside its own summary entry). Never commits."""
    now = now_utc()
    try:
        with session.begin_nested():
            for c in plan.effective:
                where = (AnnualTarget.org_id == c.org.id, AnnualTarget.indicator_id == c.indicator.id,
                         AnnualTarget.year == plan.year)
                if c.action == CREATE:
                    session.add(AnnualTarget(org_id=c.org.id, indicator_id=c.indicator.id, year=plan.year,
                                             value=c.after, set_by_user_id=by.user_id, updated_at=now))
                elif c.action == UPDATE:
                    session.execute(update(AnnualTarget).where(*where).values(
                        value=c.after, set_by_user_id=by.user_id, updated_at=now))
                else:
                    session.execute(delete(AnnualTarget).where(*where))
                record(session, actor=by.actor, action="target.clear" if c.action == CLEAR else "target.set",
                       target_type="annual_target", target_id=f"{c.org.code}:{c.indicator.id}:{plan.year}",
                       org_id=c.org.id, before=_snapshot(c, c.before, plan.year),
                       after=_snapshot(c, c.after, plan.year))
            # Open boards of these organisations (and of their parents, which rank them) redraw.
            rollup.touch(session, {("org", o) for c in plan.effective for o in (c.org.id, c.org.parent_id) if o})
            session.flush()
    except IntegrityError:
        # Someone else created the same target between our read and our write (PostgreSQL; on
        # SQLite the write transaction began IMMEDIATE, so nobody could).
        raise Conflict("有目标刚被他人修改，请刷新页面后重试", code="target_conflict") from None


# --- saving from the grid or the API -------------------------------------------------------------

def cell_key_text(key: CellKey) -> str:
    return f"{key[0]}-{key[1]}"


def save_targets(session: Session, by: Principal, *, year: int, cells: Mapping[CellKey, Any],
                 shown: Mapping[CellKey, str] | None = None) -> Plan:
    """Set the typed ``cells`` (blank clears) all or nothing; commits. Invalid carries one message per cell.

    ``shown`` is what the page displayed when it was loaded: a cell typed back as shown is not a
    change (so saving a grid never undoes what a colleague saved meanwhile in another cell), and a
    cell both changed here and changed meanwhile by someone else is refused, not overwritten.
    """
    require_staff(by)
    check_year(year)
    orgs: dict[int, Organisation] = {}
    for org_id in {o for o, _ in cells}:
        org = org_for_read(session, by, org_id)
        problem = _settable_problem(session, by, org)
        if problem:
            raise Forbidden(problem, code="target_out_of_scope")
        orgs[org_id] = org
    visible = _Visible(session)
    stored = _stored(session, list(orgs), {i for _, i in cells}, year)
    values: dict[CellKey, int | None] = {}
    errors: dict[CellKey, str] = {}
    for key, raw in cells.items():
        org_id, indicator_id = key
        indicator = visible(org_id).get(indicator_id)
        if indicator is None:
            errors[key] = "该指标不属于当前活动目录，或不适用于该组织"
            continue
        try:
            value = parse_target(indicator, raw)
        except Invalid as exc:
            errors[key] = exc.message
            continue
        if shown is not None and key in shown:
            try:
                was = parse_target(indicator, shown[key])
            except Invalid:
                was = value  # a shown value we cannot read: judge the cell by what was typed
            if value == was:
                continue
            current = stored.get(key)
            if current != was and current != value:
                errors[key] = f"该目标刚被他人改为「{display(indicator, current) or '空'}」，请核对后再保存"
                continue
        values[key] = value
    if errors:
        raise Invalid(f"有 {len(errors)} 项填写有误，全部未保存，请修改后重试", code="invalid_targets",
                      errors={cell_key_text(k): m for k, m in errors.items()})
    plan = plan_targets(session, by, year=year, values=values, orgs=orgs)
    return apply_plan(session, by, plan)


# --- the Excel import ------------------------------------------------------------------------------

@dataclass(frozen=True)
class ImportPreview:
    year: int
    plan: Plan
    issues: list[Issue]
    rows: int = 0  # organisations read from the file

    @property
    def ok(self) -> bool:
        return not self.issues


def preview_import(session: Session, by: Principal, data: bytes, *, year: int) -> ImportPreview:
    """What importing ``data`` for ``year`` would change, and every problem of the file (writes nothing)."""
    require_staff(by)
    check_year(year)
    sheet = read_sheet(data)
    issues = list(sheet.issues)
    empty = Plan(year=year, changes=[])
    if sheet.year is not None and sheet.year != year:
        issues.insert(0, Issue(None, "", "", f"文件是 {sheet.year} 年的目标，当前选择的是 {year} 年；"
                                             f"请先在页面上选择 {sheet.year} 年再导入"))
        return ImportPreview(year=year, plan=empty, issues=issues, rows=len(sheet.rows))
    visible = _Visible(session)
    values: dict[CellKey, int | None] = {}
    orgs: dict[int, Organisation] = {}
    first_row: dict[int, int] = {}
    for row in sheet.rows:
        problem, org = _import_org(session, by, row.code)
        if org is not None and org.id in first_row:
            problem = f"{org.name}（{org.code}）重复出现，第 {first_row[org.id]} 行已有"
        if problem:
            issues.append(Issue(row.row, "A", "组织代码", problem))
            continue
        first_row[org.id] = row.row
        orgs[org.id] = org
        for cell in row.cells:
            indicator = visible(org.id).get(cell.indicator_id)
            if indicator is None:
                if cell.raw is not None:
                    issues.append(Issue(row.row, cell.letter, cell.header,
                                        f"该列的指标不属于当前活动目录，或不适用于{org.name}"))
                continue
            try:
                values[(org.id, indicator.id)] = parse_target(indicator, cell.raw)
            except Invalid as exc:
                issues.append(Issue(row.row, cell.letter, cell.header, exc.message))
    plan = plan_targets(session, by, year=year, values=values, orgs=orgs) if values else empty
    return ImportPreview(year=year, plan=plan, issues=issues, rows=len(sheet.rows))


def _import_org(session: Session, by: Principal, code: str) -> tuple[str | None, Organisation | None]:
    if not code:
        return "缺少组织代码", None
    try:
        org = get_by_code(session, code)
    except ValueError:
        return f"组织代码「{code}」格式不正确（应为 6 位数字，如 530102）", None
    if org is None:
        return f"组织代码 {code} 不存在", None
    return _settable_problem(session, by, org), org


def commit_import(session: Session, by: Principal, data: bytes, *, year: int, fingerprint: str) -> Plan:
    """Import ``data`` exactly as previewed, all or nothing. Commits.

    The file is read again inside the write transaction: if anything it would change has moved
    since the preview (a colleague saved meanwhile), nothing is written and the preview is redone.
    """
    preview = preview_import(session, by, data, year=year)
    if not preview.ok:
        raise Invalid(f"文件有 {len(preview.issues)} 处错误，没有导入任何目标", code="import_invalid")
    if preview.plan.fingerprint != fingerprint:
        raise Conflict("预览之后目标已有变化，请核对新的预览后再确认", code="import_stale")
    return apply_plan(session, by, preview.plan)
