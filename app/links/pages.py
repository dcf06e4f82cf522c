"""挂联 pages: the list, making / changing / ending a link, the coverage of the key counties (with its
Excel export), and a leader's own page (我的挂联).

Every rule is the service's (app/links/service.py); these handlers translate between the browser and
it. One template per page; HTMX asks for its named blocks. Every form works without JavaScript: the
pickers' 查找 buttons post the form back with ``reload=1`` and get it again with what was typed, and
writes answer with post/redirect/get. On the coverage page a link is made in place: the form opens in
a panel, and a success tells the table (``HX-Trigger: links-changed``) to fetch itself again.
"""

from __future__ import annotations

from datetime import date
from math import ceil
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode, urlsplit

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app.accounts.schemas import OptionalDate
from app.activities import service as activities
from app.activities.pages import SITE_KINDS
from app.auth.principal import READ_ROLES, Principal
from app.boards import periods
from app.boards import service as boards
from app.clock import today_cn
from app.db import run_write
from app.deps import CurrentUser, Id, SessionDep, WriteSessionDep
from app.errors import Forbidden, Invalid
from app.links import service
from app.links.export import XLSX, coverage_workbook
from app.links.schemas import IdOrBlank, LinkChange, LinkCreate
from app.models import LinkRole, Organisation, Site
from app.web import is_htmx, redirect, render, safe_next

router = APIRouter(prefix="/links", include_in_schema=False)

FORM, EDIT, END = "links/form.html", "links/edit.html", "links/end.html"
PER_PAGE = 30
DONE_MESSAGES = {
    "created": "挂联已安排。",
    "exists": "这条挂联已经存在（可能是重复提交），没有重复添加。",
    "changed": "挂联已修改。",
    "ended": "挂联已结束，记录保留在“已结束”中。",
}


def _ident(text: str) -> int | None:
    """A row id as typed into a form, or None (nine digits at most: no database overflow)."""
    text = text.strip()
    return int(text) if text.isdecimal() and len(text) <= 9 else None


def _day(text: str, field: str, errors: dict[str, str], *, required: str | None = None) -> date | None:
    text = text.strip()
    if not text:
        if required:
            errors[field] = required
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors[field] = "日期格式不正确"
        return None


def _role(text: str, errors: dict[str, str]) -> LinkRole | None:
    try:
        return LinkRole(text.strip())
    except ValueError:
        errors["role"] = "请选择挂联身份"
        return None


def _raise_first(errors: dict[str, str]) -> None:
    if errors:
        raise Invalid(next(iter(errors.values())), errors=errors)


def _with_done(url: str, done: str) -> str:
    return url + ("&" if urlsplit(url).query else "?") + f"done={done}"


# --- making a link: the form as typed ---------------------------------------------------------------

class LinkForm(BaseModel):
    """The form as the browser sends it: text as typed, so a re-render loses nothing."""

    leader_member_id: str = ""
    leader_q: str = Field(default="", max_length=40)
    county_id: str = ""
    site_id: str = ""
    site_q: str = Field(default="", max_length=40)
    role: str = LinkRole.lead.value
    start_date: str = ""
    end_date: str = ""
    note: str = Field(default="", max_length=500)
    next: str = Field(default="", max_length=300)  # where to go after success (e.g. back to coverage)
    inline: str = ""  # opened in the coverage page's panel: answer in place
    reload: str = ""  # the no-JavaScript 查找 buttons: "show the form again with this"
    csrf_token: str = ""  # checked by app.auth.csrf

    def number(self, name: str) -> int | None:
        return _ident(getattr(self, name))

    def to_create(self) -> LinkCreate:
        """The service's input; Invalid (per field) when the text cannot even be read as one."""
        errors: dict[str, str] = {}
        leader, county = self.number("leader_member_id"), self.number("county_id")
        if leader is None:
            errors["leader_member_id"] = "请选择挂联的领导"
        if county is None:
            errors["county_id"] = "请选择县（市、区）"
        site = self.number("site_id")
        if self.site_id.strip() and site is None:
            errors["site_id"] = "请重新选择乡镇/村/示范点"
        role = _role(self.role, errors)
        start = _day(self.start_date, "start_date", errors, required="请填写开始日期")
        end = _day(self.end_date, "end_date", errors)
        _raise_first(errors)
        return LinkCreate(leader_member_id=leader, county_id=county, site_id=site, role=role, start_date=start,
                          end_date=end, note=self.note)


