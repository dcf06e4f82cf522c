"""User accounts and their role grants: the 助推办 administers the accounts of its own subtree.

Which accounts a caller reaches is decided once, in ``_visible_accounts``: the list, the loader,
code issuing and the detail page all start from it. Which grants a caller may make, revoke or
"act over" is decided once, in ``_grantable``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, exists, func, literal, or_, select
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import SQLCoreOperations
from sqlmodel import Session

from app.accounts.passwords import hash_password
from app.accounts.schemas import (
    ROLE_LABELS,
    AuditEntryView,
    AuditPage,
    GrantView,
    IssuedCode,
    UserDetail,
    UserPage,
    UserRow,
    UserStatus,
    beijing_day_start,
)
from app.audit.service import entries_for, record
from app.auth.principal import ROLE_RANK, STAFF_ROLES, Principal, org_for_staff
from app.auth.service import (
    activated_clause,
    new_activation_code,
    normalise_login,
    revoke_sessions,
    session_open,
)
from app.clock import CN, now_utc, today_cn
from app.config import get_settings
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.models import (
    AuditLog,
    Committee,
    GrantRole,
    Member,
    Membership,
    Organisation,
    RoleGrant,
    UserAccount,
    UserSession,
)
from app.models.people import serving_on

MAX_PER_PAGE = 200


def create_admin(session: Session, *, login: str, password: str, name: str, province: Organisation) -> UserAccount:
    """A province administrator (admin grant on the root); refuses a login that exists."""
    if len(password) < 8:
        raise ValueError("密码至少 8 位")
    if session.scalar(select(UserAccount.id).where(UserAccount.login == login)) is not None:
        raise ValueError(f"账号 {login} 已存在")
    user = UserAccount(login=login, password_hash=hash_password(password), display_name=name)
    session.add(user)
    session.flush()
    session.add(RoleGrant(user_id=user.id, role=GrantRole.admin, org_id=province.id))
    session.flush()
    return user


# --- scope: who reaches which account -------------------------------------------------------

def _require_staff(by: Principal, message: str = "只有「双助推」办公室人员可以管理账号") -> None:
    if not by.has_role(*STAFF_ROLES):
        raise Forbidden(message, code="staff_only")


def _visible_accounts(by: Principal, *, today: date | None = None) -> Select:
    """Accounts ``by`` reaches as staff, each with its organisation *as seen from ``by``'s scope*.

    Columns: UserAccount, member name, organisation id, organisation name, committee name.

    An account is reached through its member's current membership (the most recent open one, as
    ``auth.service.current_member_org``) or through any of its grants, when that organisation lies
    in ``by``'s staff/admin subtrees. The organisation shown is the membership's if it is in scope,
    else the first in-scope grant's; the inner join on it *is* the scope filter: an account with
    no organisation in scope has no row.
    """
    today = today or today_cn()
    scope = by.scope(*STAFF_ROLES)
    current = aliased(Membership)
    membership_id = (
        select(current.id)
        .where(current.member_id == UserAccount.member_id, serving_on(today, seat=current))
        .order_by(current.start_date.desc(), current.id.desc())
        .limit(1).correlate(UserAccount).scalar_subquery()
    )
    grant_org = (
        select(RoleGrant.org_id)
        .where(RoleGrant.user_id == UserAccount.id, RoleGrant.org_id.in_(scope))
        .order_by(RoleGrant.org_id)
        .limit(1).correlate(UserAccount).scalar_subquery()
    )
    home_org = case((Membership.org_id.in_(scope), Membership.org_id), else_=grant_org)
    # A looser test that indexes answer: without it the exact choice above runs for every account
    # of the province (a county's list took as long as the province's).
    may_be_in_scope = or_(
        UserAccount.member_id.in_(
            select(current.member_id).where(current.org_id.in_(scope), serving_on(today, seat=current))),
        UserAccount.id.in_(select(RoleGrant.user_id).where(RoleGrant.org_id.in_(scope))),
    )
    return (
        select(UserAccount, Member.name, Organisation.id, Organisation.name, Committee.name)
        .outerjoin(Member, Member.id == UserAccount.member_id)
        .outerjoin(Membership, Membership.id == membership_id)
        .join(Organisation, Organisation.id == home_org)
        # The committee only when it belongs to the organisation shown beside it.
        .outerjoin(Committee, and_(Committee.id == Membership.committee_id, Committee.org_id == Organisation.id))
        .where(may_be_in_scope)
    )


def _listing_order(stmt: Select) -> Select:
    return stmt.order_by(Organisation.code, UserAccount.display_name, UserAccount.id)


def _grantable(by: Principal, role: SQLCoreOperations[GrantRole | str],
               org_id: SQLCoreOperations[int]) -> ColumnElement[bool]:
    """SQL truth of "``by`` could grant ``role`` on ``org_id``": the organisation lies in ``by``'s
    staff/admin subtrees and the role's rank is no higher than ``by``'s own over it.

    ``by.top_rank_over(org)`` is the highest rank of ``by``'s grants whose subtree holds ``org``; so
    "rank(role) ≤ top rank" is "``org`` lies under a grant of some role ranked at least rank(role)".
    In SQL it works on whole columns at once (every grant of every listed account), which the
    per-organisation Python method cannot do without a query per row.
    """
    by_rank = []
    for rank in sorted(set(ROLE_RANK.values())):
        roles = [r.value for r, v in ROLE_RANK.items() if v == rank]
        holders = [r for r, v in ROLE_RANK.items() if v >= rank]
        by_rank.append(and_(role.in_(roles), org_id.in_(by.scope(*holders))))
    return and_(org_id.in_(by.scope(*STAFF_ROLES)), or_(*by_rank))


def _manageable(by: Principal) -> ColumnElement[bool]:
    """True for an account every grant of which ``by`` could have made.

    Disabling an account or issuing it a code (which sets its password) is acting *as* it: a county
    staff member must not reach a province administrator who is also a member of the county.
    """
    return ~exists().where(RoleGrant.user_id == UserAccount.id,
                           ~_grantable(by, RoleGrant.role, RoleGrant.org_id))


def _require_committee(session: Session, by: Principal, committee_id: int) -> Committee:
    committee = session.get(Committee, committee_id)
    if committee is None or not by.can(session, committee.org_id, *STAFF_ROLES):
        raise NotFound("找不到该专委会，或不在您的管辖范围内", code="committee_not_found")
    return committee


def _row(found: Row[*tuple[Any, ...]]) -> UserRow:
    user, member_name, org_id, org_name, committee_name = found[:5]
    return UserRow(user=user, member_name=member_name, org_id=org_id, org_name=org_name,
                   committee_name=committee_name)


def user_for_staff(session: Session, by: Principal, user_id: int) -> UserAccount:
    """The account if it lies in ``by``'s staff scope; NotFound otherwise (existence not revealed)."""
    return _row_for_staff(session, by, user_id)[0].user


