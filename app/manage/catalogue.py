"""Managing the catalogue of the current campaign and the report's wording (指标目录与报告措辞).

Who may change what (decided once, in :func:`may_own`): what the province owns (the campaign's own
tasks and indicators, the report wording) is changed by province administrators; a prefecture's
staff add and change indicators *of their own* (``owner_org_id`` = the prefecture) under the tasks
it works with, which show only in its subtree (``catalogue.service.indicators_for``). Counties own
none. Tasks — the 「10件实事」 themselves — are the province's: DOMAIN.md has prefectures add
indicators ("an indicator added by a prefecture belongs to that organisation"), and a task of one
prefecture would otherwise be named as idle in every other prefecture's report.

An indicator's kind is fixed once created (values are stored by kind: money as hundredths of
万元), and indicators are never deleted here: figures, targets and 汇总录入 refer to them, and the
model has no retirement flag.

The report wording defaults to app/data/report_wording.json; an edit is stored in ``app_meta``
under ``wording:<campaign code>:<key>`` and read back by ``reports.narrative.wording_for``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.audit.service import record
from app.auth.principal import STAFF_ROLES, Principal, org_for_staff
from app.catalogue.service import current_campaign, owners_seen_by, owners_seen_within
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.manage.service import require_staff
from app.models import (
    AppMeta,
    BoostArea,
    Campaign,
    GrantRole,
    Indicator,
    IndicatorKind,
    Organisation,
    OrgLevel,
    Task,
)
from app.orgs.service import root, subtree_ids
from app.reports import narrative
from app.rollup import service as rollup

KIND_LABELS = {IndicatorKind.count: "数量（整数）", IndicatorKind.money: "金额（万元，两位小数）"}
WORDING_LABELS = {
    "title": "报告标题", "opening": "开头（有已审核数据时）", "nothing": "没有已审核数据时",
    "idle_tasks": "本期无数据的实事", "participation": "参与率", "participation_none": "无委员参与时",
    "no_members": "没有在任委员时", "compare": "环比、同比句", "against_previous": "“上一期”的说法",
    "against_year": "“上年同期”的说法", "up": "增加时", "down": "减少时", "same": "持平时",
    "from_zero": "对比期没有活动时", "mobilisation": "动员面（已统计）",
    "mobilisation_since": "动员面（期中开始统计）", "mobilisation_untracked": "动员面未统计时",
    "outcomes": "成效句（有已审核成效时）",
}
PHRASE_FIELDS = {"value", "unit"}

_Row = TypeVar("_Row", Task, Indicator)  # a catalogue row: what goes in comes back


def _campaign(session: Session) -> Campaign:
    campaign = current_campaign(session)
    if campaign is None:
        raise NotFound("还没有当前的行动目录", code="no_campaign")
    return campaign


def may_own(session: Session, by: Principal, org: Organisation) -> bool:
    """May ``by`` add and change catalogue entries owned by ``org``? (see the module's docstring)"""
    if org.level == OrgLevel.province:
        return by.can(session, org.id, GrantRole.admin)
    if org.level == OrgLevel.prefecture:
        return by.can(session, org.id, *STAFF_ROLES)
    return False


def owner_options(session: Session, by: Principal, *, tasks: bool = False) -> list[Organisation]:
    """The organisations the caller may add indicators (or, ``tasks``, tasks) for."""
    require_staff(by)
    levels = [OrgLevel.province] if tasks else [OrgLevel.province, OrgLevel.prefecture]
    orgs = session.scalars(select(Organisation).where(
        Organisation.id.in_(by.scope(*STAFF_ROLES)), Organisation.level.in_(levels)).order_by(Organisation.code))
    return [o for o in orgs if may_own(session, by, o)]


def _visible_owners(by: Principal) -> ColumnElement[bool]:
    """Owners whose entries the caller sees: their staff subtrees and everything above them."""
    return Organisation.id.in_(owners_seen_within(by.org_ids(*STAFF_ROLES)))


@dataclass(frozen=True)
class TaskView:
    task: Task
    area: str
    owner: Organisation
    editable: bool
    indicators: list[tuple[Indicator, Organisation, bool]]  # (indicator, owner, editable)


def catalogue_view(session: Session, by: Principal) -> tuple[Campaign, list[TaskView], list[BoostArea]]:
    """The current campaign's tasks and indicators the caller sees, each marked editable or not."""
    require_staff(by)
    campaign = _campaign(session)
    visible = select(Organisation.id).where(_visible_owners(by))
    owners = {o.id: o for o in session.scalars(select(Organisation).where(Organisation.id.in_(visible)))}
    editable = {o_id: may_own(session, by, o) for o_id, o in owners.items()}
    areas = list(session.scalars(select(BoostArea).where(BoostArea.campaign_id == campaign.id).order_by(BoostArea.sort_order)))
    area_names = {a.id: a.name for a in areas}
    tasks = session.scalars(select(Task).where(Task.campaign_id == campaign.id, Task.owner_org_id.in_(owners))
                            .order_by(Task.sort_order, Task.id)).all()
    inds: dict[int, list] = {}
    for ind in session.scalars(select(Indicator).where(Indicator.task_id.in_([t.id for t in tasks]),
                                                       Indicator.owner_org_id.in_(owners))
                               .order_by(Indicator.sort_order, Indicator.id)):
        inds.setdefault(ind.task_id, []).append((ind, owners[ind.owner_org_id], editable[ind.owner_org_id]))
    views = [TaskView(t, area_names.get(t.area_id, ""), owners[t.owner_org_id], editable[t.owner_org_id],
                      inds.get(t.id, [])) for t in tasks]
    return campaign, views, areas


OWNER_ONLY = "实事、省级指标和报告措辞由省级管理员维护；州市可以添加本州市自己的指标"


def _owner(session: Session, by: Principal, owner_org_id: int, *, task: bool = False) -> Organisation:
    require_staff(by)
    org = org_for_staff(session, by, owner_org_id)
    if not may_own(session, by, org) or (task and org.level != OrgLevel.province):
        raise Forbidden(OWNER_ONLY, code="catalogue_owner_only")
    return org


def _editable(session: Session, by: Principal, row: _Row | None, not_found: NotFound) -> _Row:
    """``row`` if its owner lies in what ``by`` sees (else ``not_found``) and ``by`` may edit it (else 403)."""
    require_staff(by)
    if row is None or session.scalar(select(Organisation.id).where(
            Organisation.id == row.owner_org_id, _visible_owners(by))) is None:
        raise not_found
    if not may_own(session, by, session.get(Organisation, row.owner_org_id)):
        raise Forbidden(OWNER_ONLY, code="catalogue_owner_only")
    return row


def task_for_edit(session: Session, by: Principal, task_id: int) -> Task:
    return _editable(session, by, session.get(Task, task_id),
                     NotFound("找不到该实事，或不在您的管辖范围内", code="task_not_found"))


def indicator_for_edit(session: Session, by: Principal, indicator_id: int) -> Indicator:
    return _editable(session, by, session.get(Indicator, indicator_id),
                     NotFound("找不到该指标，或不在您的管辖范围内", code="indicator_not_found"))


def _text(value: str, field: str, label: str, limit: int, errors: dict[str, str], *, required: bool = True) -> str:
    value = value.strip()
    if required and not value:
        errors[field] = f"请填写{label}"
    elif len(value) > limit:
        errors[field] = f"{label}不能超过 {limit} 个字"
    return value


def _phrase(value: str, name: str, errors: dict[str, str]) -> str:
    """An indicator's report phrase: blank → 名称{value}{unit}; only {value} and {unit}, {value} required."""
    value = value.strip() or f"{name}{{value}}{{unit}}"
    try:
        fields = narrative.placeholders(value)  # no format spec: {value:>999999999} would fill gigabytes
    except ValueError as problem:
        errors["narrative"] = f"报告用语中的{problem}；请写成如「开展活动{{value}}{{unit}}」"
        return value
    if not fields <= PHRASE_FIELDS or "value" not in fields:
        errors["narrative"] = "报告用语须含 {value}（数值），只可再用 {unit}（单位）"
    elif len(value) > 128:
        errors["narrative"] = "报告用语不能超过 128 个字"
    return value


def _raise(errors: dict[str, str]) -> None:
    if errors:
        raise Invalid(next(iter(errors.values())), errors=errors, code="catalogue_invalid")


def _touch_boards(session: Session, owner_id: int) -> None:
    """Catalogue names show on every board of the owner's subtree: make open boards fetch again."""
    rows = session.execute(select(Organisation.id, Organisation.level).where(Organisation.id.in_(subtree_ids(owner_id)))).all()
    rollup.touch(session, [("org", o) for o, _ in rows] + [("place", o) for o, lvl in rows if lvl == OrgLevel.county])


def _commit(session: Session, message: str) -> None:
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict(message, code="catalogue_duplicate") from None
    session.commit()


@dataclass
class TaskForm:
    name: str = ""
    short_name: str = ""
    narrative_prefix: str = ""
    area_id: int | None = None


def _task_fields(session: Session, campaign_id: int, data: TaskForm) -> dict:
    errors: dict[str, str] = {}
    out = {"name": _text(data.name, "name", "实事名称", 128, errors),
           "short_name": _text(data.short_name, "short_name", "简称", 32, errors),
           "narrative_prefix": _text(data.narrative_prefix, "narrative_prefix", "报告开头用语", 64, errors, required=False)}
    area = session.get(BoostArea, data.area_id) if data.area_id else None
    if area is None or area.campaign_id != campaign_id:
        errors["area_id"] = "请选择助推领域"
    _raise(errors)
    return out | {"area_id": area.id}


def create_task(session: Session, by: Principal, *, owner_org_id: int, data: TaskForm) -> Task:
    """A task of the current campaign (province administrators)."""
    owner = _owner(session, by, owner_org_id, task=True)
    campaign = _campaign(session)
    fields = _task_fields(session, campaign.id, data)
    order = (session.scalar(select(func.max(Task.sort_order)).where(Task.campaign_id == campaign.id)) or 0) + 1
    task = Task(campaign_id=campaign.id, owner_org_id=owner.id, sort_order=order, **fields)
    session.add(task)
    _commit_message = f"已有同名的实事“{fields['name']}”"
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict(_commit_message, code="catalogue_duplicate") from None
    record(session, actor=by.actor, action="task.create", target_type="task", target_id=task.id, org_id=owner.id,
           after=fields)
    _touch_boards(session, owner.id)
    session.commit()
    return task


def _change(session: Session, by: Principal, row: _Row, fields: dict, kind: str, duplicate: str) -> _Row:
    """Set ``fields`` on a task or indicator; when anything changed, audit the difference
    (``<kind>.update``), refresh the boards and commit (``duplicate``: the message for a taken name)."""
    before = {k: getattr(row, k) for k in fields}
    if before == fields:
        return row
    for k, v in fields.items():
        setattr(row, k, v)
    record(session, actor=by.actor, action=f"{kind}.update", target_type=kind, target_id=row.id,
           org_id=row.owner_org_id, before={k: v for k, v in before.items() if fields[k] != v},
           after={k: v for k, v in fields.items() if before[k] != v})
    _touch_boards(session, row.owner_org_id)
    _commit(session, duplicate)
    return row


def update_task(session: Session, by: Principal, task_id: int, data: TaskForm) -> Task:
    task = task_for_edit(session, by, task_id)
    fields = _task_fields(session, task.campaign_id, data)
    return _change(session, by, task, fields, "task", f"已有同名的实事“{fields['name']}”")


@dataclass
class IndicatorForm:
    name: str = ""
    unit: str = ""
    kind: str = IndicatorKind.count.value
    narrative: str = ""
    outcome: bool = False  # 成效: optional on the form, no target, stated apart on boards and reports
    suggestion: bool = False  # 意见建议: its activities carry a follow-up state, counted in 采纳率 (app/suggestions)


def _indicator_fields(data: IndicatorForm, kind: IndicatorKind | None) -> dict:
    errors: dict[str, str] = {}
    name = _text(data.name, "name", "指标名称", 64, errors)
    unit = "万元" if kind == IndicatorKind.money else _text(data.unit, "unit", "单位", 8, errors)
    phrase = _phrase(data.narrative, name, errors)
    if data.suggestion and (kind == IndicatorKind.money or data.outcome):
        errors["suggestion"] = "意见建议指标应为计数（如“条”），且不是成效指标"
    _raise(errors)
    return {"name": name, "unit": unit, "narrative": phrase, "is_outcome": bool(data.outcome),
            "is_suggestion": bool(data.suggestion)}


def create_indicator(session: Session, by: Principal, *, task_id: int, owner_org_id: int,
                     data: IndicatorForm) -> Indicator:
    """An indicator of the caller's own under a task its owner works with; kind fixed from now on."""
    owner = _owner(session, by, owner_org_id)
    task = session.get(Task, task_id)
    # The task must be one the owner works with (its own or an ancestor's): tasks_for(owner).
    if task is None or session.scalar(select(Organisation.id).where(
            Organisation.id == task.owner_org_id, Organisation.id.in_(owners_seen_by(owner.id)))) is None:
        raise Invalid("请选择本组织可用的实事", errors={"task_id": "请选择实事"}, code="catalogue_invalid")
    try:
        kind = IndicatorKind(data.kind)
    except ValueError:
        raise Invalid("请选择指标类型", errors={"kind": "请选择指标类型"}, code="catalogue_invalid") from None
    fields = _indicator_fields(data, kind)
    order = (session.scalar(select(func.max(Indicator.sort_order)).where(Indicator.task_id == task.id)) or 0) + 1
    ind = Indicator(task_id=task.id, owner_org_id=owner.id, kind=kind, sort_order=order, **fields)
    session.add(ind)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"该实事下已有指标“{fields['name']}”", code="catalogue_duplicate") from None
    record(session, actor=by.actor, action="indicator.create", target_type="indicator", target_id=ind.id,
           org_id=owner.id, after=fields | {"task_id": task.id, "kind": kind.value})
    _touch_boards(session, owner.id)
    session.commit()
    return ind


