"""意见建议的跟踪 (issue 20): what became of a verified suggestion, and 采纳率.

Which indicators are suggestions is catalogue data (``Indicator.is_suggestion``: 意见建议, 建言献策, unit
条). A verified activity of a task with such an indicator carries a follow-up state — 已报送 (to a
department) / 已采纳 / 已落实 / 未采纳 — with the receiving department and the date, set by the office:
staff whose subtree holds the activity's credited organisation (the ones who verify it). Whoever reads
the activity reads its state. Each change is audited (``suggestion.state``), names the ``version`` it
read (someone else's change first is a 409), and the same change sent again changes nothing.

采纳率 of an organisation's subtree for a period = 条 of suggestion indicators in verified activities
credited to the subtree, dated (``occurred_on``) in the period, whose state is 已采纳 or 已落实 ÷ all such
条. It is a direct query (:func:`adoption`), not held by the rollup: the follow-up moves long after the
activity is verified and only this figure needs it. A state change bumps the boards' stamps of the
credited organisation and its ancestors so their cached overviews show it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, func, select
from sqlmodel import Session

from app.activities.scope import activity_for_read
from app.audit.service import record as audit
from app.auth.principal import STAFF_ROLES, Principal
from app.boards.periods import Period
from app.clock import now_utc, today_cn
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.models import (
    Activity,
    ActivityStatus,
    ActivityValue,
    Indicator,
    Organisation,
    SuggestionFollowUp,
    SuggestionState,
    Task,
)
from app.orgs.service import ancestor_ids, subtree_ids
from app.rollup import service as rollup

STATE_LABELS = {"reported": "已报送", "adopted": "已采纳", "implemented": "已落实", "declined": "未采纳"}
UNTRACKED = "none"  # 待跟踪: verified, no state yet
STATE_FILTERS = {"all": "全部", UNTRACKED: "待跟踪", **STATE_LABELS}
ADOPTED = (SuggestionState.adopted.value, SuggestionState.implemented.value)  # 采纳率's numerator
DEPARTMENT_MAX = 100
NOT_SUGGESTION = "这条活动不是意见建议，没有跟踪情况"


# --- which activities are suggestions ----------------------------------------------------------------

def suggestion_tasks() -> Select:
    """A subquery of the tasks with a suggestion indicator (their activities carry a follow-up state)."""
    return select(Indicator.task_id).where(Indicator.is_suggestion.is_(True))


def is_suggestion_task(session: Session, task_id: int) -> bool:
    return session.scalar(select(func.count()).select_from(Indicator).where(
        Indicator.task_id == task_id, Indicator.is_suggestion.is_(True))) != 0


def _items(session: Session, activity_ids: list[int]) -> dict[int, int]:
    """条 of suggestion indicators per activity."""
    if not activity_ids:
        return {}
    rows = session.execute(
        select(ActivityValue.activity_id, func.sum(ActivityValue.value))
        .join(Indicator, Indicator.id == ActivityValue.indicator_id)
        .where(ActivityValue.activity_id.in_(activity_ids), Indicator.is_suggestion.is_(True))
        .group_by(ActivityValue.activity_id))
    return {a: int(n or 0) for a, n in rows}


# --- one activity's state ----------------------------------------------------------------------------

@dataclass(frozen=True)
class FollowUpState:
    """An activity's follow-up as pages and the API show it; ``row`` is None before the first state."""

    activity: Activity
    row: SuggestionFollowUp | None
    items: int  # 条
    may_change: bool

    @property
    def state(self) -> str | None:
        return self.row.state if self.row else None

    @property
    def label(self) -> str:
        return STATE_LABELS[self.row.state] if self.row else STATE_FILTERS[UNTRACKED]

    @property
    def version(self) -> int:
        return self.row.version if self.row else 0

    @property
    def open(self) -> bool:
        """Its state may be set: verified (a reopened one keeps its state but waits)."""
        return self.activity.status == ActivityStatus.verified


def state_of(session: Session, by: Principal, activity_id: int) -> FollowUpState:
    """The follow-up of an activity ``by`` reads (404 otherwise, and for an activity that is no suggestion)."""
    a = activity_for_read(session, by, activity_id)
    return _state(session, by, a)


def _state(session: Session, by: Principal, a: Activity) -> FollowUpState:
    if not is_suggestion_task(session, a.task_id):
        raise NotFound(NOT_SUGGESTION, code="not_suggestion")
    return FollowUpState(a, session.get(SuggestionFollowUp, a.id), _items(session, [a.id]).get(a.id, 0),
                         by.can(session, a.credited_org_id, *STAFF_ROLES))