def _form_context(session: Session, by: Principal, form: LinkForm, part: str | None) -> dict[str, Any]:
    """What the form page (or one of its blocks) shows; only the parts asked for are queried."""
    counties = service.county_options(session, by)
    county_id = form.number("county_id")
    county = next((c for c in counties if c.id == county_id), None)
    ctx: dict[str, Any] = {"form": form, "county": county, "role_labels": service.ROLE_LABELS,
                           "site_kinds": SITE_KINDS, "today": today_cn().isoformat()}
    if part in (None, "form", "leader_options"):
        chosen_id = form.number("leader_member_id")
        chosen = None
        if chosen_id:
            found = service.leader_options(session, by, county_id=county.id if county else None, member_id=chosen_id)
            chosen = found[0] if found else None
        options = service.leader_options(session, by, county_id=county.id if county else None, q=form.leader_q)
        ctx.update(chosen_leader=chosen, leader_options=[o for o in options if not chosen or o.member_id != chosen.member_id])
    if part in (None, "form", "site_options"):
        site_id = form.number("site_id")
        chosen_site = session.get(Site, site_id) if site_id and county else None
        if chosen_site is not None and chosen_site.county_id != county.id:
            chosen_site = None  # the county changed since: its site no longer applies
        site_options = []
        if county and form.site_q.strip():
            site_options = activities.search_sites(session, county_id=county.id, q=form.site_q)
        ctx.update(chosen_site=chosen_site, site_options=site_options)
    if part in (None, "form"):
        ctx.update(counties=counties, next=safe_next(form.next, "/links"))
    return ctx


def _render_form(request: Request, session: Session, by: Principal, form: LinkForm, *, block: str,
                 errors: dict[str, str] | None = None, message: str | None = None, status_code: int = 200):
    if not service.may_assign(by):
        raise Forbidden(service.NO_LINK_ROLE)
    ctx = _form_context(session, by, form, block if is_htmx(request) else None)
    return render(request, FORM, {**ctx, "errors": errors or {}, "message": message}, block=block,
                  status_code=status_code)


FormQuery = Annotated[LinkForm, Query()]


@router.get("/new")
def new_link(request: Request, session: SessionDep, by: CurrentUser, form: FormQuery):
    """The form (whole page; with HTMX the form alone, for the coverage page's panel)."""
    form.start_date = form.start_date or today_cn().isoformat()
    return _render_form(request, session, by, form, block="form")


@router.get("/leaders")
def leaders(request: Request, session: SessionDep, by: CurrentUser, form: FormQuery):
    """Type-ahead: the leaders the caller may link to the chosen county (the higher levels first)."""
    return _render_form(request, session, by, form, block="leader_options")


@router.get("/sites")
def sites(request: Request, session: SessionDep, by: CurrentUser, form: FormQuery):
    """Type-ahead: the towns, villages and demo sites of the chosen county."""
    return _render_form(request, session, by, form, block="site_options")


def _created(request: Request, session: Session, by: Principal, form: LinkForm, result: service.AssignResult):
    if form.inline and is_htmx(request):
        link = service.to_read(session, [result.link])[0]
        # The coverage table listens for this and fetches itself again: no page reload.
        return render(request, FORM, {"done_link": link, "created": result.created}, block="done",
                      headers={"HX-Trigger": "links-changed"})
    return redirect(request, _with_done(safe_next(form.next, "/links"), "created" if result.created else "exists"))


@router.post("")
async def create_link(request: Request, read: SessionDep, write: WriteSessionDep, by: CurrentUser,
                      form: Annotated[LinkForm, Form()]):
    if form.reload:
        return await run_in_threadpool(_render_form, request, read, by, form, block="form")
    try:
        data = form.to_create()
        return await run_write(request, read, write, lambda s: service.assign_leader(s, by=by, data=data),
                               lambda r, result: _created(request, r, by, form, result))
    except Invalid as exc:
        return await run_in_threadpool(_render_form, request, read, by, form, block="form", errors=exc.errors,
                                       message=exc.message, status_code=422)


# --- the list --------------------------------------------------------------------------------------------

class ListQuery(BaseModel):
    county_id: IdOrBlank = None
    prefecture_id: IdOrBlank = None
    q: str = Field(default="", max_length=40)
    state: Literal["open", "attention", "ended", "all"] = "open"
    active_on: OptionalDate = None
    page: int = Field(default=1, ge=1, le=100_000)
    done: str = Field(default="", max_length=16)

    def filters(self) -> service.LinkFilters:
        return service.LinkFilters(county_id=self.county_id, prefecture_id=self.prefecture_id,
                                   leader_q=self.q.strip() or None, active_on=self.active_on, state=self.state)

    def url(self, page: int) -> str:
        query = {k: v for k, v in self.model_dump(mode="json").items() if v not in (None, "") and k not in ("page", "done")}
        return "/links?" + urlencode({**query, "page": page})