def _row_for_staff(session: Session, by: Principal, user_id: int) -> tuple[UserRow, bool]:
    """The account's row and whether ``by`` may act as it (disable, issue codes)."""
    _require_staff(by)
    found = session.execute(
        _visible_accounts(by).add_columns(_manageable(by)).where(UserAccount.id == user_id)
    ).first()
    if found is None:
        raise NotFound("找不到该账号，或不在您的管辖范围内", code="user_not_found")
    return _row(found), bool(found[5])


# --- listing ----------------------------------------------------------------------------------

def scope_orgs(session: Session, by: Principal) -> list[Organisation]:
    """The organisations of ``by``'s staff/admin subtrees, in code order (which is tree order)."""
    _require_staff(by)
    return list(session.scalars(
        select(Organisation).where(Organisation.id.in_(by.scope(*STAFF_ROLES))).order_by(Organisation.code)
    ))


def committees_of(session: Session, by: Principal, org_id: int) -> list[Committee]:
    """The committees of one organisation of ``by``'s scope."""
    _require_staff(by)
    org_for_staff(session, by, org_id)
    return list(session.scalars(select(Committee).where(Committee.org_id == org_id).order_by(Committee.name)))


def _filtered(session: Session, by: Principal, *, org_id: int | None, committee_id: int | None,
              q: str | None, status: str | None) -> Select:
    stmt = _visible_accounts(by)
    if org_id is not None:
        org_for_staff(session, by, org_id)
        stmt = stmt.where(Organisation.id == org_id)
    if committee_id is not None:
        _require_committee(session, by, committee_id)
        stmt = stmt.where(Committee.id == committee_id)
    q = (q or "").strip()
    if q:
        matches = [Member.name.contains(q, autoescape=True), UserAccount.display_name.contains(q, autoescape=True)]
        digits = normalise_login(q)
        if len(digits) >= 3:  # a fragment of a phone number, not a stray digit in a name
            matches.append(UserAccount.login.contains(digits, autoescape=True))
        stmt = stmt.where(or_(*matches))
    if status:
        try:
            wanted = UserStatus(status)
        except ValueError:
            raise Invalid("未知的账号状态", code="bad_status") from None
        stmt = stmt.where({
            UserStatus.unactivated: and_(UserAccount.is_active.is_(True), ~activated_clause()),
            UserStatus.activated: and_(UserAccount.is_active.is_(True), activated_clause()),
            UserStatus.disabled: UserAccount.is_active.is_(False),
        }[wanted])
    return stmt


