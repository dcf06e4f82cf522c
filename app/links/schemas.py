"""What a caller submits to make, change or end a 挂联, and what the API returns."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from app.api_types import IsoDate
from app.models import LinkRole

# Row ids of these tables are 32-bit integers on PostgreSQL: refuse anything larger before the database.
MAX_ID = 2**31 - 1
# An id in a query string or form: blank (an empty <select>) means none; beyond MAX_ID is a 422.
IdOrBlank = Annotated[Annotated[int, Field(ge=1, le=MAX_ID)] | None,
                      BeforeValidator(lambda value: None if value == "" else value)]


class LinkCreate(BaseModel):
    """A new 挂联: a leader → a county (optionally one site in it), with a role and dates."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"leader_member_id": 9, "county_id": 120, "role": "lead", "start_date": "2026-01-01"}]})

    leader_member_id: int = Field(ge=1, le=MAX_ID, description=(
        "挂联领导（委员编号）：该县或其上级、且在您管理范围内的政协现任主席会议成员或担任职务的委员"))
    county_id: int = Field(ge=1, le=MAX_ID, description="挂联的县（市、区）（组织编号），须在您的管理范围内")
    site_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="该县内的乡镇/村/示范点（可选）")
    role: LinkRole = Field(default=LinkRole.lead, description="lead 挂联领导 / liaison 联络员")
    start_date: IsoDate | None = Field(default=None, description="开始日期；不填为今天")
    end_date: IsoDate | None = Field(default=None, description="结束日期（可选，自该日起不再挂联）；须晚于开始日期")
    note: str = Field(default="", max_length=500, description="备注")


class LinkChange(BaseModel):
    """修改: only the fields sent change (the leader and the place never do: end it and make a new one)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"end_date": "2026-12-31", "note": "本届任期结束"}]})

    role: LinkRole | None = Field(default=None, description="lead 挂联领导 / liaison 联络员")
    start_date: IsoDate | None = Field(default=None, description="开始日期")
    end_date: IsoDate | None = Field(default=None, description="预定结束日期（自该日起不再挂联）；发送 null 表示不设结束日期")
    note: str | None = Field(default=None, max_length=500, description="备注")


class LinkEnd(BaseModel):
    """结束: the link stays, with its end date (history is never deleted)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"end_date": "2026-11-20", "reason": "工作调整"}]})

    end_date: IsoDate | None = Field(default=None, description=(
        "结束日期（自该日起不再挂联），不填为今天（尚未开始的挂联为其开始日期，即取消）；不晚于今天、不早于开始日期"))
    reason: str = Field(default="", max_length=200, description="结束原因（记入审计日志），如 换届、工作调整")


class LinkRead(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "id": 31, "leader_member_id": 9, "leader_name": "张华", "leader_post": "云南省政协副主席", "county_id": 120,
        "county_name": "洱源县", "is_key_county": True, "prefecture_name": "大理白族自治州", "site_id": None,
        "site_name": None, "role": "lead", "role_label": "挂联领导", "start_date": "2026-01-01", "end_date": None,
        "note": "", "state": "active", "state_label": "挂联中", "needs_reassignment": False,
        "assigned_by_name": "省政协「双助推」办公室", "created_at": "2026-01-02T01:00:00Z"}]}}

    id: int
    leader_member_id: int
    leader_name: str
    leader_post: str = Field(description="领导职务，如 云南省政协副主席（不含手机号）")
    county_id: int
    county_name: str
    is_key_county: bool
    prefecture_name: str
    site_id: int | None
    site_name: str | None
    role: LinkRole
    role_label: str = Field(description="挂联领导 / 联络员")
    start_date: date
    end_date: date | None
    note: str
    state: str = Field(description="scheduled 未开始 / active 挂联中 / ended 已结束")
    state_label: str
    needs_reassignment: bool = Field(description="待调整：领导已不再担任该县或上级政协的领导职务，挂联须重新安排")
    assigned_by_name: str | None
    created_at: datetime