@router.get("")
def links_page(request: Request, session: SessionDep, by: CurrentUser, q: Annotated[ListQuery, Query()]):
    rows, total = service.list_links(session, by, q.filters(), page=q.page, per_page=PER_PAGE)
    pages = max(1, ceil(total / PER_PAGE))
    return render(request, "links/list.html", {
        "q": q, "items": service.to_read(session, rows), "total": total, "pages": pages,
        "manageable": service.manageable_ids(session, by, [k.id for k in rows]), "may_assign": service.may_assign(by), "states": service.STATES,
        "counties": service.county_options(session, by, roles=READ_ROLES),
        "prev_url": q.url(q.page - 1), "next_url": q.url(q.page + 1), "done": DONE_MESSAGES.get(q.done),
    }, block="listing")


# --- changing and ending ----------------------------------------------------------------------------------

class ChangeForm(BaseModel):
    role: str = ""
    start_date: str = ""
    end_date: str = ""
    note: str = Field(default="", max_length=500)
    csrf_token: str = ""

    def to_change(self) -> LinkChange:
        errors: dict[str, str] = {}
        role = _role(self.role, errors)
        start = _day(self.start_date, "start_date", errors, required="请填写开始日期")
        end = _day(self.end_date, "end_date", errors)
        _raise_first(errors)
        return LinkChange(role=role, start_date=start, end_date=end, note=self.note)


def _render_edit(request: Request, session: Session, by: Principal, link_id: int, form: ChangeForm | None = None,
                 *, errors: dict[str, str] | None = None, message: str | None = None, status_code: int = 200):
    link = service.to_read(session, [service.link_for_change(session, by, link_id, lock=False)])[0]
    if form is None:
        form = ChangeForm(role=link.role.value, start_date=link.start_date.isoformat(),
                          end_date=link.end_date.isoformat() if link.end_date else "", note=link.note)
    return render(request, EDIT, {"link": link, "form": form, "errors": errors or {}, "message": message,
                                  "role_labels": service.ROLE_LABELS}, status_code=status_code)


@router.get("/{link_id:int}/edit")
def edit_link(request: Request, session: SessionDep, by: CurrentUser, link_id: Id):
    return _render_edit(request, session, by, link_id)


@router.post("/{link_id:int}/edit")
async def change_link(request: Request, read: SessionDep, write: WriteSessionDep, by: CurrentUser, link_id: Id,
                      form: Annotated[ChangeForm, Form()]):
    try:
        data = form.to_change()
        await run_write(request, read, write, lambda s: service.change_link(s, by=by, link_id=link_id, data=data),
                        lambda _r, _link: None)
    except Invalid as exc:
        return await run_in_threadpool(_render_edit, request, read, by, link_id, form, errors=exc.errors,
                                       message=exc.message, status_code=422)
    return redirect(request, "/links?done=changed")


class EndForm(BaseModel):
    end_date: str = ""
    reason: str = Field(default="", max_length=200)
    next: str = Field(default="", max_length=300)
    csrf_token: str = ""


def _render_end(request: Request, session: Session, by: Principal, link_id: int, form: EndForm, *,
                errors: dict[str, str] | None = None, message: str | None = None, status_code: int = 200):
    link = service.to_read(session, [service.link_for_change(session, by, link_id, lock=False)])[0]
    # A link not yet begun is cancelled on its start date (the service's default too).
    form.end_date = form.end_date or max(today_cn(), link.start_date).isoformat()
    return render(request, END, {"link": link, "form": form, "errors": errors or {}, "message": message,
                                 "next": safe_next(form.next, "/links"), "today": today_cn().isoformat()},
                  status_code=status_code)


@router.get("/{link_id:int}/end")
def end_confirm(request: Request, session: SessionDep, by: CurrentUser, link_id: Id,
                form: Annotated[EndForm, Query()]):
    """The confirmation: what ends, on which day, and why (nothing is deleted)."""
    return _render_end(request, session, by, link_id, form)


