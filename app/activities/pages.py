"""The member's phone flow: record an activity, 我的活动, an activity's page, correcting and
withdrawing, asking to join a likely duplicate, and the evidence photos.

Every rule is the service's (app/activities/service.py); these handlers translate between the
browser and it. One template per page; HTMX asks for its named blocks. Every form also works
without JavaScript: the pickers' 选择/查找 buttons post the form back with ``reload=1`` and get it
re-rendered with what was typed (nothing is saved), and writes answer with post/redirect/get.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from datetime import date
from math import ceil
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import select
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app.activities import photos, service
from app.activities.schemas import ActivityInput, ActivityRead
from app.auth.principal import STAFF_ROLES, Principal
from app.clock import today_cn
from app.db import run_write
from app.deps import CurrentUser, Id, SessionDep, WriteSessionDep
from app.errors import Conflict, Invalid, NotFound
from app.limits import bounded_body_route
from app.models import Activity, ActivityPhoto, Site, SiteKind, UserAccount
from app.quality import entry
from app.quality.duplicates import LikelyDuplicate
from app.storage import Missing, file_response
from app.suggestions import service as suggestions
from app.web import is_htmx, message_header, redirect, render

FORM = "activities/form.html"
# A whole submission: the photos at their largest plus the text fields. Checked before the body is
# read (below), so nobody can make the server spool gigabytes to disk.
MAX_BODY = photos.MAX_PHOTOS * photos.MAX_BYTES + 2 * 1024 * 1024
PER_PAGE = 20
SITE_KINDS = {SiteKind.town: "乡镇/街道", SiteKind.village: "村/社区", SiteKind.demo_site: "示范点",
              SiteKind.studio: "委员工作室"}
_VALUE_FIELD = re.compile(r"^value_(\d+)$")
# ActivityInput's own limits, said in Chinese beside the field the browser knows.
_INPUT_FIELDS = {"description": "description", "participant_member_ids": "participants", "values": "values",
                 "distinct_note": "distinct_note", "distinct_from": "distinct_note"}
_INPUT_MESSAGES = {"description": "活动简述最多 2000 字", "participants": "参与委员最多 200 人",
                   "values": "指标数值格式不正确", "distinct_note": "说明最多 200 字"}
# What the 「再记录一条新的活动」 button carries to a fresh form: everything typed but this submission's own.
_NOT_CARRIED = {"idempotency_key", "csrf_token", "reload", "version", "distinct_from", "distinct_note",
                "confirm_values"}


router = APIRouter(prefix="/activities", include_in_schema=False,
                   route_class=bounded_body_route(lambda: MAX_BODY))  # photos: app/limits.py


# --- the form as typed ---------------------------------------------------------------------------

def _ident(text: str) -> int | None:
    """A row id as typed into a form, or None (nine digits at most: no database overflow)."""
    text = text.strip()
    return int(text) if text.isdecimal() and len(text) <= 9 else None


class ActivityForm(BaseModel):
    """The form as the browser sends it: text as typed, so a re-render loses nothing.

    Indicator values arrive as ``value_<indicator id>`` (one field per indicator of the chosen
    task), hence ``extra="allow"``. Pickers that hold a choice between reloads also carry its label
    (``participant_label`` = ``"<id>:<label>"``) so the page can show it again without looking
    members up by an id the browser sent.
    """

    model_config = ConfigDict(extra="allow")

    idempotency_key: str = ""
    version: str = ""  # on a correction: the version the form was filled from
    task_id: str = ""
    county_id: str = ""
    site_id: str = ""
    site_q: str = ""
    occurred_on: str = ""
    description: str = ""
    organiser_org_id: str = ""
    participant: list[str] = []
    participant_label: list[str] = []
    member_q: str = ""
    on_behalf: str = ""
    reload: str = ""  # set by the no-JavaScript 选择/查找 buttons: "show the form again with this"
    # The duplicate decision's 「这是另一次活动」 (the candidates' ids and the member's note) and the
    # 「数值无误，提交」 of the soft check on values (app/quality/entry.py).
    distinct_from: list[str] = []
    distinct_note: str = ""
    confirm_values: str = ""
    csrf_token: str = ""  # checked by app.auth.csrf

    @property
    def behalf(self) -> bool:
        return self.on_behalf.lower() in ("1", "true", "on")

    @property
    def values(self) -> dict[int, str]:
        found = {}
        for name, text in (self.model_extra or {}).items():
            match = _VALUE_FIELD.match(name)
            if match and isinstance(text, str):
                found[int(match.group(1))] = text
        return found

    def value(self, indicator_id: int) -> str:
        return self.values.get(indicator_id, "")

    @property
    def values_confirmed(self) -> bool:
        return self.confirm_values == "1"

    def carried(self) -> list[tuple[str, str]]:
        """(name, text) of every field typed, for a fresh form that keeps them (a new key)."""
        fields = self.model_dump(exclude=_NOT_CARRIED)
        fields.update(self.model_extra or {})
        return [(name, item) for name, text in fields.items()
                for item in (text if isinstance(text, list) else [text]) if isinstance(item, str) and item]

    def number(self, name: str) -> int | None:
        return _ident(getattr(self, name))

    @property
    def participant_ids(self) -> list[int]:
        return list(dict.fromkeys(i for i in map(_ident, self.participant) if i is not None))

    def chosen_participants(self) -> list[tuple[int, str]]:
        labels = {}
        for item in self.participant_label:
            ident, _, label = item.partition(":")
            if _ident(ident) is not None:
                labels[_ident(ident)] = label
        return [(i, labels.get(i) or f"委员（编号 {i}）") for i in self.participant_ids]

    def to_input(self) -> ActivityInput:
        """The service's input; Invalid (per field) when the text cannot even be read as one."""
        errors: dict[str, str] = {}
        task_id, county_id = self.number("task_id"), self.number("county_id")
        if task_id is None:
            errors["task_id"] = "请选择实事"
        if county_id is None:
            errors["county_id"] = "请选择活动所在的县（市、区）"
        site_id = self.number("site_id")
        if self.site_id.strip() and site_id is None:
            errors["site_id"] = "请重新选择乡镇/村"
        organiser = self.number("organiser_org_id")
        if self.organiser_org_id.strip() and organiser is None:
            errors["organiser_org_id"] = "请重新选择组织单位"
        try:
            occurred_on = date.fromisoformat(self.occurred_on.strip())
        except ValueError:
            errors["occurred_on"] = "请填写活动日期"
        if errors:
            raise Invalid(next(iter(errors.values())), errors=errors)
        try:
            return ActivityInput(
                task_id=task_id, county_id=county_id, site_id=site_id, occurred_on=occurred_on,
                description=self.description, values=self.values, organiser_org_id=organiser,
                participant_member_ids=self.participant_ids, on_behalf=self.behalf,
                distinct_from=[i for i in map(_ident, self.distinct_from) if i is not None],
                distinct_note=self.distinct_note.strip() or None,
            )
        except ValidationError as exc:
            for e in exc.errors():
                field = _INPUT_FIELDS.get(str(e["loc"][0]) if e["loc"] else "", "values")
                errors.setdefault(field, _INPUT_MESSAGES[field])
            raise Invalid(next(iter(errors.values())), errors=errors) from exc


