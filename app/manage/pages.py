"""数据管理 pages for the 助推办 (/manage/...): members (edit, transfer, end a membership with a
confirmation), organisations (the 重点帮扶县 flag, with a confirmation), sites under a county (add,
rename), the catalogue (tasks and indicators) and the report's wording.

Every rule is the services' (app/manage/service.py, app/manage/catalogue.py); these handlers
translate between the browser and them. Lists are one template each with a ``listing`` block that
HTMX swaps (filters, pager); writes answer with post/redirect/get, and a form with errors is shown
again with each message beside its field (422).
"""

from __future__ import annotations

from datetime import date
from math import ceil
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from pydantic import BaseModel, Field
from sqlmodel import Session

from app.auth.principal import Principal
from app.clock import today_cn
from app.deps import CurrentUser, Id, OrgIdForStaff, SessionDep, WriteSessionDep
from app.errors import Conflict, Forbidden, Invalid
from app.jobs import service as jobs
from app.manage import catalogue as cat
from app.manage import service
from app.models import Indicator, IndicatorKind, OrgLevel, PlausibilityRule, SiteKind, Task
from app.quality import manage as rules
from app.web import redirect, render

router = APIRouter(prefix="/manage", include_in_schema=False)

DONE = {
    "saved": "已保存。",
    "transferred": "已调动：原任职已结束，已在新组织的当前届次任职。",
    "ended": "任职已结束，该委员的历史记录保留。",
    "flagged": "已标为重点帮扶县，看板和挂联覆盖随即更新。",
    "unflagged": "已取消重点帮扶县标记。",
    "site_added": "地点已添加。",
    "renamed": "已改名。",
    "task_added": "实事已添加。",
    "indicator_added": "指标已添加。",
}


def _ident(text: str) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdecimal() and len(text) <= 9 else None


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip()) if text.strip() else None
    except ValueError:
        raise Invalid("日期格式不正确") from None


def _pages(total: int, per_page: int) -> int:
    return max(1, ceil(total / per_page))


def _url(path: str, query: dict) -> str:
    kept = {k: v for k, v in query.items() if v not in (None, "", False)}
    return path + ("?" + urlencode(kept) if kept else "")


@router.get("")
def manage_home(request: Request, by: CurrentUser):
    service.require_staff(by)
    return redirect(request, "/manage/members")


# --- members ---------------------------------------------------------------------------------------

class MemberQuery(BaseModel):
    org_id: str = ""
    q: str = Field(default="", max_length=40)
    page: int = Field(default=1, ge=1, le=100_000)
    done: str = Field(default="", max_length=16)


@router.get("/members")
def members_page(request: Request, session: SessionDep, by: CurrentUser, f: Annotated[MemberQuery, Query()]):
    orgs = service.scope_orgs(session, by)
    org_id = _ident(f.org_id)
    if org_id not in {o.id for o in orgs}:
        org_id = None
    rows, total = service.list_members(session, by, org_id=org_id, q=f.q, page=f.page)
    query = {"org_id": org_id, "q": f.q.strip()}
    return render(request, "manage/members.html", {
        "f": f, "org_id": org_id, "orgs": orgs, "rows": rows, "total": total, "pages": _pages(total, service.PER_PAGE),
        "prev_url": _url("/manage/members", query | {"page": f.page - 1}),
        "next_url": _url("/manage/members", query | {"page": f.page + 1}), "done": DONE.get(f.done), "tab": "members",
    }, block="listing")


class MemberForm(BaseModel):
    name: str = Field(default="", max_length=200)
    phone: str = Field(default="", max_length=40)
    sector: str = Field(default="", max_length=200)
    enterprise: str = Field(default="", max_length=500)
    industry: str = Field(default="", max_length=200)
    role: str = ""
    title: str = Field(default="", max_length=200)
    committee_id: str = ""
    csrf_token: str = ""


