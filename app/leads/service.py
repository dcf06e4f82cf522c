"""牵头统筹 (issue 19): 委员活动小组, and a 实事 led by a 专委会 or an 活动小组 — with its own progress.

A 委员活动小组 (``activity_group``) is a named group of members serving in an organisation's subtree,
one of them its leader; it sits beside the organisation's 专委会 (``committee``). Either may lead
(牵头统筹) a 实事 of the current campaign that the organisation works with (``task_lead``), for a span
of dates read like a 挂联's: from ``start_date`` up to, not including, ``end_date``.

Who: the staff of the organisation (or above) set up groups and leads; whoever reads the organisation
sees them. Every change is audited; a retried create answers its first row (a group by its name and
content, a lead by its author's submission key).

Progress (``progress``): the 实事's own figures in the organisation's subtree, from the rollup as on the
boards (verified against target and pace); and the leading body's part — its members in the period
(a 专委会: the organisation's memberships on it in force in the period; a group: its members now, a
group keeps no history), how many took part in verified activities of the task (confirmed participants,
the 参与率 rule) dated in the period and in the lead's span, credited inside the organisation's subtree;
those activities (each once, however many members joined it), their figures, and the last one.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import and_, delete, func, or_, select
from sqlmodel import Session

from app import submissions
from app.activities.values import display_value
from app.audit.service import record as audit
from app.auth.principal import READ_ROLES, Principal, org_for_staff
from app.boards import service as boards
from app.boards.periods import Period
from app.catalogue.service import current_campaign, tasks_for
from app.clock import now_utc, today_cn
from app.errors import Conflict, Invalid, NotFound
from app.leads.schemas import GroupInput, LeadCreate
from app.models import (
    Activity,
    ActivityGroup,
    ActivityGroupMember,
    ActivityParticipant,
    ActivityStatus,
    ActivityValue,
    Committee,
    Member,
    Membership,
    Organisation,
    ParticipantStatus,
    Task,
    TaskLead,
)
from app.models.people import serving_during, serving_on
from app.orgs.service import subtree_ids

GROUP_NOT_FOUND = "找不到该活动小组，或不在您的范围内"
LEAD_NOT_FOUND = "找不到该牵头统筹事项，或不在您的范围内"
NO_STAFF = "只有本组织（或上级）的「双助推」办公室可以设置牵头统筹"
MAX_GROUP_MEMBERS = 200
BODY_KINDS = {"committee": "专委会", "group": "委员活动小组"}


# --- 委员活动小组 ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GroupView:
    group: ActivityGroup
    leader_name: str | None
    members: int


def groups_of(session: Session, org: Organisation) -> list[GroupView]:
    """The organisation's own groups, by name, with their leader and size."""
    sizes = (select(ActivityGroupMember.group_id, func.count().label("n"))
             .group_by(ActivityGroupMember.group_id).subquery())
    rows = session.execute(
        select(ActivityGroup, Member.name, sizes.c.n)
        .outerjoin(Member, Member.id == ActivityGroup.leader_member_id)
        .outerjoin(sizes, sizes.c.group_id == ActivityGroup.id)
        .where(ActivityGroup.org_id == org.id).order_by(ActivityGroup.name, ActivityGroup.id)).all()
    return [GroupView(g, name, int(n or 0)) for g, name, n in rows]


def group_for_read(session: Session, by: Principal, group_id: int) -> tuple[ActivityGroup, Organisation]:
    """The group and its organisation if ``by`` reads the organisation, else 404."""
    group = session.get(ActivityGroup, group_id)
    if group is None or not by.can(session, group.org_id, *READ_ROLES):
        raise NotFound(GROUP_NOT_FOUND)
    org = session.get(Organisation, group.org_id)
    assert org is not None
    return group, org


def group_members(session: Session, group_id: int) -> list[Member]:
    return list(session.scalars(select(Member).join(ActivityGroupMember, ActivityGroupMember.member_id == Member.id)
                                .where(ActivityGroupMember.group_id == group_id).order_by(Member.name, Member.id)))


def _serving_in(session: Session, org: Organisation, member_ids: set[int], day: date) -> set[int]:
    """Those of ``member_ids`` with a membership in force on ``day`` in the organisation's subtree."""
    if not member_ids:
        return set()
    return set(session.scalars(select(Membership.member_id).where(
        Membership.member_id.in_(member_ids), Membership.org_id.in_(subtree_ids(org.id)), serving_on(day))))