def _new_key() -> str:
    return secrets.token_urlsafe(24)


def _display_name(filename: str | None) -> str:
    """What to call an upload in a message: its last path part, never a path."""
    return re.split(r"[\\/]", filename or "")[-1][:60] or "未命名"


def _each_photo(raws: list[tuple[str, bytes]], step: Callable[[bytes], Any]) -> list:
    """``step`` applied to every upload; Invalid naming each one it refused."""
    done, problems = [], []
    for n, (name, raw) in enumerate(raws, start=1):
        try:
            done.append(step(raw))
        except Invalid as exc:
            problems.append(f"第 {n} 张（{name}）：{exc.message}")
    if problems:
        raise Invalid(problems[0], errors={"photos": "；".join(problems)})
    return done


def _checked_submission(form: ActivityForm, uploads: list[UploadFile],
                        rules: Callable[[ActivityInput], Any]) -> tuple[ActivityInput, list[tuple[str, bytes]]]:
    """The form and the photos' bytes, checked cheapest first: the fields and every photo's header
    (each problem of both reported at once), then the service's ``rules``. Only a submission that
    passes all of it gets its photos decoded (:func:`_read_submission`)."""
    # One more than allowed is enough for the service to refuse "too many": no point reading 50.
    # Past 10 MB a photo is refused anyway: read no more of it.
    raws = [(_display_name(u.filename), u.file.read(photos.MAX_BYTES + 1)) for u in uploads[: photos.MAX_PHOTOS + 1]]
    errors: dict[str, str] = {}
    data = None
    try:
        data = form.to_input()
    except Invalid as exc:
        errors.update(exc.errors)
    try:
        _each_photo(raws, photos.check)
    except Invalid as exc:
        errors.update(exc.errors)
    if errors or data is None:
        raise Invalid(next(iter(errors.values())), errors=errors)
    rules(data)
    return data, raws


