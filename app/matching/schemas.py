"""补位匹配 and 带动 as the JSON API answers them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.api_types import RowId


class MatchFigureRead(BaseModel):
    indicator_id: int
    name: str
    unit: str
    verified: str = Field(description="已审核（金额为万元，最多两位小数）")
    target: str | None = Field(description="年度目标")
    of_target: float | None = Field(description="完成年度目标的比例")
    behind: bool = Field(description="落后于时间进度（低于进度的 90%）")


class MatchComponentRead(BaseModel):
    key: Literal["done", "place", "sector", "committee", "industry"]
    label: str = Field(description="做过该实事 / 到过该县 / 到过本州市 / 界别相关 / 专委会相关 / 行业相关")
    points: int
    why: str = Field(description="依据")


class MatchCandidateRead(BaseModel):
    member_id: int
    name: str
    org: str = Field(description="任职的组织")
    sector: str = Field(description="界别")
    committee: str | None = Field(description="专委会")
    industry: str | None = Field(description="行业")
    score: int
    components: list[MatchComponentRead]
    invited_on: date | None = Field(description="最近一次被邀请到该县做这项实事的日期（北京时间）")


class MatchCandidatesRead(BaseModel):
    county: str = Field(description="县的 6 位代码")
    county_name: str
    task_id: int
    task: str
    office: str = Field(description="发出邀请的组织（调用者在该县之上最高的「双助推」办公室）")
    period: str
    period_label: str
    behind: bool = Field(description="该实事有指标落后于时间进度")
    figures: list[MatchFigureRead]
    total: int = Field(description="得分大于 0 的候选委员总数")
    page: int
    per_page: int
    candidates: list[MatchCandidateRead]

    model_config = {"json_schema_extra": {"examples": [{
        "county": "530426", "county_name": "石屏县政协", "task_id": 7, "task": "医疗帮扶", "office": "红河州政协",
        "period": "2026-ytd09", "period_label": "2026年1月至9月", "behind": True,
        "figures": [{"indicator_id": 19, "name": "义医义诊", "unit": "次", "verified": "4", "target": "12",
                     "of_target": 0.33, "behind": True}],
        "total": 1, "page": 1, "per_page": 50,
        "candidates": [{"member_id": 1201, "name": "张医生", "org": "红河州政协", "sector": "医药卫生界",
                        "committee": "教科文卫体委员会", "industry": "医疗", "score": 70, "invited_on": None,
                        "components": [{"key": "done", "label": "做过该实事", "points": 20, "why": "参与该实事的已审核活动 2 次"},
                                       {"key": "place", "label": "到过本州市", "points": 10, "why": "在红河州政协其他县开展过已审核活动"},
                                       {"key": "sector", "label": "界别相关", "points": 15, "why": "医药卫生界（含「医药卫生」）"},
                                       {"key": "committee", "label": "专委会相关", "points": 10, "why": "教科文卫体委员会（含「教科文卫」）"},
                                       {"key": "industry", "label": "行业相关", "points": 15, "why": "医疗（含「医疗」）"}]}]}]}}


class MatchInvitationCreate(BaseModel):
    member_ids: list[RowId] = Field(min_length=1, max_length=200, description="所邀请的委员（须在候选范围内）")
    channel: Literal["inapp", "sms", "list"] = Field(
        description="inapp 站内消息；sms 站内消息和短信（遵守免打扰、每日上限和不接收提醒的设置）；list 只登记、导出名单")
    note: str = Field(default="", max_length=200, description="附言")
    period: str | None = Field(default=None, max_length=16, description="所据的统计期间（默认今年截至本月）")

    model_config = {"json_schema_extra": {"examples": [{"member_ids": [1201, 1388], "channel": "sms", "note": "请支援医疗帮扶", "period": "2026-ytd09"}]}}


# One batch as the API answers it: the example of a batch and of the list of them.
BATCH_EXAMPLE: dict[str, Any] = {
    "id": 41, "org": "红河州政协", "county_name": "石屏县政协", "task": "医疗帮扶", "channel": "sms", "note": "请支援医疗帮扶",
    "created_at": "2026-09-03T02:15:00Z", "day": "2026-09-03", "created_by": "州助推办", "invited": 2, "joined": 1,
    "rate": 0.5, "members": [{"member_id": 1201, "name": "张医生", "joined": True},
                             {"member_id": 1388, "name": "李医生", "joined": False}]}


class MatchInvitedRead(BaseModel):
    member_id: int
    name: str
    joined: bool = Field(description="邀请当天及以后参加了该县这项实事的已审核活动")


class MatchBatchRead(BaseModel):
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
    members: list[MatchInvitedRead]

    model_config = {"json_schema_extra": {"examples": [BATCH_EXAMPLE]}}


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

    model_config = {"json_schema_extra": {"examples": [{
        "org": "530100", "org_name": "昆明市政协", "period": "2026-ytd09", "period_label": "2026年1月至9月", "total": 3,
        "members": [{"member_id": 88, "name": "李委员", "brought": 2, "newcomers": ["王委员", "赵委员"]},
                    {"member_id": 91, "name": "周委员", "brought": 1, "newcomers": ["钱委员"]}]}]}}
