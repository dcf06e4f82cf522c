"""API tokens (API 令牌): the staff page that creates, lists and revokes them. Every rule is the
service's; tokens are used on /api/v1 (app/deps.get_principal)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from pydantic import BaseModel, Field
from sqlmodel import Session

from app.auth.principal import Principal
from app.deps import CurrentUser, Id, SessionDep, WriteSessionDep
from app.errors import Invalid
from app.models import Member, Organisation
from app.screens.pages import NO_STORE, beijing
from app.tokens import service
from app.web import redirect, render

router = APIRouter(include_in_schema=False)

DONE_MESSAGES = {"revoked": "令牌已撤销：使用它的系统下一次请求将得到 401。"}


class TokenForm(BaseModel):
    # Strings on purpose: the service checks them and says what is wrong, in Chinese, per field.
    name: str = Field(default="", max_length=200)
    org_id: str = Field(default="", max_length=20)
    level: str = Field(default="aggregate", max_length=20)
    days: str = Field(default=str(service.DEFAULT_DAYS), max_length=20)
    rate_per_minute: str = Field(default=str(service.DEFAULT_RATE), max_length=20)
    write_member_phone: str = Field(default="", max_length=40)


class RevokeForm(BaseModel):
    confirmed: bool = False


def _index(request: Request, session: Session, by: Principal, *, form: TokenForm | None = None,
           errors: dict[str, str] | None = None, done: str | None = None, status_code: int = 200):
    return render(request, "tokens/index.html", {
        "tokens": service.list_tokens(session, by), "orgs": service.scope_orgs(session, by),
        "form": form or TokenForm(), "errors": errors or {}, "done": done, "beijing": beijing,
        "levels": service.LEVEL_LABELS, "max_days": service.MAX_DAYS, "max_rate": service.MAX_RATE,
        "name_max": service.NAME_MAX,
    }, status_code=status_code)


@router.get("/tokens")
def tokens_page(request: Request, session: SessionDep, by: CurrentUser, done: str = ""):
    return _index(request, session, by, done=DONE_MESSAGES.get(done))


@router.post("/tokens")
def create_token(request: Request, session: WriteSessionDep, by: CurrentUser, form: Annotated[TokenForm, Form()]):
    """Create, then show the token on this response itself: only its hash is stored."""
    try:
        token, raw = service.create_token(
            session, by, name=form.name, org_id=form.org_id or None, level=form.level, days=form.days,
            rate_per_minute=form.rate_per_minute, write_member_phone=form.write_member_phone)
    except Invalid as exc:
        return _index(request, session, by, form=form, errors=exc.errors, status_code=exc.status_code)
    member = session.get(Member, token.member_id) if token.member_id else None
    return render(request, "tokens/created.html", {
        "token": token, "raw": raw, "org": session.get(Organisation, token.org_id), "beijing": beijing,
        "level_label": service.LEVEL_LABELS[token.level], "member": member,
        "base": str(request.base_url).rstrip("/"),
    }, headers=NO_STORE)


@router.post("/tokens/{token_id}/revoke")
def revoke_token(request: Request, session: WriteSessionDep, by: CurrentUser, token_id: Id,
                 form: Annotated[RevokeForm, Form()]):
    if not form.confirmed:  # without JavaScript the confirmation is a page of its own
        token = service.token_for_staff(session, by, token_id)
        return render(request, "tokens/revoke_confirm.html", {
            "token": token, "org": session.get(Organisation, token.org_id), "beijing": beijing})
    service.revoke_token(session, by, token_id=token_id)
    return redirect(request, "/tokens?done=revoked")