async def _read_submission(request: Request, form: ActivityForm, uploads: list[UploadFile],
                           rules: Callable[[ActivityInput], Any]) -> tuple[ActivityInput, list[photos.PreparedPhoto]]:
    """The checked form and its photos decoded and re-encoded — an invalid submission costs no image
    work. Both run in worker threads before any write transaction starts (it must not wait on them);
    the decoding in one of the application's decode turns, waited for without holding a thread."""
    data, raws = await run_in_threadpool(_checked_submission, form, uploads, rules)
    if not raws:
        return data, []
    prepared = await anyio.to_thread.run_sync(_each_photo, raws, photos.prepare,
                                              limiter=photos.decode_turns(request.app))
    return data, prepared


# --- building the form page -----------------------------------------------------------------------


def _tasks_part(session: Session, by: Principal, form: ActivityForm) -> dict[str, Any]:
    recording = service.recording_org(by, form.behalf)
    tasks = service.task_choices(session, by, recording)
    chosen = form.number("task_id")
    task, indicators = next(((t, inds) for t, inds in tasks if t.id == chosen), (None, []))
    credited = form.number("organiser_org_id") or recording
    return {"tasks": tasks, "task": task, "indicators": indicators,
            "bound_hints": entry.bound_hints(session, credited, indicators) if indicators else {}}


def _sites_part(session: Session, form: ActivityForm) -> dict[str, Any]:
    county_id, site_id = form.number("county_id"), form.number("site_id")
    chosen = session.get(Site, site_id) if site_id else None
    if chosen is not None and chosen.county_id != county_id:
        chosen = None  # the county changed since: its site no longer applies
    options = []
    if county_id and form.site_q.strip():
        options = service.search_sites(session, county_id=county_id, q=form.site_q)
    # Village names repeat across towns: say which town (one query for the list, never one per row).
    parent_ids = {s.parent_id for s in options if s.parent_id}
    parents = {}
    if parent_ids:
        parents = dict(session.execute(select(Site.id, Site.name).where(Site.id.in_(parent_ids))).all())
    return {"chosen_site": chosen, "site_options": [(s, parents.get(s.parent_id, "")) for s in options],
            "site_kinds": SITE_KINDS}


def _members_part(session: Session, by: Principal, form: ActivityForm) -> dict[str, Any]:
    chosen = form.chosen_participants()
    taken = {i for i, _ in chosen} | {by.member_id}
    matches = [
        (m, o) for m, o in service.search_members(session, by, q=form.member_q, on_behalf=form.behalf,
                                                  organiser_org_id=form.number("organiser_org_id"))
        if m.id not in taken
    ]
    return {"chosen": chosen, "member_options": matches}


def _duplicates_part(session: Session, by: Principal, form: ActivityForm, exclude_id: int | None) -> dict[str, Any]:
    county_id, task_id = form.number("county_id"), form.number("task_id")
    try:
        occurred_on = date.fromisoformat(form.occurred_on.strip())
    except ValueError:
        occurred_on = None
    found: list[Activity] = []
    if county_id and task_id and occurred_on:
        found = service.likely_duplicates(session, county_id=county_id, task_id=task_id,
                                          occurred_on=occurred_on, exclude_id=exclude_id)
    return {"duplicates": entry.decision(session, by, found)}


def _readable(session: Session, by: Principal, activity_id: Id) -> ActivityRead:
    """The activity as shown; 404 outside the caller's scope (the service's loader decides)."""
    return service.to_read(session, [service.activity_for_read(session, by, activity_id)])[0]


def _recorded(session: Session, by: Principal, activity_id: Id) -> ActivityRead:
    """The activity as shown, for its recorder only (404 outside scope, 403 for other readers)."""
    return service.to_read(session, [service.activity_for_recorder(session, by, activity_id, lock=False)])[0]


