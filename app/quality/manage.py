"""Managing the plausibility rules (合理性规则) on the catalogue page: list, add, change, delete.

Who may set an organisation's rules is the catalogue's own rule (``manage.catalogue.may_own``):
province rules by the province's administrators, a prefecture's by its own office (or the
province's). A county sets none: its activities are judged by its prefecture's and the province's
rules, and a rule per county would split one standard across 129 offices; its office sees the rules
in force, read-only.

A rule applies in its organisation's subtree together with every ancestor's (app/quality/rules.py),
so a prefecture can only tighten: a looser bound or ratio side is saved (the office may mean it for
later) but the page says it has no effect. Each change is audited, bumps the rules' version (every
process reloads) and queues the recompute of the subtree's pending activities' flags
(app/quality/jobs.py: too slow for a request on a big province).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlmodel import Session

from app.activities.values import display_value, parse_value
from app.audit.service import record
from app.auth.principal import STAFF_ROLES, Principal, org_for_staff
from app.catalogue.service import (
    current_campaign,
    indicators_for,
    owners_seen_by,
    owners_seen_within,
    tasks_for,
)
from app.clock import now_utc
from app.errors import Forbidden, Invalid, NotFound
from app.manage.catalogue import may_own, owner_options
from app.manage.service import require_staff
from app.models import (
    Indicator,
    Organisation,
    PlausibilityRule,
    RuleKind,
    Task,
)
from app.orgs.service import ancestor_ids
from app.quality import jobs as recompute_jobs
from app.quality.flags import pending_count
from app.quality.rules import bump_version, effective_rules

KIND_LABELS = {RuleKind.bound: "单次上限", RuleKind.ratio: "比例范围"}
NOT_YOURS = "合理性规则由省级管理员设置；州市「双助推」办公室可以为本辖区收紧，县级不能设置"
MAX_RATIO = 1_000_000_000
_RATIO = re.compile(r"^\d+(\.\d{1,4})?$")
_FULLWIDTH = {0xFF10 + d: ord("0") + d for d in range(10)} | {0xFF0E: ord("."), 0x3002: ord(".")}


def ratio_text(x: float) -> str:
    """A ratio as typed: up to four decimals, no trailing zeros."""
    return f"{x:.4f}".rstrip("0").rstrip(".")


def _show(ind: Indicator, value: int) -> str:
    return f"{display_value(ind.kind, value)} {ind.unit}"


def limit_text(rule: PlausibilityRule, ind: Indicator, per: Indicator | None) -> str:
    """The rule in words and display units: 「不超过 200 人」, 「0.05 至 20 万元/人」."""
    if rule.kind == RuleKind.bound:
        return f"每次不超过 {_show(ind, rule.max_value or 0)}"
    unit = f"{ind.unit}/{per.unit}" if per is not None else ""
    lo, hi = rule.min_ratio, rule.max_ratio
    if lo is not None and hi is not None:
        return f"{ratio_text(lo)} 至 {ratio_text(hi)} {unit}"
    if lo is not None:
        return f"不低于 {ratio_text(lo)} {unit}"
    return f"不高于 {ratio_text(hi or 0)} {unit}"


# --- reading ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RuleView:
    rule: PlausibilityRule
    org: Organisation  # who set it
    indicator: Indicator
    per: Indicator | None  # the denominator of a ratio
    limit: str
    editable: bool  # the viewed organisation's own rule, and the caller may set its rules
    note: str | None  # why it changes nothing (looser than an ancestor's, or a tighter bound wins)


@dataclass(frozen=True)
class TaskRules:
    task: Task
    indicators: list[Indicator]
    rules: list[RuleView]


@dataclass(frozen=True)
class RulesPage:
    org: Organisation  # whose rules in force are shown
    choices: list[Organisation]  # the organisations the caller may look at here
    may_edit: bool
    tasks: list[TaskRules]
    recompute: recompute_jobs.Progress | None  # the latest recompute of the subtree's flags


def _choices(session: Session, by: Principal) -> list[Organisation]:
    found = {o.id: o for o in by.grant_orgs(session, *STAFF_ROLES)}
    found.update({o.id: o for o in owner_options(session, by)})
    return sorted(found.values(), key=lambda o: o.code)


def _campaign_id(session: Session) -> int:
    campaign = current_campaign(session)
    if campaign is None:
        raise NotFound("还没有当前的行动目录", code="no_campaign")
    return campaign.id


def _looser(session: Session, org: Organisation, rule: PlausibilityRule, ind: Indicator,
            per: Indicator | None) -> str | None:
    """What of ``rule`` the ancestors' rules already make stricter (so it has no effect), or None."""
    if org.parent_id is None:
        return None
    above = effective_rules(session, org.parent_id)
    if rule.kind == RuleKind.bound:
        bound = above.bounds.get(rule.indicator_id)
        if bound is not None and (rule.max_value or 0) >= bound.max_value:
            return f"省级上限为 {_show(ind, bound.max_value)}，州市只能收紧，此条不会放宽"
        return None
    same = [r for r in above.ratios if (r.indicator_id, r.per_indicator_id) == (rule.indicator_id, rule.per_indicator_id)]
    unit = f" {ind.unit}/{per.unit}" if per is not None else ""
    said = []
    lows = [r.min_ratio for r in same if r.min_ratio is not None]
    highs = [r.max_ratio for r in same if r.max_ratio is not None]
    if rule.min_ratio is not None and lows and rule.min_ratio <= max(lows):
        said.append(f"省级下限为 {ratio_text(max(lows))}{unit}")
    if rule.max_ratio is not None and highs and rule.max_ratio >= min(highs):
        said.append(f"省级上限为 {ratio_text(min(highs))}{unit}")
    return "，".join(said) + "，州市只能收紧，此条不会放宽" if said else None