def _grants_in_scope(session: Session, by: Principal, user_ids: list[int]) -> dict[int, list[GrantView]]:
    """The grants of several accounts that lie in ``by``'s staff scope (one query), each marked
    revocable or not."""
    if not user_ids:
        return {}
    stmt = (
        select(RoleGrant, Organisation.name, _grantable(by, RoleGrant.role, RoleGrant.org_id))
        .join(Organisation, Organisation.id == RoleGrant.org_id)
        .where(RoleGrant.user_id.in_(user_ids), RoleGrant.org_id.in_(by.scope(*STAFF_ROLES)))
        .order_by(RoleGrant.user_id, Organisation.code, RoleGrant.role)
    )
    found: dict[int, list[GrantView]] = {}
    for grant, org_name, grantable in session.execute(stmt):
        found.setdefault(grant.user_id, []).append(GrantView(
            id=grant.id, role=GrantRole(grant.role), org_id=grant.org_id, org_name=org_name,
            created_at=grant.created_at, revocable=bool(grantable) and grant.user_id != by.user_id,
        ))
    return found


def list_users(session: Session, by: Principal, *, org_id: int | None = None, committee_id: int | None = None,
               q: str | None = None, status: str | None = None, page: int = 1, per_page: int = 50) -> UserPage:
    """One page of the accounts in ``by``'s scope, filtered, with their grants."""
    _require_staff(by)
    page, per_page = max(1, page), min(max(1, per_page), MAX_PER_PAGE)
    stmt = _filtered(session, by, org_id=org_id, committee_id=committee_id, q=q, status=status)
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = [_row(r) for r in session.execute(_listing_order(stmt).limit(per_page).offset((page - 1) * per_page))]
    grants = _grants_in_scope(session, by, [r.user.id for r in rows])
    items = [replace(r, grants=tuple(grants.get(r.user.id, ()))) for r in rows]
    return UserPage(items=items, total=total, page=page, per_page=per_page)


def user_detail(session: Session, by: Principal, user_id: int, *, recent: int = 10) -> UserDetail:
    """Everything the account page shows: grants, open sessions, recent log entries, the grant form."""
    row, manageable = _row_for_staff(session, by, user_id)
    grants = _grants_in_scope(session, by, [user_id]).get(user_id, [])
    now = now_utc()
    open_sessions = session.scalar(
        select(func.count()).select_from(UserSession).where(UserSession.user_id == user_id, session_open(now)))
    scope = by.scope(*STAFF_ROLES)
    # Entries about this account: those of the caller's subtree, and those that belong to no
    # organisation (logins, password changes are the account's own, and it is in scope).
    entries = _with_names(
        select(AuditLog).where(AuditLog.target_type == "user", AuditLog.target_id == str(user_id),
                               or_(AuditLog.org_id.is_(None), AuditLog.org_id.in_(scope)))
        .order_by(AuditLog.at.desc(), AuditLog.id.desc()).limit(recent)
    )
    top = max(ROLE_RANK[r] for r in by.roles if r in STAFF_ROLES)
    return UserDetail(
        row=replace(row, grants=tuple(grants)), manageable=manageable,
        is_self=user_id == by.user_id, open_sessions=open_sessions,
        recent=[_entry_view(e) for e in session.execute(entries)],
        grantable_roles=sorted((r for r in GrantRole if ROLE_RANK[r] <= top), key=lambda r: ROLE_RANK[r]),
        scope_orgs=scope_orgs(session, by),
    )


