"""站内消息 pages (/messages: the list, opening, 全部标为已读, 消息设置; /messages/bell: the topbar's
unread count, loaded by HTMX) and the office's 企业微信 robots (/robots). Every rule is the
services' (app/notify/inbox.py, app/notify/robots.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response
from pydantic import BaseModel, Field
from sqlmodel import Session

from app.auth.principal import Principal
from app.clock import to_cn
from app.deps import CurrentUser, Id, OptionalUser, SessionDep, WriteSessionDep
from app.errors import Invalid
from app.notify import inbox, robots
from app.web import redirect, render

router = APIRouter(include_in_schema=False)

NO_STORE = {"Cache-Control": "no-store"}
DONE = {"all": "已全部标为已读。", "settings": "消息设置已保存。", "added": "机器人已添加。",
        "disabled": "机器人已停用，不再向该群发送消息。"}


def beijing(value) -> str:  # noqa: ANN001 - a datetime or None
    local = to_cn(value)
    return local.strftime("%Y-%m-%d %H:%M") if local else ""


@router.get("/messages/bell")
def bell(request: Request, session: SessionDep, by: OptionalUser) -> Response:
    """The topbar's 消息 link with the unread count (a signed-out page gets the bare link)."""
    unread = inbox.unread_count(session, by) if by is not None else 0
    return render(request, "notify/bell.html", {"unread": unread}, headers=NO_STORE)


@router.get("/messages")
def messages_page(request: Request, session: SessionDep, by: CurrentUser,
                  page: Annotated[int, Query(ge=1, le=100000)] = 1, done: str = "") -> Response:
    items, total = inbox.messages(session, by, page=page)
    return render(request, "notify/messages.html", {
        "items": items, "total": total, "page": page, "pages": max(1, -(-total // inbox.PER_PAGE)),
        "unread": inbox.unread_count(session, by), "opt_out": inbox.reminders_opt_out(session, by),
        "done": DONE.get(done), "beijing": beijing,
    }, block="listing", headers=NO_STORE)


@router.post("/messages/read-all")
def read_all(request: Request, session: WriteSessionDep, by: CurrentUser) -> Response:
    inbox.mark_all_read(session, by)
    return redirect(request, "/messages?done=all")


@router.post("/messages/{message_id}/open")
def open_message(request: Request, session: WriteSessionDep, by: CurrentUser, message_id: Id) -> Response:
    """Opening a message marks it read and goes where it points (or back to the list)."""
    message, _ = inbox.mark_read(session, by, message_id)
    return redirect(request, inbox.safe_link(message.link))


class SettingsForm(BaseModel):
    reminders_opt_out: bool = False


@router.post("/messages/settings")
def save_settings(request: Request, session: WriteSessionDep, by: CurrentUser,
                  form: Annotated[SettingsForm, Form()]) -> Response:
    inbox.set_reminders_opt_out(session, by, form.reminders_opt_out)
    return redirect(request, "/messages?done=settings")


# --- 企业微信 robots (staff) ----------------------------------------------------------------------

class RobotForm(BaseModel):
    name: str = Field(default="", max_length=200)
    org_id: str = Field(default="", max_length=20)
    webhook_url: str = Field(default="", max_length=1000)


class DisableForm(BaseModel):
    confirmed: bool = False


def _robots_page(request: Request, session: Session, by: Principal, *, form: RobotForm | None = None,
                 errors: dict[str, str] | None = None, done: str | None = None, status_code: int = 200) -> Response:
    return render(request, "notify/robots.html", {
        "robots": robots.list_robots(session, by), "orgs": robots.scope_orgs(session, by),
        "form": form or RobotForm(), "errors": errors or {}, "done": done, "beijing": beijing,
    }, status_code=status_code, headers=NO_STORE)


@router.get("/robots")
def robots_page(request: Request, session: SessionDep, by: CurrentUser, done: str = "") -> Response:
    return _robots_page(request, session, by, done=DONE.get(done))


@router.post("/robots")
def add_robot(request: Request, session: WriteSessionDep, by: CurrentUser,
              form: Annotated[RobotForm, Form()]) -> Response:
    try:
        robots.add_robot(session, by, org_id=form.org_id, name=form.name, webhook_url=form.webhook_url)
    except Invalid as exc:  # raised before anything was written
        # The address is a secret: not echoed back into the page.
        return _robots_page(request, session, by, form=form.model_copy(update={"webhook_url": ""}),
                            errors=exc.errors, status_code=exc.status_code)
    return redirect(request, "/robots?done=added")


@router.post("/robots/{robot_id}/disable")
def disable_robot(request: Request, session: WriteSessionDep, by: CurrentUser, robot_id: Id,
                  form: Annotated[DisableForm, Form()]) -> Response:
    if not form.confirmed:  # without JavaScript the confirmation is a page of its own
        robot = robots.robot_for_staff(session, by, robot_id)
        return render(request, "notify/robot_disable.html", {"robot": robot, "address": robots.masked(robot.webhook_url)})
    robots.disable_robot(session, by, robot_id=robot_id)
    return redirect(request, "/robots?done=disabled")