def _render_form(request: Request, session: Session, by: Principal, form: ActivityForm, *,
                 block: str, activity: ActivityRead | None = None, errors: dict[str, str] | None = None,
                 message: str | None = None, photos_dropped: bool = False, status_code: int = 200,
                 decision: list[entry.Candidate] | None = None, to_confirm: list[str] | None = None,
                 already: Activity | None = None):
    """The form page, or one of its blocks for HTMX; only the parts that block shows are queried.

    ``decision``: the likely duplicates the member must decide about (申请加入 / 这是另一次活动);
    ``to_confirm``: the values to confirm (请确认数值无误); ``already``: the activity this submission
    key already recorded (您刚才已提交成功) — shown instead of the form.
    """
    part = block if is_htmx(request) else None
    ctx: dict[str, Any] = {
        "form": form, "errors": errors or {}, "message": message, "activity": activity,
        "mode": "edit" if activity else "new", "can_join": by.member_id is not None and not form.behalf,
        "decision": decision or [], "to_confirm": to_confirm or [], "already": already,
    }
    if part in (None, "form", "values"):
        ctx.update(_tasks_part(session, by, form))
    if part in (None, "form", "site_options"):
        ctx.update(_sites_part(session, form))
    if part in (None, "form", "member_options"):
        ctx.update(_members_part(session, by, form))
    if part in (None, "form", "duplicates"):
        ctx.update(_duplicates_part(session, by, form, activity.id if activity else None))
    if part in (None, "form"):
        if activity:
            action = f"/activities/{activity.id}/edit"
            ctx.update(organisers=[], existing_photos=activity.photo_ids)
        else:
            action = "/activities"
            ctx.update(organisers=service.org_options(session, by, on_behalf=form.behalf), existing_photos=[])
            # Every task's value inputs go with the page (templates): choosing a task needs no network.
            credited = form.number("organiser_org_id") or service.recording_org(by, form.behalf)
            every = [ind for _, inds in ctx["tasks"] for ind in inds]
            ctx["offline_values"] = entry.bound_hints(session, credited, every) if every else {}
        ctx.update(
            action=action, counties=service.counties_for(session), today=today_cn().isoformat(),
            max_photos=photos.MAX_PHOTOS, photos_dropped=photos_dropped,
        )
    # The refusal's reason for the phone's queue, which sends without the page (app/offline.py).
    headers = message_header(message) if message and status_code == 422 else None
    if already is not None:
        headers = {"X-Recorded": str(already.id)}  # this key's activity: the queue's item is done
    return render(request, FORM, ctx, block=block, status_code=status_code, headers=headers)


FormQuery = Annotated[ActivityForm, Query()]
FormBody = Annotated[ActivityForm, Form()]
# A reload posts the form url-encoded (no point uploading photos to re-render a form): the file
# input then arrives as its file name, which is no upload.
PhotoFields = Annotated[list[UploadFile | str] | None, File(alias="photos")]


def _uploads(items: list[UploadFile | str] | None) -> list[UploadFile]:
    return [u for u in items or [] if not isinstance(u, str)]


def _files_named(items: list[UploadFile | str] | None) -> bool:
    """A reload named chosen files (which it did not send): the page asks to choose them again."""
    return any(isinstance(u, str) and u for u in items or [])


def _render_invalid(request: Request, session: Session, by: Principal, form: ActivityForm, exc: Invalid,
                    uploads: list[UploadFile], activity: ActivityRead | None = None):
    # Without JavaScript the browser forgets chosen files on a new page; htmx keeps the file input
    # (hx-preserve), so only the plain form is told to choose them again.
    return _render_form(request, session, by, form, block="form", activity=activity, errors=exc.errors,
                        message=exc.message, photos_dropped=bool(uploads) and not is_htmx(request),
                        status_code=422)


def _render_question(request: Request, session: Session, by: Principal, form: ActivityForm,
                     uploads: list[UploadFile], *, found: list[Activity] | None = None,
                     to_confirm: list[str] | None = None, exc: Invalid | None = None):
    """The form again with a question before its submit button: which likely duplicate this is
    (``found``; 申请加入 or 这是另一次活动), or whether the values are right (``to_confirm``). 422 like
    an invalid form, so htmx swaps it in (4xx but 422 become toasts: templates/base.html)."""
    if exc is not None:  # 这是另一次活动 without a note: the same question, the error beside the note
        found = entry.same_day_candidates(session, form.to_input())
    # Said at the top too: without JavaScript the page opens there, far from the question.
    message = (exc.message if exc else "已有同一天、同一地点、同一实事的活动记录：请在下方选择申请加入，或说明这是另一次活动"
               if found else "请在下方确认数值无误后再提交")
    return _render_form(request, session, by, form, block="form", errors=exc.errors if exc else None,
                        message=message, photos_dropped=bool(uploads) and not is_htmx(request),
                        decision=entry.decision(session, by, found or []), to_confirm=to_confirm, status_code=422)


