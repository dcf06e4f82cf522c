"""Data management for the 助推办 (数据管理): members and their memberships, organisations' 重点帮扶县
flag, sites under a county — every change inside the caller's staff subtree, audited, one commit.

Who may do what is decided once, in :func:`_require_staff_over`: a staff/admin grant over the
organisation concerned; a caller who holds some other grant there (member, viewer, leader) is
refused (403); a caller who holds nothing there does not learn that it exists (404).

Membership writes (transfer, end) keep the boards' rollup exact: the members' masks are taken
before and :func:`app.rollup.service.members_changed` is called after, in the same transaction.

The catalogue and the report wording are managed in :mod:`app.manage.catalogue`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.audit.service import record
from app.auth.principal import ROLE_RANK, STAFF_ROLES, Principal, org_for_staff
from app.auth.service import normalise_login
from app.clock import today_cn
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.models import (
    Committee,
    GrantRole,
    Member,
    MemberRole,
    Membership,
    Organisation,
    OrgLevel,
    RoleGrant,
    Site,
    SiteKind,
    UserAccount,
)
from app.models.people import serves_on, serving_on
from app.orgs.service import ancestor_ids, subtree_ids
from app.rollup import service as rollup
from app.terms.service import current_term

PER_PAGE = 30
ALL_ROLES = tuple(GrantRole)
MEMBER_ROLE_LABELS = {MemberRole.member: "委员", MemberRole.standing: "常委", MemberRole.chair_council: "主席会议成员"}
SITE_KIND_LABELS = {SiteKind.town: "乡镇/街道", SiteKind.village: "村/社区", SiteKind.demo_site: "示范点/助推点",
                    SiteKind.studio: "委员工作室"}
LEVEL_LABELS = {OrgLevel.province: "省", OrgLevel.prefecture: "州市", OrgLevel.county: "县（市、区）"}
PHONE = re.compile(r"1[3-9]\d{9}")  # a mainland mobile number: a member's login
PHONE_JUNK = re.compile(r"[\s\-()（）+]")  # what people type between the digits
SITE_CODE = re.compile(r"^[0-9A-Za-z-]{1,20}$")
NO_STAFF = "只有「双助推」办公室人员可以管理数据"


# --- rules shared with the imports (app/imports/members.py, orgs.py): one home each -----------------

def member_phone(raw: str) -> str:
    """A member's phone — their login — as 11 digits (full-width digits, spaces, dashes, +86 and a
    number cell's trailing .0 tolerated); Invalid otherwise."""
    text = unicodedata.normalize("NFKC", raw or "").strip()
    digits = PHONE_JUNK.sub("", text).removesuffix(".0")
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if not PHONE.fullmatch(digits):
        raise Invalid(f"手机号「{raw}」格式不正确，应为 11 位手机号码", code="phone_invalid",
                      errors={"phone": "手机号应为 11 位数字（1 开头）"})
    return digits


def site_code(raw: str) -> str:
    """A site's code as stored (1–20 digits, letters or dashes: a town's 9-digit code, a studio's own); Invalid otherwise."""
    code = (raw or "").strip()
    if not SITE_CODE.match(code):
        raise Invalid(f"地点代码「{code}」格式不正确，应为 1–20 位数字或字母", code="site_invalid",
                      errors={"code": "代码应为 1–20 位数字或字母"})
    return code


def site_name(raw: str) -> str:
    """A site's name as stored (not blank, at most 128 characters); Invalid otherwise."""
    name = (raw or "").strip()
    if not name:
        raise Invalid("请填写名称", errors={"name": "请填写名称"})
    if len(name) > 128:
        raise Invalid("名称不能超过 128 个字", errors={"name": "名称不能超过 128 个字"})
    return name


# --- scope ---------------------------------------------------------------------------------------

def require_staff(by: Principal) -> None:
    """403 for a caller without any staff/admin grant (members, viewers, leaders)."""
    if not by.has_role(*STAFF_ROLES):
        raise Forbidden(NO_STAFF, code="staff_only")