class TransferForm(BaseModel):
    to_org_id: str = ""
    on: str = ""
    role: str = "member"
    csrf_token: str = ""


def _member_page(request: Request, session: Session, by: Principal, member_id: int, *, form: MemberForm | None = None,
                 transfer: TransferForm | None = None, errors: dict | None = None, message: str | None = None,
                 transfer_message: str | None = None, done: str | None = None, status_code: int = 200):
    row = service.member_for_staff(session, by, member_id)
    m, ms = row.member, row.membership
    form = form or MemberForm(name=m.name, phone=m.phone, sector=m.sector, enterprise=m.enterprise or "",
                              industry=m.industry or "",
                              role=ms.role, title=ms.title or "", committee_id=str(ms.committee_id or ""))
    transfer = transfer or TransferForm(on=today_cn().isoformat())
    return render(request, "manage/member.html", {
        "row": row, "form": form, "transfer": transfer, "errors": errors or {}, "message": message,
        "transfer_message": transfer_message, "done": done, "roles": service.MEMBER_ROLE_LABELS,
        "committees": service.committees_of(session, ms.org_id) if row.current else [],
        "targets": [o for o in service.scope_orgs(session, by) if o.id != ms.org_id], "tab": "members",
        "today": today_cn().isoformat(),
    }, status_code=status_code)


@router.get("/members/{member_id}")
def member_page(request: Request, session: SessionDep, by: CurrentUser, member_id: Id, done: str = ""):
    return _member_page(request, session, by, member_id, done=DONE.get(done))


@router.post("/members/{member_id}")
def member_save(request: Request, session: WriteSessionDep, by: CurrentUser, member_id: Id,
                form: Annotated[MemberForm, Form()]):
    data = service.MemberEdit(name=form.name, phone=form.phone, sector=form.sector, enterprise=form.enterprise,
                              industry=form.industry, role=form.role, title=form.title, committee_id=_ident(form.committee_id))
    try:
        service.update_member(session, by, member_id, data)
    except (Invalid, Conflict) as exc:
        return _member_page(request, session, by, member_id, form=form, errors=exc.errors, message=exc.message,
                            status_code=exc.status_code if exc.status_code == 422 else 409)
    return redirect(request, f"/manage/members/{member_id}?done=saved")


@router.post("/members/{member_id}/transfer")
def member_transfer(request: Request, session: WriteSessionDep, by: CurrentUser, member_id: Id,
                    form: Annotated[TransferForm, Form()]):
    try:
        to_org = _ident(form.to_org_id)
        if to_org is None:
            raise Invalid("请选择调入的组织", errors={"to_org_id": "请选择调入的组织"})
        service.transfer_member(session, by, member_id, to_org_id=to_org, on=_day(form.on), role=form.role)
    except (Invalid, Conflict) as exc:
        return _member_page(request, session, by, member_id, transfer=form, errors=exc.errors,
                            transfer_message=exc.message, status_code=exc.status_code)
    return redirect(request, f"/manage/members/{member_id}?done=transferred")


class EndForm(BaseModel):
    end_date: str = ""
    reason: str = Field(default="", max_length=200)
    csrf_token: str = ""


def _end_page(request: Request, session: Session, by: Principal, member_id: int, form: EndForm, *,
              message: str | None = None, status_code: int = 200):
    row = service.member_for_staff(session, by, member_id)
    if not row.current:
        raise Conflict("该委员目前没有在任的任职", code="no_current_membership")
    return render(request, "manage/end.html", {"row": row, "form": form, "message": message, "tab": "members",
                                               "today": today_cn().isoformat()}, status_code=status_code)


@router.get("/members/{member_id}/end")
def end_confirm(request: Request, session: SessionDep, by: CurrentUser, member_id: Id):
    """The confirmation before ending a membership (a page of its own, with or without JavaScript)."""
    return _end_page(request, session, by, member_id, EndForm(end_date=today_cn().isoformat()))