def _render_already(request: Request, session: Session, by: Principal, form: ActivityForm, exc: Conflict):
    """The same submission key came back with other content (Back, a change, 提交): the first one was
    recorded — say so, with a link, and offer a fresh form keeping what was typed."""
    found = entry.already_recorded(session, by, form.idempotency_key)
    if found is None:  # pragma: no cover - the key's activity is the reason for the conflict
        raise exc
    return _render_form(request, session, by, form, block="form", already=found)


# --- recording --------------------------------------------------------------------------------------

@router.get("/new")
def new_activity(request: Request, session: SessionDep, by: CurrentUser, form: FormQuery):
    """The form; with HTMX, the indicator inputs of the chosen task (block ``values``)."""
    if not form.behalf and by.member_org_id is None and by.has_role(*STAFF_ROLES):
        return redirect(request, "/activities/new?on_behalf=1")  # staff record for members (代录)
    if not is_htmx(request):
        county = service.default_county(session, by)
        form.county_id = form.county_id or (str(county.id) if county else "")
        form.occurred_on = form.occurred_on or today_cn().isoformat()
    # Kept through every re-render until a success, so a retried submission reuses it.
    form.idempotency_key = form.idempotency_key or _new_key()
    return _render_form(request, session, by, form, block="values")


@router.post("")
async def create_activity(
    request: Request, read: SessionDep, write: WriteSessionDep, by: CurrentUser,
    form: FormBody, photo_fields: PhotoFields = None,
):
    if form.reload:
        return await run_in_threadpool(_render_form, request, read, by, form, block="form",
                                       photos_dropped=_files_named(photo_fields))
    uploads = _uploads(photo_fields)

    def rules(data: ActivityInput) -> None:
        service.check_new_activity(read, by=by, data=data, idempotency_key=form.idempotency_key)
        if not form.values_confirmed:
            sentences = entry.bound_warnings(read, by, data, idempotency_key=form.idempotency_key)
            if sentences:
                raise entry.ValuesToConfirm(sentences)

    try:
        # Photos are decoded and re-encoded first, in a worker thread: the writer turn and the
        # write transaction (run_write, shared with the API) never wait on image processing.
        data, prepared = await _read_submission(request, form, uploads, rules)
        activity_id, created = await run_write(
            request, read, write,
            lambda s: service.record_activity(s, by=by, data=data, idempotency_key=form.idempotency_key,
                                              photos=prepared),
            lambda _read, result: (result.activity.id, result.created))
    except LikelyDuplicate as exc:
        return await run_in_threadpool(_render_question, request, read, by, form, uploads, found=exc.candidates)
    except entry.ValuesToConfirm as exc:
        return await run_in_threadpool(_render_question, request, read, by, form, uploads,
                                       to_confirm=exc.sentences)
    except Invalid as exc:
        if exc.code == "distinct_note_missing":
            return await run_in_threadpool(_render_question, request, read, by, form, uploads, exc=exc)
        return await run_in_threadpool(_render_invalid, request, read, by, form, exc, uploads)
    except Conflict as exc:
        if exc.code != "idempotency_conflict":
            raise
        return await run_in_threadpool(_render_already, request, read, by, form, exc)
    # A retry of a submission that already succeeded lands on the same activity: 已提交成功.
    return redirect(request, f"/activities/{activity_id}?created=1" + ("" if created else "&replayed=1"))


@router.get("/duplicates")
def duplicates(request: Request, session: SessionDep, by: CurrentUser, form: FormQuery,
               exclude_id: Annotated[int | None, Query(ge=1, le=2**53)] = None):
    """Likely duplicates of what is being recorded (same place, date and task), with 申请加入."""
    activity = _readable(session, by, exclude_id) if exclude_id else None
    form.idempotency_key = form.idempotency_key or _new_key()
    return _render_form(request, session, by, form, block="duplicates", activity=activity)


