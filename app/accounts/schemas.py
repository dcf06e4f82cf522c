"""Account administration: what the service hands its pages (rows, pages, issued codes) and what
the pages accept (filters and forms)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal, NamedTuple

from pydantic import BaseModel, BeforeValidator, Field

from app.auth.service import is_activated
from app.clock import as_utc, start_of_day_cn, to_cn
from app.models import AuditLog, GrantRole, Organisation, UserAccount

# China has kept UTC+8 without daylight saving since 1991: a fixed offset needs no tz database.

ROLE_LABELS = {
    GrantRole.member: "委员",
    GrantRole.viewer: "只读看板",
    GrantRole.leader: "领导/专委会负责人",
    GrantRole.staff: "助推办",
    GrantRole.admin: "省级管理员",
}


# The log's action codes in words; actions of other features show as their code until added here.
ACTION_LABELS = {
    "display.create": "生成大屏链接",
    "target.set": "设定年度目标",
    "export.activities.csv": "导出活动明细（CSV）",
    "report.freeze": "冻结报告",
    "export.activities.xlsx": "生成活动明细 Excel",
    "target.clear": "清除年度目标",
    "display.revoke": "撤销大屏链接",
    "auth.login": "登录",
    "auth.login_failed": "登录失败",
    "auth.logout": "退出登录",
    "auth.activate": "用激活码设置密码",
    "auth.activation_failed": "激活失败",
    "auth.password_change": "修改密码",
    "auth.code_issued": "生成激活码",
    "auth.sms_code": "获取短信验证码",
    "auth.password_reset": "用短信验证码重设密码",
    "auth.password_set": "设置密码",
    "auth.sessions_end": "退出其他设备",
    "user.sessions_revoke": "强制下线",
    "user.disable": "停用账号",
    "user.enable": "启用账号",
    "grant.create": "授予权限",
    "grant.revoke": "撤销权限",
    "member.update": "修改委员信息",
    "member.transfer": "调动委员",
    "membership.end": "结束任职",
    "org.key_county": "修改重点帮扶县标记",
    "site.create": "添加地点",
    "site.rename": "地点改名",
    "task.create": "添加实事",
    "task.update": "修改实事",
    "indicator.create": "添加指标",
    "indicator.update": "修改指标",
    "wording.set": "修改报告措辞",
    "wording.clear": "恢复默认报告措辞",
    "import.orgs": "导入组织和地点",
    "import.members": "导入委员名单",
    "import.targets": "导入年度目标",
    "import.assignments": "导入挂联安排",
    "import.history": "导入历史数据（汇总录入）",
    "notify.campaign": "发送提醒",
}


class UserStatus(StrEnum):
    unactivated = "unactivated"  # 未激活: no password yet and never signed in (an SMS sign-in activates)
    activated = "activated"  # 已激活
    disabled = "disabled"  # 已停用

    @property
    def label(self) -> str:
        return {"unactivated": "未激活", "activated": "已激活", "disabled": "已停用"}[self.value]


def status_of(user: UserAccount) -> UserStatus:
    if not user.is_active:
        return UserStatus.disabled
    return UserStatus.activated if is_activated(user) else UserStatus.unactivated


def beijing(value: datetime | None) -> str:
    moment = to_cn(value)
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def beijing_day_start(day: date) -> datetime:
    """Midnight of ``day`` in Beijing, as the UTC instant the log stores."""
    return start_of_day_cn(day)


def pretty_json(raw: str | None) -> str:
    """A stored before/after value laid out for reading (Chinese kept as is)."""
    if not raw:
        return ""
    try:
        return json.dumps(json.loads(raw), ensure_ascii=False, indent=1, sort_keys=True)
    except ValueError:
        return raw


@dataclass(frozen=True)
class GrantView:
    id: int
    role: GrantRole
    org_id: int
    org_name: str
    created_at: datetime | None = None
    # Whether the caller may revoke it (decided by the service's rank and scope rule).
    revocable: bool = False

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role]

    @property
    def granted_on(self) -> str:
        """The day it was granted in Beijing (the stored moment is UTC: 00:30 is still yesterday there)."""
        moment = to_cn(self.created_at)
        return moment.strftime("%Y-%m-%d") if moment else ""


@dataclass(frozen=True)
class UserRow:
    user: UserAccount
    member_name: str | None
    org_id: int | None
    org_name: str | None
    committee_name: str | None
    grants: tuple[GrantView, ...] = ()

    @property
    def name(self) -> str:
        return self.member_name or self.user.display_name

    @property
    def status(self) -> UserStatus:
        return status_of(self.user)


@dataclass(frozen=True)
class UserPage:
    items: list[UserRow]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


class IssuedCode(NamedTuple):
    """One printed slip: shown once, at issue time (only the code's hash is stored)."""

    user: UserAccount
    member_name: str
    org_name: str
    committee_name: str
    code: str


@dataclass(frozen=True)
class CodeBatch:
    codes: list[IssuedCode]
    valid_until: date  # Beijing date after which the codes no longer work
    title: str  # what the batch is for, e.g. 五华区政协 or 已选 3 人


@dataclass(frozen=True)
class AuditEntryView:
    entry: AuditLog
    actor_name: str
    actor_login: str
    org_name: str
    target_name: str = ""  # the account's name, for entries about an account

    @property
    def action_label(self) -> str:
        return ACTION_LABELS.get(self.entry.action, self.entry.action)

    @property
    def at_beijing(self) -> str:
        return beijing(self.entry.at)

    @property
    def at_utc(self) -> str:
        return as_utc(self.entry.at).strftime("%Y-%m-%d %H:%M:%S UTC")

    @property
    def before_text(self) -> str:
        return pretty_json(self.entry.before)

    @property
    def after_text(self) -> str:
        return pretty_json(self.entry.after)


@dataclass(frozen=True)
class AuditPage:
    items: list[AuditEntryView]
    page: int
    per_page: int
    has_next: bool


@dataclass(frozen=True)
class UserDetail:
    row: UserRow
    manageable: bool  # the caller may disable it and issue codes for it
    is_self: bool
    open_sessions: int
    recent: list[AuditEntryView]
    # The grant form: roles the caller holds at least somewhere, organisations of their scope.
    grantable_roles: list[GrantRole] = field(default_factory=list)
    scope_orgs: list[Organisation] = field(default_factory=list)


# --- what the pages accept (query strings and forms) ------------------------------------------

def _blank_to_none(value: object) -> object:
    """An empty <select> or date input arrives as "": it means "not given"."""
    return None if value == "" else value


# An id from a form or query: blank means "not given"; beyond a database integer it is refused (422).
OptionalInt = Annotated[Annotated[int, Field(ge=1, le=2**31 - 1)] | None, BeforeValidator(_blank_to_none)]
OptionalDate = Annotated[date | None, BeforeValidator(_blank_to_none)]


class UserFilters(BaseModel):
    org_id: OptionalInt = None
    committee_id: OptionalInt = None
    q: str = Field(default="", max_length=40)
    status: str = Field(default="", max_length=16)  # a UserStatus; the service refuses others
    page: int = Field(default=1, ge=1, le=100_000)


class CodeRequest(BaseModel):
    """Codes for chosen accounts (``user_ids``), or for a whole organisation/committee (``org_id``)."""

    user_ids: list[int] = Field(default_factory=list, max_length=2000)
    org_id: OptionalInt = None
    committee_id: OptionalInt = None
    only_unactivated: bool = True
    # A whole organisation is issued only after the confirmation page posts this back.
    confirmed: bool = False
    format: Literal["html", "xlsx"] = "html"


class GrantForm(BaseModel):
    role: str = Field(default="", max_length=12)
    org_id: OptionalInt = None


class AuditFilters(BaseModel):
    action: str = Field(default="", max_length=64)
    actor: str = Field(default="", max_length=40)
    target_type: str = Field(default="", max_length=32)
    target_id: str = Field(default="", max_length=64)
    since: OptionalDate = None
    until: OptionalDate = None
    page: int = Field(default=1, ge=1, le=100_000)