@router.post("/members/{member_id}/end")
def end_submit(request: Request, session: WriteSessionDep, by: CurrentUser, member_id: Id,
               form: Annotated[EndForm, Form()]):
    try:
        service.end_membership(session, by, member_id, on=_day(form.end_date), reason=form.reason)
    except Invalid as exc:
        return _end_page(request, session, by, member_id, form, message=exc.message, status_code=422)
    return redirect(request, f"/manage/members/{member_id}?done=ended")


# --- organisations -----------------------------------------------------------------------------------

class OrgQuery(BaseModel):
    q: str = Field(default="", max_length=40)
    level: str = ""
    key: str = ""
    page: int = Field(default=1, ge=1, le=100_000)
    done: str = Field(default="", max_length=16)


@router.get("/orgs")
def orgs_page(request: Request, session: SessionDep, by: CurrentUser, f: Annotated[OrgQuery, Query()]):
    level = OrgLevel(f.level) if f.level in OrgLevel.__members__ else None
    rows, total = service.list_orgs(session, by, q=f.q, level=level, key_only=f.key == "1", page=f.page)
    query = {"q": f.q.strip(), "level": level.value if level else "", "key": f.key if f.key == "1" else ""}
    return render(request, "manage/orgs.html", {
        "f": f, "rows": rows, "total": total, "pages": _pages(total, 50), "levels": service.LEVEL_LABELS,
        "may_flag": service.may_flag_key_counties(session, by), "done": DONE.get(f.done), "tab": "orgs",
        "prev_url": _url("/manage/orgs", query | {"page": f.page - 1}),
        "next_url": _url("/manage/orgs", query | {"page": f.page + 1}),
    }, block="listing")


@router.get("/orgs/{org_id}/key-county")
def key_county_confirm(request: Request, session: SessionDep, by: CurrentUser, org: OrgIdForStaff):
    """The confirmation before flagging or unflagging a 重点帮扶县."""
    if not service.may_flag_key_counties(session, by):
        raise Forbidden("重点帮扶县由省政协认定，只有省级「双助推」办公室或管理员可以修改", code="province_only")
    if org.level != OrgLevel.county:
        raise Invalid("只有县（市、区）可以标为重点帮扶县", code="not_a_county")
    return render(request, "manage/key_county.html", {"org": org, "tab": "orgs"})


@router.post("/orgs/{org_id}/key-county")
def key_county_submit(request: Request, session: WriteSessionDep, by: CurrentUser, org_id: Id,
                      value: Annotated[str, Form()] = ""):
    flag = value == "1"
    service.set_key_county(session, by, org_id, value=flag)
    return redirect(request, "/manage/orgs?done=" + ("flagged" if flag else "unflagged"))


# --- sites -------------------------------------------------------------------------------------------

class SiteQuery(BaseModel):
    county_id: str = ""
    q: str = Field(default="", max_length=40)
    kind: str = ""
    page: int = Field(default=1, ge=1, le=100_000)
    done: str = Field(default="", max_length=16)


class SiteForm(BaseModel):
    code: str = Field(default="", max_length=40)
    name: str = Field(default="", max_length=300)
    kind: str = SiteKind.demo_site.value
    parent_id: str = ""
    csrf_token: str = ""


def _sites_page(request: Request, session: Session, by: Principal, f: SiteQuery, *, form: SiteForm | None = None,
                errors: dict | None = None, message: str | None = None, status_code: int = 200):
    counties = service.in_scope_counties(session, by)
    county_id = _ident(f.county_id)
    county = next((c for c in counties if c.id == county_id), None)
    if county is None and len(counties) == 1:
        county = counties[0]
    ctx = {"f": f, "counties": counties, "county": county, "kinds": service.SITE_KIND_LABELS, "done": DONE.get(f.done),
           "form": form or SiteForm(), "errors": errors or {}, "message": message, "tab": "sites", "rows": [], "total": 0,
           "pages": 1, "parents": []}
    if county is not None:
        kind = SiteKind(f.kind) if f.kind in SiteKind.__members__ else None
        rows, total = service.list_sites(session, by, county.id, q=f.q, kind=kind, page=f.page)
        query = {"county_id": county.id, "q": f.q.strip(), "kind": kind.value if kind else ""}
        ctx.update(rows=rows, total=total, pages=_pages(total, 50), parents=service.parent_options(session, county.id),
                   prev_url=_url("/manage/sites", query | {"page": f.page - 1}),
                   next_url=_url("/manage/sites", query | {"page": f.page + 1}))
    return render(request, "manage/sites.html", ctx, block="listing" if status_code == 200 else None,
                  status_code=status_code)