def _require_staff_over(session: Session, by: Principal, org_id: int, what: str = "记录") -> None:
    """Staff/admin over ``org_id``; 403 when the caller holds another grant there, else 404."""
    require_staff(by)
    if by.can(session, org_id, *STAFF_ROLES):
        return
    if by.can(session, org_id, *ALL_ROLES):
        raise Forbidden(NO_STAFF, code="staff_only")
    raise NotFound(f"找不到该{what}，或不在您的管辖范围内", code="not_found")


def scope_orgs(session: Session, by: Principal, *, level: OrgLevel | None = None) -> list[Organisation]:
    """The organisations of the caller's staff subtrees, in code order (tree order)."""
    require_staff(by)
    stmt = select(Organisation).where(Organisation.id.in_(by.scope(*STAFF_ROLES))).order_by(Organisation.code)
    if level is not None:
        stmt = stmt.where(Organisation.level == level)
    return list(session.scalars(stmt))


def _page(page: int) -> int:
    return max(1, page)


# --- members ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MemberRow:
    member: Member
    membership: Membership | None  # the current one (open today), else the most recent
    org: Organisation | None
    committee_name: str | None
    current: bool

    @property
    def role_label(self) -> str:
        return MEMBER_ROLE_LABELS[MemberRole(self.membership.role)] if self.membership else ""


def _is_current(today: date) -> list[ColumnElement[bool]]:
    """Membership is its member's current one: open on ``today``, the most recent if several."""
    cur = Membership.__table__.alias("cur")
    latest = (select(cur.c.id).where(cur.c.member_id == Membership.member_id, serving_on(today, seat=cur))
              .order_by(cur.c.start_date.desc(), cur.c.id.desc()).limit(1).correlate(Membership).scalar_subquery())
    return [serving_on(today), Membership.id == latest]


def list_members(session: Session, by: Principal, *, org_id: int | None = None, q: str = "",
                 page: int = 1, per_page: int = PER_PAGE, today: date | None = None) -> tuple[list[MemberRow], int]:
    """One page of the members serving today in the caller's staff subtree (or in ``org_id``'s)."""
    require_staff(by)
    today = today or today_cn()
    if org_id is not None:
        org_for_staff(session, by, org_id)
        within = subtree_ids(org_id)
    else:
        within = by.scope(*STAFF_ROLES)
    # Driven from the memberships of the subtree (indexed by organisation), not from every member.
    stmt = (select(Member, Membership, Organisation, Committee.name)
            .select_from(Membership)
            .join(Member, Member.id == Membership.member_id)
            .join(Organisation, Organisation.id == Membership.org_id)
            .outerjoin(Committee, Committee.id == Membership.committee_id)
            .where(Membership.org_id.in_(within), *_is_current(today)))
    q = q.strip()
    if q:
        matches = [Member.name.contains(q, autoescape=True)]
        digits = normalise_login(q)
        if len(digits) >= 3:
            matches.append(Member.phone.contains(digits, autoescape=True))
        stmt = stmt.where(or_(*matches))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.execute(stmt.order_by(Organisation.code, Member.name, Member.id)
                           .limit(per_page).offset((_page(page) - 1) * per_page)).all()
    return [MemberRow(m, ms, o, c, True) for m, ms, o, c in rows], total


def member_for_staff(session: Session, by: Principal, member_id: int, *, today: date | None = None,
                     lock: bool = False) -> MemberRow:
    """The member with their current (else latest) membership, if its organisation is in the caller's
    staff subtree; 404 / 403 otherwise. ``lock``: hold the member's row for a membership change (on
    PostgreSQL; SQLite's writer holds the lock anyway), so two transfers of one member queue."""
    require_staff(by)
    today = today or today_cn()
    if lock:
        session.execute(select(Member.id).where(Member.id == member_id).with_for_update())
    member = session.get(Member, member_id)
    memberships = list(session.scalars(
        select(Membership).where(Membership.member_id == member_id)
        .order_by(Membership.start_date.desc(), Membership.id.desc()))) if member else []
    if not memberships:
        raise NotFound("找不到该委员，或不在您的管辖范围内", code="member_not_found")
    current = next((ms for ms in memberships if serves_on(ms, today)), None)
    shown = current or memberships[0]
    _require_staff_over(session, by, shown.org_id, "委员")
    committee = session.get(Committee, shown.committee_id) if shown.committee_id else None
    return MemberRow(member, shown, session.get(Organisation, shown.org_id),
                     committee.name if committee else None, current is not None)


