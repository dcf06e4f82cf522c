"""Import kind ``history``: 汇总录入 — past figures per organisation × month (or quarter) × indicator.

The rules are in ``app/history/service.py`` (plan, write, rollup, per-organisation audit); this
module only adapts them to the import framework: the template's columns, rows read from the file,
the framework's :class:`Plan` with its counts, errors and fingerprint.
"""

from __future__ import annotations

from typing import ClassVar

from sqlalchemy import select
from sqlmodel import Session

from app.auth.principal import STAFF_ROLES, Principal
from app.catalogue.service import current_campaign, owners_seen_within
from app.history import service
from app.imports.base import BaseKind, ColumnSpec, Orgs, Plan, Progress, Row, register
from app.models import Indicator, Task


class HistoryKind(BaseKind):
    code, label = "history", "历史数据（汇总录入）"
    columns: ClassVar[list[ColumnSpec]] = [
        ColumnSpec("org_code", service.COL_ORG, required=True, text=True, example="530102",
                   note="6 位组织代码（行政区划代码），须在您的管理范围内"),
        ColumnSpec("year", service.COL_YEAR, required=True, example="2025", width=8,
                   note=f"四位年份，{service.MIN_YEAR} 年至今年"),
        ColumnSpec("period", service.COL_PERIOD, required=True, example="一季度", width=12,
                   choices=("1月", "2月", "3月", "4月", "5月", "6月", "7月", "8月", "9月", "10月", "11月", "12月",
                            "一季度", "二季度", "三季度", "四季度"),
                   aliases=("月份", "季度", "月份/季度"),
                   note="月份（1–12 或 3月）或季度（一季度、Q1、第一季度）；季度数计在该季度最后一个月，"
                        "同一指标不能既录季度数又录该季度的月度数"),
        ColumnSpec("indicator", service.COL_INDICATOR, required=True, example="", width=30,
                   aliases=("指标名称", "指标编号"), note="指标名称（下拉选择）或指标编号"),
        ColumnSpec("value", service.COL_VALUE, required=True, example="", width=12,
                   note="计数指标填不小于 0 的整数；金额指标单位万元，最多两位小数"),
        ColumnSpec("note", service.COL_NOTE, example="据2025年一季度工作台账", width=30,
                   note=f"可选，不超过 {service.MAX_NOTE} 字"),
    ]

    def choices(self, session: Session, by: Principal) -> dict[str, list[str]]:
        """Indicator names of the current campaign the caller's organisations see (a name twice: use its id)."""
        campaign = current_campaign(session)
        if campaign is None:
            return {}
        names = session.scalars(
            select(Indicator.name).join(Task, Task.id == Indicator.task_id)
            .where(Task.campaign_id == campaign.id,
                   Indicator.owner_org_id.in_(owners_seen_within(by.org_ids(*STAFF_ROLES))))
            .order_by(Task.sort_order, Indicator.sort_order))
        return {"indicator": list(dict.fromkeys(names))}

    def notes(self) -> list[str]:
        return [("历史数据按「组织 × 月份（或季度）× 指标」录入为汇总数，计入该期间的各项指标、看板和报告（标注“含汇总录入数据”），"
                 "不计入活动次数和委员参与率。"),
                "同一组织、指标和月份再次导入时更新原数值，不会重复累加。"]

    def plan(self, session: Session, by: Principal, rows: list[Row], progress: Progress) -> Plan:
        found = service.plan_history(session, by, [
            service.HistoryRow(r.number, r.get("org_code"), r.get("year"), r.get("period"), r.get("indicator"),
                               r.get("value"), r.get("note")) for r in rows], orgs=Orgs(session, by), progress=progress)
        plan = Plan(kind=self.code, created=found.count(service.CREATE), updated=found.count(service.UPDATE),
                    unchanged=found.count(service.UNCHANGED), payload=found, rows=len(rows),
                    fingerprint=found.fingerprint if found.ok else "")
        for e in found.errors:
            plan.error(e.row, e.column, e.message)
        if found.ok and found.effective:
            orgs = sorted({e.org.name for e in found.effective})
            plan.notices.append("涉及组织：" + "、".join(orgs[:10]) + (f" 等 {len(orgs)} 个" if len(orgs) > 10 else ""))
        return plan

    def commit(self, session: Session, by: Principal, plan: Plan) -> None:
        service.write_history(session, by, plan.payload)


register(HistoryKind())