def rules_page(session: Session, by: Principal, org_ref: int | str | None = None) -> RulesPage:
    """The rules in force for one organisation the caller staffs (its own and inherited), by task."""
    require_staff(by)
    choices = _choices(session, by)
    if org_ref in (None, ""):
        if not choices:
            raise Forbidden(NOT_YOURS, code="rules_owner_only")
        org_ref = choices[0].id
    org = org_for_staff(session, by, org_ref)
    campaign_id = _campaign_id(session)
    may_edit = may_own(session, by, org)
    indicators = indicators_for(session, org.id, campaign_id)
    by_id = {i.id: i for i in indicators}
    lineage = {o.id: o for o in session.scalars(select(Organisation).where(Organisation.id.in_(ancestor_ids(org.id))))}
    in_force = {b.rule_id for b in effective_rules(session, org.id).bounds.values()}
    views: dict[int, list[RuleView]] = {}
    rows = session.scalars(select(PlausibilityRule).where(PlausibilityRule.org_id.in_(list(lineage)))
                           .order_by(PlausibilityRule.indicator_id, PlausibilityRule.kind, PlausibilityRule.id))
    for rule in rows:
        ind = by_id.get(rule.indicator_id)
        per = by_id.get(rule.per_indicator_id) if rule.per_indicator_id else None
        if ind is None:
            continue
        owner = lineage[rule.org_id]
        note = _looser(session, owner, rule, ind, per)
        if note is None and rule.kind == RuleKind.bound and rule.id not in in_force:
            note = "另有更严的上限，此条不起作用"
        views.setdefault(ind.task_id, []).append(RuleView(
            rule, owner, ind, per, limit_text(rule, ind, per), may_edit and rule.org_id == org.id, note))
    tasks = [TaskRules(t, [i for i in indicators if i.task_id == t.id], views.get(t.id, []))
             for t in tasks_for(session, org.id, campaign_id)]
    return RulesPage(org, choices, may_edit, tasks, recompute_jobs.latest(session, org.id))


def _org_to_set(session: Session, by: Principal, org_ref: int | str | None) -> Organisation:
    require_staff(by)
    org = org_for_staff(session, by, org_ref)
    if not may_own(session, by, org):
        raise Forbidden(NOT_YOURS, code="rules_owner_only")
    return org


def _rule_and_org(session: Session, by: Principal, rule_id: int) -> tuple[PlausibilityRule, Organisation]:
    require_staff(by)
    rule = session.get(PlausibilityRule, rule_id)
    org = session.scalar(select(Organisation).where(
        Organisation.id == rule.org_id, Organisation.id.in_(owners_seen_within(by.org_ids(*STAFF_ROLES))))) \
        if rule is not None else None
    if rule is None or org is None:
        raise NotFound("找不到该规则，或不在您的管辖范围内", code="rule_not_found")
    if not may_own(session, by, org):
        raise Forbidden(NOT_YOURS, code="rules_owner_only")
    return rule, org


def rule_for_edit(session: Session, by: Principal, rule_id: int) -> PlausibilityRule:
    """The rule if the caller may set its organisation's rules: 404 unless it applies somewhere in their
    subtrees (set above them or inside them, as the catalogue's entries), else 403."""
    return _rule_and_org(session, by, rule_id)[0]