def committees_of(session: Session, org_id: int) -> list[Committee]:
    return list(session.scalars(select(Committee).where(Committee.org_id == org_id).order_by(Committee.name)))


@dataclass
class MemberEdit:
    name: str
    phone: str
    sector: str
    enterprise: str = ""
    industry: str = ""  # 行业 (补位匹配); optional
    role: str = MemberRole.member.value
    title: str = ""
    committee_id: int | None = None


def _account_beyond(session: Session, by: Principal, user_id: int) -> bool:
    """True when the account holds a grant ``by`` could not have made (changing its login is acting as it)."""
    for role, org_id in session.execute(select(RoleGrant.role, RoleGrant.org_id).where(RoleGrant.user_id == user_id)):
        if not by.can(session, org_id, *STAFF_ROLES) or ROLE_RANK[GrantRole(role)] > by.top_rank_over(session, org_id):
            return True
    return False


def update_member(session: Session, by: Principal, member_id: int, data: MemberEdit) -> Member:
    """Edit a member and their current membership's role, title and committee (audited; commits)."""
    row = member_for_staff(session, by, member_id, lock=True)
    member, ms = row.member, row.membership
    errors: dict[str, str] = {}
    name, sector = data.name.strip(), data.sector.strip()
    enterprise, title = data.enterprise.strip() or None, data.title.strip() or None
    industry = data.industry.strip() or None
    if not name:
        errors["name"] = "请填写姓名"
    elif len(name) > 32:
        errors["name"] = "姓名不能超过 32 个字"
    if not sector:
        errors["sector"] = "请填写界别"
    elif len(sector) > 32:
        errors["sector"] = "界别不能超过 32 个字"
    if enterprise and len(enterprise) > 128:
        errors["enterprise"] = "委员企业不能超过 128 个字"
    if industry and len(industry) > 32:
        errors["industry"] = "行业不能超过 32 个字"
    if title and len(title) > 32:
        errors["title"] = "职务不能超过 32 个字"
    try:
        phone = member_phone(data.phone)
    except Invalid as exc:
        phone, errors = "", errors | exc.errors
    try:
        role = MemberRole(data.role)
    except ValueError:
        errors["role"] = "请选择委员身份"
        role = None
    committee_id = data.committee_id
    if committee_id is not None and (not row.current or committee_id not in {c.id for c in committees_of(session, ms.org_id)}):
        errors["committee_id"] = "请选择本组织的专委会"
    if errors:
        raise Invalid(next(iter(errors.values())), errors=errors, code="member_invalid")
    account = session.scalar(select(UserAccount).where(UserAccount.member_id == member.id))
    if phone != member.phone:
        taken = session.scalar(select(Member.id).where(Member.phone == phone, Member.id != member.id))
        taken_login = session.scalar(select(UserAccount.id).where(
            UserAccount.login == phone, UserAccount.id != (account.id if account else -1)))
        if taken is not None or taken_login is not None:
            raise Conflict(f"手机号 {phone} 已被其他委员或账号使用，请核对", code="phone_taken",
                           errors={"phone": "该手机号已被其他委员或账号使用"})
        if account is not None and _account_beyond(session, by, account.id):
            raise Forbidden("该委员的账号有高于您权限的授权，不能修改其手机号（登录名）", code="phone_beyond_rank")
    before = {"name": member.name, "phone": member.phone, "sector": member.sector, "enterprise": member.enterprise,
              "industry": member.industry}
    after = {"name": name, "phone": phone, "sector": sector, "enterprise": enterprise, "industry": industry}
    member.name, member.phone, member.sector, member.enterprise = name, phone, sector, enterprise
    member.industry = industry
    if account is not None:
        account.display_name = name
        account.login = phone
    if row.current:
        before |= {"role": ms.role, "title": ms.title, "committee_id": ms.committee_id}
        after |= {"role": role.value, "title": title, "committee_id": committee_id}
        ms.role, ms.title, ms.committee_id = role, title, committee_id
    if before != after:
        record(session, actor=by.actor, action="member.update", target_type="member", target_id=member.id,
               org_id=ms.org_id, before={k: v for k, v in before.items() if after[k] != v},
               after={k: v for k, v in after.items() if before[k] != v})
    try:
        session.flush()
    except IntegrityError:  # a phone taken by a concurrent write since the check above
        session.rollback()
        raise Conflict(f"手机号 {phone} 已被其他委员或账号使用，请核对", code="phone_taken",
                       errors={"phone": "该手机号已被其他委员或账号使用"}) from None
    session.commit()
    return member