# --- activation codes ------------------------------------------------------------------------

def code_valid_until() -> date:
    """The last whole Beijing day on which a code issued now still works (printed on the slips)."""
    expires = now_utc() + timedelta(days=get_settings().activation_code_days)
    return (expires.astimezone(CN) - timedelta(days=1)).date()


def _issue(session: Session, by: Principal, rows: list) -> list[IssuedCode]:
    """A new code for each row of ``_visible_accounts`` (earlier codes stop working); commits."""
    issued = []
    for found in rows:
        row = _row(found)
        code = new_activation_code(session, user=row.user, actor=by.actor, org_id=row.org_id)
        issued.append(IssuedCode(row.user, row.name, row.org_name or "", row.committee_name or "", code))
    session.commit()
    return issued


def issue_codes(session: Session, by: Principal, *, user_ids: list[int]) -> list[IssuedCode]:
    """New one-time codes for chosen accounts of ``by``'s scope; all or none. Commits."""
    _require_staff(by)
    wanted = sorted(set(user_ids))
    if not wanted:
        raise Invalid("请先勾选要生成激活码的人员", code="nothing_selected")
    rows = session.execute(
        _listing_order(_visible_accounts(by).add_columns(_manageable(by)).where(UserAccount.id.in_(wanted)))
    ).all()
    if len(rows) != len(wanted):
        raise NotFound("所选账号中有找不到的，或不在您的管辖范围内", code="user_not_found")
    for found in rows:
        row = _row(found)
        if not found[5]:
            raise Forbidden(f"{row.name} 在您的管辖范围之外或更高级别还有权限，请由上级「双助推」办公室生成激活码",
                            code="user_above_you")
        if not row.user.is_active:
            raise Conflict(f"{row.name} 的账号已停用，请先启用再生成激活码", code="user_disabled")
    return _issue(session, by, rows)


def _org_candidates(session: Session, by: Principal, *, org_id: int, committee_id: int | None,
                    only_unactivated: bool) -> Select:
    """Members of one organisation (or one of its committees) whose accounts may get a code."""
    _require_staff(by)
    org_for_staff(session, by, org_id)
    stmt = _visible_accounts(by).where(
        Organisation.id == org_id, Membership.org_id == org_id, UserAccount.is_active.is_(True),
    )
    if committee_id is not None:
        committee = _require_committee(session, by, committee_id)
        if committee.org_id != org_id:
            raise Invalid("该专委会不属于所选组织", code="committee_mismatch")
        stmt = stmt.where(Membership.committee_id == committee_id)
    if only_unactivated:
        stmt = stmt.where(~activated_clause())
    return stmt


def codes_preview(session: Session, by: Principal, *, org_id: int, committee_id: int | None = None,
                  only_unactivated: bool = True) -> tuple[int, int]:
    """(codes ``issue_codes_for`` would issue, members it would skip as holding more than ``by``)."""
    stmt = _org_candidates(session, by, org_id=org_id, committee_id=committee_id,
                           only_unactivated=only_unactivated)
    rows = stmt.add_columns(_manageable(by).label("manageable")).order_by(None).subquery()
    total, manageable = session.execute(
        select(func.count(), func.coalesce(func.sum(case((rows.c.manageable, 1), else_=0)), 0)).select_from(rows)
    ).one()
    return int(manageable), int(total) - int(manageable)


