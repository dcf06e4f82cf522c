"""Shapes of 意见建议的跟踪 (the JSON API's, and the form's input)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

STATE_PATTERN = "^(reported|adopted|implemented|declined)$"


class SuggestionUpdate(BaseModel):
    """A follow-up state, with the ``version`` read (0 before the first state)."""

    state: str = Field(pattern=STATE_PATTERN,
                       description="reported 已报送、adopted 已采纳、implemented 已落实、declined 未采纳")
    department: str = Field(max_length=200, description="接收部门（最多 100 个字）")
    state_on: date = Field(description="报送、采纳、落实或答复的日期 YYYY-MM-DD（不晚于今天，不早于活动日期）")
    version: int = Field(ge=0, le=2**31, description="读到的 version；还没有跟踪情况时为 0")

    model_config = {"json_schema_extra": {"examples": [{
        "state": "adopted", "department": "县农业农村局", "state_on": "2026-11-20", "version": 1}]}}


SUGGESTION_EXAMPLE: dict[str, Any] = {
    "activity_id": 1024, "occurred_on": "2026-10-12", "task": "集体经济建言", "org": {"code": "532930", "name": "某县政协"},
    "county": {"code": "532930", "name": "某县"}, "items": 3, "state": "adopted", "state_label": "已采纳",
    "department": "县农业农村局", "state_on": "2026-11-20", "updated_at": "2026-11-20T03:00:00Z", "version": 2,
    "may_change": True}


class AdoptionOrg(BaseModel):
    code: str
    name: str


class SuggestionRead(BaseModel):
    """A verified suggestion and its follow-up (``state`` null: 待跟踪)."""

    activity_id: int
    occurred_on: date
    status: str = Field(description="活动状态：只有 verified（已通过）的可以更新跟踪情况")
    items: int = Field(description="意见建议条数（条）")
    state: str | None = Field(description="reported / adopted / implemented / declined；null 为待跟踪")
    state_label: str
    department: str | None
    state_on: date | None
    updated_at: datetime | None
    version: int = Field(description="更新时回传；还没有跟踪情况时为 0")
    may_change: bool = Field(description="调用者可以更新（计入单位或其上级的「双助推」办公室）")

    model_config = {"json_schema_extra": {"examples": [
        {k: v for k, v in SUGGESTION_EXAMPLE.items() if k not in ("task", "org", "county")} | {"status": "verified"}]}}


class SuggestionListItem(SuggestionRead):
    task: str
    org: str = Field(description="计入单位")
    county: str = Field(description="活动地点（县）")


class SuggestionPage(BaseModel):
    items: list[SuggestionListItem]
    total: int
    page: int
    per_page: int

    model_config = {"json_schema_extra": {"examples": [{
        "items": [{**SUGGESTION_EXAMPLE, "status": "verified", "task": "集体经济建言", "org": "某县政协", "county": "某县"}],
        "total": 1, "page": 1, "per_page": 50}]}}


class AdoptionFigures(BaseModel):
    """条 of verified suggestions dated in a period, by follow-up state, and 采纳率."""

    made: int = Field(description="提出意见建议（条，已审核）")
    reported: int = Field(description="已报送（条）")
    adopted: int = Field(description="已采纳或已落实（条）：采纳率的分子")
    implemented: int = Field(description="已落实（条）")
    declined: int = Field(description="未采纳（条）")
    untracked: int = Field(description="待跟踪（条）")
    rate: float | None = Field(description="采纳率 = adopted ÷ made；没有提出意见建议时为 null")


class AdoptionRead(AdoptionFigures):
    """采纳率 of a subtree for a period: 条 of verified suggestions dated in it, by state."""

    org: AdoptionOrg
    period: str
    period_label: str

    model_config = {"json_schema_extra": {"examples": [{
        "org": {"code": "530000", "name": "云南省政协"}, "period": "2026-ytd11", "period_label": "2026年1月至11月",
        "made": 120, "reported": 30, "adopted": 48, "implemented": 20, "declined": 12, "untracked": 30, "rate": 0.4}]}}