def _current(row: MemberRow) -> Membership:
    if not row.current:
        raise Conflict("该委员目前没有在任的任职，不能调动或结束", code="no_current_membership")
    return row.membership


def _day_not_future(day: date | None, today: date, field: str, label: str) -> date:
    if day is None:
        raise Invalid(f"请填写{label}", errors={field: f"请填写{label}"})
    if day > today:
        raise Invalid(f"{label}不能晚于今天", errors={field: f"{label}不能晚于今天"})
    return day


def transfer_member(session: Session, by: Principal, member_id: int, *, to_org_id: int, on: date | None = None,
                    role: str = MemberRole.member.value, today: date | None = None) -> Membership:
    """Move a member to another organisation of the caller's subtree from ``on`` (default today): the
    current membership ends the day before (or on its first day), a new one opens in the target's
    current term. Keeps the rollup exact; audited; commits."""
    today = today or today_cn()
    row = member_for_staff(session, by, member_id, today=today, lock=True)
    ms = _current(row)
    target = org_for_staff(session, by, to_org_id)
    on = _day_not_future(on or today, today, "on", "调动日期")
    try:
        new_role = MemberRole(role)
    except ValueError:
        raise Invalid("请选择在新组织的委员身份", errors={"role": "请选择委员身份"}) from None
    if target.id == ms.org_id:
        raise Invalid("调入组织与当前组织相同", code="same_org", errors={"to_org_id": "请选择另一个组织"})
    if on < ms.start_date:
        raise Invalid(f"调动日期不能早于当前任职开始日期（{ms.start_date.isoformat()}）", code="before_start",
                      errors={"on": "调动日期早于当前任职开始日期"})
    term = current_term(session, target.id, on=on)
    if term is None:
        raise Invalid(f"{target.name}在 {on.isoformat()} 没有在任的届次，请先开始新一届或导入委员名单",
                      code="no_current_term", errors={"to_org_id": "该组织没有当前届次"})
    if session.scalar(select(Membership.id).where(Membership.member_id == member_id, Membership.term_id == term.id)):
        raise Conflict(f"该委员在{target.name}第{term.number}届已有任职记录，不能再次调入同一届",
                       code="already_in_term")
    before = rollup.member_masks(session, [member_id])
    old = {"org_id": ms.org_id, "end_date": ms.end_date}
    ms.end_date = max(on - timedelta(days=1), ms.start_date)
    new = Membership(member_id=member_id, org_id=target.id, term_id=term.id, role=new_role, start_date=on)
    session.add(new)
    session.flush()
    rollup.members_changed(session, before, [member_id])
    record(session, actor=by.actor, action="member.transfer", target_type="member", target_id=member_id,
           org_id=old["org_id"], before=old,
           after={"org_id": target.id, "term_id": term.id, "start_date": on, "role": new_role.value,
                  "old_end_date": ms.end_date})
    session.commit()
    return new