def update_indicator(session: Session, by: Principal, indicator_id: int, data: IndicatorForm) -> Indicator:
    """Name, unit (a count's only: money stays 万元) and report phrase; never the kind."""
    ind = indicator_for_edit(session, by, indicator_id)
    fields = _indicator_fields(data, IndicatorKind(ind.kind))
    return _change(session, by, ind, fields, "indicator", f"该实事下已有指标“{fields['name']}”")


# --- the report's wording ---------------------------------------------------------------------------

@dataclass(frozen=True)
class WordingRow:
    key: str
    label: str
    default: str
    override: str | None
    fields: tuple[str, ...]


def _fields_of(text: str) -> set[str]:
    return narrative.placeholders(text)


def _require_province_admin(session: Session, by: Principal) -> Organisation:
    require_staff(by)
    province = root(session)
    if province is None or not by.can(session, province.id, GrantRole.admin):
        raise Forbidden("报告措辞由省级管理员维护", code="province_admin_only")
    return province


def wording_rows(session: Session, by: Principal) -> tuple[Campaign, list[WordingRow]]:
    _require_province_admin(session, by)
    campaign = _campaign(session)
    defaults = narrative.wording(campaign.code)
    current = narrative.wording_for(session, campaign.code)
    generic = narrative.wording(None)
    return campaign, [WordingRow(k, WORDING_LABELS.get(k, k), v, current[k] if current[k] != v else None,
                                 tuple(sorted(_fields_of(v) | _fields_of(generic.get(k, ""))))) for k, v in defaults.items()]