def issue_codes_for(session: Session, by: Principal, *, org_id: int, committee_id: int | None = None,
                    only_unactivated: bool = True) -> list[IssuedCode]:
    """New codes for one organisation's (or committee's) members, by default the unactivated. Commits."""
    # Members holding more than ``by`` are skipped, not refused: higher staff issue theirs.
    stmt = _org_candidates(session, by, org_id=org_id, committee_id=committee_id,
                           only_unactivated=only_unactivated)
    return _issue(session, by, session.execute(_listing_order(stmt.where(_manageable(by)))).all())


# --- disabling and grants --------------------------------------------------------------------

def set_active(session: Session, by: Principal, *, user_id: int, active: bool) -> UserAccount:
    """Disable (ending every session at once) or enable an account of ``by``'s scope. Commits."""
    row, manageable = _row_for_staff(session, by, user_id)
    user = row.user
    if not active and user.id == by.user_id:
        raise Conflict("不能停用自己的账号", code="self_disable")
    if not manageable:
        raise Forbidden("该账号在您的管辖范围之外或更高级别还有权限，请由上级「双助推」办公室处理",
                        code="user_above_you")
    if user.is_active == active:
        return user  # a repeated click: nothing changes, nothing to record
    before = {"is_active": user.is_active}
    user.is_active = active
    after: dict = {"is_active": active}
    if not active:
        after["sessions_revoked"] = revoke_sessions(session, user_id=user.id)
    record(session, actor=by.actor, action="user.enable" if active else "user.disable", target_type="user",
           target_id=user.id, org_id=row.org_id, before=before, after=after)
    session.commit()
    return user


def force_logout(session: Session, by: Principal, *, user_id: int) -> int:
    """强制下线: end every open session of an account of ``by``'s scope at once (a lost phone, a
    shared computer); the account stays usable. Audited; the number of sessions ended. Commits."""
    row, manageable = _row_for_staff(session, by, user_id)
    if not manageable:
        raise Forbidden("该账号在您的管辖范围之外或更高级别还有权限，请由上级「双助推」办公室处理",
                        code="user_above_you")
    ended = revoke_sessions(session, user_id=row.user.id, keep=by.session_id if row.user.id == by.user_id else None)
    record(session, actor=by.actor, action="user.sessions_revoke", target_type="user", target_id=row.user.id,
           org_id=row.org_id, after={"sessions_revoked": ended})
    session.commit()
    return ended


def _check_may_grant(session: Session, by: Principal, role: GrantRole, org_id: int, verb: str) -> None:
    if session.scalar(select(_grantable(by, literal(role.value), literal(org_id)))):
        return
    if not by.can(session, org_id, *STAFF_ROLES):
        raise Forbidden(f"只能{verb}您管辖的组织范围内的权限", code="grant_out_of_scope")
    raise Forbidden(f"不能{verb}高于您自己的权限（{ROLE_LABELS[role]}）", code="grant_above_rank")


def _grant_snapshot(grant: RoleGrant, org: Organisation) -> dict:
    return {"grant_id": grant.id, "user_id": grant.user_id, "role": grant.role, "org_id": org.id, "org": org.name}


def grant_role(session: Session, by: Principal, *, user_id: int, role: str, org_id: int | None) -> RoleGrant:
    """Grant a role over an organisation of ``by``'s scope, never above ``by``'s rank there. Commits."""
    user = user_for_staff(session, by, user_id)
    try:
        role = GrantRole(role)
    except ValueError:
        raise Invalid("请选择权限类型", code="bad_role", errors={"role": "请选择权限类型"}) from None
    org = session.get(Organisation, org_id) if org_id is not None else None
    if org is None:
        raise Invalid("请选择组织", code="bad_org", errors={"org_id": "请选择组织"})
    _check_may_grant(session, by, role, org.id, "授予")
    duplicate = Conflict(f"该账号在{org.name}已有「{ROLE_LABELS[role]}」权限", code="grant_exists")
    if session.scalar(select(RoleGrant.id).where(RoleGrant.user_id == user.id, RoleGrant.role == role,
                                                 RoleGrant.org_id == org.id)) is not None:
        raise duplicate
    grant = RoleGrant(user_id=user.id, role=role, org_id=org.id, granted_by_user_id=by.user_id)
    try:
        with session.begin_nested():  # a concurrent identical grant hits the unique constraint
            session.add(grant)
    except IntegrityError:
        raise duplicate from None
    record(session, actor=by.actor, action="grant.create", target_type="user", target_id=user.id,
           org_id=org.id, after=_grant_snapshot(grant, org))
    session.commit()
    return grant


