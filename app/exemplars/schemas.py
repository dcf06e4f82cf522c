"""Shapes of 典型's JSON API (candidates, nominations, a 典型)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from app.exemplars.service import CITATION_MAX


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
    decision: str = Field(pattern="^(select|return)$", description="select 选树、return 退回")
    note: str = Field(default="", max_length=1000, description="退回理由（退回时必填）")
    version: int = Field(ge=0, le=2**31)


class NominationVersion(BaseModel):
    version: int = Field(ge=0, le=2**31)


class NominationResubmit(BaseModel):
    citation: str = Field(max_length=CITATION_MAX * 2)
    version: int = Field(ge=0, le=2**31)


class NominationRead(BaseModel):
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
    items: list[NominationRead]
    total: int
    page: int
    per_page: int


class Draft(BaseModel):
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
    nomination: NominationRead
    score: int
    components: list[Component]
    outcomes: list[Outcome]
    activities: list[EvidenceActivityRead]
    material_url: str
    photo_pack_url: str
