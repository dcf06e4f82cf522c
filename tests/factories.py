"""Factories for test data, written through the ORM on the migrated schema.

Dates are built relative to the app's clock (``today_cn()``), never from year literals, so a test
that passes today passes as of any instant ``SZT_TODAY`` names (see tests/conftest.py).
"""

from __future__ import annotations

import calendar
import itertools
from datetime import date, timedelta

from sqlalchemy import select
from sqlmodel import Session

from app.clock import today_cn
from app.models import (
    Activity,
    ActivityParticipant,
    ActivityStatus,
    ActivityValue,
    GrantRole,
    Indicator,
    Member,
    MemberRole,
    Membership,
    Organisation,
    RoleGrant,
    Task,
    Term,
    UserAccount,
)
from app.orgs.service import get_by_code
from app.rollup import service as rollup

_seq = itertools.count(1)


# --- dates relative to the clock ----------------------------------------------------------------

def this_year() -> int:
    """The current year in Beijing."""
    return today_cn().year


def next_leap_year() -> int:
    """This year when it is a leap year, else the next one that is."""
    return next(y for y in itertools.count(this_year()) if calendar.isleap(y))


def months_ago(n: int, day: int = 1) -> date:
    """``day`` of the month ``n`` months before this one (0: this month); a day past the month's end
    is its last day. ``n`` may be negative (a month ahead)."""
    today = today_cn()
    index = today.year * 12 + today.month - 1 - n
    year, month = divmod(index, 12)
    first = date(year, month + 1, 1)
    last = (date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1) - timedelta(days=1)).day
    return first.replace(day=min(day, last))


def month_key(day: date) -> str:
    """The period key of ``day``'s month: ``2027-03``."""
    return f"{day.year}-{day.month:02d}"


def org(session: Session, code: str) -> Organisation:
    found = get_by_code(session, code)
    assert found is not None, f"no organisation {code}"
    return found


def task(session: Session, sort_order: int = 1) -> Task:
    return session.scalar(select(Task).where(Task.sort_order == sort_order))


def indicators(session: Session, task_: Task) -> list[Indicator]:
    """The task's effort indicators in order (its outcome indicators: ``outcomes``)."""
    return list(session.scalars(
        select(Indicator).where(Indicator.task_id == task_.id, Indicator.is_outcome.is_(False))
        .order_by(Indicator.sort_order)
    ))


def outcomes(session: Session, task_: Task) -> dict[str, Indicator]:
    """The task's outcome indicators (成效) by name: 受益群众, 带动就业, 带动增收 where it has them."""
    return {i.name: i for i in session.scalars(
        select(Indicator).where(Indicator.task_id == task_.id, Indicator.is_outcome.is_(True))
        .order_by(Indicator.sort_order))}


def term_for(session: Session, organisation: Organisation) -> Term:
    found = session.scalar(select(Term).where(Term.org_id == organisation.id).order_by(Term.number.desc()))
    if found is None:
        found = Term(org_id=organisation.id, number=1, start_date=date(2023, 1, 1))
        session.add(found)
        session.flush()
    return found


def make_member(session: Session, organisation: Organisation, *, name: str | None = None,
                role: MemberRole = MemberRole.member) -> Member:
    n = next(_seq)
    member = Member(name=name or f"测试委员{n}", phone=f"170{n:08d}", sector="经济界")
    session.add(member)
    session.flush()
    before = rollup.member_masks(session, [member.id])
    session.add(Membership(
        member_id=member.id, org_id=organisation.id, term_id=term_for(session, organisation).id,
        role=role, start_date=date(2023, 1, 1),
    ))
    session.flush()
    rollup.members_changed(session, before, [member.id])  # as every writer of memberships must
    return member


def make_user(session: Session, *, member: Member | None = None,
              grants: tuple[tuple[GrantRole, Organisation], ...] = ()) -> UserAccount:
    n = next(_seq)
    user = UserAccount(login=member.phone if member else f"171{n:08d}",
                       display_name=member.name if member else f"测试用户{n}",
                       member_id=member.id if member else None)
    session.add(user)
    session.flush()
    for role, organisation in grants:
        session.add(RoleGrant(user_id=user.id, role=role, org_id=organisation.id))
    session.flush()
    return user


