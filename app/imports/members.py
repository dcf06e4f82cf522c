"""Import kind ``members``: 委员 and their memberships (委员名单).

Match key: the phone. A new phone makes a member, their membership in the organisation's current
term (term 1 is started when the organisation has none), a user account without a password (staff
issue activation codes afterwards) and a 委员 grant (and a 领导 grant for 主席会议成员, as the demo
load does). A known phone updates that member (name, 界别, 委员企业) and their current membership
(role, 职务, 专委会, start date); a member whose memberships have all ended gets a new one in the
current term. A member currently serving in another organisation is refused: a transfer is a
change of its own (the members page), not a side effect of a list.

专委会 are named as text: one the organisation lacks is created with the import (the preview says
which), so a first import of a county's list needs no set-up beforehand. 界别 is free text (≤ 32
characters); the template offers the usual list.

Commit writes with bulk statements (ids allocated up front, ``executemany`` updates) and keeps the
boards' 参与率 counters exact: member masks before, ``members_changed`` after, per chunk.

Why the writes stay here rather than in the members' service (``app/manage/service.py``): that
service edits one member per use case (a lookup, a flush and an audit entry each) and has no
creation at all; a province's list is ~30,000 members, their accounts, grants and memberships in
one transaction with one ``import.members`` audit entry — one use case per row would take minutes.
The rules shared with the members page come from there: a phone is read by ``member_phone`` (the
login every account keys on), and who may import into an organisation is the caller's staff scope
(``Orgs``: the same ``Principal.scope`` the manage pages' loaders ask).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import ClassVar

from sqlalchemy import Connection, bindparam, select, text, update
from sqlmodel import Session

from app.auth import principals
from app.auth.principal import Principal
from app.clock import now_utc, today_cn
from app.imports.base import (
    BadCell,
    BaseKind,
    ColumnSpec,
    Orgs,
    Plan,
    Progress,
    Row,
    normalise,
    parse_choice,
    parse_date,
    parse_phone,
    register,
)
from app.models import (
    Committee,
    GrantRole,
    Member,
    MemberRole,
    Membership,
    RoleGrant,
    Term,
    UserAccount,
)
from app.rollup import service as rollup
from app.seed.bulk import bulk_insert, db_date, db_datetime, sync_sequence

ROLES = {"委员": MemberRole.member, "常委": MemberRole.standing, "主席会议成员": MemberRole.chair_council}
ROLE_LABELS = {v: k for k, v in ROLES.items()}
SECTORS = (
    "中共", "民革", "民盟", "民建", "民进", "农工党", "致公党", "九三学社", "无党派人士", "共青团", "工会",
    "妇联", "青联", "工商联", "科协", "台联", "侨联", "文化艺术界", "科学技术界", "社会科学界", "经济界",
    "农业界", "教育界", "体育界", "新闻出版界", "医药卫生界", "对外友好界", "社会福利和社会保障界",
    "少数民族界", "宗教界", "特邀",
)
CHUNK = 5_000  # ids per IN list of our own reads
# Members per rollup.members_changed call: each call upserts the counters of every (organisation,
# year, span) its members touch, so fewer, larger calls write far fewer rows; 30,000 stays under
# SQLite's 32,766 bound parameters in the masks' IN list.
MASK_CHUNK = 30_000


@dataclass
class _NewMember:
    row: int
    name: str
    phone: str
    sector: str
    enterprise: str | None
    industry: str | None
    org_id: int
    role: MemberRole
    title: str | None
    committee: str | None
    start: date | None
    account_id: int | None = None  # an account already using this phone as its login, not yet a member's


@dataclass
class _Payload:
    new_members: list[_NewMember] = field(default_factory=list)
    member_updates: list[dict] = field(default_factory=list)  # id, name, sector, enterprise, industry
    membership_updates: list[dict] = field(default_factory=list)  # id, role, title, committee, start
    new_memberships: list[tuple[int, int, MemberRole, str | None, str | None, date | None]] = field(
        default_factory=list)  # (member id, org, role, title, committee, start)
    new_terms: set[int] = field(default_factory=set)  # orgs without a term
    new_committees: set[tuple[int, str]] = field(default_factory=set)
    start_by_org: dict[int, date] = field(default_factory=dict)  # earliest start for a new term 1


class MembersKind(BaseKind):
    code = "members"
    label = "委员名单"
    columns: ClassVar[list[ColumnSpec]] = [
        ColumnSpec("name", "姓名", required=True, example="张三（示例）", width=10),
        ColumnSpec("phone", "手机号", required=True, text=True, example="13800000000",
                   aliases=("手机", "手机号码", "联系电话", "电话"), note="11 位手机号，是委员的唯一标识（登录账号）"),
        ColumnSpec("org_code", "组织代码", required=True, text=True, example="530102",
                   aliases=("所属组织代码", "政协代码"), note="委员所在政协的 6 位行政区划代码"),
        ColumnSpec("sector", "界别", required=True, example="经济界", note="如 经济界、农业界、中共"),
        ColumnSpec("role", "身份", example="委员", choices=tuple(ROLES), aliases=("委员身份",),
                   note="委员 / 常委 / 主席会议成员；空白为委员"),
        ColumnSpec("title", "职务", example="", aliases=("政协职务",), note="如 副主席、秘书长、专委会主任；可空"),
        ColumnSpec("committee", "专委会", example="", aliases=("所属专委会", "专门委员会"),
                   note="所在专门委员会名称；该组织没有的会随导入新建"),
        ColumnSpec("enterprise", "委员企业", example="", aliases=("企业", "所在企业"), width=24),
        ColumnSpec("start", "任职开始日期", example="2026-01-01", aliases=("开始日期", "任职日期"),
                   note="空白为本届开始日期（新建第 1 届时为今天）"),
        # Last, so files made from the template before 行业 existed keep their columns' order.
        ColumnSpec("industry", "行业", example="", aliases=("所属行业", "从事行业", "行业类别"), width=14,
                   note="委员从事的行业，如 农业、医疗卫生、教育、电子商务；可空，用于补位匹配"),
    ]

    def choices(self, session: Session, by: Principal) -> dict[str, list[str]]:
        return {"sector": list(SECTORS)}

    def notes(self) -> list[str]:
        return ["按手机号匹配：已有的委员更新其信息和当前任职，没有的新建委员、任职和账号（不设密码，导入后可生成激活码）。",
                "委员在其他组织任职的，请在委员管理中办理调动，不能通过导入改变所在组织。"]

    # --- planning ----------------------------------------------------------------------------

    def plan(self, session: Session, by: Principal, rows: list[Row], progress: Progress) -> Plan:
        plan = Plan(kind=self.code, rows=len(rows))
        orgs = Orgs(session, by)
        col = {c.key: c for c in self.columns}
        today = today_cn()
        parsed: list[tuple[Row, _NewMember]] = []
        seen: dict[str, int] = {}
        for i, row in enumerate(rows):
            if i % 2000 == 0:
                progress(i)
            item = self._parse(plan, orgs, col, row, seen, today)
            if item is not None:
                parsed.append((row, item))
        phones = [m.phone for _, m in parsed]
        members = _by_phone(session, phones)
        current = _current_memberships(session, [m.id for m in members.values()])
        accounts = _accounts(session, phones)
        org_ids = {m.org_id for _, m in parsed}
        terms = _current_terms(session, org_ids)
        committees = _committees(session, org_ids)
        ended_here = _ended_in_term(session, [m.id for m in members.values()], [t for t, _ in terms.values()])
        payload = _Payload()
        for n, (row, item) in enumerate(parsed):
            if n % 2000 == 0:
                progress(len(rows) // 2 + n // 2)
            member = members.get(item.phone)
            if member is None:
                account = accounts.get(item.phone)
                if account is not None and account[1] is not None:
                    plan.error(row, col["phone"], f"手机号 {item.phone} 已被其他账号使用")
                    continue
                item.account_id = account[0] if account else None
                payload.new_members.append(item)
                self._term_and_committee(payload, terms, committees, item)
                plan.created += 1
                continue
            changed = False
            fields = {"name": item.name, "sector": item.sector,
                      "enterprise": item.enterprise if row.has("enterprise") else member.enterprise,
                      "industry": item.industry if row.has("industry") else member.industry}
            if (member.name, member.sector, member.enterprise, member.industry) != tuple(fields.values()):
                payload.member_updates.append({"b_id": member.id, **fields})
                changed = True
            seat = current.get(member.id)
            if seat is not None and seat.org_id != item.org_id:
                org = orgs.by_id[seat.org_id]
                where = org.name if seat.org_id in orgs.managed else "其他组织"
                plan.error(row, col["org_code"], f"该委员目前在{where}任职；调动请在委员管理中办理，不能通过导入改变所在组织")
                continue
            if seat is None and (member.id, item.org_id) in ended_here:
                plan.error(row, col["org_code"], f"该委员在本届的任职已于 {ended_here[(member.id, item.org_id)]} 结束；"
                                                 "如需恢复请在委员管理中办理")
                continue
            if seat is None:
                payload.new_memberships.append((member.id, item.org_id, item.role, item.title, item.committee,
                                                item.start))
                self._term_and_committee(payload, terms, committees, item)
                changed = True
            else:
                wanted = {
                    "role": item.role.value if row.has("role") else seat.role,  # a file without 身份 keeps it
                    "title": item.title if row.has("title") else seat.title,
                    "committee_id": seat.committee_id,
                    "start_date": item.start or seat.start_date,
                }
                committee_name = item.committee if row.has("committee") else committees.get(("id", seat.committee_id))
                if committee_name != committees.get(("id", seat.committee_id)):
                    wanted["committee_id"] = None
                    if committee_name:
                        known = committees.get((item.org_id, committee_name))
                        if known is None:
                            payload.new_committees.add((item.org_id, committee_name))
                        wanted["committee_id"] = known
                        wanted["committee_name"] = committee_name
                now = {"role": seat.role, "title": seat.title, "committee_id": seat.committee_id,
                       "start_date": seat.start_date}
                if {k: wanted[k] for k in now} != now or "committee_name" in wanted:
                    payload.membership_updates.append({"b_id": seat.id, "org_id": seat.org_id,
                                                       "member_id": member.id, **wanted})
                    changed = True
            if changed:
                plan.updated += 1
            else:
                plan.unchanged += 1
        for org_id, name in sorted(payload.new_committees):
            plan.notices.append(f"将在{orgs.by_id[org_id].name}新建专委会「{name}」")
        for org_id in sorted(payload.new_terms):
            plan.notices.append(f"{orgs.by_id[org_id].name}还没有届次，将建立第 1 届")
        plan.payload = payload
        plan.fingerprint = _fingerprint(payload)
        progress(len(rows))
        return plan

    def _parse(self, plan: Plan, orgs: Orgs, col: dict[str, ColumnSpec], row: Row, seen: dict[str, int],
               today: date) -> _NewMember | None:
        errors_before = len(plan.errors)
        name = normalise(row.get("name")).replace(" ", "")
        if not name:
            plan.error(row, col["name"], "缺少姓名")
        elif len(name) > 32:
            plan.error(row, col["name"], "姓名不能超过 32 个字")
        phone = ""
        try:
            phone = parse_phone(row.get("phone")) if row.get("phone") else ""
            if not phone:
                plan.error(row, col["phone"], "缺少手机号")
        except BadCell as exc:
            plan.error(row, col["phone"], str(exc))
        if phone:
            if phone in seen:
                plan.error(row, col["phone"], f"手机号 {phone} 在文件中重复出现（第 {seen[phone]} 行已有）")
            else:
                seen[phone] = row.number
        org, problem = orgs.find(row.get("org_code"))
        if problem:
            plan.error(row, col["org_code"], problem)
        sector = normalise(row.get("sector"))
        if not sector:
            plan.error(row, col["sector"], "缺少界别")
        elif len(sector) > 32:
            plan.error(row, col["sector"], "界别不能超过 32 个字")
        role = MemberRole.member
        if normalise(row.get("role")):
            try:
                role = parse_choice(row.get("role"), ROLES, what="身份")
            except BadCell as exc:
                plan.error(row, col["role"], str(exc))
        title = normalise(row.get("title")) or None
        if title and len(title) > 32:
            plan.error(row, col["title"], "职务不能超过 32 个字")
        committee = normalise(row.get("committee")) or None
        if committee and len(committee) > 64:
            plan.error(row, col["committee"], "专委会名称不能超过 64 个字")
        enterprise = normalise(row.get("enterprise")) or None
        if enterprise and len(enterprise) > 128:
            plan.error(row, col["enterprise"], "委员企业名称不能超过 128 个字")
        industry = normalise(row.get("industry")) or None
        if industry and len(industry) > 32:
            plan.error(row, col["industry"], "行业不能超过 32 个字")
        start = None
        if normalise(row.get("start")):
            try:
                start = parse_date(row.get("start"))
                if start.year < 1990 or start > date(today.year + 1, 12, 31):
                    plan.error(row, col["start"], f"任职开始日期 {start.isoformat()} 不合理，请核对")
            except BadCell as exc:
                plan.error(row, col["start"], str(exc))
        if len(plan.errors) > errors_before:
            return None
        return _NewMember(row=row.number, name=name, phone=phone, sector=sector, enterprise=enterprise,
                          industry=industry, org_id=org.id, role=role, title=title, committee=committee, start=start)

    @staticmethod
    def _term_and_committee(payload: _Payload, terms: dict, committees: dict, item: _NewMember) -> None:
        if item.org_id not in terms:
            payload.new_terms.add(item.org_id)
            if item.start:
                known = payload.start_by_org.get(item.org_id)
                payload.start_by_org[item.org_id] = min(known, item.start) if known else item.start
        if item.committee and (item.org_id, item.committee) not in committees:
            payload.new_committees.add((item.org_id, item.committee))

    # --- writing -------------------------------------------------------------------------------

    def commit(self, session: Session, by: Principal, plan: Plan) -> None:
        p: _Payload = plan.payload
        conn = session.connection()
        # Grants and memberships go in through raw driver calls: signed-in callers' caches must hear of it.
        principals.note_write()
        now = db_datetime(conn, now_utc())
        today = today_cn()
        # Terms and committees first: memberships refer to them.
        for org_id in sorted(p.new_terms):
            start = min(p.start_by_org.get(org_id, today), today)
            session.add(Term(org_id=org_id, number=1, start_date=start))
        for org_id, name in sorted(p.new_committees):
            session.add(Committee(org_id=org_id, name=name))
        session.flush()
        org_ids = ({m.org_id for m in p.new_members} | {m[1] for m in p.new_memberships}
                   | {u["org_id"] for u in p.membership_updates})
        terms = _current_terms(session, org_ids)
        committees = _committees(session, org_ids)

        def committee_id(org_id: int, name: str | None) -> int | None:
            return committees[(org_id, name)] if name else None

        touched = [m[0] for m in p.new_memberships] + [u["member_id"] for u in p.membership_updates
                                                          if "start_date" in u]
        before = _masks(session, touched)
        if p.member_updates:
            conn.execute(update(Member).where(Member.id == bindparam("b_id")).values(
                name=bindparam("name"), sector=bindparam("sector"), enterprise=bindparam("enterprise"),
                industry=bindparam("industry")),
                p.member_updates)
        if p.membership_updates:
            rows = [{"b_id": u["b_id"], "role": u["role"], "title": u["title"], "start_date": u["start_date"],
                     "committee_id": committee_id(u["org_id"], u["committee_name"]) if "committee_name" in u
                     else u["committee_id"]} for u in p.membership_updates]
            conn.execute(update(Membership).where(Membership.id == bindparam("b_id")).values(
                role=bindparam("role"), title=bindparam("title"), committee_id=bindparam("committee_id"),
                start_date=bindparam("start_date")), rows)
        memberships = [
            (member_id, org_id, terms[org_id][0], role.value, title, committee_id(org_id, committee),
             db_date(conn, start or terms[org_id][1]))
            for member_id, org_id, role, title, committee, start in p.new_memberships
        ]
        new = p.new_members
        if new:
            member_ids = _allocate(conn, "member", len(new))
            user_ids = _allocate(conn, "user_account", len(new))
            bulk_insert(conn, "member", ("id", "name", "phone", "sector", "enterprise", "industry", "created_at"),
                        [(i, m.name, m.phone, m.sector, m.enterprise, m.industry, now)
                         for i, m in zip(member_ids, new, strict=True)])
            memberships += [
                (i, m.org_id, terms[m.org_id][0], m.role.value, m.title, committee_id(m.org_id, m.committee),
                 db_date(conn, m.start or terms[m.org_id][1])) for i, m in zip(member_ids, new, strict=True)]
            bulk_insert(conn, "user_account", ("id", "login", "password_hash", "display_name", "is_active",
                                               "member_id", "created_at"),
                        [(u, m.phone, None, m.name, True, i, now)
                         for u, i, m in zip(user_ids, member_ids, new, strict=True) if m.account_id is None])
            user_ids = [m.account_id or u for u, m in zip(user_ids, new, strict=True)]
            linked = [{"b_id": m.account_id, "member_id": i} for i, m in zip(member_ids, new, strict=True)
                      if m.account_id is not None]
            if linked:  # an account that already logs in with this phone becomes the member's
                conn.execute(update(UserAccount).where(UserAccount.id == bindparam("b_id")).values(
                    member_id=bindparam("member_id")), linked)
            grants = [(u, GrantRole.member.value, m.org_id) for u, m in zip(user_ids, new, strict=True)]
            grants += [(u, GrantRole.leader.value, m.org_id) for u, m in zip(user_ids, new, strict=True)
                       if m.role is MemberRole.chair_council]
            linked_ids = [u["b_id"] for u in linked]
            if linked_ids:
                held = {tuple(r) for r in conn.execute(select(RoleGrant.user_id, RoleGrant.role, RoleGrant.org_id)
                                                       .where(RoleGrant.user_id.in_(linked_ids)))}
                grants = [g for g in grants if g not in held]
            grant_ids = _allocate(conn, "role_grant", len(grants))
            bulk_insert(conn, "role_grant", ("id", "user_id", "role", "org_id", "granted_by_user_id", "created_at"),
                        [(g, u, role, org, by.user_id, now) for g, (u, role, org) in zip(grant_ids, grants, strict=True)])
            touched += member_ids
            sync_sequence(conn, "member")
            sync_sequence(conn, "user_account")
            sync_sequence(conn, "role_grant")
        if memberships:
            ids = _allocate(conn, "membership", len(memberships))
            bulk_insert(conn, "membership", ("id", "member_id", "org_id", "term_id", "role", "title", "committee_id",
                                             "start_date"), [(i, *m) for i, m in zip(ids, memberships, strict=True)])
            sync_sequence(conn, "membership")
        # Existing members' accounts: a 委员 grant for a new seat, a 领导 grant for 主席会议成员 (as new ones get).
        wanted = [(m[0], GrantRole.member.value, m[1]) for m in p.new_memberships]
        wanted += [(m[0], GrantRole.leader.value, m[1]) for m in p.new_memberships if m[2] is MemberRole.chair_council]
        wanted += [(u["member_id"], GrantRole.leader.value, u["org_id"]) for u in p.membership_updates
                   if u["role"] == MemberRole.chair_council.value]
        _ensure_grants(conn, wanted, by_user=by.user_id, now=now)
        session.expire_all()
        for chunk in _chunks(touched, MASK_CHUNK):
            ids = set(chunk)
            rollup.members_changed(session, {k: v for k, v in before.items() if k[0] in ids}, chunk)


def _ensure_grants(conn: Connection, wanted: list[tuple[int, str, int]], *, by_user: int, now: datetime | str) -> None:
    """Grant (member's account, role, org) where the member has an account and lacks the grant."""
    if not wanted:
        return
    accounts: dict[int, int] = {}
    for chunk in _chunks(sorted({m for m, _, _ in wanted})):
        accounts |= dict(conn.execute(select(UserAccount.member_id, UserAccount.id)
                                      .where(UserAccount.member_id.in_(chunk))).all())
    held: set[tuple] = set()
    for chunk in _chunks(sorted(set(accounts.values()))):
        held |= {tuple(r) for r in conn.execute(select(RoleGrant.user_id, RoleGrant.role, RoleGrant.org_id)
                                                 .where(RoleGrant.user_id.in_(chunk)))}
    rows = sorted({(accounts[m], role, org) for m, role, org in wanted if m in accounts} - held)
    if rows:
        ids = _allocate(conn, "role_grant", len(rows))
        bulk_insert(conn, "role_grant", ("id", "user_id", "role", "org_id", "granted_by_user_id", "created_at"),
                    [(i, u, role, org, by_user, now) for i, (u, role, org) in zip(ids, rows, strict=True)])
        sync_sequence(conn, "role_grant")


def _masks(session: Session, members: list[int]) -> rollup.Masks:
    out: rollup.Masks = {}
    for i in range(0, len(members), CHUNK):
        out |= rollup.member_masks(session, members[i:i + CHUNK])
    return out


def _allocate(conn: Connection, table: str, n: int) -> list[int]:
    """``n`` fresh ids: from the sequence on PostgreSQL (concurrent writers never collide); on
    SQLite above the current maximum (the writer holds the database lock)."""
    if n == 0:
        return []
    if conn.dialect.name == "postgresql":
        return list(conn.execute(text(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) "
                                      "FROM generate_series(1, :n)"), {"n": n}).scalars())
    first = conn.execute(text(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")).scalar_one()
    return list(range(first, first + n))


def _chunks(items: list, size: int = CHUNK) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


# Plain rows, not ORM objects: 30,000 of them are read twice per import (preview, then commit).
_MEMBER_COLUMNS = (Member.id, Member.phone, Member.name, Member.sector, Member.enterprise, Member.industry)
_SEAT_COLUMNS = (Membership.id, Membership.member_id, Membership.org_id, Membership.role, Membership.title,
                 Membership.committee_id, Membership.start_date)


def _by_phone(session: Session, phones: list[str]) -> dict:
    out: dict = {}
    for chunk in _chunks(phones):
        out |= {m.phone: m for m in session.execute(select(*_MEMBER_COLUMNS).where(Member.phone.in_(chunk)))}
    return out


def _current_memberships(session: Session, member_ids: list[int]) -> dict:
    """Each member's open membership (the latest one if, against the rules, there are two)."""
    out: dict = {}
    for chunk in _chunks(member_ids):
        for m in session.execute(select(*_SEAT_COLUMNS).where(Membership.member_id.in_(chunk),
                                                               Membership.end_date.is_(None))
                                 .order_by(Membership.start_date)):
            out[m.member_id] = m
    return out


def _ended_in_term(session: Session, member_ids: list[int], term_ids: list[int]) -> dict[tuple[int, int], date]:
    """(member, org) → end date of an ended membership in the organisation's current term (a seat
    cannot be taken twice in one term)."""
    out: dict[tuple[int, int], date] = {}
    if not term_ids:
        return out
    for chunk in _chunks(member_ids):
        for member_id, org_id, end in session.execute(select(Membership.member_id, Membership.org_id, Membership.end_date)
                                                      .where(Membership.member_id.in_(chunk),
                                                             Membership.term_id.in_(term_ids),
                                                             Membership.end_date.is_not(None))):
            out[(member_id, org_id)] = end
    return out


def _accounts(session: Session, phones: list[str]) -> dict[str, tuple[int, int | None]]:
    out: dict[str, tuple[int, int | None]] = {}
    for chunk in _chunks(phones):
        out |= {login: (uid, mid) for uid, login, mid in session.execute(
            select(UserAccount.id, UserAccount.login, UserAccount.member_id).where(UserAccount.login.in_(chunk)))}
    return out


def _current_terms(session: Session, org_ids: Iterable[int]) -> dict[int, tuple[int, date]]:
    """org → (id, start) of its current term: the highest-numbered one."""
    out: dict[int, tuple[int, date]] = {}
    ids = list(org_ids)
    if ids:
        for t in session.scalars(select(Term).where(Term.org_id.in_(ids)).order_by(Term.number)):
            out[t.org_id] = (t.id, t.start_date)
    return out


def _committees(session: Session, org_ids: Iterable[int]) -> dict:
    """(org, name) → id and ("id", id) → name."""
    out: dict = {("id", None): None}
    ids = list(org_ids)
    if ids:
        for c in session.scalars(select(Committee).where(Committee.org_id.in_(ids))):
            out[(c.org_id, c.name)] = c.id
            out[("id", c.id)] = c.name
    return out


def _fingerprint(p: _Payload) -> str:
    h = hashlib.sha256()
    for part in (sorted((m.phone, m.name, m.org_id, m.role.value, m.title or "", m.committee or "", m.industry or "")
                        for m in p.new_members),
                 sorted(repr(sorted(u.items())) for u in p.member_updates),
                 sorted(repr(sorted((k, str(v)) for k, v in u.items())) for u in p.membership_updates),
                 sorted(repr(m) for m in p.new_memberships), sorted(p.new_terms), sorted(p.new_committees)):
        h.update(repr(part).encode())
    return h.hexdigest()[:32]


register(MembersKind())
