"""履职档案 (一人一档): one member's record as the page, the Word file and the API read it."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field

from app.activities.schemas import ActivityValueRead
from app.links.schemas import LinkRead


class ProfileIdentity(BaseModel):
    id: int
    name: str
    sector: str = Field(description="界别")
    enterprise: str | None = Field(description="委员企业")
    industry: str | None = Field(default=None, description="行业（补位匹配用，可空）")
    phone: str | None = Field(description="手机号：只给委员本人和「双助推」办公室人员，其他人（含 API 令牌）为 null")
    serving: bool = Field(description="今天在任")


class ProfileMembership(BaseModel):
    """One seat: an organisation's 第N届, with role, post and 专委会 (换届 history kept)."""

    org_id: int
    org_name: str
    term_number: int = Field(description="届次（第N届）")
    role: str = Field(description="member 委员 / standing 常委 / chair_council 主席会议成员")
    role_label: str
    title: str | None = Field(description="职务，如 副主席")
    committee_name: str | None = Field(description="专委会")
    start_date: date
    end_date: date | None = Field(description="任职的最后一天；null 为仍在任")
    current: bool = Field(description="今天在任")


class ProfileActivity(BaseModel):
    """An activity the member recorded or took part in (confirmed), with its figures."""

    id: int
    occurred_on: date
    task_name: str
    county_name: str
    site_name: str | None
    status: str
    status_label: str
    role: str = Field(description="recorder 记录人 / participant 参与")
    role_label: str
    values: list[ActivityValueRead]
    openable: bool = Field(description="调用者能否打开这条活动（/activities/{id}、/api/v1/activities/{id}）")


class ProfileYear(BaseModel):
    """Counts of one year (by the activity's date)."""

    year: int
    total: int = Field(description="记录或参与的活动（不含已撤回）")
    verified: int = Field(description="其中已审核")
    recorded: int = Field(description="其中本人记录")
    joined: int = Field(description="其中参与他人记录的活动")
    counties: int = Field(description="到过的县（市、区）数")


class ProfileHonour(BaseModel):
    """A 典型 honour: a nomination the province selected (app/exemplars)."""

    title: str
    year: int


_ACTIVITY_EXAMPLE: dict[str, Any] = {
    "id": 1024, "occurred_on": "2026-10-12", "task_name": "帮助脱贫地区发展特色产业、提供技术服务",
    "county_name": "洱源县", "site_name": "茈碧湖镇", "status": "verified", "status_label": "已审核",
    "role": "recorder", "role_label": "记录人", "openable": True,
    "values": [{"indicator_id": 2, "name": "提供技术服务", "unit": "次", "kind": "count", "value": 3, "display": "3"}]}


class ActivityLogPage(BaseModel):
    model_config = {"json_schema_extra": {"examples": [
        {"items": [_ACTIVITY_EXAMPLE], "total": 1, "page": 1, "per_page": 50}]}}

    items: list[ProfileActivity]
    total: int
    page: int
    per_page: int


class Profile(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "member": {"id": 501, "name": "李明", "sector": "经济界", "enterprise": "洱源梅子合作社", "phone": None,
                   "serving": True},
        "memberships": [
            {"org_id": 120, "org_name": "洱源县政协", "term_number": 10, "role": "standing", "role_label": "常委",
             "title": "农业农村委主任", "committee_name": "农业农村委", "start_date": "2026-01-10", "end_date": None,
             "current": True},
            {"org_id": 120, "org_name": "洱源县政协", "term_number": 9, "role": "member", "role_label": "委员",
             "title": None, "committee_name": None, "start_date": "2021-01-12", "end_date": "2026-01-09",
             "current": False}],
        "committee_name": "农业农村委",
        "links": [],
        "years": [{"year": 2026, "total": 12, "verified": 10, "recorded": 7, "joined": 5, "counties": 3}],
        "honours": [],
        "activities": {"items": [_ACTIVITY_EXAMPLE], "total": 12, "page": 1, "per_page": 50}}]}}

    member: ProfileIdentity
    memberships: list[ProfileMembership] = Field(description="历届任职，最近的在前")
    committee_name: str | None = Field(description="现任专委会（不在任时为最近一次任职的）")
    links: list[LinkRead] = Field(description="作为挂联领导或联络员的挂联，含已结束的")
    years: list[ProfileYear] = Field(description="每年的活动数，最近的年份在前")
    honours: list[ProfileHonour] = Field(description="典型荣誉：省级选树的推荐，最近的年份在前")
    activities: ActivityLogPage = Field(description="活动（每页 50 条，最新在前）")