def revoke_grant(session: Session, by: Principal, *, grant_id: int) -> int:
    """Revoke a grant of ``by``'s scope and rank (never one's own); returns its account's id. Commits."""
    _require_staff(by)
    grant = session.get(RoleGrant, grant_id)
    if grant is None or not by.can(session, grant.org_id, *STAFF_ROLES):
        raise NotFound("找不到该授权，或不在您的管辖范围内", code="grant_not_found")
    role = GrantRole(grant.role)
    _check_may_grant(session, by, role, grant.org_id, "撤销")
    if grant.user_id == by.user_id:
        raise Conflict("不能撤销自己的权限，请由其他管理员操作", code="self_revoke")
    org = session.get(Organisation, grant.org_id)
    before = _grant_snapshot(grant, org)
    session.delete(grant)
    record(session, actor=by.actor, action="grant.revoke", target_type="user", target_id=grant.user_id,
           org_id=org.id, before=before)
    session.commit()
    return before["user_id"]


# --- the audit log, for staff -----------------------------------------------------------------

def _with_names(stmt: Select) -> Select:
    """Add the actor's name and login and the entry's organisation name to a select of AuditLog."""
    return (stmt.add_columns(UserAccount.display_name, UserAccount.login, Organisation.name)
            .outerjoin(UserAccount, UserAccount.id == AuditLog.actor_user_id)
            .outerjoin(Organisation, Organisation.id == AuditLog.org_id))


def _entry_view(found: Row[*tuple[Any, ...]]) -> AuditEntryView:
    entry, actor_name, actor_login, org_name = found
    return AuditEntryView(entry=entry, actor_name=actor_name or ("系统" if entry.actor_user_id is None else ""),
                          actor_login=actor_login or "", org_name=org_name or "")


def audit_log(session: Session, by: Principal, *, action: str | None = None, actor: str | None = None,
              target_type: str | None = None, target_id: str | None = None, since: date | None = None,
              until: date | None = None, page: int = 1, per_page: int = 50) -> AuditPage:
    """A page of the log of ``by``'s staff subtrees, newest first; dates are Beijing days, inclusive."""
    _require_staff(by, "只有「双助推」办公室人员可以查看操作日志")
    page, per_page = max(1, page), min(max(1, per_page), MAX_PER_PAGE)
    filters = {
        "action": (action or "").strip() or None, "target_type": (target_type or "").strip() or None,
        "target_id": (target_id or "").strip() or None,
        "since": beijing_day_start(since) if since else None,
        "until": beijing_day_start(until + timedelta(days=1)) if until else None,
    }
    stmt = entries_for(by.org_ids(*STAFF_ROLES), **filters)
    actor = (actor or "").strip()
    if actor:
        digits = normalise_login(actor)
        who = UserAccount.display_name.contains(actor, autoescape=True)
        stmt = stmt.where(AuditLog.actor_user_id.in_(
            # Not correlated with the actor join _with_names adds around it.
            select(UserAccount.id).where(or_(who, UserAccount.login == digits) if digits else who).correlate(None)))
    # One row more than the page tells whether there is a next page without counting a big log.
    found = session.execute(_with_names(stmt).limit(per_page + 1).offset((page - 1) * per_page)).all()
    items = [_entry_view(r) for r in found[:per_page]]
    # Name the accounts the entries are about: one query for the page, not one per row.
    about = {int(v.entry.target_id) for v in items if v.entry.target_type == "user" and v.entry.target_id.isdigit()}
    names = dict(session.execute(select(UserAccount.id, UserAccount.display_name)
                                 .where(UserAccount.id.in_(about))).all()) if about else {}
    items = [replace(v, target_name=names.get(int(v.entry.target_id), "")) if v.entry.target_type == "user"
             and v.entry.target_id.isdigit() else v for v in items]
    return AuditPage(items=items, page=page, per_page=per_page, has_next=len(found) > per_page)