def form_for(session: Session, by: Principal, *, org_ref: int | str | None = None, task_id: int | None = None,
             rule: PlausibilityRule | None = None) -> tuple[Organisation, Task, list[Indicator]]:
    """What a rule's form offers: the organisation (one whose rules the caller sets), the task (one it
    works with) and the task's indicators it sees; for an existing ``rule``, its own."""
    if rule is not None:
        org_ref, task_id = rule.org_id, session.get_one(Indicator, rule.indicator_id).task_id
    org = _org_to_set(session, by, org_ref)
    campaign_id = _campaign_id(session)
    task = next((t for t in tasks_for(session, org.id, campaign_id) if t.id == task_id), None)
    if task is None:
        raise NotFound("找不到该实事，或不在您的管辖范围内", code="task_not_found")
    return org, task, [i for i in indicators_for(session, org.id, campaign_id) if i.task_id == task.id]

# --- writing ----------------------------------------------------------------------------------------

@dataclass
class RuleForm:
    """What the office typed, in display units (money in 万元)."""

    kind: str = RuleKind.bound.value
    indicator_id: int | None = None
    per_indicator_id: int | None = None
    max_value: str = ""
    min_ratio: str = ""
    max_ratio: str = ""
    source: str = ""


@dataclass(frozen=True)
class Saved:
    rule: PlausibilityRule | None  # None once deleted
    org: Organisation  # whose rule it is
    task_id: int  # the task of its indicators (the page returns to it)
    pending: int  # the subtree's pending activities whose flags are being recomputed
    note: str | None  # the rule is looser than the province's: no effect


def typed(session: Session, rule: PlausibilityRule) -> RuleForm:
    """A rule as the form shows it, in display units."""
    ind = session.get_one(Indicator, rule.indicator_id)
    return RuleForm(kind=rule.kind, indicator_id=rule.indicator_id, per_indicator_id=rule.per_indicator_id,
                    max_value=display_value(ind.kind, rule.max_value) if rule.max_value is not None else "",
                    min_ratio=ratio_text(rule.min_ratio) if rule.min_ratio is not None else "",
                    max_ratio=ratio_text(rule.max_ratio) if rule.max_ratio is not None else "", source=rule.source)


def _visible_indicator(session: Session, org: Organisation, indicator_id: int | None) -> Indicator | None:
    if not indicator_id:
        return None
    return session.scalar(select(Indicator).join(Task, Task.id == Indicator.task_id).where(
        Indicator.id == indicator_id, Task.campaign_id == _campaign_id(session),
        Indicator.owner_org_id.in_(owners_seen_by(org.id))))


def _ratio(raw: str, field: str, label: str, errors: dict[str, str]) -> float | None:
    text = raw.translate(_FULLWIDTH).replace(" ", "").strip()
    if not text:
        return None
    if not _RATIO.match(text) or Decimal(text) > MAX_RATIO:
        errors[field] = f"{label}：请填写不小于 0 的数，最多四位小数（如 0.05 或 20）"
        return None
    return float(Decimal(text))


def _fields(kind: RuleKind, ind: Indicator, data: RuleForm) -> dict:
    """The checked numbers and source of a rule whose kind and indicators are known."""
    errors: dict[str, str] = {}
    out: dict = {}
    if kind == RuleKind.bound:
        try:
            value = parse_value(ind, data.max_value)
        except Invalid as exc:
            errors["max_value"] = exc.message
        else:
            if value is None:
                errors["max_value"] = f"请填写{ind.name}的单次上限（单位：{ind.unit}）"
            elif value <= 0:
                errors["max_value"] = "上限须大于 0"
            out["max_value"] = value
    else:
        lo = _ratio(data.min_ratio, "min_ratio", "下限", errors)
        hi = _ratio(data.max_ratio, "max_ratio", "上限", errors)
        if not errors and lo is None and hi is None:
            errors["max_ratio"] = "请至少填写下限或上限"
        elif lo is not None and hi is not None and lo > hi:
            errors["min_ratio"] = "下限不能大于上限"
        out |= {"min_ratio": lo, "max_ratio": hi}
    source = data.source.strip()
    if not source:
        errors["source"] = "请说明数字的来源或依据（如标准、台账、业务常识）"
    elif len(source) > 300:
        errors["source"] = "来源不能超过 300 个字"
    if errors:
        raise Invalid(next(iter(errors.values())), errors=errors, code="rule_invalid")
    return out | {"source": source}


def _snapshot(rule: PlausibilityRule) -> dict:
    return {"kind": rule.kind, "indicator_id": rule.indicator_id, "per_indicator_id": rule.per_indicator_id,
            "max_value": rule.max_value, "min_ratio": rule.min_ratio, "max_ratio": rule.max_ratio,
            "source": rule.source}


