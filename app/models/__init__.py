"""All tables, imported so that ``SQLModel.metadata`` knows them (Alembic reads it)."""

from app.models.accounts import GrantRole, RoleGrant, UserAccount
from app.models.activities import (
    Activity,
    ActivityParticipant,
    ActivityPhoto,
    ActivityStatus,
    ActivityValue,
    ClosedMonth,
    ParticipantStatus,
)
from app.models.api import ApiToken, ApiTokenRate, ApiTokenUsage, TokenLevel
from app.models.assignments import LinkAssignment, LinkRole
from app.models.audit import AuditLog
from app.models.auth import ActivationCode, LoginAttempt, UserSession
from app.models.base import SQLModel  # noqa: F401  (naming convention first)
from app.models.catalogue import AnnualTarget, BoostArea, Campaign, Indicator, IndicatorKind, Task
from app.models.exemplars import ExemplarNomination, MatchInvitation, NominationStatus
from app.models.history import HistoryEntry
from app.models.jobs import BackgroundJob
from app.models.leads import ActivityGroup, ActivityGroupMember, TaskLead
from app.models.meeting import FollowUp, MeetingSetting
from app.models.meta import AppMeta
from app.models.notify import (
    MemberReach,
    Notification,
    ReminderCampaign,
    SmsCode,
    SmsLog,
    WecomRobot,
)
from app.models.orgs import Committee, Organisation, OrgClosure, OrgLevel, Site, SiteKind
from app.models.people import Member, MemberRole, Membership, Term
from app.models.quality import (
    ActivityFlag,
    FlagCode,
    IndicatorBaseline,
    PlausibilityRule,
    ReportConfirmation,
    RuleKind,
)
from app.models.reports import FrozenReport
from app.models.rollup import ParticipationCounter, ParticipationMonth, Rollup, RollupStamp
from app.models.screens import ScreenLink
from app.models.suggestions import SuggestionFollowUp, SuggestionState

__all__ = [
    "ActivationCode",
    "Activity",
    "ActivityFlag",
    "ActivityGroup",
    "ActivityGroupMember",
    "ActivityParticipant",
    "ActivityPhoto",
    "ActivityStatus",
    "ActivityValue",
    "AnnualTarget",
    "ApiToken",
    "ApiTokenRate",
    "ApiTokenUsage",
    "AppMeta",
    "AuditLog",
    "BackgroundJob",
    "BoostArea",
    "Campaign",
    "ClosedMonth",
    "Committee",
    "ExemplarNomination",
    "FlagCode",
    "FollowUp",
    "FrozenReport",
    "GrantRole",
    "HistoryEntry",
    "Indicator",
    "IndicatorBaseline",
    "IndicatorKind",
    "LinkAssignment",
    "LinkRole",
    "LoginAttempt",
    "MatchInvitation",
    "MeetingSetting",
    "Member",
    "MemberReach",
    "MemberRole",
    "Membership",
    "NominationStatus",
    "Notification",
    "OrgClosure",
    "OrgLevel",
    "Organisation",
    "ParticipantStatus",
    "ParticipationCounter",
    "ParticipationMonth",
    "PlausibilityRule",
    "ReminderCampaign",
    "ReportConfirmation",
    "RoleGrant",
    "Rollup",
    "RollupStamp",
    "RuleKind",
    "ScreenLink",
    "Site",
    "SiteKind",
    "SmsCode",
    "SmsLog",
    "SuggestionFollowUp",
    "SuggestionState",
    "Task",
    "TaskLead",
    "Term",
    "TokenLevel",
    "UserAccount",
    "UserSession",
    "WecomRobot",
]