@router.post("/{link_id:int}/end")
async def end_link(request: Request, read: SessionDep, write: WriteSessionDep, by: CurrentUser, link_id: Id,
                   form: Annotated[EndForm, Form()]):
    try:
        errors: dict[str, str] = {}
        end = _day(form.end_date, "end_date", errors)
        _raise_first(errors)
        await run_write(request, read, write, lambda s: service.end_link(s, by=by, link_id=link_id, end_date=end,
                                                                         reason=form.reason),
                        lambda _r, _link: None)
    except Invalid as exc:
        return await run_in_threadpool(_render_end, request, read, by, link_id, form, errors=exc.errors,
                                       message=exc.message, status_code=422)
    return redirect(request, _with_done(safe_next(form.next, "/links"), "ended"))


# --- coverage ---------------------------------------------------------------------------------------------

class CoverageQuery(BaseModel):
    prefecture_id: IdOrBlank = None
    period: str = Field(default="", max_length=16)
    done: str = Field(default="", max_length=16)


def _running(key: str) -> periods.Period:
    """挂联实效's period on pages that show today's links: one still running (a past one, typed into the
    address, is this year to date instead — its figures would be of other links than those shown)."""
    period = periods.parse(key or None)
    return period if period.end >= today_cn() else periods.parse(None)


def _running_choices() -> list[tuple[str, str]]:
    today = today_cn()
    return [(k, label) for k, label in periods.choices(today) if periods.parse(k, today).end >= today]


def _scope_name(session: Session, by: Principal, prefecture_id: int | None) -> str:
    if prefecture_id:
        org = session.get(Organisation, prefecture_id)
        if org is not None:
            return org.name.removesuffix("政协")
    orgs = by.grant_orgs(session, *READ_ROLES)
    return "、".join(o.name.removesuffix("政协") for o in orgs[:3])


@router.get("/coverage")
def coverage_page(request: Request, session: SessionDep, by: CurrentUser, q: Annotated[CoverageQuery, Query()]):
    """The key counties with their leaders, the uncovered first; the filter and refresh swap the table."""
    prefectures = service.coverage_prefectures(session, by)
    prefecture_id = q.prefecture_id if q.prefecture_id in {p.id for p in prefectures} else None
    cov = service.coverage(session, by, prefecture_id=prefecture_id)
    period = _running(q.period)
    idle_months, effects = service.coverage_effect(session, by, period, prefecture_id=prefecture_id)
    query = f"?prefecture_id={prefecture_id}" if prefecture_id else ""
    params = {k: v for k, v in (("prefecture_id", prefecture_id), ("period", period.key if q.period else "")) if v}
    here = "/links/coverage" + (f"?{urlencode(params)}" if params else "")
    return render(request, "links/coverage.html", {
        "cov": cov, "prefectures": prefectures, "self_url": here,
        "export_url": "/links/coverage.xlsx" + query, "may_assign": service.may_assign(by),
        "done": DONE_MESSAGES.get(q.done), "back": quote(here, safe="/?="),
        "period": period, "choices": _running_choices(), "idle_months": idle_months,
        "effects": {(e.county_id, e.leader_member_id): e for e in effects},
        "idle_count": sum(1 for e in effects if e.idle),
    }, block="table")


@router.get("/coverage.xlsx")
def coverage_export(session: SessionDep, by: CurrentUser, q: Annotated[CoverageQuery, Query()]):
    prefectures = service.coverage_prefectures(session, by)
    prefecture_id = q.prefecture_id if q.prefecture_id in {p.id for p in prefectures} else None
    cov = service.coverage(session, by, prefecture_id=prefecture_id)
    scope = _scope_name(session, by, prefecture_id)
    name = f"挂联覆盖-{scope}-{cov.on:%Y%m%d}.xlsx"
    headers = {"Content-Disposition": f"attachment; filename=\"link-coverage.xlsx\"; filename*=UTF-8''{quote(name)}",
               "Cache-Control": "private, no-store"}
    return Response(coverage_workbook(cov, scope_name=scope), media_type=XLSX, headers=headers)


# --- 我的挂联 ---------------------------------------------------------------------------------------------

@router.get("/mine")
def my_links(request: Request, session: SessionDep, by: CurrentUser):
    links = service.my_links(session, by)
    reads = service.to_read(session, links)
    recent = service.activities_at(session, by, links)
    open_links = [k for k in reads if k.state != "ended"]
    period = periods.parse(None)  # this year to date, as the boards open
    return render(request, "links/mine.html", {
        "open_links": open_links, "ended_links": [k for k in reads if k.state == "ended"],
        "recent": activities.to_read(session, recent), "may_assign": service.may_assign(by),
        "figures": boards.county_summaries(session, sorted({k.county_id for k in open_links}), period),
        "period": period, "effects": {e.county_id: e for e in service.my_link_effect(session, by, period)},
    })

