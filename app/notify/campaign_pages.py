"""Reminder campaign pages (staff): write and preview a reminder to a group of the inactive list
(/boards/CODE/reminders/new), send it (POST /boards/CODE/reminders), the organisation's campaigns
(/boards/CODE/reminders) and one campaign's results (/reminders/ID). The rules are app/notify/campaigns.py's.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlmodel import Session

from app.boards import periods
from app.boards import service as boards
from app.boards.pages import ROLE_LABELS, cn_minute
from app.db import run_write
from app.deps import CurrentUser, Id, OrgForStaff, SessionDep, WriteSessionDep
from app.errors import Invalid
from app.links.schemas import IdOrBlank
from app.models import Committee, Organisation
from app.notify import campaigns
from app.web import redirect, render

router = APIRouter(include_in_schema=False)
NEW = "notify/campaign_new.html"

Segment = Literal["never_activated", "returned", "pending", "idle"]


class DraftForm(BaseModel):
    period: str | None = Field(default=None, max_length=16)
    segment: Segment = "idle"
    committee: IdOrBlank = None
    message: str = Field(default="", max_length=500)
    sms: str = Field(default="1", max_length=1)  # "1": SMS too; anything else: 站内消息 only
    submission_key: str = Field(default="", max_length=64)
    csrf_token: str = ""

    def draft(self, org: Organisation) -> campaigns.Draft:
        return campaigns.Draft(org=org, period=periods.parse(self.period), segment=self.segment,
                               committee_id=self.committee, message=self.message, with_sms=self.sms == "1")


def _render_new(request: Request, session: Session, org: Organisation, form: DraftForm, *,
                message: str | None = None, errors: dict[str, str] | None = None, status_code: int = 200) -> Response:
    preview = None
    try:
        preview = campaigns.preview(session, form.draft(org))
        form.message = preview.draft.message
    except Invalid as exc:
        message, errors, status_code = message or exc.message, errors or exc.errors or {}, 422
    committee = session.get(Committee, form.committee) if form.committee else None
    return render(request, NEW, {
        "org": org, "form": form, "preview": preview, "message": message, "errors": errors or {},
        "period": periods.parse(form.period), "segments": boards.SEGMENT_LABELS, "hints": boards.SEGMENT_HINTS,
        "committee": committee, "reasons": campaigns.SKIP_REASONS, "max_message": campaigns.MAX_MESSAGE,
        "cn": cn_minute, "submission_key": form.submission_key or secrets.token_urlsafe(18)},
        block="preview", status_code=status_code)


@router.get("/boards/{code}/reminders/new")
def new_campaign(request: Request, session: SessionDep, org: OrgForStaff, form: Annotated[DraftForm, Query()]) -> Response:
    form.submission_key = ""  # a new page, a new submission
    return _render_new(request, session, org, form)


@router.post("/boards/{code}/reminders")
async def send_campaign(request: Request, read: SessionDep, write: WriteSessionDep, by: CurrentUser,
                        org: OrgForStaff, form: Annotated[DraftForm, Form()]) -> Response:
    try:
        draft = form.draft(org)
        sent = await run_write(request, read, write, lambda s: campaigns.send(
            s, by=by, draft=draft, submission_key=form.submission_key), lambda _r, result: result)
    except Invalid as exc:
        return await run_in_threadpool(_render_new, request, read, org, form, message=exc.message,
                                       errors=exc.errors, status_code=422)
    return redirect(request, f"/reminders/{sent.campaign.id}")


class ListQuery(BaseModel):
    page: int = Field(default=1, ge=1, le=10_000)


@router.get("/boards/{code}/reminders")
def campaign_list(request: Request, session: SessionDep, org: OrgForStaff, q: Annotated[ListQuery, Query()]) -> Response:
    per_page = 50
    lines, total = campaigns.campaigns_of(session, org, page=q.page, per_page=per_page)
    return render(request, "notify/campaigns.html", {
        "org": org, "lines": lines, "total": total, "page": q.page, "per_page": per_page, "cn": cn_minute})


@router.get("/reminders/{campaign_id}")
def campaign_page(request: Request, session: SessionDep, by: CurrentUser, campaign_id: Id) -> Response:
    campaign = campaigns.campaign_for_staff(session, by, campaign_id)
    res = campaigns.results(session, campaign)
    org = session.get(Organisation, campaign.org_id)
    return render(request, "notify/campaign.html", {
        "org": org, "r": res, "c": campaign, "cn": cn_minute, "roles": ROLE_LABELS,
        "period_label": _period_label(campaign.period)}, block="results")


def _period_label(key: str) -> str:
    try:
        return periods.parse(key).label
    except Invalid:  # a period of a year since gone from the picker: the key says enough
        return key