@router.get("/sites")
def sites_page(request: Request, session: SessionDep, by: CurrentUser, f: Annotated[SiteQuery, Query()]):
    return _sites_page(request, session, by, f)


@router.post("/sites")
def site_add(request: Request, session: WriteSessionDep, by: CurrentUser, county_id: Annotated[str, Form()],
             form: Annotated[SiteForm, Form()]):
    county = _ident(county_id)
    try:
        if county is None:
            raise Invalid("请选择县（市、区）")
        service.add_site(session, by, county, code=form.code, name=form.name, kind=form.kind,
                         parent_id=_ident(form.parent_id))
    except (Invalid, Conflict) as exc:
        return _sites_page(request, session, by, SiteQuery(county_id=county_id), form=form, errors=exc.errors,
                           message=exc.message, status_code=exc.status_code)
    return redirect(request, _url("/manage/sites", {"county_id": county, "q": form.code.strip(), "done": "site_added"}))


@router.get("/sites/{site_id}")
def site_page(request: Request, session: SessionDep, by: CurrentUser, site_id: Id):
    site = service.site_for_staff(session, by, site_id)
    return render(request, "manage/site.html", {"site": site, "name": site.name, "kinds": service.SITE_KIND_LABELS,
                                                "errors": {}, "tab": "sites"})


@router.post("/sites/{site_id}")
def site_rename(request: Request, session: WriteSessionDep, by: CurrentUser, site_id: Id,
                name: Annotated[str, Form(max_length=300)] = ""):
    try:
        site = service.rename_site(session, by, site_id, name=name)
    except Invalid as exc:
        site = service.site_for_staff(session, by, site_id)
        return render(request, "manage/site.html", {"site": site, "name": name, "kinds": service.SITE_KIND_LABELS,
                                                    "errors": exc.errors, "message": exc.message, "tab": "sites"},
                      status_code=422)
    return redirect(request, _url("/manage/sites", {"county_id": site.county_id, "q": site.code, "done": "renamed"}))


# --- catalogue ---------------------------------------------------------------------------------------

@router.get("/catalogue")
def catalogue_page(request: Request, session: SessionDep, by: CurrentUser, done: str = ""):
    campaign, tasks, _areas = cat.catalogue_view(session, by)
    owners = cat.owner_options(session, by)
    return render(request, "manage/catalogue.html", {
        "campaign": campaign, "tasks": tasks, "owners": owners, "kinds": cat.KIND_LABELS, "done": DONE.get(done),
        "may_add_task": bool(cat.owner_options(session, by, tasks=True)),
        "may_word": any(o.level == OrgLevel.province for o in owners), "tab": "catalogue",
    })


class TaskFormIn(BaseModel):
    name: str = Field(default="", max_length=300)
    short_name: str = Field(default="", max_length=100)
    narrative_prefix: str = Field(default="", max_length=200)
    area_id: str = ""
    owner_org_id: str = ""
    csrf_token: str = ""

    def data(self) -> cat.TaskForm:
        return cat.TaskForm(name=self.name, short_name=self.short_name, narrative_prefix=self.narrative_prefix,
                            area_id=_ident(self.area_id))


