"""Pages of 意见建议的跟踪: /suggestions/CODE lists the verified suggestions of a subtree by state
(htmx swaps the list; the filters and pager are plain links), with 采纳率 of the year so far;
/suggestions/activities/ID is one suggestion's state and, for its office, the form that sets it (the
activity page carries the same part). Forms post and redirect (no JavaScript needed); the rules are
app/suggestions/service.py's."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlmodel import Session

from app.auth.principal import Principal
from app.boards import periods
from app.clock import today_cn
from app.db import run_write
from app.deps import CurrentUser, Id, OrgForRead, SessionDep, WriteSessionDep
from app.errors import Conflict, Invalid
from app.models import Organisation
from app.suggestions import service
from app.web import redirect, render, safe_next

router = APIRouter(include_in_schema=False)
PER_PAGE = 30
StateFilter = Literal["all", "none", "reported", "adopted", "implemented", "declined"]


def _list_page(request: Request, session: Session, by: Principal, org: Organisation, state: str, page: int, *,
               done: bool = False) -> Response:
    rows, total = service.list_suggestions(session, by, org, state=state, page=page, per_page=PER_PAGE)
    period = periods.parse(None)
    return render(request, "suggestions/list.html", {
        "org": org, "rows": rows, "total": total, "page": page, "per_page": PER_PAGE, "state": state,
        "filters": service.STATE_FILTERS, "labels": service.STATE_LABELS, "done": done,
        "adoption": service.adoption(session, org, period), "period": period, "today": today_cn().isoformat(),
        "back": f"/suggestions/{org.code}?state={state}&page={page}"}, block="list")


@router.get("/suggestions/{code}")
def suggestions_page(request: Request, session: SessionDep, by: CurrentUser, org: OrgForRead,
                     state: Annotated[StateFilter, Query()] = "all",
                     page: Annotated[int, Query(ge=1, le=10_000)] = 1,
                     done: Annotated[str, Query(max_length=8)] = "") -> Response:
    return _list_page(request, session, by, org, state, page, done=done == "1")


def _one_page(request: Request, session: Session, by: Principal, activity_id: int, *, done: bool = False,
              message: str | None = None, errors: dict | None = None, form: StateForm | None = None,
              status_code: int = 200) -> Response:
    s = service.state_of(session, by, activity_id)
    return render(request, "suggestions/one.html", {
        "s": s, "labels": service.STATE_LABELS, "done": done, "message": message, "errors": errors or {},
        "form": form, "today": today_cn().isoformat(), "back": f"/suggestions/activities/{activity_id}"},
        status_code=status_code)


@router.get("/suggestions/activities/{activity_id}")
def suggestion_page(request: Request, session: SessionDep, by: CurrentUser, activity_id: Id,
                    done: Annotated[str, Query(max_length=8)] = "") -> Response:
    return _one_page(request, session, by, activity_id, done=done == "1")


class StateForm(BaseModel):
    state: str = Field(default="", max_length=16)
    department: str = Field(default="", max_length=200)
    state_on: str = Field(default="", max_length=10)
    version: int = Field(default=0, ge=0, le=2**31 - 1)
    back: str = Field(default="", max_length=300)
    csrf_token: str = ""


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


@router.post("/suggestions/activities/{activity_id}")
async def set_state(request: Request, read: SessionDep, write: WriteSessionDep, by: CurrentUser, activity_id: Id,
                    form: Annotated[StateForm, Form()]) -> Response:
    try:
        await run_write(request, read, write, lambda s: service.set_state(
            s, by=by, activity_id=activity_id, state=form.state, department=form.department,
            state_on=_date(form.state_on), version=form.version)[0].activity_id, lambda _r, aid: aid)
    except (Invalid, Conflict) as exc:
        # Shown again on the suggestion's own page with what was typed (a stale one: the state now).
        stale = isinstance(exc, Conflict)
        return await run_in_threadpool(_one_page, request, read, by, activity_id, message=exc.message,
                                       errors=getattr(exc, "errors", None), form=None if stale else form,
                                       status_code=409 if stale else 422)
    back = safe_next(form.back, f"/suggestions/activities/{activity_id}")
    return redirect(request, back + ("&" if "?" in back else "?") + "done=1")
