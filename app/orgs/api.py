"""JSON API for the organisation tree under /api/v1: the organisations a caller reads, one
organisation, and the key-support counties (重点帮扶县). No personal data: any API token reads these."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from app.api_docs import AUTH_ERRORS, INVALID, ORG_NOT_FOUND
from app.auth.principal import READ_ROLES, Principal
from app.deps import CurrentUser, OrgForRead, SessionDep, org_for_read
from app.models import Organisation, OrgLevel
from app.orgs.service import subtree_ids
from app.quality import backlog
from app.tokens.service import token_access

router = APIRouter(prefix="/api/v1", tags=["organisations"])


class OrgRead(BaseModel):
    id: int
    code: str = Field(description="6 位行政区划代码")
    name: str = Field(description="组织名称，如 洱源县政协")
    level: OrgLevel = Field(description="province 省 / prefecture 州市 / county 县（市、区）")
    parent_code: str | None = Field(description="上级组织代码；省为 null")
    is_key_county: bool = Field(description="是否重点帮扶县")

    model_config = {"json_schema_extra": {"examples": [{
        "id": 120, "code": "532930", "name": "洱源县政协", "level": "county", "parent_code": "532900",
        "is_key_county": True}]}}


class OrgList(BaseModel):
    items: list[OrgRead] = Field(description="按代码排序（即树的先序）")
    total: int

    model_config = {"json_schema_extra": {"examples": [{"items": [
        {"id": 1, "code": "530000", "name": "云南省政协", "level": "province", "parent_code": None,
         "is_key_county": False},
        {"id": 2, "code": "532900", "name": "大理州政协", "level": "prefecture", "parent_code": "530000",
         "is_key_county": False}], "total": 2}]}}


def _readable(by: Principal):
    return by.scope(*READ_ROLES)


def _listing(session: Session, by: Principal, *, under: str | None, level: OrgLevel | None,
             key_only: bool) -> list[OrgRead]:
    parent = aliased(Organisation)
    stmt = (select(Organisation, parent.code).outerjoin(parent, parent.id == Organisation.parent_id)
            .where(Organisation.id.in_(_readable(by))).order_by(Organisation.code))
    if under:
        top = org_for_read(session, by, under)
        stmt = stmt.where(Organisation.id.in_(subtree_ids(top.id)))
    if level is not None:
        stmt = stmt.where(Organisation.level == level.value)
    if key_only:
        stmt = stmt.where(Organisation.is_key_county.is_(True))
    return [OrgRead(id=o.id, code=o.code, name=o.name, level=o.level, parent_code=p, is_key_county=o.is_key_county)
            for o, p in session.execute(stmt)]


@router.get(
    "/orgs", response_model=OrgList,
    summary="组织列表（树） / List organisations",
    openapi_extra=token_access("aggregate"),
    description=(
        "调用者可读范围内的全部组织，按代码排序（先序，即树的顺序）；每个组织带上级代码，可据此拼出树。"
        "可按上级（`under`，含其本身）、层级、是否重点帮扶县筛选。一个省约 150 个组织，不分页。\n\n"
        "Every organisation the caller reads, in code order (a pre-order walk of the tree), each with its "
        "parent's code; filtered by subtree, level, key-support county. About 150 a province: not paginated."
    ),
    responses={**AUTH_ERRORS, **ORG_NOT_FOUND, **INVALID},
)
def list_orgs(
    session: SessionDep, by: CurrentUser,
    under: Annotated[str | None, Query(pattern=r"^\d{6}$", description="只列此组织及其下级（6 位代码）",
                                       examples=["532900"])] = None,
    level: Annotated[OrgLevel | None, Query(description="只列某一层级")] = None,
    key_county: Annotated[bool, Query(description="只列重点帮扶县")] = False,
) -> OrgList:
    items = _listing(session, by, under=under, level=level, key_only=key_county)
    return OrgList(items=items, total=len(items))


@router.get(
    "/orgs/{code}", response_model=OrgRead,
    summary="读取一个组织 / Read an organisation",
    openapi_extra=token_access("aggregate"),
    description="调用者可读范围内的一个组织；范围外的与不存在的一样答 404。\n\n"
                "One organisation the caller reads; outside the caller's scope it is a 404.",
    responses={**AUTH_ERRORS, **ORG_NOT_FOUND, **INVALID},
)
def get_org(session: SessionDep, org: OrgForRead) -> OrgRead:
    parent = session.get(Organisation, org.parent_id) if org.parent_id else None
    return OrgRead(id=org.id, code=org.code, name=org.name, level=org.level,
                   parent_code=parent.code if parent else None, is_key_county=org.is_key_county)


@router.get(
    "/key-counties", response_model=OrgList,
    summary="重点帮扶县 / Key-support counties",
    openapi_extra=token_access("aggregate"),
    description="调用者可读范围内的重点帮扶县，按代码排序。\n\n"
                "The key-support counties inside the caller's scope, in code order.",
    responses={**AUTH_ERRORS},
)
def list_key_counties(session: SessionDep, by: CurrentUser) -> OrgList:
    items = _listing(session, by, under=None, level=OrgLevel.county, key_only=True)
    return OrgList(items=items, total=len(items))


class BacklogRowRead(BaseModel):
    code: str = Field(description="组织代码")
    name: str = Field(description="组织名称")
    own: bool = Field(description="true：该组织本级的审核队列（计入它本身的活动）；false：一个直属下级及其全部下级")
    pending: int = Field(description="待审核活动数")
    oldest_submitted_on: date | None = Field(description="最早一条待审核活动的提交日期（北京时间）；无待审核为 null")
    oldest_age_days: int | None = Field(description="最早一条已等待的天数（北京时间的日期之差）")
    sla_days: int = Field(description="该组织审核队列的服务时限（天）：本级设置，否则最近上级的设置，否则 7")
    overdue: int = Field(description="超过所在队列服务时限的待审核活动数")


class BacklogRead(BaseModel):
    code: str = Field(description="所查组织代码")
    pending: int = Field(description="合计待审核")
    overdue: int = Field(description="合计超期")
    oldest_age_days: int | None = Field(description="合计中最久的等待天数")
    rows: list[BacklogRowRead] = Field(description="先是本级，再是各直属下级（各含其全部下级）")

    model_config = {"json_schema_extra": {"examples": [{
        "code": "532900", "pending": 12, "overdue": 3, "oldest_age_days": 11, "rows": [
            {"code": "532900", "name": "大理州政协", "own": True, "pending": 2, "oldest_submitted_on": "2026-11-20",
             "oldest_age_days": 4, "sla_days": 7, "overdue": 0},
            {"code": "532930", "name": "洱源县政协", "own": False, "pending": 10, "oldest_submitted_on": "2026-11-13",
             "oldest_age_days": 11, "sla_days": 7, "overdue": 3}]}]}}


@router.get(
    "/orgs/{code}/backlog", response_model=BacklogRead,
    summary="待审核积压 / Verification backlog",
    openapi_extra=token_access("aggregate"),
    description=(
        "一个组织的待审核积压：本级队列和每个直属下级（含其全部下级）的待审核数、最久等待天数（北京时间）、"
        "服务时限与超期数。只有计数，没有活动内容。\n\n"
        "An organisation's verification backlog: its own queue and each direct child's subtree, with the "
        "pending count, the oldest item's age in Beijing days, the service level in force and how many "
        "are overdue. Counts only."
    ),
    responses={**AUTH_ERRORS, **ORG_NOT_FOUND, **INVALID},
)
def get_backlog(session: SessionDep, by: CurrentUser, org: OrgForRead) -> BacklogRead:
    rows = backlog.backlog(session, by, org.id)
    total = backlog.backlog_total(rows)
    return BacklogRead(code=org.code, pending=total.pending, overdue=total.overdue,
                       oldest_age_days=total.oldest_age_days, rows=[BacklogRowRead(
                           code=r.org.code, name=r.org.name, own=r.own, pending=r.pending,
                           oldest_submitted_on=r.oldest_submitted_on, oldest_age_days=r.oldest_age_days,
                           sla_days=r.sla_days, overdue=r.overdue) for r in rows])
