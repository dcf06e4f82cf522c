"""Shapes of the 问题清单 and 督办事项 (the JSON API's, and the service's input)."""

from __future__ import annotations

from datetime import date, datetime

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
    org: MeetingOrg
    period: str
    period_label: str
    items: list[ProblemRead]


class ProblemSnapshot(BaseModel):
    why: str
    figures: dict[str, Figure]


class FollowUpRead(BaseModel):
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
    still_listed: bool | None = Field(description="该问题现在是否仍在问题清单中（手工录入为 null）")
    closed_note: str | None
    closed_at: datetime | None
    created_at: datetime
    version: int = Field(description="办结时回传，防止覆盖他人的修改")


class FollowUpPage(BaseModel):
    items: list[FollowUpRead]
    total: int
    page: int
    per_page: int


class FollowUpClose(BaseModel):
    note: str = Field(max_length=1000, description="办结说明（必填）")
    version: int = Field(ge=1, description="读到的 version；已被他人修改时答 409")
