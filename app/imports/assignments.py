"""Import kind ``assignments``: 挂联, one row per leader × place × start date.

The rules are ``app/links/service.py``'s, reused: who may be a leader there (主席会议成员 or a
member with a post, serving today in the place's county or above, and in the importer's scope —
the same SQL conditions ``assign_leader`` uses), the date rules (``_check_dates``), the overlap
rule (``_overlapping``: same leader, same place, a day in common — checked against the database
and between the file's own rows). The place is a county's code or a site's code (the link is then
to that site, in its county). A row whose leader × place × start date exists already updates that
link's role, end date and note (an ended link's history is not rewritten: refused); identical, it
is unchanged.

Unlike the page, which saves one link per use case, the import writes all its links in the one
transaction of the import, with the import's single audit entry; the place's boards are told.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from typing import ClassVar

from sqlalchemy import exists, select
from sqlmodel import Session

from app.auth.principal import LINK_ROLES, Principal
from app.clock import today_cn
from app.errors import Invalid
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
from app.links.service import _check_dates, _holds_post, _overlapping, _serving_on
from app.models import LinkAssignment, LinkRole, Member, Membership, OrgLevel, Site
from app.orgs.service import ancestor_ids
from app.rollup import service as rollup

ROLES = {"挂联领导": LinkRole.lead, "联络员": LinkRole.liaison}


@dataclass
class _Link:
    row: int
    leader_id: int
    county_id: int
    site_id: int | None
    role: LinkRole
    start: date
    end: date | None
    note: str


@dataclass
class _Payload:
    new: list[_Link] = field(default_factory=list)
    changes: list[tuple[int, _Link]] = field(default_factory=list)  # (existing link id, wanted)


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
        col = {c.key: c for c in self.columns}
        orgs = Orgs(session, by)
        today = today_cn()
        codes = [normalise(r.get("place_code")) for r in rows]
        sites = {s.code: s for s in session.scalars(select(Site).where(Site.code.in_([c for c in codes if len(c) > 6])))}
        phones: dict[int, str] = {}
        for row in rows:
            try:
                phones[row.number] = parse_phone(row.get("leader_phone"))
            except BadCell:
                pass
        members = {m.phone: m for m in session.scalars(select(Member).where(Member.phone.in_(set(phones.values()))))}
        wanted: list[tuple[Row, _Link]] = []
        payload = _Payload()
        for i, row in enumerate(rows):
            if i % 500 == 0:
                progress(i)
            link = self._parse(session, by, plan, col, row, orgs, sites, members, phones, today)
            if link is None:
                continue
            clash_in_file = next((r for r, other in wanted if _same_place(other, link) and _overlap(other, link)), None)
            if clash_in_file is not None:
                plan.error(row, col["start"], f"与第 {clash_in_file.number} 行是同一领导同一地点，时间重叠")
                continue
            wanted.append((row, link))
            existing = session.scalar(select(LinkAssignment).where(
                LinkAssignment.leader_member_id == link.leader_id, LinkAssignment.county_id == link.county_id,
                LinkAssignment.site_id.is_(None) if link.site_id is None else LinkAssignment.site_id == link.site_id,
                LinkAssignment.start_date == link.start))
            if existing is not None:
                same = (existing.role, existing.end_date, existing.note) == (link.role.value, link.end, link.note)
                if same:
                    plan.unchanged += 1
                    continue
                if existing.end_date is not None and existing.end_date <= today:
                    plan.error(row, col["end"], "这条挂联已经结束，历史记录不能修改；如需重新挂联，请填写新的开始日期")
                    continue
                clash = _overlapping(session, leader_id=link.leader_id, county_id=link.county_id, site_id=link.site_id,
                                     start=link.start, end=link.end, exclude_id=existing.id)
                if clash is not None:
                    plan.error(row, col["end"], _clash_message(clash))
                    continue
                payload.changes.append((existing.id, link))
                plan.updated += 1
                continue
            clash = _overlapping(session, leader_id=link.leader_id, county_id=link.county_id, site_id=link.site_id,
                                 start=link.start, end=link.end)
            if clash is not None:
                plan.error(row, col["start"], _clash_message(clash))
                continue
            payload.new.append(link)
            plan.created += 1
        plan.payload = payload
        plan.fingerprint = hashlib.sha256(repr(
            ([(l.leader_id, l.county_id, l.site_id, l.role.value, l.start, l.end, l.note) for l in payload.new],
             [(i, l.role.value, l.end, l.note) for i, l in payload.changes])).encode()).hexdigest()[:32]
        progress(len(rows))
        return plan

    def _parse(self, session: Session, by: Principal, plan: Plan, col: dict, row: Row, orgs: Orgs,
               sites: dict[str, Site], members: dict[str, Member], phones: dict[int, str], today: date) -> _Link | None:
        before = len(plan.errors)
        leader = None
        if not normalise(row.get("leader_phone")):
            plan.error(row, col["leader_phone"], "缺少领导手机号")
        elif row.number not in phones:
            plan.error(row, col["leader_phone"], f"手机号「{row.get('leader_phone')}」格式不正确，应为 11 位手机号码")
        else:
            leader = members.get(phones[row.number])
            if leader is None:
                plan.error(row, col["leader_phone"], f"手机号 {phones[row.number]} 不是已登记的委员（请先导入委员名单）")
            elif normalise(row.get("leader_name")) and normalise(row.get("leader_name")).replace(" ", "") != leader.name:
                plan.error(row, col["leader_name"], f"姓名与手机号不符：该手机号登记的委员是{leader.name}")
        code = normalise(row.get("place_code")).replace(" ", "")
        county = site = None
        if not code:
            plan.error(row, col["place_code"], "缺少挂联地点代码")
        elif code in sites:
            site = sites[code]
            county = orgs.by_id.get(site.county_id)
        else:
            county, problem = orgs.find(code)
            if county is None and problem and problem.startswith("组织代码") and "不存在" in problem:
                problem = f"地点代码 {code} 不存在"
            if problem is None and county.level != OrgLevel.county:
                problem = f"{county.name}不是县级政协：请填写县或其乡镇/村/示范点的代码"
            if problem:
                plan.error(row, col["place_code"], problem)
                county = None
        if county is not None and county.id not in orgs.managed:
            plan.error(row, col["place_code"], f"组织不在您的管理范围内：{county.name}（{county.code}）")
            county = None
        role = LinkRole.lead
        if normalise(row.get("role")):
            try:
                role = parse_choice(row.get("role"), ROLES, what="挂联身份")
            except BadCell as exc:
                plan.error(row, col["role"], str(exc))
        start = end = None
        try:
            start = parse_date(row.get("start")) if normalise(row.get("start")) else None
            if start is None:
                plan.error(row, col["start"], "缺少开始日期")
        except BadCell as exc:
            plan.error(row, col["start"], str(exc))
        try:
            end = parse_date(row.get("end")) if normalise(row.get("end")) else None
        except BadCell as exc:
            plan.error(row, col["end"], str(exc))
        if start is not None:
            try:
                _check_dates(start, end, today)
            except Invalid as exc:
                which = "end" if "end_date" in exc.errors else "start"
                plan.error(row, col[which], exc.message)
        note = normalise(row.get("note"))
        if len(note) > 500:
            plan.error(row, col["note"], "备注不能超过 500 字")
        if leader is not None and county is not None and len(plan.errors) == before:
            eligible = exists().where(
                Membership.member_id == leader.id, _holds_post(), _serving_on(today),
                Membership.org_id.in_(ancestor_ids(county.id)), Membership.org_id.in_(by.scope(*LINK_ROLES)))
            if not session.scalar(select(eligible)):
                plan.error(row, col["leader_phone"], f"{leader.name}不是{county.name}或其上级政协现任的主席会议成员或领导职务，"
                                                     "或不在您的管理范围内")
        if len(plan.errors) > before:
            return None
        return _Link(row=row.number, leader_id=leader.id, county_id=county.id, site_id=site.id if site else None,
                     role=role, start=start, end=end, note=note)

    def commit(self, session: Session, by: Principal, plan: Plan) -> None:
        p: _Payload = plan.payload
        for link in p.new:
            session.add(LinkAssignment(leader_member_id=link.leader_id, county_id=link.county_id, site_id=link.site_id,
                                       role=link.role, start_date=link.start, end_date=link.end, note=link.note,
                                       assigned_by_user_id=by.user_id))
        for link_id, wanted in p.changes:
            existing = session.get(LinkAssignment, link_id)
            existing.role, existing.end_date, existing.note = wanted.role, wanted.end, wanted.note
        session.flush()
        rollup.touch(session, {("place", link.county_id) for link in p.new} | {("place", l.county_id) for _, l in p.changes})


def _same_place(a: _Link, b: _Link) -> bool:
    return (a.leader_id, a.county_id, a.site_id) == (b.leader_id, b.county_id, b.site_id)


def _overlap(a: _Link, b: _Link) -> bool:
    return (a.end is None or b.start < a.end) and (b.end is None or a.start < b.end)


def _clash_message(clash: LinkAssignment) -> str:
    span = f"{clash.start_date.isoformat()} 起" + (f"至 {clash.end_date.isoformat()}" if clash.end_date else "")
    return f"该领导已挂联该地点（{span}），时间不能重叠；如需调整，请修改或结束原来的挂联"


register(AssignmentsKind())