def end_membership(session: Session, by: Principal, member_id: int, *, on: date | None = None,
                   reason: str = "", today: date | None = None) -> Membership:
    """End the member's current membership on ``on`` (the last day served; default today). The member
    keeps their history; rollup kept exact; audited; commits."""
    today = today or today_cn()
    row = member_for_staff(session, by, member_id, today=today, lock=True)
    ms = _current(row)
    on = _day_not_future(on or today, today, "end_date", "结束日期")
    if on < ms.start_date:
        raise Invalid(f"结束日期不能早于任职开始日期（{ms.start_date.isoformat()}）", code="before_start",
                      errors={"end_date": "结束日期早于任职开始日期"})
    before = rollup.member_masks(session, [member_id])
    ms.end_date = on
    session.flush()
    rollup.members_changed(session, before, [member_id])
    record(session, actor=by.actor, action="membership.end", target_type="member", target_id=member_id,
           org_id=ms.org_id, before={"end_date": None}, after={"end_date": on, "reason": reason.strip()[:200]})
    session.commit()
    return ms


# --- organisations -----------------------------------------------------------------------------------

def may_flag_key_counties(session: Session, by: Principal) -> bool:
    """重点帮扶县 are designated by the province (国家和省级): only its 助推办 or administrators change the flag."""
    return any(session.get(Organisation, o).level == OrgLevel.province for o in by.org_ids(*STAFF_ROLES))


def list_orgs(session: Session, by: Principal, *, q: str = "", level: OrgLevel | None = None,
              key_only: bool = False, page: int = 1, per_page: int = 50) -> tuple[list[tuple[Organisation, str]], int]:
    """One page of the caller's staff subtree: (organisation, parent's name), in code order."""
    require_staff(by)
    parent = Organisation.__table__.alias("parent")
    stmt = (select(Organisation, parent.c.name)
            .outerjoin(parent, parent.c.id == Organisation.parent_id)
            .where(Organisation.id.in_(by.scope(*STAFF_ROLES))))
    if q.strip():
        stmt = stmt.where(or_(Organisation.name.contains(q.strip(), autoescape=True),
                              Organisation.code.startswith(q.strip(), autoescape=True)))
    if level is not None:
        stmt = stmt.where(Organisation.level == level)
    if key_only:
        stmt = stmt.where(Organisation.is_key_county.is_(True))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.execute(stmt.order_by(Organisation.code).limit(per_page).offset((_page(page) - 1) * per_page)).all()
    return [(o, p or "") for o, p in rows], total


def set_key_county(session: Session, by: Principal, org_id: int, *, value: bool) -> Organisation:
    """Flag or unflag a county as 重点帮扶县 (province staff/admin only); open boards refresh. Commits."""
    org = org_for_staff(session, by, org_id)
    if not may_flag_key_counties(session, by):
        raise Forbidden("重点帮扶县由省政协认定，只有省级「双助推」办公室或管理员可以修改", code="province_only")
    if org.level != OrgLevel.county:
        raise Invalid("只有县（市、区）可以标为重点帮扶县", code="not_a_county")
    if org.is_key_county == value:
        return org  # a repeated confirmation: nothing to change, nothing to log
    org.is_key_county = value
    session.flush()
    units = [("org", a) for a in session.scalars(ancestor_ids(org.id))] + [("place", org.id)]
    rollup.touch(session, units)
    record(session, actor=by.actor, action="org.key_county", target_type="organisation", target_id=org.id,
           org_id=org.id, before={"is_key_county": not value}, after={"is_key_county": value})
    session.commit()
    return org


# --- sites -------------------------------------------------------------------------------------------

def county_for_staff(session: Session, by: Principal, county_id: int) -> Organisation:
    org = org_for_staff(session, by, county_id)
    if org.level != OrgLevel.county:
        raise Invalid("地点只能建在县（市、区）之下", code="not_a_county")
    return org