class LinkPage(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"items": [{ "id": 31, "leader_member_id": 9, "leader_name": "张华", "leader_post": "云南省政协副主席", "county_id": 120, "county_name": "洱源县", "is_key_county": True, "prefecture_name": "大理白族自治州", "site_id": None, "site_name": None, "role": "lead", "role_label": "挂联领导", "start_date": "2026-01-01", "end_date": None, "note": "", "state": "active", "state_label": "挂联中", "needs_reassignment": False, "assigned_by_name": "省政协「双助推」办公室", "created_at": "2026-01-02T01:00:00Z"}], "total": 1, "page": 1, "per_page": 50}]}}

    items: list[LinkRead]
    total: int
    page: int
    per_page: int


class CoverageLeader(BaseModel):
    link_id: int
    leader_member_id: int
    name: str
    post: str
    role: LinkRole
    start_date: date
    needs_reassignment: bool


class CoverageRow(BaseModel):
    county_id: int
    county_name: str
    prefecture_id: int | None
    prefecture_name: str
    status: str = Field(description="uncovered 无挂联领导 / attention 挂联领导待调整 / covered 已覆盖")
    status_label: str
    leaders: list[CoverageLeader] = Field(description="在任的县级挂联领导")
    liaisons: list[CoverageLeader] = Field(description="联络员")
    site_links: int = Field(description="该县内乡镇/村/示范点的挂联数")


class Coverage(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "on": "2026-11-24", "prefecture_id": None, "total": 57, "uncovered": 1, "attention": 0, "covered": 56,
        "rows": [{"county_id": 130, "county_name": "巍山县", "prefecture_id": 12, "prefecture_name": "大理白族自治州",
                  "status": "uncovered", "status_label": "无挂联领导", "leaders": [], "liaisons": [], "site_links": 0}]}]}}

    on: date = Field(description="统计日期（今天）")
    prefecture_id: int | None
    total: int
    uncovered: int
    attention: int
    covered: int
    rows: list[CoverageRow] = Field(description="无挂联领导的县在前，其次待调整，再按区划代码")


class LinkEffect(BaseModel):
    """挂联实效 of one leader in one county: their own verified activities there, and whether they have been
    away from it for the idle months."""

    leader_member_id: int
    leader_name: str
    leader_post: str
    county_id: int
    county_code: str
    county_name: str
    role: LinkRole = Field(description="lead 挂联领导 / liaison 联络员（同一县两者兼有时为 lead）")
    since: date = Field(description="在任挂联的开始日期（同一县多条时取最早）")
    activities: int = Field(description="本期内本人在该县参与的已审核活动数（记录或参与）")
    last_activity_on: date | None = Field(description="本人在该县最近一次已审核活动的日期（不限期间）；从未有过为 null")
    idle_months: int = Field(description="N：挂联满 N 个月而近 N 个月本人未到县开展活动即标记（「双助推」办公室设置，默认 3）")
    idle: bool = Field(description="挂联后 N 个月未到县开展活动")


class LinkEffectReport(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "org_code": "530000", "period": "2026-ytd11", "period_label": "2026年1月至11月", "on": "2026-11-24",
        "idle_months": 3, "idle_since": "2026-08-24", "total": 1, "idle": 1,
        "rows": [{"leader_member_id": 9, "leader_name": "张三", "leader_post": "云南省政协副主席", "county_id": 130,
                  "county_code": "532927", "county_name": "巍山县", "role": "lead", "since": "2026-01-01",
                  "activities": 0, "last_activity_on": "2026-05-12", "idle_months": 3, "idle": True}]}]}}

    org_code: str
    period: str
    period_label: str
    on: date = Field(description="统计截止日：期间最后一天，期间未结束时为今天")
    idle_months: int
    idle_since: date = Field(description="此日（含）以来本人在县无已审核活动、且挂联开始不晚于此日，即标记")
    total: int
    idle: int = Field(description="被标记的领导人次")
    rows: list[LinkEffect] = Field(description="被标记的在前，再按县的区划代码、领导姓名")