def state_for_page(session: Session, by: Principal, activity_id: int) -> FollowUpState | None:
    """The activity page's part: the state when the activity is a suggestion, else None."""
    try:
        return state_of(session, by, activity_id)
    except NotFound:
        return None


def _snapshot(row: SuggestionFollowUp | None) -> dict | None:
    if row is None:
        return None
    return {"state": row.state, "department": row.department, "state_on": row.state_on, "version": row.version}


def set_state(session: Session, *, by: Principal, activity_id: int, state: str, department: str,
              state_on: date | None, version: int) -> tuple[SuggestionFollowUp, bool]:
    """Set a verified suggestion's follow-up state; (the row, changed?). ``version``: the one read (0
    before any state): a change made since is a 409; the same state sent again changes nothing. Commits."""
    a = activity_for_read(session, by, activity_id)  # 404 outside what the caller reads
    if not is_suggestion_task(session, a.task_id):
        raise NotFound(NOT_SUGGESTION, code="not_suggestion")
    if not by.can(session, a.credited_org_id, *STAFF_ROLES):
        raise Forbidden("只有计入单位（或其上级）的「双助推」办公室可以更新意见建议的跟踪情况", code="staff_only")
    # The activity's row is the lock of its follow-up (PostgreSQL; SQLite's writer holds it anyway):
    # two first states cannot both insert.
    a = session.scalar(select(Activity).where(Activity.id == a.id).with_for_update()) or a
    if a.status != ActivityStatus.verified:
        raise Invalid("只有审核通过的意见建议可以跟踪", code="not_verified")
    errors: dict[str, str] = {}
    if state not in STATE_LABELS:
        errors["state"] = "请选择已报送、已采纳、已落实或未采纳"
    department = " ".join((department or "").split())
    if not department:
        errors["department"] = "请填写接收部门"
    elif len(department) > DEPARTMENT_MAX:
        errors["department"] = f"接收部门不超过 {DEPARTMENT_MAX} 个字"
    if state_on is None:
        errors["state_on"] = "请填写日期"
    elif state_on > today_cn():
        errors["state_on"] = "日期不能晚于今天"
    elif state_on < a.occurred_on:
        errors["state_on"] = "日期不能早于提出意见建议的活动日期"
    if errors:
        raise Invalid("跟踪情况填写不完整", code="suggestion_invalid", errors=errors)
    assert state_on is not None
    row = session.get(SuggestionFollowUp, a.id, with_for_update=True)
    if row is not None and (row.state, row.department, row.state_on) == (state, department, state_on):
        return row, False  # the same change again (a retry, or two people agreeing)
    if version != (row.version if row else 0):
        raise Conflict("这条意见建议的跟踪情况已被他人更新，请刷新后再改", code="stale_version")
    before = _snapshot(row)
    if row is None:
        row = SuggestionFollowUp(activity_id=a.id, state=SuggestionState(state), department=department,
                                 state_on=state_on, version=1)
        session.add(row)
    else:
        row.state, row.department, row.state_on = SuggestionState(state), department, state_on
        row.version += 1
    row.updated_by_user_id, row.updated_at = by.user_id or None, now_utc()
    session.flush()
    audit(session, actor=by.actor, action="suggestion.state", target_type="activity", target_id=a.id,
          org_id=a.credited_org_id, before=before, after=_snapshot(row))
    # The overviews of the credited organisation and above state 采纳率: their cached blocks are stale.
    rollup.touch(session, [("org", o) for o in session.scalars(ancestor_ids(a.credited_org_id))])
    session.commit()
    return row, True


# --- a subtree's list --------------------------------------------------------------------------------

@dataclass(frozen=True)
class SuggestionRow:
    activity: Activity
    task: str
    org: str  # the credited organisation
    county: str
    items: int
    row: SuggestionFollowUp | None
    may_change: bool

    @property
    def label(self) -> str:
        return STATE_LABELS[self.row.state] if self.row else STATE_FILTERS[UNTRACKED]

    @property
    def version(self) -> int:
        return self.row.version if self.row else 0


def _subtree_suggestions(org: Organisation) -> Select:
    return select(Activity).where(
        Activity.status == ActivityStatus.verified, Activity.credited_org_id.in_(subtree_ids(org.id)),
        Activity.task_id.in_(suggestion_tasks()))


