"""Import kind ``targets``: 年度目标, one row per organisation × indicator × year (a long list, the
shape offices keep; the targets page's own grid workbook is the wide one).

The rules are the targets module's, reused rather than repeated: the value parser
(``parse_target``: counts whole, money to two decimals of 万元, no negatives), which indicators an
organisation sees, ``plan_targets`` (compares with what is stored: 新增 / 修改 / 清除 / 不变) and
``write_plan`` (writes, one audit entry per changed target, the boards told; the import's
transaction commits). A blank 目标值 clears a stored target (counted as 修改). One year per file,
as on the page: a file mixing years is refused, so the commit stays one plan.

The indicator is named as the template's list shows it, 「实事·指标」 (e.g. 医疗帮扶·义医义诊); the
indicator's name alone is accepted when only one visible indicator has it.
"""

from __future__ import annotations

from typing import ClassVar

from sqlalchemy import select
from sqlmodel import Session

from app.auth.principal import STAFF_ROLES, Principal
from app.catalogue.service import current_campaign, indicators_for
from app.clock import today_cn
from app.errors import Invalid
from app.imports.base import (
    BadCell,
    BaseKind,
    ColumnSpec,
    Orgs,
    Plan,
    Progress,
    Row,
    normalise,
    parse_int,
    register,
)
from app.models import Indicator, Task
from app.targets import service as targets


class TargetsKind(BaseKind):
    code = "targets"
    label = "年度目标"
    columns: ClassVar[list[ColumnSpec]] = [
        ColumnSpec("org_code", "组织代码", required=True, text=True, example="530102", aliases=("代码",)),
        ColumnSpec("year", "年份", required=True, example=str(today_cn().year), aliases=("年度",)),
        ColumnSpec("indicator", "指标", required=True, example="医疗帮扶·义医义诊", width=30,
                   note="从下拉列表选择「实事·指标」"),
        ColumnSpec("value", "目标值", example="12", aliases=("目标", "年度目标"),
                   note="个/次/人等填整数，万元最多两位小数；空白表示清除该目标"),
    ]

    def notes(self) -> list[str]:
        return ["按 组织 × 指标 × 年份 匹配；一个文件只能包含一个年份。",
                "年度目标是该组织整个辖区的目标；只能设置您管理范围内的组织。"]

    def choices(self, session: Session, by: Principal) -> dict[str, list[str]]:
        orgs = by.grant_orgs(session, *STAFF_ROLES) if by is not None else []
        campaign = current_campaign(session)
        if not orgs or campaign is None:
            return {}
        found = [i for i in indicators_for(session, orgs[0].id, campaign.id) if not i.is_outcome]  # 成效: no targets
        return {"indicator": list(_labels(session, found))}

    def plan(self, session: Session, by: Principal, rows: list[Row], progress: Progress) -> Plan:
        plan = Plan(kind=self.code, rows=len(rows))
        col = {c.key: c for c in self.columns}
        orgs = Orgs(session, by)
        campaign = current_campaign(session)
        visible: dict[int, dict[str, Indicator]] = {}
        values: dict[targets.CellKey, int | None] = {}
        first_row: dict[targets.CellKey, int] = {}
        picked: dict = {}
        years: dict[int, int] = {}
        for i, row in enumerate(rows):
            if i % 1000 == 0:
                progress(i)
            before = len(plan.errors)
            org, problem = orgs.find(row.get("org_code"))
            if problem:
                plan.error(row, col["org_code"], problem)
            year = None
            try:
                year = parse_int(row.get("year"), what="年份") if normalise(row.get("year")) else None
                if year is None:
                    plan.error(row, col["year"], "缺少年份")
                else:
                    targets.check_year(year)
                    if not years:
                        years[year] = row.number
                    elif year not in years:
                        first = next(iter(years))
                        plan.error(row, col["year"], f"一个文件只能包含一个年份的目标（第 {years[first]} 行是 {first} 年）")
            except BadCell as exc:
                plan.error(row, col["year"], str(exc))
            except Invalid as exc:
                plan.error(row, col["year"], exc.message)
            indicator = None
            label = normalise(row.get("indicator"))
            if not label:
                plan.error(row, col["indicator"], "缺少指标")
            elif org is not None and not problem:
                if org.id not in visible:
                    found = indicators_for(session, org.id, campaign.id) if campaign else []
                    visible[org.id] = _lookup(session, [i for i in found if not i.is_outcome])
                indicator = visible[org.id].get(label)
                if indicator is None:
                    plan.error(row, col["indicator"], f"指标「{label}」不在当前活动目录中，或不适用于{org.name}")
            if indicator is not None:
                try:
                    value = targets.parse_target(indicator, row.get("value") or None)
                except Invalid as exc:
                    plan.error(row, col["value"], exc.message)
            if len(plan.errors) > before:
                continue
            key = (org.id, indicator.id)
            if key in first_row:
                plan.error(row, col["indicator"], f"{org.name}的「{label}」在文件中重复出现（第 {first_row[key]} 行已有）")
                continue
            first_row[key] = row.number
            values[key] = value
            picked[org.id] = org
        if plan.errors or not values:
            plan.payload = None
            return plan
        year = next(iter(years))
        tplan = targets.plan_targets(session, by, year=year, values=values, orgs=picked)
        counts = tplan.counts
        plan.created = counts[targets.CREATE]
        plan.updated = counts[targets.UPDATE] + counts[targets.CLEAR]
        plan.unchanged = len(rows) - plan.created - plan.updated  # blanks where nothing is stored, too
        if counts[targets.CLEAR]:
            plan.notices.append(f"将清除 {counts[targets.CLEAR]} 项已有目标（文件中目标值为空白）")
        plan.payload = tplan
        plan.fingerprint = tplan.fingerprint
        progress(len(rows))
        return plan

    def commit(self, session: Session, by: Principal, plan: Plan) -> None:
        targets.write_plan(session, by, plan.payload)  # writes, audits each target; the import commits


def _labels(session: Session, indicators: list[Indicator]) -> dict[str, Indicator]:
    tasks = {t.id: t for t in session.scalars(select(Task).where(Task.id.in_({i.task_id for i in indicators})))}
    return {f"{tasks[i.task_id].short_name}·{i.name}": i for i in indicators}


def _lookup(session: Session, indicators: list[Indicator]) -> dict[str, Indicator]:
    by_label = _labels(session, indicators)
    names: dict[str, list[Indicator]] = {}
    for i in indicators:
        names.setdefault(i.name, []).append(i)
    unique = {n: found[0] for n, found in names.items() if len(found) == 1}
    return unique | {label.replace("·", "・"): i for label, i in by_label.items()} | by_label


register(TargetsKind())
