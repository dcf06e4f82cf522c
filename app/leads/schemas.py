"""Shapes of 牵头统筹: the service's input and the JSON API's answers."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.api_types import RowId
from app.meeting.schemas import MeetingOrg


class GroupInput(BaseModel):
    """A 委员活动小组: its name, members (member ids serving in the organisation's subtree) and leader."""

    name: str = Field(max_length=64, description="小组名称（本组织内唯一）")
    member_ids: list[RowId] = Field(max_length=200, description="组员的委员 id（本组织及下级的在任委员）")
    leader_member_id: RowId | None = Field(default=None, description="组长的委员 id（须为组员）")
    note: str = Field(default="", max_length=500, description="说明")

    model_config = {"json_schema_extra": {"examples": [{
        "name": "产业帮扶小组", "member_ids": [101, 102, 103], "leader_member_id": 101, "note": ""}]}}


class GroupChange(GroupInput):
    version: int = Field(ge=0, le=2**31 - 1, description="读到的版本号（他人先改则 409）")


class LeadCreate(BaseModel):
    """牵头统筹: one of the organisation's 专委会 (``committee``) or 活动小组 (``group``) leads a 实事."""

    task_id: int = Field(ge=1, le=2**31 - 1, description="实事（任务）id：本组织可用的当前行动任务")
    body_kind: Literal["committee", "group"] = Field(description="committee（专委会）或 group（委员活动小组）")
    body_id: int = Field(ge=1, le=2**31 - 1, description="专委会或活动小组的 id（本组织的）")
    start_date: date = Field(description="开始日期 YYYY-MM-DD")
    end_date: date | None = Field(default=None, description="结束日期（当天起不再牵头）；空：未定")
    note: str = Field(default="", max_length=500, description="说明")

    model_config = {"json_schema_extra": {"examples": [{
        "task_id": 3, "body_kind": "committee", "body_id": 12, "start_date": "2026-03-01", "end_date": None,
        "note": "经济委员会牵头统筹"}]}}


class LeadEnd(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"end_date": "2026-12-31"}]}}

    end_date: date | None = Field(default=None, description="结束日期（当天起不再牵头）；空：今天")


class MemberRead(BaseModel):
    id: int
    name: str


GROUP_EXAMPLE: dict[str, Any] = {"id": 7, "org": {"code": "530100", "name": "昆明市政协"}, "name": "昆明市农产品销售小组",
                 "leader": {"id": 101, "name": "张明"}, "members": [{"id": 101, "name": "张明"}, {"id": 102, "name": "李华"}],
                 "note": "", "version": 1}
LEAD_EXAMPLE: dict[str, Any] = {"id": 3, "org": {"code": "530100", "name": "昆明市政协"}, "task_id": 5,
                "task": "帮助脱贫地区开展农产品线上线下销售活动", "body_kind": "group", "body_id": 7,
                "body": "昆明市农产品销售小组", "start_date": "2026-02-01", "end_date": None, "state": "active",
                "note": "小组牵头统筹"}


class ActivityGroupRead(BaseModel):
    model_config = {"json_schema_extra": {"examples": [GROUP_EXAMPLE]}}

    id: int
    org: MeetingOrg
    name: str
    leader: MemberRead | None
    members: list[MemberRead]
    note: str
    version: int


class LeadIndicatorProgress(BaseModel):
    indicator_id: int
    name: str
    unit: str
    verified: str = Field(description="本组织（含下级）该实事已审核的数值")
    target: str | None = Field(description="年度目标；无目标为 null")
    of_target: float | None = Field(description="完成目标的比例")
    by_body: str | None = Field(description="牵头专委会（小组）委员参与的活动的数值（每项活动计一次）")


class MemberPartRead(BaseModel):
    member: MemberRead
    activities: int
    last_on: date


class LeadRead(BaseModel):
    model_config = {"json_schema_extra": {"examples": [LEAD_EXAMPLE]}}

    id: int
    org: MeetingOrg
    task_id: int
    task: str
    body_kind: Literal["committee", "group"]
    body_id: int
    body: str
    start_date: date
    end_date: date | None
    state: Literal["active", "future", "ended"]
    note: str


class LeadProgressRead(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "lead": LEAD_EXAMPLE, "period": "2026-ytd11", "period_label": "2026年1月至11月", "counted_from": "2026-02-01",
        "counted_to": "2026-11-30", "activities": 9, "task_activities": 214, "members": 11, "took_part": 8,
        "participation": 0.727, "last_activity_on": "2026-11-28",
        "indicators": [{"indicator_id": 12, "name": "销售额", "unit": "万元", "verified": "1,520.5", "target": "3,000",
                        "of_target": 0.507, "by_body": "86.2"}],
        "parts": [{"member": {"id": 101, "name": "张明"}, "activities": 3, "last_on": "2026-11-28"}]}]}}

    lead: LeadRead
    period: str
    period_label: str
    counted_from: date | None = Field(description="计入的第一天（统计期间与牵头时段的交集）；不相交为 null")
    counted_to: date | None
    activities: int = Field(description="牵头专委会（小组）委员参与的已审核活动数（该实事）")
    task_activities: int | None = Field(description="本组织（含下级）该实事的已审核活动数")
    members: int = Field(description="牵头专委会（小组）的委员数")
    took_part: int = Field(description="其中参与过该实事活动的人数")
    participation: float | None
    last_activity_on: date | None
    indicators: list[LeadIndicatorProgress]
    parts: list[MemberPartRead]
