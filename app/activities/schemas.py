"""What a caller submits to record or correct an activity, and what the API returns."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from app.api_types import IsoDate


class ActivityInput(BaseModel):
    """An activity as submitted (form or JSON). Values are text as typed: 8, 8.5, ８ — parsed by the service."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "task_id": 1, "county_id": 120, "site_id": 3051, "occurred_on": "2026-10-12",
        "description": "为梅子种植户开展技术培训", "values": {"2": "3"}, "participant_member_ids": [502]}]})

    task_id: int = Field(description="实事（任务）编号")
    county_id: int = Field(description="活动地点所在县（组织编号）")
    site_id: int | None = Field(default=None, description="乡镇/村/示范点（可选）")
    occurred_on: IsoDate = Field(description="活动日期（YYYY-MM-DD），不能晚于今天")
    description: str = Field(default="", max_length=2000, description="活动简述")
    values: dict[int, str] = Field(default_factory=dict, description="指标编号 → 数值（金额单位：万元，最多两位小数）")
    organiser_org_id: int | None = Field(default=None, description="组织单位（可选）；不填则计入记录人所在组织")
    participant_member_ids: list[int] = Field(default_factory=list, max_length=200, description="其他参与委员")
    on_behalf: bool = Field(default=False, description="代录：工作人员替委员记录")
    distinct_from: list[int] = Field(
        default_factory=list, max_length=20,
        description="确认与这些疑似重复的活动（409 likely_duplicate 的 candidates）不是同一次活动；须同时填写 distinct_note")
    distinct_note: str | None = Field(default=None, max_length=200,
                                      description="「这是另一次活动」的简短说明（至少 2 个字）")


class ActivityValueRead(BaseModel):
    indicator_id: int
    name: str
    unit: str
    kind: str
    value: int = Field(description="整数：计数原样；金额以 0.01 万元为单位")
    display: str = Field(description="按单位显示的数值，如 12.5")
    is_outcome: bool = Field(default=False, description="成效指标（受益群众、带动就业、带动增收 …）的数值：选填，"
                                                         "审核通过前记录人可补填；看板与报告中与工作指标分开统计")


class OutcomesInput(BaseModel):
    """成效 added (or changed) by the recorder after recording, while the activity is not yet verified."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"values": {"41": "120", "43": "8.5"},
                                                                             "version": 1}]})

    values: dict[int, str] = Field(description="成效指标编号 → 数值（金额单位：万元，最多两位小数）；空字符串清除该项",
                                   max_length=50)
    version: int | None = Field(default=None, description="读取时的 version：活动其间已变化则答 409 stale_version")


class FlagRead(BaseModel):
    code: str = Field(description="duplicate | over_bound | ratio | outlier_history | outlier_member | "
                                  "money_no_photo | late_entry | closed_month")
    message: str = Field(description="为什么需要核实（中文，含数值）")


class ActivityRead(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "id": 1024, "status": "verified", "status_label": "已审核", "status_reason": None, "task_id": 1,
        "task_name": "帮助脱贫地区发展特色产业、提供技术服务", "county_id": 120, "county_name": "洱源县",
        "site_id": 3051, "site_name": "茈碧湖镇", "occurred_on": "2026-10-12", "description": "为梅子种植户开展技术培训",
        "credited_org_id": 120, "credited_org_name": "洱源县政协", "organiser_org_id": None, "recorder_user_id": 77,
        "recorder_name": "李明", "participants": ["李明", "王芳"], "participant_ids": [501, 502],
        "values": [{"indicator_id": 2, "name": "提供技术服务", "unit": "次", "kind": "count", "value": 3, "display": "3"}],
        "photo_ids": [88], "photo_count": 1, "version": 2, "submitted_at": "2026-10-12T09:30:00Z",
        "reviewed_at": "2026-10-13T02:10:00Z"}]}}

    id: int
    status: str
    status_label: str
    status_reason: str | None
    task_id: int
    task_name: str
    county_id: int
    county_name: str
    site_id: int | None
    site_name: str | None
    occurred_on: date
    description: str
    credited_org_id: int
    credited_org_name: str
    organiser_org_id: int | None
    recorder_user_id: int
    recorder_name: str
    participants: list[str] = Field(description="参与委员姓名（不含手机号）")
    participant_ids: list[int] = Field(description="参与委员编号，与 participants 顺序一致")
    values: list[ActivityValueRead]
    photo_ids: list[int] = Field(description="照片编号（按顺序）；照片经 /activities/{id}/photos/{photo_id} 查看")
    photo_count: int
    version: int
    submitted_at: datetime
    reviewed_at: datetime | None
    flags: list[FlagRead] = Field(default_factory=list, description="需要核实的原因（疑似重复、超出上限、比例异常等）")
    distinct_note: str | None = Field(default=None, description="记录人确认「这是另一次活动」时的说明")
    merged_into_id: int | None = Field(default=None, description="作为重复记录被合并到的活动编号（本条已撤回）")


class ActivityPage(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"items": [{ "id": 1024, "status": "verified", "status_label": "已审核", "status_reason": None, "task_id": 1, "task_name": "帮助脱贫地区发展特色产业、提供技术服务", "county_id": 120, "county_name": "洱源县", "site_id": 3051, "site_name": "茈碧湖镇", "occurred_on": "2026-10-12", "description": "为梅子种植户开展技术培训", "credited_org_id": 120, "credited_org_name": "洱源县政协", "organiser_org_id": None, "recorder_user_id": 77, "recorder_name": "李明", "participants": ["李明", "王芳"], "participant_ids": [501, 502], "values": [{"indicator_id": 2, "name": "提供技术服务", "unit": "次", "kind": "count", "value": 3, "display": "3"}], "photo_ids": [88], "photo_count": 1, "version": 2, "submitted_at": "2026-10-12T09:30:00Z", "reviewed_at": "2026-10-13T02:10:00Z"}], "total": 1, "page": 1, "per_page": 50, "next_cursor": None}]}}

    items: list[ActivityRead]
    total: int | None = Field(description="符合条件的总数；只在第一页计算（count=false 或用 cursor 取后续页时为 null）")
    page: int = Field(description="页码（用 cursor 翻页时为 1）")
    per_page: int
    next_cursor: str | None = Field(default=None, description="下一页的游标，放进 ?cursor= 取下一页；没有更多时为 null")


class ReturnInput(BaseModel):
    model_config = ConfigDict(extra="forbid",
                              json_schema_extra={"examples": [{"reason": "照片看不清活动内容，请补充现场照片"}]})
    reason: str = Field(min_length=1, max_length=500, description="退回理由")


class ReopenInput(ReturnInput):
    pass


class VerifyInput(BaseModel):
    model_config = ConfigDict(extra="forbid",
                              json_schema_extra={"examples": [{"note": "已电话核实，资助人数无误"}]})
    note: str | None = Field(default=None, max_length=500,
                             description="核实说明：有提示（flags）的活动必填，至少 2 个字，记入审核日志")


class MergeInput(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"into_id": 1024}]})
    into_id: int = Field(ge=1, le=2**31 - 1, description="保留的那条活动（原始记录）的编号")
    note: str = Field(default="", max_length=500, description="合并说明（可不填）")