def list_sites(session: Session, by: Principal, county_id: int, *, q: str = "", kind: SiteKind | None = None,
               page: int = 1, per_page: int = 50) -> tuple[list[tuple[Site, str]], int]:
    """One page of a county's sites: (site, parent site's name), by code."""
    county_for_staff(session, by, county_id)
    parent = Site.__table__.alias("parent_site")
    stmt = select(Site, parent.c.name).outerjoin(parent, parent.c.id == Site.parent_id).where(Site.county_id == county_id)
    if q.strip():
        stmt = stmt.where(or_(Site.name.contains(q.strip(), autoescape=True),
                              Site.code.startswith(q.strip(), autoescape=True)))
    if kind is not None:
        stmt = stmt.where(Site.kind == kind)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.execute(stmt.order_by(Site.code).limit(per_page).offset((_page(page) - 1) * per_page)).all()
    return [(s, p or "") for s, p in rows], total


def parent_options(session: Session, county_id: int) -> list[Site]:
    """Towns of the county: the parents a new village or site may have."""
    return list(session.scalars(select(Site).where(Site.county_id == county_id, Site.kind == SiteKind.town)
                                .order_by(Site.code)))


def add_site(session: Session, by: Principal, county_id: int, *, code: str, name: str, kind: str,
             parent_id: int | None = None) -> Site:
    """A new 乡镇/村/示范点/委员工作室 under a county (code unique across the province); audited; commits."""
    county = county_for_staff(session, by, county_id)
    errors = {}
    try:
        code = site_code(code)
    except Invalid as exc:
        errors |= exc.errors
    try:
        kind_ = SiteKind(kind)
    except ValueError:
        errors["kind"] = "请选择类型"
        kind_ = None
    if errors:
        raise Invalid(next(iter(errors.values())), errors=errors, code="site_invalid")
    name = site_name(name)
    parent = None
    if parent_id is not None:
        parent = session.get(Site, parent_id)
        if parent is None or parent.county_id != county.id:
            raise Invalid("上级地点须是本县的乡镇/街道", errors={"parent_id": "请重新选择上级地点"})
    if kind_ == SiteKind.village and parent is None:
        raise Invalid("村/社区须选择所属乡镇/街道", errors={"parent_id": "请选择所属乡镇/街道"})
    if session.scalar(select(Site.id).where(Site.code == code)) is not None:
        raise Conflict(f"代码 {code} 已被其他地点使用", code="site_code_taken", errors={"code": "该代码已被使用"})
    site = Site(code=code, name=name, kind=kind_, county_id=county.id, parent_id=parent.id if parent else None)
    session.add(site)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"代码 {code} 已被其他地点使用", code="site_code_taken", errors={"code": "该代码已被使用"}) from None
    record(session, actor=by.actor, action="site.create", target_type="site", target_id=site.id, org_id=county.id,
           after={"code": code, "name": name, "kind": kind_.value, "parent_id": site.parent_id})
    session.commit()
    return site


def site_for_staff(session: Session, by: Principal, site_id: int) -> Site:
    site = session.get(Site, site_id)
    if site is None:
        require_staff(by)
        raise NotFound("找不到该地点，或不在您的管辖范围内", code="site_not_found")
    _require_staff_over(session, by, site.county_id, "地点")
    return site


def rename_site(session: Session, by: Principal, site_id: int, *, name: str) -> Site:
    """Rename a site (its code, kind and place stay); audited; commits."""
    site = site_for_staff(session, by, site_id)
    name = site_name(name)
    if name != site.name:
        record(session, actor=by.actor, action="site.rename", target_type="site", target_id=site.id,
               org_id=site.county_id, before={"name": site.name}, after={"name": name})
        site.name = name
        session.commit()
    return site


def in_scope_counties(session: Session, by: Principal) -> list[Organisation]:
    return scope_orgs(session, by, level=OrgLevel.county)


__all__ = [
    "LEVEL_LABELS", "MEMBER_ROLE_LABELS", "SITE_KIND_LABELS", "MemberEdit", "MemberRow", "add_site",
    "committees_of", "current_term", "end_membership", "in_scope_counties", "list_members", "list_orgs",
    "list_sites", "may_flag_key_counties", "member_for_staff", "member_phone", "parent_options", "rename_site",
    "require_staff", "scope_orgs", "set_key_county", "site_code", "site_for_staff", "site_name", "transfer_member",
    "update_member",
]