def set_wording(session: Session, by: Principal, *, key: str, text: str) -> None:
    """Store the office's wording for one sentence (blank: back to the default); audited; commits."""
    province = _require_province_admin(session, by)
    campaign = _campaign(session)
    defaults = narrative.wording(campaign.code)
    if key not in defaults:
        raise Invalid("没有这一句报告措辞", code="wording_unknown")
    text = text.strip()
    # What the report fills in for this sentence: the campaign's wording and the generic one's.
    allowed = _fields_of(defaults[key]) | _fields_of(narrative.wording(None).get(key, ""))
    if text:
        try:
            used = _fields_of(text)
        except ValueError as problem:
            raise Invalid(f"措辞中的{problem}。只能使用下列占位符：" + "、".join("{" + f + "}" for f in sorted(allowed)),
                          code="wording_invalid", errors={key: "占位符有误"}) from None
        if not used <= allowed:
            raise Invalid("措辞只能使用下列占位符：" + "、".join("{" + f + "}" for f in sorted(allowed)),
                          code="wording_invalid", errors={key: "占位符有误"})
        if len(text) > 500:
            raise Invalid("措辞不能超过 500 个字", code="wording_invalid", errors={key: "太长"})
    meta_key = narrative.override_key(campaign.code, key)
    row = session.get(AppMeta, meta_key)
    old = row.value if row else None
    new = text if text and text != defaults[key] else None
    if old == new:
        return
    if new is None:
        session.execute(delete(AppMeta).where(AppMeta.key == meta_key))
    elif row is None:
        session.add(AppMeta(key=meta_key, value=new))
    else:
        row.value = new
    record(session, actor=by.actor, action="wording.set" if new else "wording.clear", target_type="wording",
           target_id=key, org_id=province.id, before={"text": old or defaults[key]}, after={"text": new or defaults[key]})
    session.commit()