@router.get("/sites")
def sites(request: Request, session: SessionDep, by: CurrentUser, form: FormQuery,
          q: Annotated[str, Query(max_length=40)] = ""):
    """Type-ahead for the town or village of the chosen county."""
    form.site_q = q or form.site_q
    form.idempotency_key = form.idempotency_key or _new_key()
    return _render_form(request, session, by, form, block="site_options")


@router.get("/members")
def members(request: Request, session: SessionDep, by: CurrentUser, form: FormQuery,
            q: Annotated[str, Query(max_length=40)] = ""):
    """Type-ahead for the other members who took part (only those the service offers)."""
    form.member_q = q or form.member_q
    form.idempotency_key = form.idempotency_key or _new_key()
    return _render_form(request, session, by, form, block="member_options")


# --- 我的活动 and one activity ------------------------------------------------------------------------

@router.get("/mine")
def my_activities(request: Request, session: SessionDep, by: CurrentUser,
                  page: Annotated[int, Query(ge=1, le=100_000)] = 1, joined: bool = False):
    rows, total = service.my_activities(session, by, page=page, per_page=PER_PAGE)
    return render(request, "activities/mine.html", {
        "items": service.to_read(session, rows), "total": total, "page": page,
        "pages": max(1, ceil(total / PER_PAGE)), "joined": joined,
    }, block="listing")


def _reviewer_bits(request: Request, session: Session, by: Principal, a: ActivityRead) -> dict:
    """Its verifier sees who joined and may remove a participant who was not there (not the recorder)."""
    if a.status not in ("pending", "verified") or not by.can(session, a.credited_org_id, *STAFF_ROLES):
        return {"can_review": False}
    recorder = session.scalar(select(UserAccount.member_id).where(UserAccount.id == a.recorder_user_id))
    return {"can_review": True, "joins": service.participant_history(session, a.id), "recorder_member_id": recorder,
            "removed": request.query_params.get("removed") == "1"}


def _detail(request: Request, session: Session, by: Principal, activity_id: Id, *, confirming: bool = False):
    a = _readable(session, by, activity_id)
    mine = a.recorder_user_id == by.user_id
    flags = {k: request.query_params.get(k) == "1"
             for k in ("created", "replayed", "corrected", "withdrawn", "stale", "joined")}
    return render(request, "activities/detail.html", {
        "a": a, "photos": a.photo_ids, "confirming": confirming, **flags, **_reviewer_bits(request, session, by, a),
        # Which buttons to offer follows the service's own table of transitions.
        "can_edit": mine and a.status in service.TRANSITIONS["resubmit"][0],
        "can_withdraw": mine and a.status in service.TRANSITIONS["withdraw"][0],
        # 意见建议的跟踪 (its state; the office's form) when the task is a suggestion's.
        "suggestion": suggestions.state_for_page(session, by, activity_id), "today": today_cn().isoformat(),
        "suggestion_labels": suggestions.STATE_LABELS,
    })


@router.get("/{activity_id:int}")
def activity_page(request: Request, session: SessionDep, by: CurrentUser, activity_id: Id):
    return _detail(request, session, by, activity_id)


@router.get("/{activity_id:int}/photos/{photo_id:int}")
def activity_photo(session: SessionDep, by: CurrentUser, activity_id: Id, photo_id: Id,
                   thumb: bool = False):
    """A stored photo, only to those who may read its activity."""
    activity = service.activity_for_read(session, by, activity_id)
    photo = session.get(ActivityPhoto, photo_id)
    if photo is None or photo.activity_id != activity.id:
        raise NotFound()
    try:
        # private: a shared cache (an intranet proxy) must not hand one member's evidence to another.
        # (nosniff, like every answer's security headers, comes from app/security.py.)
        return file_response(photos.key_of(photo.storage_key, thumb=thumb), media_type="image/jpeg",
                             headers={"Cache-Control": "private, max-age=86400"})
    except Missing:
        raise NotFound() from None


# --- correcting, withdrawing, joining ----------------------------------------------------------------

