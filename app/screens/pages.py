"""Display links (大屏只读链接): the staff page that creates, lists and revokes them. Every rule is
the service's; the meeting view they open (/d/{token}) is the boards' (app/boards/pages.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from pydantic import BaseModel, Field
from sqlmodel import Session

from app.auth.principal import Principal
from app.clock import to_cn
from app.deps import CurrentUser, Id, SessionDep, WriteSessionDep
from app.errors import Invalid
from app.models import Organisation
from app.screens import service
from app.web import redirect, render

router = APIRouter(include_in_schema=False)

# The link exists in clear only in the creation's response: no cache may keep a copy.
NO_STORE = {"Cache-Control": "no-store"}
DONE_MESSAGES = {"revoked": "链接已撤销：使用该链接的大屏将在下次刷新时显示「链接已失效」。"}


class ScreenForm(BaseModel):
    # Strings on purpose: the service checks them and says what is wrong, in Chinese, per field.
    name: str = Field(default="", max_length=200)
    org_id: str = Field(default="", max_length=20)
    days: str = Field(default=str(service.DEFAULT_DAYS), max_length=20)


class RevokeForm(BaseModel):
    confirmed: bool = False


def beijing(value) -> str:  # noqa: ANN001 - a datetime or None
    local = to_cn(value)
    return local.strftime("%Y-%m-%d %H:%M") if local else ""


def _index(request: Request, session: Session, by: Principal, *, form: ScreenForm | None = None,
           errors: dict[str, str] | None = None, done: str | None = None, status_code: int = 200):
    return render(request, "screens/index.html", {
        "links": service.list_screens(session, by), "orgs": service.scope_orgs(session, by),
        "form": form or ScreenForm(), "errors": errors or {}, "done": done, "beijing": beijing,
        "max_days": service.MAX_DAYS, "name_max": service.NAME_MAX,
    }, status_code=status_code)


@router.get("/display")
def screens_page(request: Request, session: SessionDep, by: CurrentUser, done: str = ""):
    return _index(request, session, by, done=DONE_MESSAGES.get(done))


@router.post("/display")
def create_screen(request: Request, session: WriteSessionDep, by: CurrentUser,
                        form: Annotated[ScreenForm, Form()]):
    """Create, then show the address on this response itself (not post/redirect/get on purpose:
    only the token's hash is stored, so this is the one moment it can be read)."""
    try:
        link, raw = service.create_screen(session, by, name=form.name, org_id=form.org_id or None,
                                        days=form.days)
    except Invalid as exc:
        return _index(request, session, by, form=form, errors=exc.errors, status_code=exc.status_code)
    return render(request, "screens/created.html", {
        "link": link, "org": session.get(Organisation, link.org_id), "beijing": beijing,
        # The meeting view (app/boards/pages.py) answers /d/{token}, through display.deps.ScreenScope.
        "url": f"{str(request.base_url).rstrip('/')}/d/{raw}",
    }, headers=NO_STORE)


@router.post("/display/{display_id}/revoke")
def revoke_screen(request: Request, session: WriteSessionDep, by: CurrentUser, display_id: Id,
                        form: Annotated[RevokeForm, Form()]):
    if not form.confirmed:  # without JavaScript the confirmation is a page of its own
        link = service.screen_for_staff(session, by, display_id)
        return render(request, "screens/revoke_confirm.html", {
            "link": link, "org": session.get(Organisation, link.org_id), "beijing": beijing,
        })
    service.revoke_screen(session, by, link_id=display_id)
    return redirect(request, "/display?done=revoked")
