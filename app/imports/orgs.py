"""Import kind ``orgs``: 政协组织 and the sites under counties (乡镇/街道, 村/社区, 示范点, 委员工作室).

Match key: the code — a 6-digit 行政区划代码 for an organisation, the site's own code (≤ 20
characters) for a site; the 类型 column says which. A known code updates the name (and, for a
county, the 重点帮扶县 flag; for a site, its kind); a new one is created under its 上级代码: an
organisation one level below its parent organisation, a site under a county or under another
site (a village under its town), which may itself be a new row of the same file. Moving something
to another parent is not an import's business (the tree's history hangs on it): refused.

Staff create and change only inside their subtree: the parent of a new row, or the row itself,
must lie there (``Orgs.managed``: the caller's staff scope, the same ``Principal.scope`` the
manage pages' loaders ask). A site's code and name follow the sites page's own rules
(``manage.service.site_code`` / ``site_name``). Rows are written parents first; the organisation
tree's closure goes through ``add_org`` (the only code that knows the tree's storage).

Why the writes stay here rather than in a service: the manage pages create one site per use case
(``add_site``: a lookup, a flush and an audit entry each) and no page creates organisations at
all; a province's towns and villages are ~10,000 rows of one file, written in one transaction
with one ``import.orgs`` audit entry for the file, flushing only the sites other new sites hang
under (1.4 s on SQLite) — one use case per row would take minutes and fill the log.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import ClassVar

from sqlalchemy import select
from sqlmodel import Session

from app.auth.principal import Principal
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
    parse_bool,
    parse_choice,
    register,
)
from app.manage.service import site_code, site_name
from app.models import Organisation, OrgLevel, Site, SiteKind
from app.orgs.service import add_org
from app.rollup import service as rollup

TYPES = {
    "省政协": OrgLevel.province, "州市政协": OrgLevel.prefecture, "县级政协": OrgLevel.county,
    "乡镇/街道": SiteKind.town, "村/社区": SiteKind.village, "示范点/助推点": SiteKind.demo_site,
    "委员工作室": SiteKind.studio,
    # What people also write.
    "省": OrgLevel.province, "州市": OrgLevel.prefecture, "州": OrgLevel.prefecture, "市": OrgLevel.prefecture,
    "县": OrgLevel.county, "县市区": OrgLevel.county, "乡镇": SiteKind.town, "街道": SiteKind.town,
    "村": SiteKind.village, "社区": SiteKind.village, "示范点": SiteKind.demo_site, "助推点": SiteKind.demo_site,
}
CHOICES = ("州市政协", "县级政协", "乡镇/街道", "村/社区", "示范点/助推点", "委员工作室")
CHILD_LEVEL = {OrgLevel.province: OrgLevel.prefecture, OrgLevel.prefecture: OrgLevel.county}
LEVEL_LABELS = {OrgLevel.province: "省政协", OrgLevel.prefecture: "州市政协", OrgLevel.county: "县级政协"}


@dataclass
class _Item:
    row: int
    code: str
    name: str
    kind: OrgLevel | SiteKind
    parent_code: str
    key_county: bool | None


@dataclass
class _Payload:
    new_orgs: list[_Item] = field(default_factory=list)  # parents before children
    new_sites: list[_Item] = field(default_factory=list)  # parents before children
    org_updates: list[tuple[int, str, bool]] = field(default_factory=list)  # id, name, key flag
    site_updates: list[tuple[int, str, str]] = field(default_factory=list)  # id, name, kind


class OrgsKind(BaseKind):
    code = "orgs"
    label = "组织和地点"
    columns: ClassVar[list[ColumnSpec]] = [
        ColumnSpec("code", "代码", required=True, text=True, example="530102999",
                   aliases=("组织代码", "地点代码", "编码"),
                   note="政协组织为 6 位行政区划代码；乡镇、村、示范点、工作室为其自身编码（最多 20 位，如乡镇的 9 位代码）"),
        ColumnSpec("name", "名称", required=True, example="示例街道", width=24),
        ColumnSpec("type", "类型", required=True, example="乡镇/街道", choices=CHOICES, aliases=("层级", "级别")),
        ColumnSpec("parent_code", "上级代码", text=True, example="530102",
                   note="新建时必填：州市填省的代码，县填州市的代码，乡镇/示范点/工作室填所在县的代码，村填所在乡镇的代码或县的代码"),
        ColumnSpec("key_county", "重点帮扶县", choices=("是", "否"), example="",
                   note="仅县级政协：是 / 否；空白表示不改（新建时为否）"),
    ]

    def notes(self) -> list[str]:
        return ["按代码匹配：已有的更新名称（县的重点帮扶县标记、地点的类型），没有的在上级代码下新建。",
                "不能通过导入改变上级（调整隶属关系）。"]

    def plan(self, session: Session, by: Principal, rows: list[Row], progress: Progress) -> Plan:
        plan = Plan(kind=self.code, rows=len(rows))
        col = {c.key: c for c in self.columns}
        orgs = Orgs(session, by)
        site_codes = {normalise(r.get("code")) for r in rows} | {normalise(r.get("parent_code")) for r in rows}
        sites = {s.code: s for s in _sites(session, [c for c in site_codes if c])}
        payload = _Payload()
        in_file: dict[str, _Item] = {}
        items: list[tuple[Row, _Item]] = []
        for i, row in enumerate(rows):
            if i % 1000 == 0:
                progress(i)
            item = self._parse(plan, col, row, in_file)
            if item is not None:
                in_file[item.code] = item
                items.append((row, item))
        new_site_county: dict[str, int | None] = {}  # code of a new site → its county (None: unknown yet)

        def org_parent(row: Row, item: _Item) -> tuple[Organisation | None, str | None]:
            if not item.parent_code:
                return None, "新建组织须填写上级代码"
            parent = orgs.by_code.get(item.parent_code.ljust(6, "0")) if item.parent_code.isdigit() and len(item.parent_code) in (2, 4, 6) else None
            if parent is None:
                pending = in_file.get(item.parent_code)
                if pending is not None and isinstance(pending.kind, OrgLevel):
                    if CHILD_LEVEL.get(pending.kind) != item.kind:
                        return None, f"{LEVEL_LABELS[item.kind]}不能建在{LEVEL_LABELS[pending.kind]}之下"
                    return None, None  # a new organisation of this file: created first
                return None, f"上级代码 {item.parent_code} 不存在"
            if CHILD_LEVEL.get(OrgLevel(parent.level)) != item.kind:
                return None, f"{LEVEL_LABELS[item.kind]}不能建在{parent.name}（{LEVEL_LABELS[OrgLevel(parent.level)]}）之下"
            if parent.id not in orgs.managed:
                return None, f"组织不在您的管理范围内：{parent.name}（{parent.code}）"
            return parent, None

        for n, (row, item) in enumerate(items):
            if n % 1000 == 0:
                progress(len(rows) // 2 + n // 2)
            if isinstance(item.kind, OrgLevel):
                existing = orgs.by_code.get(item.code)
                if existing is None:
                    if item.kind is OrgLevel.province:
                        plan.error(row, col["type"], "不能通过导入新建省政协")
                        continue
                    if item.key_county and item.kind is not OrgLevel.county:
                        plan.error(row, col["key_county"], "只有县级政协可以标记为重点帮扶县")
                        continue
                    _, problem = org_parent(row, item)
                    if problem:
                        plan.error(row, col["parent_code"], problem)
                        continue
                    payload.new_orgs.append(item)
                    plan.created += 1
                    continue
                if existing.id not in orgs.managed:
                    plan.error(row, col["code"], f"组织不在您的管理范围内：{existing.name}（{existing.code}）")
                    continue
                if OrgLevel(existing.level) != item.kind:
                    plan.error(row, col["type"], f"{existing.name}是{LEVEL_LABELS[OrgLevel(existing.level)]}，与所填类型不符")
                    continue
                parent = orgs.by_id.get(existing.parent_id)
                if item.parent_code and (parent is None or parent.code != item.parent_code.ljust(6, "0")):
                    plan.error(row, col["parent_code"], "不能通过导入改变上级组织")
                    continue
                flag = existing.is_key_county if item.key_county is None else item.key_county
                if flag and item.kind is not OrgLevel.county:
                    plan.error(row, col["key_county"], "只有县级政协可以标记为重点帮扶县")
                    continue
                if (existing.name, existing.is_key_county) != (item.name, flag):
                    payload.org_updates.append((existing.id, item.name, flag))
                    plan.updated += 1
                else:
                    plan.unchanged += 1
                continue
            # A site.
            if item.key_county is not None and item.key_county:
                plan.error(row, col["key_county"], "只有县级政协可以标记为重点帮扶县")
                continue
            existing_site = sites.get(item.code)
            if existing_site is not None:
                if existing_site.county_id not in orgs.managed:
                    plan.error(row, col["code"], OUT_OF_SCOPE_SITE)
                    continue
                if item.parent_code and not _same_parent(existing_site, item.parent_code, orgs, sites):
                    plan.error(row, col["parent_code"], "不能通过导入改变地点的上级")
                    continue
                if (existing_site.name, existing_site.kind) != (item.name, item.kind.value):
                    payload.site_updates.append((existing_site.id, item.name, item.kind.value))
                    plan.updated += 1
                else:
                    plan.unchanged += 1
                continue
            if not item.parent_code:
                plan.error(row, col["parent_code"], "新建地点须填写所在县（或乡镇）的代码")
                continue
            county = orgs.by_code.get(item.parent_code) if len(item.parent_code) == 6 else None
            if county is not None:
                if county.level != OrgLevel.county:
                    plan.error(row, col["parent_code"], f"地点只能建在县级政协之下，{county.name}不是县级")
                    continue
                county_id = county.id
            elif item.parent_code in sites:
                county_id = sites[item.parent_code].county_id
            elif item.parent_code in new_site_county:
                county_id = new_site_county[item.parent_code]
            else:
                pending = in_file.get(item.parent_code)
                plan.error(row, col["parent_code"], "上级地点须写在本行之前" if pending and not isinstance(pending.kind, OrgLevel)
                           else f"上级代码 {item.parent_code} 不存在")
                continue
            if county_id is None or county_id not in orgs.managed:
                plan.error(row, col["parent_code"], "组织不在您的管理范围内" if county_id else "上级地点有错误")
                continue
            new_site_county[item.code] = county_id
            payload.new_sites.append(item)
            plan.created += 1
        order = {OrgLevel.prefecture: 0, OrgLevel.county: 1}
        payload.new_orgs.sort(key=lambda i: order[i.kind])
        plan.payload = payload
        plan.fingerprint = hashlib.sha256(repr((
            [(i.code, i.name, i.kind.value, i.parent_code, i.key_county) for i in payload.new_orgs],
            [(i.code, i.name, i.kind.value, i.parent_code) for i in payload.new_sites],
            payload.org_updates, payload.site_updates)).encode()).hexdigest()[:32]
        progress(len(rows))
        return plan

    def _parse(self, plan: Plan, col: dict, row: Row, in_file: dict[str, _Item]) -> _Item | None:
        before = len(plan.errors)
        code = normalise(row.get("code")).replace(" ", "")
        kind = None
        try:
            kind = parse_choice(row.get("type"), TYPES, what="类型") if normalise(row.get("type")) else None
            if kind is None:
                plan.error(row, col["type"], "缺少类型")
        except BadCell as exc:
            plan.error(row, col["type"], str(exc))
        if not code:
            plan.error(row, col["code"], "缺少代码")
        elif isinstance(kind, OrgLevel):
            if not code.isdigit() or len(code) not in (2, 4, 6):
                plan.error(row, col["code"], f"组织代码「{code}」格式不正确，应为 6 位行政区划代码")
            else:
                code = code.ljust(6, "0")
        elif kind is not None:
            try:
                code = site_code(code)
            except Invalid as exc:
                plan.error(row, col["code"], exc.message)
        if code and code in in_file:
            plan.error(row, col["code"], f"代码 {code} 在文件中重复出现（第 {in_file[code].row} 行已有）")
        name = normalise(row.get("name"))
        if not name:
            plan.error(row, col["name"], "缺少名称")
        elif isinstance(kind, OrgLevel):
            if len(name) > 64:
                plan.error(row, col["name"], "名称太长")
        else:
            try:
                name = site_name(name)
            except Invalid as exc:
                plan.error(row, col["name"], exc.message)
        key = None
        if normalise(row.get("key_county")):
            try:
                key = parse_bool(row.get("key_county"), what="重点帮扶县")
            except BadCell as exc:
                plan.error(row, col["key_county"], str(exc))
        parent = normalise(row.get("parent_code")).replace(" ", "")
        if parent.isdigit() and len(parent) in (2, 4) and isinstance(kind, OrgLevel):
            parent = parent.ljust(6, "0")
        if len(plan.errors) > before:
            return None
        return _Item(row=row.number, code=code, name=name, kind=kind, parent_code=parent, key_county=key)

    def commit(self, session: Session, by: Principal, plan: Plan) -> None:
        p: _Payload = plan.payload
        touched: set[tuple[str, int]] = set()
        by_code = {o.code: o for o in session.scalars(select(Organisation))}
        for item in p.new_orgs:
            parent = by_code[item.parent_code]
            org = add_org(session, code=item.code, name=item.name, level=item.kind, parent=parent,
                          is_key_county=bool(item.key_county))
            by_code[org.code] = org
            touched |= {("org", parent.id), ("place", org.id)}
        for org_id, name, flag in p.org_updates:
            org = session.get(Organisation, org_id)
            org.name, org.is_key_county = name, flag
            touched |= {("org", org.id), ("place", org.id)} | ({("org", org.parent_id)} if org.parent_id else set())
        sites = {s.code: s for s in _sites(session, [i.parent_code for i in p.new_sites])}
        parents = {i.parent_code for i in p.new_sites}  # new sites other new sites hang under: need their id
        for item in p.new_sites:
            county = by_code.get(item.parent_code)
            if county is not None:
                site = Site(code=item.code, name=item.name, kind=item.kind.value, county_id=county.id)
            else:
                parent = sites[item.parent_code]
                site = Site(code=item.code, name=item.name, kind=item.kind.value, county_id=parent.county_id,
                            parent_id=parent.id)
            session.add(site)
            if site.code in parents:
                session.flush()
                sites[site.code] = site
            touched.add(("place", site.county_id))
        for site_id, name, kind in p.site_updates:
            site = session.get(Site, site_id)
            site.name, site.kind = name, kind
            touched.add(("place", site.county_id))
        session.flush()
        rollup.touch(session, touched)


OUT_OF_SCOPE_SITE = "地点所在的县不在您的管理范围内"


def _sites(session: Session, codes: list[str]) -> list[Site]:
    out: list[Site] = []
    for i in range(0, len(codes), 5000):
        out += list(session.scalars(select(Site).where(Site.code.in_(codes[i:i + 5000]))))
    return out


def _same_parent(site: Site, parent_code: str, orgs: Orgs, sites: dict[str, Site]) -> bool:
    if site.parent_id is None:
        county = orgs.by_id.get(site.county_id)
        return county is not None and county.code == parent_code
    parent = sites.get(parent_code)
    return parent is not None and parent.id == site.parent_id


register(OrgsKind())