def list_suggestions(session: Session, by: Principal, org: Organisation, *, state: str = "all", page: int = 1,
                     per_page: int = 30) -> tuple[list[SuggestionRow], int]:
    """The verified suggestions credited to ``org``'s subtree (``org`` from the caller's read loader),
    newest first, filtered by state (``none``: 待跟踪); and how many there are."""
    if state not in STATE_FILTERS:
        raise Invalid("状态应为 all、none、reported、adopted、implemented 或 declined", code="bad_state",
                      errors={"state": "请选择状态"})
    stmt = _subtree_suggestions(org).outerjoin(SuggestionFollowUp, SuggestionFollowUp.activity_id == Activity.id)
    if state == UNTRACKED:
        stmt = stmt.where(SuggestionFollowUp.activity_id.is_(None))
    elif state != "all":
        stmt = stmt.where(SuggestionFollowUp.state == state)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    acts = list(session.scalars(stmt.order_by(Activity.occurred_on.desc(), Activity.id.desc())
                                .offset((page - 1) * per_page).limit(per_page)))
    ids = [a.id for a in acts]
    follow = {r.activity_id: r for r in session.scalars(
        select(SuggestionFollowUp).where(SuggestionFollowUp.activity_id.in_(ids)))} if ids else {}
    org_ids = {a.credited_org_id for a in acts} | {a.county_id for a in acts}
    names = dict(session.execute(
        select(Organisation.id, Organisation.name).where(Organisation.id.in_(org_ids))).all()) if org_ids else {}
    tasks = dict(session.execute(
        select(Task.id, Task.short_name).where(Task.id.in_({a.task_id for a in acts}))).all()) if acts else {}
    changeable = set(session.scalars(select(Organisation.id).where(
        Organisation.id.in_({a.credited_org_id for a in acts}), Organisation.id.in_(by.scope(*STAFF_ROLES))))) \
        if acts and by.org_ids(*STAFF_ROLES) else set()
    items = _items(session, ids)
    rows = [SuggestionRow(a, tasks.get(a.task_id, ""), names.get(a.credited_org_id, ""), names.get(a.county_id, ""),
                          items.get(a.id, 0), follow.get(a.id), a.credited_org_id in changeable) for a in acts]
    return rows, int(total)


# --- 采纳率 ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Adoption:
    """条 of suggestions made (verified, dated in the period) and how many reached each state."""

    made: int
    reported: int
    adopted: int  # 已采纳 or 已落实: 采纳率's numerator
    implemented: int  # 已落实
    declined: int

    @property
    def rate(self) -> float | None:
        """采纳率; None when nothing was made (shown 「—」)."""
        return self.adopted / self.made if self.made else None

    @property
    def untracked(self) -> int:
        return self.made - self.reported - self.adopted - self.declined

    def as_dict(self) -> dict:
        return {"made": self.made, "reported": self.reported, "adopted": self.adopted,
                "implemented": self.implemented, "declined": self.declined, "untracked": self.untracked,
                "rate": self.rate}


def adoption(session: Session, org: Organisation, period: Period) -> Adoption:
    """采纳率 and 落实 of ``org``'s subtree for ``period`` (by organisation credited, by the activity's
    date), one grouped query over the raw rows."""
    stmt = (
        select(SuggestionFollowUp.state, func.sum(ActivityValue.value))
        .select_from(Activity)
        .join(ActivityValue, ActivityValue.activity_id == Activity.id)
        .join(Indicator, Indicator.id == ActivityValue.indicator_id)
        .outerjoin(SuggestionFollowUp, SuggestionFollowUp.activity_id == Activity.id)
        .where(Activity.status == ActivityStatus.verified, Activity.credited_org_id.in_(subtree_ids(org.id)),
               Activity.occurred_on >= period.start, Activity.occurred_on <= period.end,
               # Implied by the next line (a value belongs to its activity's task), but it lets the
               # task index pick the few suggestion tasks' activities instead of a year's of all.
               Activity.task_id.in_(suggestion_tasks()),
               Indicator.is_suggestion.is_(True))
        .group_by(SuggestionFollowUp.state)
    )
    by_state = {s: int(n or 0) for s, n in session.execute(stmt)}
    return Adoption(
        made=sum(by_state.values()), reported=by_state.get("reported", 0),
        adopted=sum(by_state.get(s, 0) for s in ADOPTED), implemented=by_state.get("implemented", 0),
        declined=by_state.get("declined", 0))


def adoption_text(a: Adoption) -> str:
    """The report's sentence, said only when suggestions were made (采纳率 is 「—」 otherwise)."""
    return (f"所提意见建议（含建言献策）{a.made:,}条中，已采纳{a.adopted:,}条（其中已落实{a.implemented:,}条），"
            f"采纳率{a.adopted / a.made * 100:.1f}%。")
