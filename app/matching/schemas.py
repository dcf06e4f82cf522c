"""补位匹配 and 带动 as the JSON API answers them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field


class FigureRead(BaseModel):
    indicator_id: int
    name: str
    unit: str
    verified: str = Field(description="已审核（金额为万元，最多两位小数）")
    target: str | None = Field(description="年度目标")
    of_target: float | None = Field(description="完成年度目标的比例")
    behind: bool = Field(description="落后于时间进度（低于进度的 90%）")


class ComponentRead(BaseModel):
    key: Literal["done", "place", "sector", "committee", "industry"]
    label: str = Field(description="做过该实事 / 到过该县 / 到过本州市 / 界别相关 / 专委会相关 / 行业相关")
    points: int
    why: str = Field(description="依据")


class CandidateRead(BaseModel):
    member_id: int
    name: str
    org: str = Field(description="任职的组织")
    sector: str = Field(description="界别")
    committee: str | None = Field(description="专委会")
    industry: str | None = Field(description="行业")
    score: int
    components: list[ComponentRead]
    invited_on: date | None = Field(description="最近一次被邀请到该县做这项实事的日期（北京时间）")


class CandidatesRead(BaseModel):
    county: str = Field(description="县的 6 位代码")
    county_name: str
    task_id: int
    task: str
    office: str = Field(description="发出邀请的组织（调用者在该县之上最高的「双助推」办公室）")
    period: str
    period_label: str
    behind: bool = Field(description="该实事有指标落后于时间进度")
    figures: list[FigureRead]
    total: int = Field(description="得分大于 0 的候选委员总数")
    page: int
    per_page: int
    candidates: list[CandidateRead]


class InvitationCreate(BaseModel):
    member_ids: list[int] = Field(min_length=1, max_length=200, description="所邀请的委员（须在候选范围内）")
    channel: Literal["inapp", "sms", "list"] = Field(
        description="inapp 站内消息；sms 站内消息和短信（遵守免打扰、每日上限和不接收提醒的设置）；list 只登记、导出名单")
    note: str = Field(default="", max_length=200, description="附言")
    period: str | None = Field(default=None, max_length=16, description="所据的统计期间（默认今年截至本月）")


class InvitedRead(BaseModel):
    member_id: int
    name: str
    joined: bool = Field(description="邀请当天及以后参加了该县这项实事的已审核活动")


class BatchRead(BaseModel):
    id: int = Field(description="这一批邀请的编号（其中最小的邀请编号）")
    org: str = Field(description="发出邀请的组织")
    county_name: str
    task: str
    channel: Literal["inapp", "sms", "list"]
    note: str
    created_at: datetime
    day: date = Field(description="邀请日（北京时间），参与从这天算起")
    created_by: str
    invited: int
    joined: int
    rate: float | None = Field(description="joined ÷ invited")
    members: list[InvitedRead]


class BringerRead(BaseModel):
    member_id: int
    name: str
    brought: int = Field(description="带动首次参与的委员人数")
    newcomers: list[str]


class BringingRead(BaseModel):
    org: str = Field(description="组织的 6 位代码")
    org_name: str
    period: str
    period_label: str
    total: int = Field(description="被带动首次参与的委员总数（= 各委员带动人数之和）")
    members: list[BringerRead]
