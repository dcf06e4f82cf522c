"""The 助推办's office pages: the verification queue, participant requests, closed months.

Every rule is the service's (who verifies what, the transitions, reasons, closing months); these
handlers translate between HTTP and it. Each page is one template whose swappable pieces are named
blocks: HTMX gets the block (a row after 通过/退回/重新打开, the list after filtering or a bulk
verification), a plain browser gets post/redirect/get. Writes go through the API module's
``app.db.run_write`` so the pages and the API share one writer turn per process.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Literal
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app.accounts.schemas import OptionalDate, OptionalInt
from app.activities import service
from app.activities.schemas import ActivityRead
from app.auth.principal import STAFF_ROLES, Principal
from app.catalogue.service import current_campaign, tasks_for
from app.clock import to_cn, today_cn
from app.db import end_read, run_write
from app.deps import CurrentUser, Id, SessionDep, WriteSessionDep, org_for_staff
from app.errors import Conflict, Forbidden, Invalid
from app.models import Activity, ActivityStatus, FlagCode, Organisation
from app.orgs.service import subtree
from app.quality import backlog as backlog_service
from app.quality.duplicates import NEAR_DAYS, candidates
from app.quality.flags import FLAG_LABELS, flags_of
from app.web import is_htmx, redirect, render, wants_fragment

router = APIRouter(include_in_schema=False)

PER_PAGE = 50
TEMPLATE = "review/queue.html"
STATUS_CHOICES = [("pending", "待审核"), ("verified", "已通过"), ("returned", "已退回"), ("withdrawn", "已撤回"),
                  ("all", "全部")]
DONE_MESSAGES = {
    "verified": "已审核通过。",
    "returned": "已退回，记录人会看到退回理由。",
    "reopened": "已重新打开，该活动回到待审核，离开已审核的统计。",
    "confirmed": "已确认参与申请，该委员计入这条活动的参与名单。",
    "refused": "已拒绝参与申请。",
    "closed": "已关账：该月的活动此后只能由「双助推」办公室工作人员补录或修改。",
    "month_reopened": "已重新打开该月，委员可以补录或修改该月的活动。",
    "sla": "已保存服务时限：待审核超过这个天数即标为超期。",
    "reported": "已确认报送完成：上级办公室在关账前能看到。",
    "unreported": "已撤销报送完成的确认。",
    "merged": "已合并：重复记录已撤回，其记录人和参与委员已加入保留的那条，数值只计一次。",
    "removed": "已将该委员移出参与名单。",
}
FLAG_CHOICES = [("", "全部"), ("any", "有提示"), *((c.value, label) for c, label in FLAG_LABELS.items())]
# What a row needs besides itself (the queue and a row alone after 通过/退回 alike).
ROW_CONTEXT = {"flag_labels": {c.value: label for c, label in FLAG_LABELS.items()},
               "return_reasons": service.RETURN_REASONS}


async def require_staff(by: CurrentUser) -> Principal:
    """The office's pages are for 助推办 staff (and admins); others get 403."""
    if not by.org_ids(*STAFF_ROLES):
        raise Forbidden("只有「双助推」办公室工作人员可以使用审核功能")
    return by


StaffUser = Annotated[Principal, Depends(require_staff)]


# --- the queue -------------------------------------------------------------------------------------

class ReviewFilters(BaseModel):
    status: Literal["pending", "verified", "returned", "withdrawn", "all"] = "pending"
    county_id: OptionalInt = None
    task_id: OptionalInt = None
    member: str = Field(default="", max_length=40)
    date_from: OptionalDate = None
    date_to: OptionalDate = None
    flag: Literal["", "any", *(c.value for c in FlagCode)] = ""  # type: ignore[valid-type]
    page: int = Field(default=1, ge=1, le=100_000)

    def for_service(self) -> service.ActivityFilters:
        return service.ActivityFilters(
            status=None if self.status == "all" else ActivityStatus(self.status), county_id=self.county_id,
            task_id=self.task_id, member=self.member.strip() or None, date_from=self.date_from,
            date_to=self.date_to, flag=self.flag or None)

    def query(self, **changes) -> str:
        """The query string of these filters (empty and default ones left out), with ``changes`` applied."""
        data = {**self.model_dump(mode="json"), **changes}
        defaults = {"status": "pending", "page": 1}
        return urlencode({k: v for k, v in data.items() if v not in (None, "") and defaults.get(k) != v})

    @classmethod
    def from_query(cls, text: str) -> ReviewFilters:
        """Filters carried back by a form (``back``); anything unreadable gives the default queue."""
        known = {k: v for k, v in parse_qsl(text or "") if k in cls.model_fields}
        try:
            return cls.model_validate(known)
        except ValidationError:
            return cls()


