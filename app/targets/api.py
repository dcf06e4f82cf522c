"""JSON API for annual targets under /api/v1: read a grid, set targets (the service does the rules)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from app.activities.api import AUTH_ERRORS, INVALID, ErrorBody
from app.auth.principal import READ_ROLES
from app.deps import CurrentUser, SessionDep, WriteSessionDep, org_for_read
from app.errors import Invalid
from app.targets import service
from app.targets.schemas import (
    IndicatorRead,
    OrgTargets,
    TargetsRead,
    TargetsSaved,
    TargetsUpdate,
    TargetValue,
)
from app.tokens.service import token_access

router = APIRouter(prefix="/api/v1", tags=["targets"])


def _err(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


ORG_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: _err("找不到该组织，或不在您的范围内（code: not_found） / organisation not found or outside your scope"),
}


def to_read(grid: service.Grid) -> TargetsRead:
    return TargetsRead(
        org_code=grid.org.code, org_name=grid.org.name, year=grid.year, editable=grid.editable,
        indicators=[IndicatorRead(id=c.id, task=c.task.short_name, name=c.indicator.name, unit=c.indicator.unit,
                                  kind=c.indicator.kind) for c in grid.columns],
        rows=[OrgTargets(code=r.org.code, name=r.org.name, is_self=r.is_self, targets=[
            TargetValue(indicator_id=c.column.id, value=c.value, text=c.text) for c in r.cells if c.value is not None
        ]) for r in grid.rows],
        warnings=grid.warnings,
    )


@router.get(
    "/targets", response_model=TargetsRead,
    summary="查看年度目标 / Read annual targets",
    openapi_extra=token_access("aggregate"),
    description=(
        "一个组织本级及其下一级各组织在某年的年度目标（目标针对该组织整个辖区）。"
        "`org` 省略时为当前用户权限范围内最高一级的组织，`year` 省略时为今年。\n\n"
        "The targets of an organisation and of those one level down for a year; by default the "
        "caller's top organisation and this year."
    ),
    responses={**AUTH_ERRORS, **ORG_NOT_FOUND, **INVALID},
)
def read_targets(session: SessionDep, by: CurrentUser,
                 org: str | None = Query(default=None, max_length=6, description="组织的 6 位行政区划代码"),
                 year: int | None = Query(default=None, ge=1900, le=9999, description="年份，默认今年")) -> TargetsRead:
    chosen = (org_for_read(session, by, org) if org
              else service.default_org(session, by, roles=READ_ROLES))
    grid = service.target_grid(session, by, org=chosen, year=year or service.today_cn().year)
    return to_read(grid)


@router.put(
    "/targets", response_model=TargetsSaved,
    summary="设置年度目标 / Set annual targets",
    description=(
        "「双助推」办公室人员设置其管辖范围内组织的年度目标，一次可设置多项，全部成功或全部不保存。"
        "`value` 为 null 或空串表示清除该目标；与现有值相同的项不算改动。每项改动都记入操作日志。"
        "有误时返回 422，`errors` 以「组织代码:指标编号」列出每一项的中文说明。\n\n"
        "Staff set targets inside their scope, all or nothing; a null value clears a target. "
        "On 422, `errors` maps \"org code:indicator id\" to a message."
    ),
    responses={**AUTH_ERRORS, **ORG_NOT_FOUND, **INVALID,
               409: _err("目标刚被他人修改（code: target_conflict） / changed concurrently, retry")},
)
def put_targets(data: TargetsUpdate, session: WriteSessionDep, by: CurrentUser) -> TargetsSaved:
    service.require_staff(by)
    orgs = {}
    for code in {t.org for t in data.targets}:
        orgs[code] = org_for_read(session, by, code)
    cells: dict[service.CellKey, str | None] = {}
    for t in data.targets:
        key = (orgs[t.org].id, t.indicator_id)
        if key in cells:
            raise Invalid(f"组织 {t.org} 的指标 {t.indicator_id} 出现了两次", code="duplicate_target")
        cells[key] = t.value
    codes = {o.id: code for code, o in orgs.items()}
    try:
        plan = service.save_targets(session, by, year=data.year, cells=cells)
    except Invalid as exc:
        if exc.code == "invalid_targets":
            exc.errors = {_api_key(k, codes): m for k, m in exc.errors.items()}
        raise
    n = plan.counts
    return TargetsSaved(created=n[service.CREATE], updated=n[service.UPDATE], unchanged=n[service.UNCHANGED],
                        cleared=n[service.CLEAR])


def _api_key(key: str, codes: dict[int, str]) -> str:
    org_id, indicator_id = key.split("-")
    return f"{codes.get(int(org_id), org_id)}:{indicator_id}"
