"""Import kind ``assignments``: 挂联, one row per leader × place × start date.

Every rule is ``app/links/service.py``'s, called through its public plan / apply pairs — the very
functions the page and the API run: ``plan_link`` (who may be linked where by whom, the dates, the
overlap rule against the stored links) and ``plan_change`` for a row whose leader × place × start
date exists already (its role, end date and note change; an ended link's history is not rewritten;
identical, it is unchanged). Between the file's own rows, ``links.overlaps`` — the same overlap rule
for links not stored yet. This module only reads the cells (phone, name, place code, role, dates)
and says which row and column each of the service's Chinese messages belongs to.

Committing plans each row again under the service's lock (the leader's row, or the link's, on
PostgreSQL) and writes it with ``apply_link`` / ``apply_change``: one ``link.create`` or
``link.change`` audit entry per link, with the page's before/after, and the county's boards told —
all in the import's one transaction, beside its ``import.assignments`` summary entry. A 挂联 file
has at most a few thousand rows, so writing them one by one costs nothing worth a bulk path.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, field
from datetime import date
from typing import ClassVar

from sqlalchemy import select
from sqlmodel import Session, col

from app.auth.principal import Principal
from app.errors import Conflict, DomainError, Forbidden, NotFound
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
from app.links import service as links
from app.links.schemas import LinkChange, LinkCreate
from app.models import LinkRole, Member, Organisation, OrgLevel, Site

ROLES = {"挂联领导": LinkRole.lead, "联络员": LinkRole.liaison}
# Which column a message of the links service belongs to: by the form field it names, else by its code.
FIELD_COLUMNS = {"leader_member_id": "leader_phone", "county_id": "place_code", "site_id": "place_code",
                 "role": "role", "start_date": "start", "end_date": "end", "note": "note"}
CODE_COLUMNS = {"place_out_of_scope": "place_code", "not_a_leader": "leader_phone",
                "needs_reassignment": "leader_phone", "link_overlap": "start", "link_ended": "end"}


@dataclass
class _Cells:
    """A row's cells, read: who, where, what."""

    leader: Member
    county: Organisation
    site: Site | None
    role: LinkRole
    start: date
    end: date | None
    note: str


@dataclass
class _New:
    row: int
    data: LinkCreate
    planned: links.LinkPlan


@dataclass
class _Change:
    row: int
    link_id: int
    data: LinkChange
    planned: links.ChangePlan


@dataclass
class _Payload:
    new: list[_New] = field(default_factory=list)
    changes: list[_Change] = field(default_factory=list)


