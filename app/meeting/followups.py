"""督办事项 (follow-ups): a 研判 meeting's decisions — an owner organisation, a due date, what counts as
done — carried to the next meetings until closed with a note (issue 19).

Who: the staff of the meeting's organisation or of an ancestor create and close them; whoever reads the
meeting's organisation, or the owner organisation, sees them. A follow-up made from a 问题清单 item
keeps the item's kind, ref and its sentence and figures then; the list shows them beside the same
item's figures now (or that it has left the list). Every create and close is audited; a retried
create (same author, same ``submission_key``) answers the first row; a close names the ``version``
it read (optimistic lock: someone else's change first is a 409).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from sqlalchemy import case, func, or_, select
from sqlmodel import Session

from app import submissions
from app.audit.service import record as audit
from app.auth.principal import READ_ROLES, STAFF_ROLES, Principal, org_for_read, org_for_staff
from app.boards.periods import Period, parse
from app.clock import now_utc, today_cn
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.meeting import problems as problem_list
from app.meeting.schemas import FollowUpCreate
from app.models import Organisation
from app.models.meeting import FollowUp
from app.orgs.service import is_within

STATUS_LABELS = {"open": "未办结", "overdue": "已超期", "done": "已办结"}
STATUS_FILTERS = ("open", "overdue", "done", "all")
MANUAL = "manual"
NOT_FOUND = "找不到这条督办事项，或不在您的范围内"


# --- reading ----------------------------------------------------------------------------------------

def status_of(fu: FollowUp, today: date | None = None) -> str:
    """open / overdue (open past its due date, Beijing days) / done."""
    if fu.status == "done":
        return "done"
    return "overdue" if fu.due_on < (today or today_cn()) else "open"


def visible_to(by: Principal):  # noqa: ANN201 - a SQL condition
    """Follow-ups of a meeting the caller reads, or owned by an organisation they read."""
    scope = by.scope(*READ_ROLES)
    return or_(FollowUp.org_id.in_(scope), FollowUp.owner_org_id.in_(scope))


def followup_for_read(session: Session, by: Principal, followup_id: int, *, lock: bool = False) -> FollowUp:
    """The follow-up if ``by`` sees it, else 404 (its existence is not revealed). ``lock``: for a change
    (the row is locked on PostgreSQL; SQLite's writer holds the lock anyway)."""
    fu = session.get(FollowUp, followup_id, with_for_update=lock or None)
    if fu is None or not (by.can(session, fu.org_id, *READ_ROLES) or by.can(session, fu.owner_org_id, *READ_ROLES)):
        raise NotFound(NOT_FOUND)
    return fu


def _filter(stmt, status: str, today: date):  # noqa: ANN001, ANN202
    if status == "done":
        return stmt.where(FollowUp.status == "done")
    if status == "overdue":
        return stmt.where(FollowUp.status == "open", FollowUp.due_on < today)
    if status == "open":  # every one not yet closed, overdue included
        return stmt.where(FollowUp.status == "open")
    return stmt


def list_followups(session: Session, org: Organisation, *, status: str = "open", page: int = 1,
                   per_page: int = 50) -> tuple[list[FollowUp], int]:
    """The follow-ups of ``org``'s meetings and those it owns (``org`` from the caller's read loader):
    overdue first, then by due date; and how many there are."""
    if status not in STATUS_FILTERS:
        raise Invalid("状态应为 open、overdue、done 或 all", code="bad_status", errors={"status": "请选择状态"})
    today = today_cn()
    mine = or_(FollowUp.org_id == org.id, FollowUp.owner_org_id == org.id)
    total = session.scalar(_filter(select(func.count()).select_from(FollowUp).where(mine), status, today)) or 0
    order = (case((FollowUp.status == "done", 1), else_=0), FollowUp.due_on, FollowUp.id)
    rows = session.scalars(_filter(select(FollowUp).where(mine), status, today).order_by(*order)
                           .offset((page - 1) * per_page).limit(per_page))
    return list(rows), int(total)


def open_sources(session: Session, org: Organisation) -> set[tuple[str, str]]:
    """(kind, ref) of the 问题清单 items ``org``'s meetings have an open follow-up for (the page says
    「已列为督办」 instead of offering the form again)."""
    return {(k, r) for k, r in session.execute(select(FollowUp.source_kind, FollowUp.source_ref).where(
        FollowUp.org_id == org.id, FollowUp.status == "open", FollowUp.source_kind != MANUAL))}


def previous_followups(session: Session, org: Organisation, period: Period) -> list[FollowUp]:
    """What the meeting opens with: the follow-ups of ``org``'s last meeting before this period's (the
    latest other period it decided anything in), and every one still open from earlier meetings."""
    last = session.scalar(select(FollowUp.period).where(FollowUp.org_id == org.id, FollowUp.period != period.key)
                          .order_by(FollowUp.created_at.desc(), FollowUp.id.desc()).limit(1))
    if last is None:
        return []
    rows = session.scalars(select(FollowUp).where(
        FollowUp.org_id == org.id, FollowUp.period != period.key,
        or_(FollowUp.period == last, FollowUp.status == "open"))
        .order_by(case((FollowUp.status == "done", 1), else_=0), FollowUp.due_on, FollowUp.id))
    return list(rows)


@dataclass(frozen=True)
class FollowUpView:
    """A follow-up as the lists show it: its status today, and the item's figures then and now."""

    row: FollowUp
    org: Organisation
    owner: Organisation
    status: str
    then: dict | None  # {"why", "figures"} when it came from the 问题清单
    now: dict | None  # the same item in today's list, None when it has left it (or was manual)
    compared: bool = True  # False: another organisation's meeting decided it, its list was not read

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def period_label(self) -> str:
        """The meeting's period as people say it (its key, for a year the picker no longer offers)."""
        try:
            return parse(self.row.period).label
        except Invalid:
            return self.row.period

    @property
    def from_list(self) -> bool:
        return self.row.source_kind != MANUAL

    @property
    def still_listed(self) -> bool | None:
        return (self.now is not None) if self.from_list and self.compared else None


def views(session: Session, rows: list[FollowUp], *, current: list[problem_list.Problem] | None,
          of_org: int | None = None) -> list[FollowUpView]:
    """``rows`` with their organisations and status; ``current``: the 问题清单 now of the organisation
    ``of_org`` (default: each row's own meeting organisation), to set beside each item's figures then —
    a follow-up of another organisation's meeting has no "now" in this list."""
    ids = {r.org_id for r in rows} | {r.owner_org_id for r in rows}
    orgs = {o.id: o for o in session.scalars(select(Organisation).where(Organisation.id.in_(ids)))} if ids else {}
    found = problem_list.by_key(current or [])
    today = today_cn()
    out = []
    for r in rows:
        then = json.loads(r.figure_then) if r.figure_then else None
        ours = of_org is None or r.org_id == of_org
        item = found.get((r.source_kind, r.source_ref)) if r.source_kind != MANUAL and ours else None
        now = {"why": item.why, "figures": item.figures} if item else None
        out.append(FollowUpView(r, orgs[r.org_id], orgs[r.owner_org_id], status_of(r, today), then, now,
                                compared=current is not None and ours))
    return out


# --- writing ----------------------------------------------------------------------------------------

def _snapshot(fu: FollowUp) -> dict:
    return {"period": fu.period, "source_kind": fu.source_kind, "source_ref": fu.source_ref, "title": fu.title,
            "owner_org_id": fu.owner_org_id, "due_on": fu.due_on, "done_criteria": fu.done_criteria,
            "status": fu.status, "version": fu.version}


def create_followup(session: Session, *, by: Principal, org: Organisation, period: Period, data: FollowUpCreate,
                    submission_key: str) -> tuple[FollowUp, bool]:
    """Record a decision of ``org``'s meeting for ``period``; (the row, created?). Commits.

    From a 问题清单 item, its sentence and figures are read again here (never taken from the form)."""
    org = org_for_staff(session, by, org.id, refused="只有研判会所在组织（或上级）的「双助推」办公室可以列入督办")
    key = submissions.submission_key(by, submission_key)
    found = submissions.made_by(session, FollowUp, by, key)
    if found is not None:
        return found, False
    errors: dict[str, str] = {}
    owner = org_for_read(session, by, data.owner_org)
    if not is_within(session, owner.id, org.id):
        errors["owner_org"] = "责任组织应为本组织或其下级组织"
    criteria = (data.done_criteria or "").strip()
    if not criteria:
        errors["done_criteria"] = "请写明怎样算办结"
    if data.due_on < today_cn():
        errors["due_on"] = "办结期限不能早于今天"
    title, then = (data.title or "").strip(), ""
    kind = (data.source_kind or MANUAL).strip()
    if kind != MANUAL:
        item = problem_list.by_key(problem_list.problems(session, org, period)).get((kind, data.source_ref))
        if item is None:
            raise Invalid("这个问题已不在本期问题清单中，请刷新后重试", code="problem_gone")
        title, then = title or f"{item.kind_label}：{item.title}", item.snapshot()
    if not title:
        errors["title"] = "请填写督办事项"
    if errors:
        raise Invalid("督办事项填写不完整", code="followup_invalid", errors=errors)
    fu = FollowUp(org_id=org.id, period=period.key, source_kind=kind, source_ref=data.source_ref if kind != MANUAL
                  else "", title=title[:200], figure_then=then, owner_org_id=owner.id, due_on=data.due_on,
                  done_criteria=criteria, created_by_user_id=by.user_id, created_at=now_utc(), submission_key=key)
    fu, created = submissions.add_once(session, fu, by, key)
    if not created:  # the same submission, made at the same moment by a second request
        return fu, False
    audit(session, actor=by.actor, action="followup.create", target_type="follow_up", target_id=fu.id,
          org_id=org.id, after=_snapshot(fu))
    session.commit()
    return fu, True


def close_followup(session: Session, *, by: Principal, followup_id: int, note: str, version: int) -> FollowUp:
    """Close a follow-up with a note (audited). ``version`` is the one the closer read: a change made
    since is a 409; the same close sent again answers the closed row. Commits."""
    fu = followup_for_read(session, by, followup_id, lock=True)
    if not by.can(session, fu.org_id, *STAFF_ROLES):  # the owner's office sees it, the meeting's closes it
        raise Forbidden("只有研判会所在组织（或上级）的「双助推」办公室可以办结督办事项", code="staff_only")
    note = (note or "").strip()
    if fu.status == "done" and version == fu.version - 1 and note == fu.closed_note:
        return fu  # a retried close
    if version != fu.version:
        raise Conflict("这条督办事项已被他人修改或办结，请刷新后再办", code="stale_version")
    if not note:
        raise Invalid("办结需要填写办结说明", code="note_required", errors={"note": "请写明办结情况"})
    before = _snapshot(fu)
    fu.status, fu.closed_note, fu.closed_at, fu.closed_by_user_id = "done", note[:1000], now_utc(), by.user_id or None
    fu.version += 1
    audit(session, actor=by.actor, action="followup.close", target_type="follow_up", target_id=fu.id,
          org_id=fu.org_id, before=before, after={**_snapshot(fu), "note": fu.closed_note})
    session.commit()
    return fu
