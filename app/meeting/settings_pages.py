"""大屏设置: an office's staff choose what the big screen plays and in which order, its theme, and N
for 挂联实效 (/meeting/CODE/settings). The rules are app/meeting/settings.py's."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from app.deps import CurrentUser, OrgForStaff, SessionDep, WriteSessionDep
from app.errors import Invalid
from app.meeting import settings
from app.models import Organisation
from app.models.meeting import PLAYLIST_KINDS
from app.web import redirect, render

router = APIRouter(include_in_schema=False)


class SettingsForm(BaseModel):
    # Strings on purpose: the service checks them and says what is wrong, in Chinese, per field.
    playlist: list[Annotated[str, Field(max_length=20)]] = Field(default_factory=list, max_length=len(PLAYLIST_KINDS))
    theme: str = Field(default="", max_length=8)
    link_idle_months: str = Field(default="", max_length=8)


def _page(request: Request, org: Organisation, form: SettingsForm, *, errors: dict[str, str] | None = None,
          saved: bool = False, status_code: int = 200) -> Response:
    slots = [*form.playlist, *[""] * len(PLAYLIST_KINDS)][:len(PLAYLIST_KINDS)]
    return render(request, "meeting/settings.html", {
        "org": org, "form": form, "slots": slots, "kinds": settings.KIND_LABELS, "themes": settings.THEME_LABELS,
        "months": settings.IDLE_MONTHS, "errors": errors or {}, "saved": saved}, status_code=status_code)


@router.get("/meeting/{code}/settings")
def settings_page(request: Request, session: SessionDep, org: OrgForStaff, saved: bool = False) -> Response:
    current = settings.settings_for(session, org.id)
    form = SettingsForm(playlist=settings.playlist_of(current), theme=current.theme,
                        link_idle_months=str(current.link_idle_months))
    return _page(request, org, form, saved=saved)


@router.post("/meeting/{code}/settings")
def save_settings(request: Request, session: WriteSessionDep, by: CurrentUser, org: OrgForStaff,
                  form: Annotated[SettingsForm, Form()]) -> Response:
    try:
        settings.save_settings(session, by, org, playlist=form.playlist, theme=form.theme,
                               link_idle_months=form.link_idle_months)
    except Invalid as exc:
        return _page(request, org, form, errors=exc.errors, status_code=exc.status_code)
    return redirect(request, f"/meeting/{org.code}/settings?saved=1")
