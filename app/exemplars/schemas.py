"""Shapes of 典型's JSON API (candidates, nominations, a 典型)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from app.exemplars.service import CITATION_MAX

COMPONENTS_EXAMPLE: Any = [
    {"label": "成效活动", "count": 3, "weight": 5, "points": 15}, {"label": "到过的县", "count": 2, "weight": 3, "points": 6},
    {"label": "参与的实事", "count": 2, "weight": 3, "points": 6}, {"label": "牵头联合活动", "count": 2, "weight": 4, "points": 8},
    {"label": "带动新人", "count": 1, "weight": 5, "points": 5}, {"label": "已审核活动", "count": 6, "weight": 1, "points": 6}]
NOMINATION_EXAMPLE: dict[str, Any] = {
    "id": 12, "member_id": 42, "member_name": "张明", "sector": "经济界", "org_code": "532900", "org_name": "大理白族自治州政协",
    "year": 2026, "citation": "张明同志2026年3月至11月到洱源县、鹤庆县开展产业帮扶活动6次……", "status": "nominated",
    "status_label": "待审定", "decision_note": None, "decided_at": None, "created_at": "2026-11-20T02:15:00Z", "version": 1}


class Component(BaseModel):
    label: str = Field(description="项目：成效活动、到过的县、参与的实事、牵头联合活动、带动新人、已审核活动")
    count: int
    weight: int = Field(description="每项得分")
    points: int = Field(description="得分（已审核活动最多计 10 次）")


class Outcome(BaseModel):
    name: str = Field(description="成效指标")
    total: str = Field(description="合计（带单位）")


class CandidateRead(BaseModel):
    rank: int
    member_id: int
    name: str
    sector: str
    org_name: str
    score: int
    activities: int
    outcome_activities: int
    counties: int
    tasks: int
    joint_led: int
    newcomers: int
    components: list[Component]
    outcomes: list[Outcome]


class CandidatePage(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "year": 2026, "explained": "得分按已审核的证据计算……", "total": 1, "page": 1, "per_page": 50,
        "items": [{"rank": 1, "member_id": 42, "name": "张明", "sector": "经济界", "org_name": "大理白族自治州政协",
                   "score": 46, "activities": 6, "outcome_activities": 3, "counties": 2, "tasks": 2, "joint_led": 2,
                   "newcomers": 1, "components": COMPONENTS_EXAMPLE,
                   "outcomes": [{"name": "受益群众", "total": "1,200 人"}]}]}]}}

    year: int
    explained: str = Field(description="得分的中文说明")
    items: list[CandidateRead]
    total: int
    page: int
    per_page: int


class NominationCreate(BaseModel):
    member_id: int = Field(ge=1, le=2**31 - 1)
    year: int = Field(ge=2000, le=2100)
    citation: str = Field(max_length=CITATION_MAX * 2, description=f"推荐事迹（不超过 {CITATION_MAX} 字）")
    submission_key: str = Field(max_length=64, description="提交编号：同一编号重复提交只推荐一次")

    model_config = {"json_schema_extra": {"examples": [{
        "member_id": 42, "year": 2026, "citation": "张三同志……", "submission_key": "b5c1…"}]}}


class NominationDecision(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"decision": "return", "note": "请补充成效数据", "version": 1}]}}

    decision: str = Field(pattern="^(select|return)$", description="select 选树、return 退回")
    note: str = Field(default="", max_length=1000, description="退回理由（退回时必填）")
    version: int = Field(ge=0, le=2**31, description="读到的版本号（他人先处理则 409）")


class NominationVersion(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"version": 1}]}}

    version: int = Field(ge=0, le=2**31, description="读到的版本号（他人先处理则 409）")


class NominationResubmit(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"citation": "张明同志……（补充了成效）", "version": 2}]}}

    citation: str = Field(max_length=CITATION_MAX * 2, description=f"推荐事迹（不超过 {CITATION_MAX} 字）")
    version: int = Field(ge=0, le=2**31, description="读到的版本号（他人先处理则 409）")


class NominationRead(BaseModel):
    model_config = {"json_schema_extra": {"examples": [NOMINATION_EXAMPLE]}}

    id: int
    member_id: int
    member_name: str
    sector: str
    org_code: str
    org_name: str = Field(description="推荐单位")
    year: int
    citation: str
    status: str = Field(description="nominated 待审定、selected 已选树、returned 已退回、withdrawn 已撤回")
    status_label: str
    decision_note: str | None
    decided_at: datetime | None
    created_at: datetime
    version: int


class NominationPage(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"items": [NOMINATION_EXAMPLE], "total": 1, "page": 1,
                                                        "per_page": 50}]}}

    items: list[NominationRead]
    total: int
    page: int
    per_page: int


class Draft(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"member_id": 42, "year": 2026,
                                                        "citation": "张明同志2026年3月至11月……"}]}}

    member_id: int
    year: int
    citation: str = Field(description="按已审核活动起草的推荐事迹")


class EvidenceActivityRead(BaseModel):
    id: int
    occurred_on: date
    task: str
    county: str
    figures: list[str]
    photo_urls: list[str] = Field(description="照片地址（与活动页相同，按活动的查看权限）")


class ExemplarRead(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "nomination": {**NOMINATION_EXAMPLE, "status": "selected", "status_label": "已选树", "version": 2},
        "score": 46, "components": COMPONENTS_EXAMPLE, "outcomes": [{"name": "受益群众", "total": "1,200 人"}],
        "activities": [{"id": 9001, "occurred_on": "2026-10-12", "task": "帮助脱贫地区开展农产品线上线下销售活动",
                        "county": "洱源县", "figures": ["销售额 12.5 万元"], "photo_urls": ["/activities/9001/photos/77"]}],
        "material_url": "/exemplars/nominations/12/material.docx",
        "photo_pack_url": "/exemplars/nominations/12/photos.zip"}]}}

    nomination: NominationRead
    score: int
    components: list[Component]
    outcomes: list[Outcome]
    activities: list[EvidenceActivityRead]
    material_url: str
    photo_pack_url: str