def _form_of(by: Principal, a: ActivityRead) -> ActivityForm:
    """The form filled with an activity as stored (values as displayed: money in 万元)."""
    people = list(zip(a.participant_ids, a.participants, strict=True))
    others = [(i, name) for i, name in people if i != by.member_id]
    # Recorded for others (代录) when the recorder did not take part; the correction keeps it so.
    behalf = by.member_id is None or by.member_id not in {i for i, _ in people}
    return ActivityForm(
        idempotency_key=_new_key(), version=str(a.version), task_id=str(a.task_id), county_id=str(a.county_id),
        site_id=str(a.site_id or ""), occurred_on=a.occurred_on.isoformat(), description=a.description,
        organiser_org_id=str(a.organiser_org_id or ""), participant=[str(i) for i, _ in others],
        participant_label=[f"{i}:{name}" for i, name in others], on_behalf="1" if behalf else "",
        **{f"value_{v.indicator_id}": v.display for v in a.values},
    )


@router.get("/{activity_id:int}/edit")
def edit_activity(request: Request, session: SessionDep, by: CurrentUser, activity_id: Id,
                  form: FormQuery):
    """修改并重新提交: the form filled with the activity as stored."""
    a = _recorded(session, by, activity_id)
    if a.status not in service.TRANSITIONS["resubmit"][0]:
        return redirect(request, f"/activities/{a.id}")
    if not is_htmx(request):
        form = _form_of(by, a)
    form.idempotency_key = form.idempotency_key or _new_key()
    return _render_form(request, session, by, form, block="values", activity=a)


def _render_reload_edit(request: Request, session: Session, by: Principal, activity_id: Id,
                        form: ActivityForm, photos_dropped: bool):
    a = _recorded(session, by, activity_id)
    return _render_form(request, session, by, form, block="form", activity=a, photos_dropped=photos_dropped)


def _render_invalid_edit(request: Request, session: Session, by: Principal, activity_id: Id,
                         form: ActivityForm, exc: Invalid, uploads: list[UploadFile]):
    a = _readable(session, by, activity_id)
    return _render_invalid(request, session, by, form, exc, uploads, activity=a)


@router.post("/{activity_id:int}/edit")
async def correct_activity(
    request: Request, read: SessionDep, write: WriteSessionDep, by: CurrentUser, activity_id: Id,
    form: FormBody, photo_fields: PhotoFields = None,
):
    if form.reload:
        return await run_in_threadpool(_render_reload_edit, request, read, by, activity_id, form,
                                       _files_named(photo_fields))
    uploads = _uploads(photo_fields)
    try:
        # Someone else's (or no) activity: 404/403 before any photo is decoded.
        data, prepared = await _read_submission(
            request, form, uploads, lambda _data: _recorded(read, by, activity_id))
        await run_write(request, read, write,
                        lambda s: service.correct_activity(s, by=by, activity_id=activity_id, data=data,
                                                           photos=prepared, expected_version=form.number("version")),
                        lambda _read, _activity: None)
    except Invalid as exc:
        return await run_in_threadpool(_render_invalid_edit, request, read, by, activity_id, form, exc,
                                       uploads)
    except Conflict as exc:
        if exc.code != "stale_version":
            raise
        # Most often a retry whose first copy already landed: show the activity as it now stands.
        return redirect(request, f"/activities/{activity_id}?stale=1")
    return redirect(request, f"/activities/{activity_id}?corrected=1")


@router.get("/{activity_id:int}/withdraw")
def withdraw_confirm(request: Request, session: SessionDep, by: CurrentUser, activity_id: Id):
    """Without JavaScript (no hx-confirm) the confirmation is a page of its own."""
    return _detail(request, session, by, activity_id, confirming=True)


@router.post("/{activity_id:int}/withdraw")
async def withdraw_activity(request: Request, read: SessionDep, write: WriteSessionDep, by: CurrentUser,
                            activity_id: Id):
    await run_write(request, read, write, lambda s: service.withdraw(s, by=by, activity_id=activity_id),
                    lambda _read, _activity: None)
    return redirect(request, f"/activities/{activity_id}?withdrawn=1")


@router.post("/{activity_id:int}/join")
async def join_activity(request: Request, read: SessionDep, write: WriteSessionDep, by: CurrentUser,
                        activity_id: Id):
    """申请加入: join an existing activity instead of recording it twice (the service adds the member
    at once, so the answer is the activity's page: 已加入这次活动)."""
    await run_write(request, read, write,
                    lambda s: service.request_to_join(s, by=by, activity_id=activity_id),
                    lambda _read, _row: None)
    return redirect(request, f"/activities/{activity_id}?joined=1")