_SPLIT = re.compile(r"[\n,，、;；\s]+")


def resolve_members(session: Session, org: Organisation, text: str) -> tuple[list[int], list[str]]:
    """Members typed on the form — names or mobile numbers, one per line (or separated by commas) —
    among those serving today in the organisation's subtree; (their ids, Chinese problems)."""
    words = [w for w in _SPLIT.split(text or "") if w]
    if len(words) > MAX_GROUP_MEMBERS:
        return [], [f"一个活动小组最多 {MAX_GROUP_MEMBERS} 人"]
    serving = (select(Member.id, Member.name, Member.phone)
               .join(Membership, Membership.member_id == Member.id)
               .where(Membership.org_id.in_(subtree_ids(org.id)), serving_on(today_cn()),
                      or_(Member.name.in_(words), Member.phone.in_(words))).distinct())
    by_name: dict[str, set[int]] = defaultdict(set)
    by_phone: dict[str, int] = {}
    for mid, name, phone in session.execute(serving):
        by_name[name].add(mid)
        by_phone[phone] = mid
    ids: list[int] = []
    problems: list[str] = []
    for w in words:
        found = {by_phone[w]} if w in by_phone else by_name.get(w, set())
        if not found:
            problems.append(f"「{w}」不是{org.name}（含下级）的在任委员")
        elif len(found) > 1:
            problems.append(f"有 {len(found)} 位委员叫「{w}」，请改填手机号")
        elif (mid := next(iter(found))) not in ids:
            ids.append(mid)
    return ids, problems


def _group_snapshot(group: ActivityGroup, member_ids: list[int]) -> dict:
    return {"name": group.name, "leader_member_id": group.leader_member_id, "note": group.note,
            "members": sorted(member_ids), "version": group.version}


def _check_group(session: Session, org: Organisation, data: GroupInput) -> tuple[str, list[int], int | None]:
    errors: dict[str, str] = {}
    name = (data.name or "").strip()
    if not name:
        errors["name"] = "请填写小组名称"
    elif len(name) > 64:
        errors["name"] = "小组名称不超过 64 个字"
    ids = list(dict.fromkeys(data.member_ids))
    if not ids:
        errors["members"] = "请至少填写一位组员"
    elif len(ids) > MAX_GROUP_MEMBERS:
        errors["members"] = f"一个活动小组最多 {MAX_GROUP_MEMBERS} 人"
    else:
        outside = set(ids) - _serving_in(session, org, set(ids), today_cn())
        if outside:
            errors["members"] = f"有 {len(outside)} 位不是{org.name}（含下级）的在任委员"
    leader = data.leader_member_id
    if leader is not None and leader not in ids:
        errors["leader"] = "组长应是本小组的组员"
    if errors:
        raise Invalid("活动小组填写不完整", code="group_invalid", errors=errors)
    return name, ids, leader


def _set_members(session: Session, group_id: int, ids: list[int]) -> None:
    session.execute(delete(ActivityGroupMember).where(ActivityGroupMember.group_id == group_id))
    session.add_all([ActivityGroupMember(group_id=group_id, member_id=m) for m in ids])


def create_group(session: Session, *, by: Principal, org: Organisation, data: GroupInput) -> tuple[ActivityGroup, bool]:
    """A new 委员活动小组 of ``org``; (the group, created?). The same group sent again (same name, leader
    and members) answers the first; another group of that name is a 409. Commits."""
    org = org_for_staff(session, by, org.id, refused=NO_STAFF)
    name, ids, leader = _check_group(session, org, data)
    same = session.scalar(select(ActivityGroup).where(ActivityGroup.org_id == org.id, ActivityGroup.name == name))
    if same is not None:
        members = {m.id for m in group_members(session, same.id)}
        if members == set(ids) and same.leader_member_id == leader:
            return same, False
        raise Conflict(f"本组织已有名为「{name}」的活动小组", code="group_exists", errors={"name": "名称已被使用"})
    group = ActivityGroup(org_id=org.id, name=name, leader_member_id=leader, note=(data.note or "").strip()[:500],
                          created_by_user_id=by.user_id or None, created_at=now_utc())
    session.add(group)
    session.flush()
    _set_members(session, group.id, ids)
    audit(session, actor=by.actor, action="group.create", target_type="activity_group", target_id=group.id,
          org_id=org.id, after=_group_snapshot(group, ids))
    session.commit()
    return group, True