class AssignmentsKind(BaseKind):
    code = "assignments"
    label = "挂联安排"
    columns: ClassVar[list[ColumnSpec]] = [
        ColumnSpec("leader_phone", "领导手机号", required=True, text=True, example="13800000000",
                   aliases=("手机号", "挂联领导手机号"), note="挂联领导或联络员的手机号（须已导入为委员）"),
        ColumnSpec("leader_name", "领导姓名", example="张三（示例）", aliases=("姓名", "挂联领导"),
                   note="可选，填写时须与该手机号的委员姓名一致（防止填错人）"),
        ColumnSpec("place_code", "挂联地点代码", required=True, text=True, example="530102",
                   aliases=("地点代码", "挂联县代码"), note="县级政协的 6 位代码，或该县乡镇/村/示范点的代码"),
        ColumnSpec("role", "挂联身份", example="挂联领导", choices=tuple(ROLES), aliases=("身份",),
                   note="挂联领导 / 联络员；空白为挂联领导"),
        ColumnSpec("start", "开始日期", required=True, example="2026-01-01"),
        ColumnSpec("end", "结束日期", example="", note="可选；自该日起不再挂联"),
        ColumnSpec("note", "备注", example="", width=30),
    ]

    def notes(self) -> list[str]:
        return ["按 领导 × 地点 × 开始日期 匹配：已有的更新身份、结束日期和备注，没有的新增。",
                "领导须是该县或其上级政协现任的主席会议成员或担任职务的委员；同一领导同一地点的挂联时间不能重叠。"]

    def plan(self, session: Session, by: Principal, rows: list[Row], progress: Progress) -> Plan:
        plan = Plan(kind=self.code, rows=len(rows))
        col_ = {c.key: c for c in self.columns}
        orgs = Orgs(session, by)
        codes = [normalise(r.get("place_code")).replace(" ", "") for r in rows]
        sites = {s.code: s for s in session.scalars(select(Site).where(col(Site.code).in_([c for c in codes if len(c) > 6])))}
        phones: dict[int, str] = {}
        for row in rows:
            with contextlib.suppress(BadCell):  # reported with the row's other cells, by _read
                phones[row.number] = parse_phone(row.get("leader_phone"))
        members = {m.phone: m for m in session.scalars(select(Member).where(col(Member.phone).in_(set(phones.values()))))}
        planned: list[tuple[int, links.LinkPlan]] = []  # (row, the link as it will be) of the rows so far
        payload = _Payload()
        for i, row in enumerate(rows):
            if i % 500 == 0:
                progress(i)
            cells = self._read(plan, col_, row, orgs, sites, members, phones)
            if cells is None:
                continue
            existing = links.link_starting(session, leader_member_id=cells.leader.id, county_id=cells.county.id,
                                           site_id=cells.site.id if cells.site else None, start_date=cells.start)
            try:
                if existing is not None:
                    change = LinkChange(role=cells.role, end_date=cells.end, note=cells.note)
                    found = links.plan_change(session, by=by, link_id=existing.id, data=change)
                    if not found.changed:
                        plan.unchanged += 1
                        continue
                    item: _New | _Change = _Change(row.number, existing.id, change, found)
                    as_planned = found.as_planned()
                else:
                    create = LinkCreate(leader_member_id=cells.leader.id, county_id=cells.county.id,
                                        site_id=cells.site.id if cells.site else None, role=cells.role,
                                        start_date=cells.start, end_date=cells.end, note=cells.note)
                    new = links.plan_link(session, by=by, data=create)
                    item, as_planned = _New(row.number, create, new), new
            except DomainError as exc:
                column = _column_of(exc, change=existing is not None)
                message = exc.message
                if exc.code == "not_a_leader":  # the form's words hide who; the file named them already
                    message = (f"{cells.leader.name}不是{cells.county.name}或其上级政协现任的主席会议成员或领导职务，"
                               "或不在您的管理范围内")
                plan.error(row, col_[column], message)
                continue
            clash = next((r for r, other in planned if links.overlaps(other, as_planned)), None)
            if clash is not None:
                plan.error(row, col_["start"], f"与第 {clash} 行是同一领导同一地点，时间重叠")
                continue
            planned.append((row.number, as_planned))
            if isinstance(item, _Change):
                payload.changes.append(item)
                plan.updated += 1
            else:
                payload.new.append(item)
                plan.created += 1
        plan.payload = payload
        plan.fingerprint = hashlib.sha256(repr((
            [(n.data.leader_member_id, n.data.county_id, n.data.site_id, n.data.role.value, n.data.start_date,
              n.data.end_date, n.data.note) for n in payload.new],
            [(c.link_id, c.data.role, c.data.end_date, c.data.note) for c in payload.changes])).encode()).hexdigest()[:32]
        progress(len(rows))
        return plan

    def _read(self, plan: Plan, col_: dict[str, ColumnSpec], row: Row, orgs: Orgs, sites: dict[str, Site],
              members: dict[str, Member], phones: dict[int, str]) -> _Cells | None:
        """The row's cells as values, or None with each unreadable cell reported (no rule is checked here)."""
        before = len(plan.errors)
        leader = None
        if not normalise(row.get("leader_phone")):
            plan.error(row, col_["leader_phone"], "缺少领导手机号")
        elif row.number not in phones:
            plan.error(row, col_["leader_phone"], f"手机号「{row.get('leader_phone')}」格式不正确，应为 11 位手机号码")
        else:
            leader = members.get(phones[row.number])
            if leader is None:
                plan.error(row, col_["leader_phone"], f"手机号 {phones[row.number]} 不是已登记的委员（请先导入委员名单）")
            elif normalise(row.get("leader_name")) and normalise(row.get("leader_name")).replace(" ", "") != leader.name:
                plan.error(row, col_["leader_name"], f"姓名与手机号不符：该手机号登记的委员是{leader.name}")
        code = normalise(row.get("place_code")).replace(" ", "")
        county = site = None
        if not code:
            plan.error(row, col_["place_code"], "缺少挂联地点代码")
        elif code in sites:
            site = sites[code]
            county = orgs.by_id.get(site.county_id)
        else:
            # Whose place it is to link is the links service's question (plan_link), not the file's.
            county = orgs.by_code.get(code.ljust(6, "0")) if code.isdigit() and len(code) in (2, 4, 6) else None
            if county is None:
                plan.error(row, col_["place_code"], f"地点代码 {code} 不存在")
            elif county.level != OrgLevel.county:
                plan.error(row, col_["place_code"], f"{county.name}不是县级政协：请填写县或其乡镇/村/示范点的代码")
        role = LinkRole.lead
        if normalise(row.get("role")):
            try:
                role = parse_choice(row.get("role"), ROLES, what="挂联身份")
            except BadCell as exc:
                plan.error(row, col_["role"], str(exc))
        start = end = None
        try:
            start = parse_date(row.get("start")) if normalise(row.get("start")) else None
            if start is None:
                plan.error(row, col_["start"], "缺少开始日期")
        except BadCell as exc:
            plan.error(row, col_["start"], str(exc))
        try:
            end = parse_date(row.get("end")) if normalise(row.get("end")) else None
        except BadCell as exc:
            plan.error(row, col_["end"], str(exc))
        note = normalise(row.get("note"))
        if len(note) > 500:
            plan.error(row, col_["note"], "备注不能超过 500 字")
        if len(plan.errors) > before or leader is None or county is None or start is None:
            return None
        return _Cells(leader=leader, county=county, site=site, role=role, start=start, end=end, note=note)

    def commit(self, session: Session, by: Principal, plan: Plan) -> None:
        p: _Payload = plan.payload
        # Each row planned again under the service's lock, then written as the page writes it.
        items: list[_New | _Change] = [*p.new, *p.changes]
        for item in sorted(items, key=lambda x: x.row):
            try:
                if isinstance(item, _New):
                    links.apply_link(session, by=by, plan=links.plan_link(session, by=by, data=item.data, lock=True))
                else:
                    links.apply_change(session, by=by, plan=links.plan_change(
                        session, by=by, link_id=item.link_id, data=item.data, lock=True))
            except DomainError as exc:
                raise Conflict(f"第 {item.row} 行：{exc.message}；没有导入任何数据", code="import_conflict") from None


def _column_of(exc: DomainError, *, change: bool) -> str:
    """The template column a links-service message belongs to (the leader, when nothing more precise)."""
    for name in exc.errors:
        if name in FIELD_COLUMNS:
            return FIELD_COLUMNS[name]
    if change:
        # A change moves only the role, end date and note: a clash is the end date's doing; a link
        # the importer may not see or change is the leader's link there.
        return "end" if exc.code == "link_overlap" else CODE_COLUMNS.get(exc.code, "leader_phone")
    # A new link: what is not found, or not the importer's to link, is the place.
    return CODE_COLUMNS.get(exc.code, "place_code" if isinstance(exc, NotFound | Forbidden) else "leader_phone")


register(AssignmentsKind())