def _after_change(session: Session, by: Principal, org: Organisation) -> int:
    """Every process reloads the rules; the subtree's pending flags are recomputed in the background."""
    bump_version(session)
    recompute_jobs.queue(session, org_id=org.id, user_id=by.user_id)
    return pending_count(session, org.id)


def _note(session: Session, org: Organisation, rule: PlausibilityRule) -> str | None:
    ind = session.get(Indicator, rule.indicator_id)
    per = session.get(Indicator, rule.per_indicator_id) if rule.per_indicator_id else None
    return _looser(session, org, rule, ind, per) if ind is not None else None


def create_rule(session: Session, by: Principal, *, org_id: int, data: RuleForm) -> Saved:
    """A new rule of ``org_id`` (a bound on one indicator, or a ratio of two of one task); commits."""
    org = _org_to_set(session, by, org_id)
    try:
        kind = RuleKind(data.kind)
    except ValueError:
        raise Invalid("请选择规则类型", errors={"kind": "请选择规则类型"}, code="rule_invalid") from None
    ind = _visible_indicator(session, org, data.indicator_id)
    if ind is None:
        raise Invalid("请选择本组织可用的指标", errors={"indicator_id": "请选择指标"}, code="rule_invalid")
    per = None
    if kind == RuleKind.ratio:
        per = _visible_indicator(session, org, data.per_indicator_id)
        problem = ("请选择作为分母的指标" if per is None else
                   "分子和分母不能是同一个指标" if per.id == ind.id else
                   "分子和分母须是同一件实事的指标" if per.task_id != ind.task_id else None)
        if problem:
            raise Invalid(problem, errors={"per_indicator_id": problem}, code="rule_invalid")
    fields = _fields(kind, ind, data)
    same = select(PlausibilityRule.id).where(
        PlausibilityRule.org_id == org.id, PlausibilityRule.kind == kind, PlausibilityRule.indicator_id == ind.id,
        PlausibilityRule.per_indicator_id == per.id if per else PlausibilityRule.per_indicator_id.is_(None))
    if session.scalar(same.limit(1)):
        raise Invalid(f"{org.name}已有这条{KIND_LABELS[kind]}规则，请修改原有规则", code="rule_exists",
                      errors={"indicator_id": "已有同样的规则"})
    rule = PlausibilityRule(org_id=org.id, indicator_id=ind.id, kind=kind, per_indicator_id=per.id if per else None,
                            updated_by_user_id=by.user_id or None, **fields)
    session.add(rule)
    session.flush()
    record(session, actor=by.actor, action="quality.rule_create", target_type="plausibility_rule", target_id=rule.id,
           org_id=org.id, after=_snapshot(rule))
    pending = _after_change(session, by, org)
    note = _note(session, org, rule)
    session.commit()
    return Saved(rule, org, ind.task_id, pending, note)


def update_rule(session: Session, by: Principal, rule_id: int, data: RuleForm) -> Saved:
    """New numbers or source for a rule (its kind and indicators stay: delete and add for others)."""
    rule, org = _rule_and_org(session, by, rule_id)
    ind = session.get_one(Indicator, rule.indicator_id)
    fields = _fields(RuleKind(rule.kind), ind, data)
    before = _snapshot(rule)
    if all(before[k] == v for k, v in fields.items()):
        return Saved(rule, org, ind.task_id, 0, _note(session, org, rule))
    for k, v in fields.items():
        setattr(rule, k, v)
    rule.updated_by_user_id, rule.updated_at = by.user_id or None, now_utc()
    session.flush()
    record(session, actor=by.actor, action="quality.rule_update", target_type="plausibility_rule", target_id=rule.id,
           org_id=org.id, before={k: before[k] for k in fields if before[k] != fields[k]},
           after={k: v for k, v in fields.items() if before[k] != v})
    pending = _after_change(session, by, org)
    note = _note(session, org, rule)
    session.commit()
    return Saved(rule, org, ind.task_id, pending, note)


def delete_rule(session: Session, by: Principal, rule_id: int) -> Saved:
    """Remove a rule (the ancestors' rules still apply); audited with what it said; commits."""
    rule, org = _rule_and_org(session, by, rule_id)
    task_id = session.get_one(Indicator, rule.indicator_id).task_id
    record(session, actor=by.actor, action="quality.rule_delete", target_type="plausibility_rule", target_id=rule.id,
           org_id=org.id, before=_snapshot(rule))
    session.delete(rule)
    session.flush()
    pending = _after_change(session, by, org)
    session.commit()
    return Saved(None, org, task_id, pending, None)