def change_group(session: Session, *, by: Principal, group_id: int, data: GroupInput, version: int) -> ActivityGroup:
    """Rename a group, set its leader and members (``version``: the one read; a change since is a 409, the
    same change sent again answers the group). Audited; commits."""
    group, org = group_for_read(session, by, group_id)
    org = org_for_staff(session, by, org.id, refused=NO_STAFF)
    name, ids, leader = _check_group(session, org, data)
    before = _group_snapshot(group, [m.id for m in group_members(session, group.id)])
    note = (data.note or "").strip()[:500]
    if version == group.version - 1 and (name, sorted(ids), leader, note) == (
            group.name, before["members"], group.leader_member_id, group.note):
        return group  # a retried change
    if version != group.version:
        raise Conflict("该活动小组已被他人修改，请刷新后再改", code="stale_version")
    taken = session.scalar(select(ActivityGroup.id).where(ActivityGroup.org_id == org.id, ActivityGroup.name == name,
                                                          ActivityGroup.id != group.id))
    if taken is not None:
        raise Conflict(f"本组织已有名为「{name}」的活动小组", code="group_exists", errors={"name": "名称已被使用"})
    group.name, group.leader_member_id, group.note = name, leader, note
    group.version += 1
    _set_members(session, group.id, ids)
    audit(session, actor=by.actor, action="group.change", target_type="activity_group", target_id=group.id,
          org_id=org.id, before=before, after=_group_snapshot(group, ids))
    session.commit()
    return group


# --- 牵头统筹 ------------------------------------------------------------------------------------------

def lead_in_force(day: date):  # noqa: ANN201 - a SQL condition
    """The 挂联 rule: start ≤ day < end."""
    return and_(TaskLead.start_date <= day, or_(TaskLead.end_date.is_(None), TaskLead.end_date > day))


def state_of(lead: TaskLead, day: date) -> str:
    if lead.end_date is not None and lead.end_date <= day:
        return "ended"
    return "active" if lead.start_date <= day else "future"


STATE_LABELS = {"active": "进行中", "future": "未开始", "ended": "已结束"}


def tasks_for_leads(session: Session, org: Organisation) -> list[Task]:
    """The 实事 an organisation may have led: the current campaign's tasks it works with (the catalogue's
    ``tasks_for``, as the recording form offers them)."""
    campaign = current_campaign(session)
    return tasks_for(session, org.id, campaign.id) if campaign is not None else []


def bodies_of(session: Session, org: Organisation) -> list[tuple[str, int, str]]:
    """Who may lead for ``org``: its 专委会 then its 活动小组, as (kind, id, name)."""
    committees = session.execute(select(Committee.id, Committee.name).where(Committee.org_id == org.id)
                                 .order_by(Committee.id)).all()
    groups = session.execute(select(ActivityGroup.id, ActivityGroup.name).where(ActivityGroup.org_id == org.id)
                             .order_by(ActivityGroup.name)).all()
    return [("committee", i, n) for i, n in committees] + [("group", i, n) for i, n in groups]


def _snapshot(lead: TaskLead) -> dict:
    return {"task_id": lead.task_id, "committee_id": lead.committee_id, "group_id": lead.group_id,
            "start_date": lead.start_date, "end_date": lead.end_date, "note": lead.note}