def _task_form(request: Request, session: Session, by: Principal, *, task: Task | None, form: TaskFormIn,
               errors: dict | None = None, message: str | None = None, status_code: int = 200):
    _campaign, _, areas = cat.catalogue_view(session, by)
    return render(request, "manage/task.html", {
        "task": task, "form": form, "areas": areas, "owners": cat.owner_options(session, by, tasks=True),
        "errors": errors or {},
        "message": message, "tab": "catalogue",
    }, status_code=status_code)


@router.get("/catalogue/tasks/new")
def task_new(request: Request, session: SessionDep, by: CurrentUser):
    owners = cat.owner_options(session, by, tasks=True)
    if not owners:
        raise Forbidden(cat.OWNER_ONLY, code="catalogue_owner_only")
    return _task_form(request, session, by, task=None, form=TaskFormIn(owner_org_id=str(owners[-1].id)))


@router.post("/catalogue/tasks")
def task_create(request: Request, session: WriteSessionDep, by: CurrentUser, form: Annotated[TaskFormIn, Form()]):
    try:
        cat.create_task(session, by, owner_org_id=_ident(form.owner_org_id) or 0, data=form.data())
    except (Invalid, Conflict) as exc:
        return _task_form(request, session, by, task=None, form=form, errors=exc.errors, message=exc.message,
                          status_code=exc.status_code)
    return redirect(request, "/manage/catalogue?done=task_added")


@router.get("/catalogue/tasks/{task_id}")
def task_edit(request: Request, session: SessionDep, by: CurrentUser, task_id: Id):
    task = cat.task_for_edit(session, by, task_id)
    form = TaskFormIn(name=task.name, short_name=task.short_name, narrative_prefix=task.narrative_prefix,
                      area_id=str(task.area_id))
    return _task_form(request, session, by, task=task, form=form)


@router.post("/catalogue/tasks/{task_id}")
def task_update(request: Request, session: WriteSessionDep, by: CurrentUser, task_id: Id,
                form: Annotated[TaskFormIn, Form()]):
    try:
        cat.update_task(session, by, task_id, form.data())
    except (Invalid, Conflict) as exc:
        return _task_form(request, session, by, task=cat.task_for_edit(session, by, task_id), form=form,
                          errors=exc.errors, message=exc.message, status_code=exc.status_code)
    return redirect(request, "/manage/catalogue?done=saved")


class IndicatorFormIn(BaseModel):
    name: str = Field(default="", max_length=200)
    unit: str = Field(default="", max_length=40)
    kind: str = IndicatorKind.count.value
    narrative: str = Field(default="", max_length=400)
    outcome: str = ""  # the checkbox: "1" when ticked
    suggestion: str = ""  # the checkbox: "1" when ticked
    task_id: str = ""
    owner_org_id: str = ""
    csrf_token: str = ""

    def data(self) -> cat.IndicatorForm:
        return cat.IndicatorForm(name=self.name, unit=self.unit, kind=self.kind, narrative=self.narrative,
                                 outcome=self.outcome == "1", suggestion=self.suggestion == "1")


def _indicator_form(request: Request, session: Session, by: Principal, *, indicator: Indicator | None = None,
                    form: IndicatorFormIn,
                    errors: dict | None = None, message: str | None = None, status_code: int = 200):
    _, tasks, _ = cat.catalogue_view(session, by)
    return render(request, "manage/indicator.html", {
        "indicator": indicator, "form": form, "tasks": [t.task for t in tasks], "owners": cat.owner_options(session, by),
        "kinds": cat.KIND_LABELS, "errors": errors or {}, "message": message, "tab": "catalogue",
        "task": session.get(Task, indicator.task_id) if indicator else None,
    }, status_code=status_code)


@router.get("/catalogue/indicators/new")
def indicator_new(request: Request, session: SessionDep, by: CurrentUser, task_id: str = ""):
    owners = cat.owner_options(session, by)
    if not owners:
        raise Forbidden(cat.OWNER_ONLY, code="catalogue_owner_only")
    return _indicator_form(request, session, by, form=IndicatorFormIn(task_id=task_id, owner_org_id=str(owners[-1].id)))