@dataclass
class Row:
    """One activity as the queue shows it."""

    a: ActivityRead
    error: str | None = None


def _rows(session: Session, activities: list[Activity]) -> list[Row]:
    return [Row(a) for a in service.to_read(session, activities)]


def _row(read: Session, activity: Activity) -> Row:
    return _rows(read, [activity])[0]


def _tasks(session: Session, by: Principal) -> list:
    """The current campaign's tasks seen by the caller's offices (a prefecture may add its own)."""
    campaign = current_campaign(session)
    if campaign is None:
        return []
    seen: dict[int, object] = {}
    for org_id in by.org_ids(*STAFF_ROLES):
        for task in tasks_for(session, org_id, campaign.id):
            seen.setdefault(task.id, task)
    return sorted(seen.values(), key=lambda t: (t.sort_order, t.id))


def _queue_context(session: Session, by: Principal, filters: ReviewFilters, *, done: str | None = None,
                   error: str | None = None, row_errors: dict[int, str] | None = None) -> dict:
    items, total = service.review_queue(session, by, filters.for_service(), page=filters.page, per_page=PER_PAGE)
    rows = _rows(session, items)
    for r in rows:
        r.error = (row_errors or {}).get(r.a.id)
    pages = max(1, -(-total // PER_PAGE))
    return {
        "filters": filters, "rows": rows, "total": total, "pages": pages, "back": filters.query(),
        "prev_url": "/review?" + filters.query(page=filters.page - 1),
        "next_url": "/review?" + filters.query(page=filters.page + 1),
        "counties": service.counties_for(session), "tasks": _tasks(session, by), "statuses": STATUS_CHOICES,
        "pending_filter": filters.status == "pending", "done": done, "error": error,
        "flag_choices": FLAG_CHOICES, **ROW_CONTEXT,
    }


def _why(counts: dict[str, int]) -> str:
    """Flag counts for a query string: over_bound.2,duplicate.1 (the order of FLAG_LABELS)."""
    return ",".join(f"{c.value}.{counts[c.value]}" for c in FLAG_LABELS if counts.get(c.value))


def _why_text(why: str) -> str:
    """超出上限 2、疑似重复 1 — from _why's text; anything unknown is left out."""
    labels = {c.value: label for c, label in FLAG_LABELS.items()}
    parts = []
    for item in why.split(",")[:len(labels)]:
        code, _, n = item.partition(".")
        if code in labels and n.isdigit():
            parts.append(f"{labels[code]} {int(n)}")
    return "、".join(parts)


def _done(done: str, n: int = 0, skipped: int = 0, flagged: int = 0, why: str = "") -> str | None:
    if done == "bulk":
        reasons = _why_text(why)
        return (f"已批量审核通过 {n} 条。"
                + (f"{flagged} 条有需要核实的提示未通过" + (f"（{reasons}）" if reasons else "") + "，请逐条核实。"
                   if flagged else "")
                + (f"另有 {skipped} 条不是待审核或不在您的审核范围，未处理。" if skipped else ""))
    return DONE_MESSAGES.get(done)


def _bulk_done(result: service.BulkResult) -> str | None:
    return _done("bulk", result.verified, result.skipped_other, result.skipped_flagged, _why(result.flag_counts))


def _back(back: str, **extra) -> str:
    """Where a plain form returns to: the queue with the filters it was posted from."""
    filters = ReviewFilters.from_query(back)
    query = "&".join(q for q in (filters.query(), urlencode(extra)) if q)
    return "/review" + (f"?{query}" if query else "")


@dataclass
class OfficeBacklog:
    """One office's 积压 panel: its own queue and each child's (app/quality/backlog.py)."""

    org: Organisation
    rows: list[backlog_service.BacklogRow]
    total: backlog_service.BacklogTotal
    sla_days: int
    own_office: bool


def _backlogs(session: Session, by: Principal) -> list[OfficeBacklog]:
    """The 积压 of each office the caller works in (usually one): three reads each."""
    panels = []
    for org_id in by.org_ids(*STAFF_ROLES):
        rows = backlog_service.backlog(session, by, org_id, today=today_cn())
        panels.append(OfficeBacklog(org=rows[0].org, rows=rows, total=backlog_service.backlog_total(rows),
                                    sla_days=rows[0].sla_days, own_office=True))
    return panels


@router.get("/review")
def review_page(request: Request, session: SessionDep, by: StaffUser,
                filters: Annotated[ReviewFilters, Query()], done: str = "", n: int = 0, skipped: int = 0,
                flagged: int = 0, why: Annotated[str, Query(max_length=200)] = ""):
    ctx = _queue_context(session, by, filters, done=_done(done, n, skipped, flagged, why))
    if not wants_fragment(request):  # the panel sits outside the list HTMX swaps
        ctx["backlogs"] = _backlogs(session, by)
    return render(request, TEMPLATE, ctx, block="queue")


@router.post("/review/sla")
async def sla_submit(request: Request, read: SessionDep, session: WriteSessionDep, by: StaffUser,
                     org_id: Annotated[int, Form()], days: Annotated[str, Form(max_length=10)] = ""):
    def save(s: Session) -> None:
        try:
            value = int(days.strip())
        except ValueError:
            raise Invalid("请填写服务时限（天数）", code="sla_out_of_range",
                          errors={"days": "请填写 1–90 之间的整数"}) from None
        backlog_service.set_sla_days(s, by, org_id, value)

    try:
        await run_write(request, read, session, save, lambda r, _: None)
    except Invalid as exc:
        if is_htmx(request):
            raise
        message, status = exc.message, exc.status_code

        def again() -> dict:
            ctx = _queue_context(read, by, ReviewFilters(), error=message)
            return ctx | {"backlogs": _backlogs(read, by)}

        return render(request, TEMPLATE, await run_in_threadpool(again), status_code=status)
    return redirect(request, "/review?done=sla")


BackField = Annotated[str, Form(max_length=1000)]
ReasonField = Annotated[str, Form(max_length=500)]


async def _after_row_action(request: Request, row: Row, back: str, done: str):
    if is_htmx(request):
        return render(request, TEMPLATE, {"r": row, "back": back, "done_row": DONE_MESSAGES[done], **ROW_CONTEXT},
                      block="row")
    return redirect(request, _back(back, done=done))


async def _row_refused(request: Request, read: Session, by: Principal, activity_id: Id, back: str,
                       exc: Invalid):
    """A reason left empty: the row (HTMX) or the queue (plain) again, with the message beside it."""
    def load() -> dict:
        try:
            if is_htmx(request):
                row = _row(read, service.activity_for_read(read, by, activity_id))
                row.error = exc.message
                return {"r": row, "back": back, **ROW_CONTEXT}
            filters = ReviewFilters.from_query(back)
            return _queue_context(read, by, filters, error=exc.message, row_errors={activity_id: exc.message})
        finally:
            end_read(read)

    ctx = await run_in_threadpool(load)
    return render(request, TEMPLATE, ctx, block="row", status_code=exc.status_code)


@router.post("/review/{activity_id:int}/verify")
async def verify_submit(request: Request, read: SessionDep, session: WriteSessionDep, by: StaffUser,
                        activity_id: Id, back: BackField = "", note: ReasonField = ""):
    """通过; a flagged activity's form carries the confirmation note (missing: the row again, with why)."""
    try:
        row = await run_write(request, read, session,
                              lambda s: service.verify(s, by=by, activity_id=activity_id, note=note), _row)
    except Invalid as exc:
        return await _row_refused(request, read, by, activity_id, back, exc)
    return await _after_row_action(request, row, back, "verified")


async def _with_reason(request: Request, read: Session, session: Session, by: Principal, activity_id: int,
                       reason: str, back: str, use_case: Callable[..., Activity], done: str):
    """A transition that needs a reason: a missing one re-renders the row with the error beside it."""
    try:
        row = await run_write(request, read, session,
                              lambda s: use_case(s, by=by, activity_id=activity_id, reason=reason), _row)
    except Invalid as exc:
        return await _row_refused(request, read, by, activity_id, back, exc)
    return await _after_row_action(request, row, back, done)


@router.post("/review/{activity_id:int}/return")
async def return_submit(request: Request, read: SessionDep, session: WriteSessionDep, by: StaffUser,
                        activity_id: Id, reason: ReasonField = "", back: BackField = "",
                        standard_reason: Annotated[str, Form(max_length=40)] = ""):
    def use_case(s: Session, **kw) -> Activity:  # the standard reason picked, and/or own words
        return service.return_activity(s, standard_reason=standard_reason, **kw)

    return await _with_reason(request, read, session, by, activity_id, reason, back, use_case, "returned")


@router.post("/review/{activity_id:int}/reopen")
async def reopen_submit(request: Request, read: SessionDep, session: WriteSessionDep, by: StaffUser,
                        activity_id: Id, reason: ReasonField = "", back: BackField = ""):
    return await _with_reason(request, read, session, by, activity_id, reason, back, service.reopen, "reopened")


@router.post("/review/bulk-verify")
async def bulk_verify_submit(request: Request, read: SessionDep, session: WriteSessionDep, by: StaffUser,
                             activity_ids: Annotated[list[int] | None, Form(max_length=1000)] = None,
                             confirmed: Annotated[bool, Form()] = False, back: BackField = ""):
    ids = sorted(set(activity_ids or []))
    if not ids:
        raise Invalid("请先勾选要审核通过的活动", code="nothing_selected")
    filters = ReviewFilters.from_query(back)
    if not confirmed:  # without JavaScript the confirmation is a page of its own
        def flagged_among() -> int:  # of those the caller reviews: a count says nothing about others' items
            mine = read.scalars(select(Activity.id).where(Activity.id.in_(ids), service.reviewable_by(by)))
            return len(flags_of(read, list(mine)))

        flagged = await run_in_threadpool(flagged_among)
        return render(request, "review/bulk_confirm.html", {"ids": ids, "back": back, "cancel_url": _back(back),
                                                            "flagged": flagged})

    def answer(r: Session, result: service.BulkResult) -> tuple[service.BulkResult, dict | None]:
        return result, (_queue_context(r, by, filters, done=_bulk_done(result)) if is_htmx(request) else None)

    result, ctx = await run_write(
        request, read, session, lambda s: service.bulk_verify(s, by=by, activity_ids=ids), answer)
    if ctx is not None:
        return render(request, TEMPLATE, ctx, block="queue")
    extra = {"flagged": result.skipped_flagged, "why": _why(result.flag_counts)} if result.skipped_flagged else {}
    return redirect(request, _back(back, done="bulk", n=result.verified, skipped=result.skipped_other, **extra))


# --- likely duplicates: side by side, merged by the reviewer -------------------------------------------

def _duplicates_context(session: Session, by: Principal, activity_id: int, *, back: str = "",
                        error: str | None = None) -> dict:
    activity = service.activity_for_review(session, by, activity_id)
    found = [a for a in candidates(session, county_id=activity.county_id, task_id=activity.task_id,
                                   occurred_on=activity.occurred_on, site_id=activity.site_id, exclude_id=activity.id,
                                   days=NEAR_DAYS) if a.merged_into_id is None]
    # Those the caller may not review are not shown: a merge needs both.
    reviewable = set(session.scalars(select(Activity.id).where(
        Activity.id.in_([a.id for a in found]), service.reviewable_by(by)))) if found else set()
    reads = service.to_read(session, [activity, *(a for a in found if a.id in reviewable)])
    return {"a": reads[0], "others": reads[1:], "back": back, "error": error, "back_url": _back(back), **ROW_CONTEXT}


@router.get("/review/{activity_id:int}/duplicates")
def duplicates_page(request: Request, session: SessionDep, by: StaffUser, activity_id: Id,
                    back: Annotated[str, Query(max_length=1000)] = ""):
    return render(request, "review/merge.html", _duplicates_context(session, by, activity_id, back=back))


@router.post("/review/{activity_id:int}/merge")
async def merge_submit(request: Request, read: SessionDep, session: WriteSessionDep, by: StaffUser,
                       activity_id: Id, into_id: Annotated[int, Form(ge=1, le=2**31 - 1)],
                       back: BackField = "", note: ReasonField = ""):
    """合并到这条: the duplicate (this one) joins ``into_id``; back to the queue with what happened."""
    try:
        await run_write(request, read, session,
                        lambda s: service.merge(s, by=by, duplicate_id=activity_id, into_id=into_id, note=note),
                        lambda r, _: None)
    except Invalid as exc:
        message, status = exc.message, exc.status_code

        def again() -> dict:
            try:
                return _duplicates_context(read, by, activity_id, back=back, error=message)
            finally:
                end_read(read)

        return render(request, "review/merge.html", await run_in_threadpool(again), status_code=status)
    return redirect(request, _back(back, done="merged"))


@router.post("/review/{activity_id:int}/participants/{member_id:int}/remove")
async def participant_remove(request: Request, read: SessionDep, session: WriteSessionDep, by: StaffUser,
                             activity_id: Id, member_id: Id, reason: ReasonField = ""):
    """移除 on the activity's page: a participant who joined but was not there."""
    await run_write(request, read, session,
                    lambda s: service.remove_participant(s, by=by, activity_id=activity_id, member_id=member_id,
                                                         reason=reason),
                    lambda r, _: None)
    return redirect(request, f"/activities/{activity_id}?removed=1")


# --- participant requests ------------------------------------------------------------------------------

def _requests_context(session: Session, by: Principal, *, done: str | None = None) -> dict:
    pairs = service.pending_requests(session, by)
    reads = {r.id: r for r in service.to_read(session, list({a.id: a for a, _ in pairs}.values()))}
    return {"requests": [(reads[a.id], m) for a, m in pairs], "done": done}


@router.get("/review/requests")
def requests_page(request: Request, session: SessionDep, by: StaffUser, done: str = ""):
    return render(request, "review/requests.html", _requests_context(session, by, done=DONE_MESSAGES.get(done)),
                  block="requests")


@router.post("/review/requests/{activity_id:int}/{member_id:int}/{decision}")
async def request_decide(request: Request, read: SessionDep, session: WriteSessionDep, by: StaffUser,
                         activity_id: Id, member_id: Id, decision: Literal["confirm", "refuse"]):
    done = "confirmed" if decision == "confirm" else "refused"
    ctx = await run_write(
        request, read, session,
        lambda s: service.decide_participant(s, by=by, activity_id=activity_id, member_id=member_id,
                                             accept=decision == "confirm"),
        lambda r, _: _requests_context(r, by, done=DONE_MESSAGES[done]) if is_htmx(request) else None)
    if ctx is not None:
        return render(request, "review/requests.html", ctx, block="requests")
    return redirect(request, f"/review/requests?done={done}")


# --- closed months -----------------------------------------------------------------------------------

_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")


def parse_month(text: str) -> int:
    """The month picker's 2026-09 as 202609."""
    found = _MONTH.match((text or "").strip())
    if not found or not 1 <= int(found.group(2)) <= 12:
        raise Invalid("请选择要关账的月份", errors={"month": "请选择月份"})
    return int(found.group(1)) * 100 + int(found.group(2))


def _previous_month(today: date) -> str:
    year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return f"{year}-{month:02d}"


def _office_orgs(session: Session, by: Principal) -> list[Organisation]:
    """The organisations whose months the caller may close: their offices' subtrees."""
    seen: dict[int, Organisation] = {}
    for top in by.org_ids(*STAFF_ROLES):
        for org in subtree(session, top):
            seen.setdefault(org.id, org)
    return sorted(seen.values(), key=lambda o: o.code)


ReportPeriod = Literal["month", "quarter"]


def _report_months(month: int, period: ReportPeriod) -> list[int]:
    """The month, or the three months of its quarter."""
    if period != "quarter":
        return [month]
    first = (month % 100 - 1) // 3 * 3 + 1
    return [month // 100 * 100 + m for m in range(first, first + 3)]


def _reporting(session: Session, by: Principal, org_id: int | None, month_text: str, period: ReportPeriod) -> dict | None:
    """Each child's 报送 for the month (or quarter) about to be closed, with the reporting rate."""
    try:
        month = parse_month(month_text)
    except Invalid:
        return None
    if org_id is None:
        return None
    rows = backlog_service.reporting_status(session, by, org_id, _report_months(month, period))
    return {"org": rows[0].org, "own": rows[0], "children": rows[1:], "rate": backlog_service.reporting_rate(rows),
            "month": month, "month_text": f"{month // 100}-{month % 100:02d}", "period": period,
            "own_office": rows[0].org.id in by.org_ids(*STAFF_ROLES)}


def _months_context(session: Session, by: Principal, *, done: str | None = None, error: str | None = None,
                    form: dict | None = None, period: ReportPeriod = "month") -> dict:
    orgs = _office_orgs(session, by)
    closed = [{"org": o, "month": c.month, "closed_at": to_cn(c.closed_at)} for c, o in service.closed_months(session, by)]
    default_org = next((o.id for o in orgs if o.id in by.org_ids(*STAFF_ROLES)), None)
    form = {"org_id": default_org, "month": _previous_month(today_cn()), **{k: v for k, v in (form or {}).items() if v}}
    return {
        "orgs": orgs, "closed": closed, "done": done, "error": error, "form": form,
        "max_month": today_cn().strftime("%Y-%m"),
        "report": None if error else _reporting(session, by, form["org_id"], form["month"], period),
    }


@router.get("/review/months")
def months_page(request: Request, session: SessionDep, by: StaffUser, done: str = "",
                org_id: Annotated[OptionalInt, Query()] = None, month: Annotated[str, Query(max_length=10)] = "",
                period: ReportPeriod = "month"):
    ctx = _months_context(session, by, done=DONE_MESSAGES.get(done), form={"org_id": org_id, "month": month},
                          period=period)
    return render(request, "review/months.html", ctx, block="months")


@router.post("/review/months/report")
async def month_report(request: Request, read: SessionDep, session: WriteSessionDep, by: StaffUser,
                       org_id: Annotated[int, Form()], month: Annotated[int, Form(ge=200001, le=999912)],
                       confirm: Annotated[bool, Form()] = True, period: Annotated[ReportPeriod, Form()] = "month"):
    """The office confirms (or takes back) its own 报送完成 for a month."""
    use_case = backlog_service.confirm_reporting if confirm else backlog_service.unconfirm_reporting
    done = "reported" if confirm else "unreported"
    form = {"org_id": org_id, "month": f"{month // 100}-{month % 100:02d}"}
    try:
        ctx = await run_write(request, read, session, lambda s: use_case(s, by, org_id, month),
                              lambda r, _: _months_context(r, by, done=DONE_MESSAGES[done], form=form, period=period)
                              if is_htmx(request) else None)
    except Invalid as exc:
        if is_htmx(request):
            raise
        message, status = exc.message, exc.status_code
        ctx = await run_in_threadpool(lambda: _months_context(read, by, error=message, form=form))
        return render(request, "review/months.html", ctx, status_code=status)
    if ctx is not None:
        return render(request, "review/months.html", ctx, block="months")
    return redirect(request, "/review/months?" + urlencode({**form, "period": period, "done": done}))


async def _month_write(request: Request, read: Session, session: Session, by: Principal, use_case: Callable[[Session], object], done: str,
                       form: dict):
    try:
        ctx = await run_write(request, read, session, use_case,
                              lambda r, _: _months_context(r, by, done=DONE_MESSAGES[done]) if is_htmx(request)
                              else None)
    except (Invalid, Conflict) as exc:
        if is_htmx(request):
            raise  # a toast says why; the form keeps what was chosen
        message, status = exc.message, exc.status_code
        ctx = await run_in_threadpool(lambda: _months_context(read, by, error=message, form=form))
        return render(request, "review/months.html", ctx, status_code=status)
    if ctx is not None:
        return render(request, "review/months.html", ctx, block="months")
    return redirect(request, f"/review/months?done={done}")


@router.post("/review/months/close")
async def month_close(request: Request, read: SessionDep, session: WriteSessionDep, by: StaffUser,
                      org_id: Annotated[OptionalInt, Form()] = None, month: Annotated[str, Form(max_length=10)] = ""):
    def close(s: Session) -> None:
        if org_id is None:
            raise Invalid("请选择组织", errors={"org_id": "请选择组织"})
        service.close_month(s, by=by, org_id=org_id, month=parse_month(month))

    return await _month_write(request, read, session, by, close, "closed", {"org_id": org_id, "month": month})


@router.post("/review/months/reopen")
async def month_reopen(request: Request, read: SessionDep, session: WriteSessionDep, by: StaffUser,
                       org_id: Annotated[int, Form()], month: Annotated[int, Form(ge=200001, le=999912)],
                       confirmed: Annotated[bool, Form()] = False):
    if not confirmed:  # without JavaScript the confirmation is a page of its own
        org = await run_in_threadpool(org_for_staff, read, by, org_id)
        return render(request, "review/month_confirm.html", {"org": org, "org_id": org_id, "month": month})
    return await _month_write(
        request, read, session, by, lambda s: service.reopen_month(s, by=by, org_id=org_id, month=month),
        "month_reopened", {})