def create_lead(session: Session, *, by: Principal, org: Organisation, data: LeadCreate,
                submission_key: str) -> tuple[TaskLead, bool]:
    """``org``'s 专委会 or 活动小组 leads a 实事 from ``start_date``; (the lead, created?). The same body may
    not lead the same 实事 twice on one day. Audited; commits."""
    org = org_for_staff(session, by, org.id, refused=NO_STAFF)
    key = submissions.submission_key(by, submission_key)
    found = submissions.made_by(session, TaskLead, by, key)
    if found is not None:
        return found, False
    errors: dict[str, str] = {}
    if data.task_id not in {t.id for t in tasks_for_leads(session, org)}:
        errors["task_id"] = "请选择本组织的实事"
    if (data.body_kind, data.body_id) not in {(k, i) for k, i, _ in bodies_of(session, org)}:
        errors["body"] = "请选择本组织的专委会或活动小组"
    if data.end_date is not None and data.end_date <= data.start_date:
        errors["end_date"] = "结束日期应晚于开始日期"
    if errors:
        raise Invalid("牵头统筹填写不完整", code="lead_invalid", errors=errors)
    body = (TaskLead.committee_id if data.body_kind == "committee" else TaskLead.group_id) == data.body_id
    overlap = session.scalar(select(TaskLead.id).where(
        TaskLead.org_id == org.id, TaskLead.task_id == data.task_id, body,
        or_(TaskLead.end_date.is_(None), TaskLead.end_date > data.start_date),
        *([TaskLead.start_date < data.end_date] if data.end_date else [])).limit(1))
    if overlap is not None:
        raise Conflict("该专委会（小组）在这段时间已牵头这项实事", code="lead_overlaps",
                       errors={"start_date": "与已有的牵头统筹时间重叠"})
    lead = TaskLead(org_id=org.id, task_id=data.task_id, start_date=data.start_date, end_date=data.end_date,
                    committee_id=data.body_id if data.body_kind == "committee" else None,
                    group_id=data.body_id if data.body_kind == "group" else None,
                    note=(data.note or "").strip()[:500], created_by_user_id=by.user_id, created_at=now_utc(),
                    submission_key=key)
    lead, created = submissions.add_once(session, lead, by, key)
    if not created:
        return lead, False
    audit(session, actor=by.actor, action="lead.create", target_type="task_lead", target_id=lead.id,
          org_id=org.id, after=_snapshot(lead))
    session.commit()
    return lead, True


def lead_for_read(session: Session, by: Principal, lead_id: int) -> TaskLead:
    lead = session.get(TaskLead, lead_id)
    if lead is None or not by.can(session, lead.org_id, *READ_ROLES):
        raise NotFound(LEAD_NOT_FOUND)
    return lead


def end_lead(session: Session, *, by: Principal, lead_id: int, end_date: date | None = None) -> TaskLead:
    """End a lead on ``end_date`` (default today; it no longer leads from that day; ending one not yet
    begun on its start date cancels it). Ending it again on the same day answers it. Audited; commits."""
    lead = lead_for_read(session, by, lead_id)
    org_for_staff(session, by, lead.org_id, refused=NO_STAFF)
    day = end_date or today_cn()
    if lead.end_date == day:
        return lead
    if lead.end_date is not None and lead.end_date < day:
        raise Conflict("该牵头统筹已经结束", code="lead_ended")
    if day < lead.start_date:
        raise Invalid("结束日期不能早于开始日期", code="lead_invalid", errors={"end_date": "不能早于开始日期"})
    before = _snapshot(lead)
    lead.end_date = day
    audit(session, actor=by.actor, action="lead.end", target_type="task_lead", target_id=lead.id,
          org_id=lead.org_id, before=before, after=_snapshot(lead))
    session.commit()
    return lead


@dataclass(frozen=True)
class LeadView:
    lead: TaskLead
    task_name: str
    body_kind: str
    body_name: str
    state: str

    @property
    def body_label(self) -> str:
        return BODY_KINDS[self.body_kind]

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]


def leads_of(session: Session, org: Organisation, *, include_ended: bool = True) -> list[LeadView]:
    """The organisation's leads: in force and not yet begun first, by task."""
    today = today_cn()
    stmt = (select(TaskLead, Task.name, Committee.name, ActivityGroup.name)
            .join(Task, Task.id == TaskLead.task_id)
            .outerjoin(Committee, Committee.id == TaskLead.committee_id)
            .outerjoin(ActivityGroup, ActivityGroup.id == TaskLead.group_id)
            .where(TaskLead.org_id == org.id))
    if not include_ended:
        stmt = stmt.where(or_(TaskLead.end_date.is_(None), TaskLead.end_date > today))
    out = [LeadView(lead, task, "committee" if lead.committee_id else "group", committee or group or "",
                    state_of(lead, today))
           for lead, task, committee, group in session.execute(stmt.order_by(Task.sort_order, TaskLead.id))]
    out.sort(key=lambda v: v.state == "ended")
    return out