@router.post("/catalogue/indicators")
def indicator_create(request: Request, session: WriteSessionDep, by: CurrentUser,
                     form: Annotated[IndicatorFormIn, Form()]):
    try:
        cat.create_indicator(session, by, task_id=_ident(form.task_id) or 0, owner_org_id=_ident(form.owner_org_id) or 0,
                             data=form.data())
    except (Invalid, Conflict) as exc:
        return _indicator_form(request, session, by, form=form, errors=exc.errors, message=exc.message,
                               status_code=exc.status_code)
    return redirect(request, "/manage/catalogue?done=indicator_added")


@router.get("/catalogue/indicators/{indicator_id}")
def indicator_edit(request: Request, session: SessionDep, by: CurrentUser, indicator_id: Id):
    ind = cat.indicator_for_edit(session, by, indicator_id)
    form = IndicatorFormIn(name=ind.name, unit=ind.unit, kind=ind.kind, narrative=ind.narrative,
                           outcome="1" if ind.is_outcome else "", suggestion="1" if ind.is_suggestion else "")
    return _indicator_form(request, session, by, indicator=ind, form=form)


@router.post("/catalogue/indicators/{indicator_id}")
def indicator_update(request: Request, session: WriteSessionDep, by: CurrentUser, indicator_id: Id,
                     form: Annotated[IndicatorFormIn, Form()]):
    try:
        cat.update_indicator(session, by, indicator_id, form.data())
    except (Invalid, Conflict) as exc:
        return _indicator_form(request, session, by, indicator=cat.indicator_for_edit(session, by, indicator_id),
                               form=form, errors=exc.errors, message=exc.message, status_code=exc.status_code)
    return redirect(request, "/manage/catalogue?done=saved")


# --- plausibility rules (合理性规则) ----------------------------------------------------------------

def _rules_url(org: str, done: str = "", n: int | None = None, task_id: int | None = None) -> str:
    return _url("/manage/catalogue/rules", {"org": org, "done": done, "n": n}) + (f"#task-{task_id}" if task_id else "")


@router.get("/catalogue/rules")
def rules_list(request: Request, session: SessionDep, by: CurrentUser,
               org: Annotated[str, Query(max_length=12)] = "", done: Annotated[str, Query(max_length=16)] = "",
               n: Annotated[int, Query(ge=0, le=10_000_000)] = 0):
    page = rules.rules_page(session, by, org or None)
    message = {"rule_saved": "已保存。", "rule_deleted": "规则已删除。"}.get(done)
    if message:
        message += f"本辖区 {n} 条待审核活动的提示正在后台按新规则更新。" if n else "本辖区目前没有待审核活动。"
    return render(request, "manage/rules.html", {"page": page, "done": message, "kinds": rules.KIND_LABELS,
                                                 "tab": "catalogue"})


class RuleFormIn(BaseModel):
    org_id: str = ""
    task_id: str = ""
    kind: str = "bound"
    indicator_id: str = ""
    per_indicator_id: str = ""
    max_value: str = Field(default="", max_length=40)
    min_ratio: str = Field(default="", max_length=40)
    max_ratio: str = Field(default="", max_length=40)
    source: str = Field(default="", max_length=1000)
    csrf_token: str = ""

    def data(self) -> rules.RuleForm:
        return rules.RuleForm(kind=self.kind, indicator_id=_ident(self.indicator_id),
                              per_indicator_id=_ident(self.per_indicator_id), max_value=self.max_value,
                              min_ratio=self.min_ratio, max_ratio=self.max_ratio, source=self.source)


