"""Closed months: a month the office closed refuses new and changed activities in its subtree."""

from __future__ import annotations

from datetime import date

from sqlalchemy import (
    ColumnElement,
    exists,
    select,
)
from sqlmodel import Session

from app.audit.service import record as audit
from app.auth.principal import STAFF_ROLES, Principal, org_for_staff
from app.clock import today_cn, yyyymm
from app.errors import Conflict, Invalid
from app.models import (
    ClosedMonth,
    Organisation,
)
from app.orgs.service import ancestor_ids

# --- prepared statements -----------------------------------------------------------------------
# The hot statements of recording and of the read model, built once with bind parameters: building
# a select() costs SQLAlchemy more than SQLite needs to run it (bench/README.md).

def month_closed(org_id: int | ColumnElement[int], month: int | ColumnElement[int]) -> ColumnElement[bool]:
    """SQL condition: ``month`` is closed for ``org_id`` — by itself or an ancestor (a closure covers the subtree)."""
    return exists().where(ClosedMonth.month == month, ClosedMonth.org_id.in_(ancestor_ids(org_id)))


# --- closed months -----------------------------------------------------------------------------

def is_month_closed(session: Session, org_id: int, month: int) -> bool:
    return bool(session.scalar(select(month_closed(org_id, month))))


def _check_month_open(session: Session, by: Principal, org_id: int, day: date, *, closed: bool | None = None) -> None:
    """Refuse a closed month to all but staff; ``closed`` when the caller already looked it up."""
    if closed is None:
        closed = is_month_closed(session, org_id, yyyymm(day))
    if closed and not by.can(session, org_id, *STAFF_ROLES):
        raise Invalid(f"{day.year}年{day.month}月已关账，只能由「双助推」办公室工作人员补录或修改",
                      code="month_closed", errors={"occurred_on": "该月份已关账"})


def close_month(session: Session, *, by: Principal, org_id: int, month: int) -> ClosedMonth:
    """The office closes a month of its subtree after collection. Commits."""
    org_for_staff(session, by, org_id)
    if month % 100 not in range(1, 13) or month > yyyymm(today_cn()):
        raise Invalid("只能关闭已经开始的月份")
    if session.get(ClosedMonth, (org_id, month)) is not None:
        raise Conflict("该月份已经关账")
    row = ClosedMonth(org_id=org_id, month=month, closed_by_user_id=by.user_id)
    session.add(row)
    audit(session, actor=by.actor, action="month.close", target_type="month", target_id=month, org_id=org_id)
    session.commit()
    return row


def reopen_month(session: Session, *, by: Principal, org_id: int, month: int) -> None:
    """Undo a closure (audited). Commits."""
    org_for_staff(session, by, org_id)
    row = session.get(ClosedMonth, (org_id, month))
    if row is None:
        raise Conflict("该月份没有关账")
    session.delete(row)
    audit(session, actor=by.actor, action="month.reopen", target_type="month", target_id=month, org_id=org_id)
    session.commit()


def closed_months(session: Session, by: Principal) -> list[tuple[ClosedMonth, Organisation]]:
    stmt = (select(ClosedMonth, Organisation).join(Organisation, Organisation.id == ClosedMonth.org_id)
            .where(ClosedMonth.org_id.in_(by.scope(*STAFF_ROLES)))
            .order_by(ClosedMonth.month.desc(), Organisation.code))
    return [(c, o) for c, o in session.execute(stmt).all()]