def view_of(session: Session, lead: TaskLead) -> LeadView:
    task = session.get(Task, lead.task_id)
    body = session.get(Committee, lead.committee_id) if lead.committee_id else session.get(ActivityGroup, lead.group_id)
    assert task is not None and body is not None
    return LeadView(lead, task.name, "committee" if lead.committee_id else "group", body.name,
                    state_of(lead, today_cn()))


# --- progress ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MemberPart:
    member_id: int
    name: str
    activities: int
    last_on: date | None


@dataclass
class LeadProgress:
    view: LeadView
    org: Organisation
    period: Period
    first: date | None  # the days counted: the period within the lead's span (None: they do not meet)
    last: date | None
    task: boards.TaskFigures | None  # the 实事 in the organisation's subtree (the boards' figures)
    members: int = 0
    took_part: int = 0
    activities: int = 0
    last_on: date | None = None
    values: dict[int, int] = field(default_factory=dict)  # indicator -> the body's activities' total
    parts: list[MemberPart] = field(default_factory=list)

    @property
    def rate(self) -> float | None:
        return self.took_part / self.members if self.members else None

    @staticmethod
    def value_text(info: boards.IndicatorInfo, value: int) -> str:
        return display_value(info.kind, value)


def _body_members(session: Session, lead: TaskLead, first: date, last: date) -> dict[int, str]:
    """member id -> name of the leading body in the period."""
    if lead.committee_id is not None:
        stmt = (select(Member.id, Member.name).join(Membership, Membership.member_id == Member.id)
                .where(Membership.org_id == lead.org_id, Membership.committee_id == lead.committee_id,
                       serving_during(first, last)).distinct())
    else:
        stmt = (select(Member.id, Member.name).join(ActivityGroupMember, ActivityGroupMember.member_id == Member.id)
                .where(ActivityGroupMember.group_id == lead.group_id))
    return {int(m): name for m, name in session.execute(stmt)}


def progress(session: Session, lead: TaskLead, period: Period) -> LeadProgress:
    """The lead's progress in ``period`` (see the module's docstring). ``lead`` from ``lead_for_read``."""
    org = session.get(Organisation, lead.org_id)
    assert org is not None
    view = view_of(session, lead)
    tasks, _ = boards.catalogue(session, org.id)
    info = next((t for t in tasks if t.id == lead.task_id), None)
    got = boards.figures(session, "org", [org.id], period).get(org.id, {})
    goal = boards.targets(session, [org.id], period.year).get(org.id, {})
    task = boards.task_figures([info], got, goal, period)[0] if info is not None else None
    first = max(period.start, lead.start_date)
    last = min(period.end, lead.end_date - timedelta(days=1) if lead.end_date else period.end, today_cn())
    out = LeadProgress(view, org, period, first if first <= last else None, last if first <= last else None, task)
    if first > last:
        return out
    names = _body_members(session, lead, first, last)
    out.members = len(names)
    if not names:
        return out
    done = session.execute(
        select(ActivityParticipant.member_id, Activity.id, Activity.occurred_on)
        .join(Activity, Activity.id == ActivityParticipant.activity_id)
        .where(ActivityParticipant.member_id.in_(list(names)),
               ActivityParticipant.status == ParticipantStatus.confirmed.value,
               Activity.status == ActivityStatus.verified.value, Activity.task_id == lead.task_id,
               Activity.credited_org_id.in_(subtree_ids(org.id)),
               Activity.occurred_on >= first, Activity.occurred_on <= last)).all()
    per_member: dict[int, list[date]] = defaultdict(list)
    activity_ids: set[int] = set()
    for member_id, activity_id, day in done:
        per_member[member_id].append(day)
        activity_ids.add(activity_id)
    out.took_part, out.activities = len(per_member), len(activity_ids)
    out.last_on = max((d for days in per_member.values() for d in days), default=None)
    out.parts = sorted((MemberPart(m, names[m], len(days), max(days)) for m, days in per_member.items()),
                       key=lambda p: (-p.activities, p.name, p.member_id))
    if activity_ids and info is not None:
        sums: dict[int, int] = {}
        for indicator_id, total in session.execute(
                select(ActivityValue.indicator_id, func.sum(ActivityValue.value))
                .where(ActivityValue.activity_id.in_(activity_ids)).group_by(ActivityValue.indicator_id)):
            sums[indicator_id] = int(total or 0)
        out.values = {i.id: sums.get(i.id, 0) for i in info.indicators}
    return out