def _rule_form(request: Request, session: Session, by: Principal, *, form: RuleFormIn,
               rule: PlausibilityRule | None = None, errors: dict | None = None, message: str | None = None,
               status_code: int = 200):
    org, task, indicators = rules.form_for(session, by, org_ref=_ident(form.org_id), task_id=_ident(form.task_id),
                                           rule=rule)
    return render(request, "manage/rule.html", {
        "org": org, "task": task, "indicators": indicators, "rule": rule, "form": form, "kinds": rules.KIND_LABELS,
        "errors": errors or {}, "message": message, "tab": "catalogue",
    }, status_code=status_code)


def _saved(request: Request, saved: rules.Saved, done: str):
    jobs.wake()  # the recompute of the subtree's flags
    return redirect(request, _rules_url(saved.org.code, done, saved.pending, saved.task_id))


@router.get("/catalogue/rules/new")
def rule_new(request: Request, session: SessionDep, by: CurrentUser, org_id: str = "", task_id: str = "",
             kind: str = "bound"):
    form = RuleFormIn(org_id=org_id, task_id=task_id, kind="ratio" if kind == "ratio" else "bound")
    return _rule_form(request, session, by, form=form)


@router.post("/catalogue/rules")
def rule_create(request: Request, session: WriteSessionDep, by: CurrentUser, form: Annotated[RuleFormIn, Form()]):
    try:
        saved = rules.create_rule(session, by, org_id=_ident(form.org_id) or 0, data=form.data())
    except Invalid as exc:
        return _rule_form(request, session, by, form=form, errors=exc.errors, message=exc.message,
                          status_code=exc.status_code)
    return _saved(request, saved, "rule_saved")


@router.get("/catalogue/rules/{rule_id}")
def rule_edit(request: Request, session: SessionDep, by: CurrentUser, rule_id: Id):
    rule = rules.rule_for_edit(session, by, rule_id)
    t = rules.typed(session, rule)
    form = RuleFormIn(kind=t.kind, indicator_id=str(t.indicator_id), per_indicator_id=str(t.per_indicator_id or ""),
                      max_value=t.max_value, min_ratio=t.min_ratio, max_ratio=t.max_ratio, source=t.source)
    return _rule_form(request, session, by, form=form, rule=rule)


@router.post("/catalogue/rules/{rule_id}")
def rule_update(request: Request, session: WriteSessionDep, by: CurrentUser, rule_id: Id,
                form: Annotated[RuleFormIn, Form()]):
    try:
        saved = rules.update_rule(session, by, rule_id, form.data())
    except Invalid as exc:
        return _rule_form(request, session, by, form=form, rule=rules.rule_for_edit(session, by, rule_id),
                          errors=exc.errors, message=exc.message, status_code=exc.status_code)
    return _saved(request, saved, "rule_saved")


@router.post("/catalogue/rules/{rule_id}/delete")
def rule_delete(request: Request, session: WriteSessionDep, by: CurrentUser, rule_id: Id):
    return _saved(request, rules.delete_rule(session, by, rule_id), "rule_deleted")

# --- the report's wording ------------------------------------------------------------------------------

@router.get("/wording")
def wording_page(request: Request, session: SessionDep, by: CurrentUser, done: str = ""):
    campaign, rows = cat.wording_rows(session, by)
    return render(request, "manage/wording.html", {"campaign": campaign, "rows": rows, "done": DONE.get(done),
                                                   "errors": {}, "tab": "catalogue", "typed": {}})


@router.post("/wording")
def wording_save(request: Request, session: WriteSessionDep, by: CurrentUser, key: Annotated[str, Form(max_length=40)],
                 text: Annotated[str, Form(max_length=2000)] = ""):
    try:
        cat.set_wording(session, by, key=key, text=text)
    except Invalid as exc:
        campaign, rows = cat.wording_rows(session, by)
        return render(request, "manage/wording.html", {"campaign": campaign, "rows": rows, "errors": {key: exc.message},
                                                       "typed": {key: text}, "tab": "catalogue"}, status_code=422)
    return redirect(request, "/manage/wording?done=saved")