def make_activity(session: Session, *, recorder: UserAccount, credited: Organisation,
                  county: Organisation, task_: Task, values: dict[int, int],
                  occurred_on: date | None = None,
                  status: ActivityStatus = ActivityStatus.pending,
                  participants: tuple[Member, ...] = ()) -> Activity:
    activity = Activity(
        recorder_user_id=recorder.id, credited_org_id=credited.id, task_id=task_.id,
        county_id=county.id, occurred_on=occurred_on or months_ago(1),  # by default last month: past
        status=status,
        idempotency_key=f"key-{next(_seq)}",
    )
    session.add(activity)
    session.flush()
    for indicator_id, value in values.items():
        session.add(ActivityValue(activity_id=activity.id, indicator_id=indicator_id,
                                  task_id=task_.id, value=value))
    for m in participants:
        session.add(ActivityParticipant(activity_id=activity.id, member_id=m.id))
    session.flush()
    rollup.apply(session, [(None, rollup.contribution(session, activity))])  # as every writer must
    return activity


# --- personas and logging in ------------------------------------------------------------------

PASSWORD = "correct-horse-9"


def with_password(session: Session, user: UserAccount, password: str = PASSWORD) -> UserAccount:
    from app.accounts.passwords import hash_password

    user.password_hash = hash_password(password)
    session.flush()
    return user


def persona(session: Session, kind: str) -> UserAccount:
    """Named users of the real tree: province_admin, province_staff, prefecture_staff (昆明),
    county_staff (五华区 530102), member (五华区), outsider_staff (曲靖, a sibling prefecture),
    outsider_member (盘龙区 530103, a sibling county), viewer (province)."""
    province, kunming, wuhua = org(session, "530000"), org(session, "530100"), org(session, "530102")
    qujing, panlong = org(session, "530300"), org(session, "530103")
    if kind == "province_admin":
        return make_user(session, grants=((GrantRole.admin, province),))
    if kind == "province_staff":
        return make_user(session, grants=((GrantRole.staff, province),))
    if kind == "prefecture_staff":
        return make_user(session, grants=((GrantRole.staff, kunming),))
    if kind == "county_staff":
        return make_user(session, grants=((GrantRole.staff, wuhua),))
    if kind == "outsider_staff":
        return make_user(session, grants=((GrantRole.staff, qujing),))
    if kind == "viewer":
        return make_user(session, grants=((GrantRole.viewer, province),))
    if kind == "member":
        m = make_member(session, wuhua)
        return make_user(session, member=m, grants=((GrantRole.member, wuhua),))
    if kind == "outsider_member":
        m = make_member(session, panlong)
        return make_user(session, member=m, grants=((GrantRole.member, panlong),))
    raise ValueError(kind)


def login_as(client, session: Session, user: UserAccount) -> str:
    """Open a server-side session for ``user`` on ``client`` (no password round trip); returns the CSRF token."""
    from app.auth.service import start_session
    from app.deps import SESSION_COOKIE

    row, raw = start_session(session, user=user, ip="testclient", user_agent="pytest")
    session.flush()
    client.cookies.set(SESSION_COOKIE, raw)
    client.headers["X-CSRF-Token"] = row.csrf_token
    return row.csrf_token


def record_another(session: Session, *, by, data, idempotency_key: str, **kwargs):
    """``record_activity``, answering 「这是另一次活动」 when the data matches activities already there
    (test data that logs several alike on one day; the likely-duplicate decision itself is tested in
    tests/quality/)."""
    from app.activities.service import record_activity
    from app.quality.duplicates import LikelyDuplicate

    try:
        return record_activity(session, by=by, data=data, idempotency_key=idempotency_key, **kwargs)
    except LikelyDuplicate as exc:
        session.rollback()
        data = data.model_copy(update={"distinct_from": [a.id for a in exc.candidates],
                                       "distinct_note": "另一次活动（测试数据）"})
        return record_activity(session, by=by, data=data, idempotency_key=idempotency_key, **kwargs)
