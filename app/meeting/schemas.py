"""Shapes of the 问题清单 and 督办事项 (the JSON API's, and the service's input)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from app.api_docs import PERIOD_PATTERN

Figure = int | float | str | None


class FollowUpCreate(BaseModel):
    """A 督办事项: from a 问题清单 item (``source_kind`` + ``source_ref``) or by hand (``title``)."""

    period: str | None = Field(default=None, pattern=PERIOD_PATTERN, max_length=16,
                               description="研判会的统计期间（同 ?period=；空：今年截至本月）；从问题清单列入时按该期间找问题")
    source_kind: str = Field(default="manual", max_length=32,
                             description="manual（手工录入）或问题清单条目的 kind")
    source_ref: str = Field(default="", max_length=64, description="问题清单条目的 ref")
    title: str = Field(default="", max_length=200, description="事项；从问题清单列入时可空（用条目的说明）")
    owner_org: str = Field(pattern=r"^\d{6}$", description="责任组织的 6 位代码（研判会组织或其下级）")
    due_on: date = Field(description="办结期限 YYYY-MM-DD")
    done_criteria: str = Field(max_length=1000, description="怎样算办结")

    model_config = {"json_schema_extra": {"examples": [{
        "period": "2026-11", "source_kind": "imbalance", "source_ref": "org:530103", "title": "",
        "owner_org": "530103", "due_on": "2026-12-31", "done_criteria": "12 月进度得分达到 90%"}]}}


class MeetingOrg(BaseModel):
    code: str
    name: str


class ProblemRead(BaseModel):
    kind: str = Field(description="behind_pace / imbalance / uncovered_county / idle_leader / backlog / "
                                  "participation_drop / mobilisation_drop")
    kind_label: str
    ref: str = Field(description="条目在该类中的标识（列为督办时引用）")
    title: str
    why: str = Field(description="中文说明，含数字")
    link: str = Field(description="数字背后的页面")
    figures: dict[str, Figure]


class ProblemList(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "org": {"code": "530100", "name": "昆明市政协"}, "period": "2026-ytd11", "period_label": "2026年1月至11月",
        "items": [{"kind": "imbalance", "kind_label": "工作推进不平衡", "ref": "org:530103", "title": "盘龙区政协",
                 "why": "盘龙区政协进度得分 62.0%，低于 90%，同级平均 95.4%；在 14 个下级组织中排第 14 名（上月第 12 名），比上月下降 2 名。",
                 "link": "/boards/530103?period=2026-ytd11",
                 "figures": {"score": 0.62, "siblings_mean": 0.954, "rank": 14, "previous_rank": 12, "rank_change": -2,
                             "ranked": 14}}]}]}}

    org: MeetingOrg
    period: str
    period_label: str
    items: list[ProblemRead]


class ProblemSnapshot(BaseModel):
    why: str
    figures: dict[str, Figure]


# One follow-up as the API answers it: the example of a follow-up and of a page of them.
FOLLOW_UP_EXAMPLE: dict[str, Any] = {"id": 7, "org": {"code": "530100", "name": "昆明市政协"}, "period": "2026-ytd11",
    "source_kind": "imbalance", "source_ref": "org:530103", "title": "盘龙区政协进度得分 62.0%，低于 90%……",
    "owner": {"code": "530103", "name": "盘龙区政协"}, "due_on": "2026-12-31",
    "done_criteria": "12 月进度得分达到 90%", "status": "open", "status_label": "未办结",
    "then": {"why": "盘龙区政协进度得分 62.0%，低于 90%……", "figures": {"score": 0.62, "rank": 14}},
    "now": {"why": "盘龙区政协进度得分 81.5%，低于 90%……", "figures": {"score": 0.815, "rank": 13}},
    "still_listed": True, "closed_note": None, "closed_at": None,
    "created_at": "2026-11-25T02:00:00Z", "version": 1}


class FollowUpRead(BaseModel):
    model_config = {"json_schema_extra": {"examples": [FOLLOW_UP_EXAMPLE]}}

    id: int
    org: MeetingOrg = Field(description="研判会的组织")
    period: str
    source_kind: str
    source_ref: str
    title: str
    owner: MeetingOrg = Field(description="责任组织")
    due_on: date
    done_criteria: str
    status: str = Field(description="open 未办结 / overdue 已超期 / done 已办结")
    status_label: str
    then: ProblemSnapshot | None = Field(description="列入督办时问题清单中的说明和数字（手工录入为 null）")
    now: ProblemSnapshot | None = Field(description="现在问题清单中的说明和数字；该问题已不在清单中时为 null")
    still_listed: bool | None = Field(description="该问题现在是否仍在问题清单中；手工录入、上级研判会交办的事项"
                                                  "（未比对本组织的清单）和写入后的应答为 null")
    closed_note: str | None
    closed_at: datetime | None
    created_at: datetime
    version: int = Field(description="办结时回传，防止覆盖他人的修改")


class FollowUpPage(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"items": [FOLLOW_UP_EXAMPLE], "total": 1, "page": 1,
                                                        "per_page": 50}]}}

    items: list[FollowUpRead]
    total: int
    page: int
    per_page: int


class FollowUpClose(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"note": "12 月盘龙区进度得分 93%，已达到要求", "version": 1}]}}

    note: str = Field(max_length=1000, description="办结说明（必填）")
    version: int = Field(ge=1, description="读到的 version；已被他人修改时答 409")
