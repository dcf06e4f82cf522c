"""Login (password or SMS code, 记住我), logout, 忘记密码 by SMS, first activation with a one-time code,
one's password, and one's account page with the sessions one can end."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlmodel import Session

from app.auth import service, sms
from app.auth.principal import Principal
from app.clock import to_cn
from app.config import get_settings
from app.deps import SESSION_COOKIE, CurrentUser, SessionDep, WriteSessionDep, client_ip
from app.errors import DomainError, Invalid
from app.models import UserAccount
from app.security import is_https
from app.web import redirect, render, safe_next

router = APIRouter(include_in_schema=False)

Phone = Annotated[str, Form(max_length=40)]
Remember = Annotated[bool, Form()]
Next = Annotated[str, Form(max_length=500)]


def _set_session_cookie(request: Request, response: Response, raw: str, *, remember: bool = False) -> Response:
    # The cookie lives as long as the session may: weeks for 记住我, the short absolute timeout otherwise.
    _, absolute = service.session_timeouts(remember)
    response.set_cookie(
        SESSION_COOKIE, raw, httponly=True, samesite="lax", secure=is_https(request.scope),
        max_age=int(absolute.total_seconds()), path="/",
    )
    return response


def _user_agent(request: Request) -> str:
    return request.headers.get("user-agent", "")


def _login_page(request: Request, *, via: str = "password", next: str = "/", login: str = "",
                remember: bool = False, error: DomainError | None = None, notice: str | None = None,
                wait: int = 0) -> Response:
    """/login with the password or the SMS form (``via``), re-rendered with what was typed and why it
    failed; ``wait``: seconds before another code may be asked (the button's countdown)."""
    return render(request, "auth/login.html", {
        "via": "sms" if via == "sms" else "password", "next": safe_next(next), "login": login,
        "remember": remember, "error": error.message if error else None, "notice": notice, "wait": wait,
        "remember_days": get_settings().remember_absolute_days,
    }, status_code=error.status_code if error else 200, headers=error.headers if error else None)


@router.get("/login")
def login_page(request: Request, next: str = "/", via: str = "password"):
    return _login_page(request, via=via, next=next)


@router.post("/login")
def login_submit(request: Request, session: WriteSessionDep, login: Phone = "",
                 password: Annotated[str, Form(max_length=200)] = "", remember: Remember = False,
                 next: Next = "/"):
    try:
        _, raw = service.login(session, login=login, password=password, ip=client_ip(request),
                               user_agent=_user_agent(request), remember=remember)
    except DomainError as exc:
        return _login_page(request, next=next, login=login, remember=remember, error=exc)
    return _set_session_cookie(request, redirect(request, safe_next(next)), raw, remember=remember)


def _wait_of(exc: DomainError) -> int:
    """The countdown a refused code request shows: only when it came too soon after the last."""
    return int((exc.headers or {}).get("Retry-After", 0)) if exc.code == "sms_code_too_soon" else 0


@router.post("/login/sms-code")
def sms_code_submit(request: Request, session: WriteSessionDep, login: Phone = "",
                    purpose: Annotated[str, Form(max_length=8)] = "login", remember: Remember = False,
                    next: Next = "/"):
    """获取验证码 on the SMS sign-in form (purpose login) or the 忘记密码 form (purpose reset): the same
    answer whether or not the phone is registered."""
    try:
        notice = sms.request_code(session, phone=login, purpose=purpose, ip=client_ip(request))
    except DomainError as exc:
        if purpose == "reset":
            return _reset_page(request, login=login, error=exc, wait=_wait_of(exc))
        return _login_page(request, via="sms", next=next, login=login, remember=remember, error=exc,
                           wait=_wait_of(exc))
    wait = get_settings().sms_code_resend_seconds
    if purpose == "reset":
        return _reset_page(request, login=login, notice=notice, wait=wait)
    return _login_page(request, via="sms", next=next, login=login, remember=remember, notice=notice, wait=wait)


@router.post("/login/sms")
def sms_login_submit(request: Request, session: WriteSessionDep, login: Phone = "",
                     code: Annotated[str, Form(max_length=20)] = "", remember: Remember = False, next: Next = "/"):
    try:
        signed_in = sms.login_with_code(session, phone=login, code=code, ip=client_ip(request),
                                        user_agent=_user_agent(request), remember=remember)
    except DomainError as exc:
        return _login_page(request, via="sms", next=next, login=login, remember=remember, error=exc)
    return _set_session_cookie(request, redirect(request, safe_next(next)), signed_in.token, remember=remember)


def _reset_page(request: Request, *, login: str = "", error: DomainError | None = None, notice: str | None = None,
                wait: int = 0) -> Response:
    return render(request, "auth/reset.html", {
        "login": login, "error": error.message if error else None, "errors": error.errors if error else {},
        "notice": notice, "wait": wait,
    }, status_code=error.status_code if error else 200, headers=error.headers if error else None)


@router.get("/login/reset")
def reset_page(request: Request, login: str = ""):
    return _reset_page(request, login=login)


@router.post("/login/reset")
def reset_submit(request: Request, session: WriteSessionDep, login: Phone = "",
                 code: Annotated[str, Form(max_length=20)] = "", password: Annotated[str, Form(max_length=200)] = "",
                 password2: Annotated[str, Form(max_length=200)] = ""):
    try:
        if password != password2:
            raise Invalid("两次输入的密码不一致", errors={"password2": "两次输入的密码不一致"})
        signed_in = sms.reset_with_code(session, phone=login, code=code, password=password, ip=client_ip(request),
                                        user_agent=_user_agent(request))
    except DomainError as exc:
        return _reset_page(request, login=login, error=exc)
    return _set_session_cookie(request, redirect(request, "/account?done=reset"), signed_in.token)


@router.post("/logout")
def logout(request: Request, session: WriteSessionDep, principal: CurrentUser):
    service.logout(session, principal=principal)
    response = redirect(request, "/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/activate")
def activate_page(request: Request, login: str = ""):
    return render(request, "auth/activate.html", {"login": login, "errors": {}, "error": None})


@router.post("/activate")
def activate_submit(
    request: Request, session: WriteSessionDep,
    login: Annotated[str, Form(max_length=40)] = "", code: Annotated[str, Form(max_length=40)] = "",
    password: Annotated[str, Form(max_length=200)] = "", password2: Annotated[str, Form(max_length=200)] = "",
):
    try:
        if password != password2:
            raise Invalid("两次输入的密码不一致", errors={"password2": "两次输入的密码不一致"})
        _, raw = service.activate(session, login=login, code=code, password=password, ip=client_ip(request),
                                  user_agent=request.headers.get("user-agent", ""))
    except DomainError as exc:
        return render(request, "auth/activate.html", {"login": login, "errors": exc.errors, "error": exc.message},
                      status_code=exc.status_code, headers=exc.headers)
    return _set_session_cookie(request, redirect(request, "/"), raw)


def _has_password(session: Session, principal: Principal) -> bool:
    return session.scalar(select(UserAccount.password_hash).where(UserAccount.id == principal.user_id)) is not None


@router.get("/account/password")
def password_page(request: Request, session: SessionDep, principal: CurrentUser):
    return render(request, "auth/password.html", {"errors": {}, "error": None, "done": False,
                                                  "has_password": _has_password(session, principal)})


@router.post("/account/password")
def password_submit(
    request: Request, session: WriteSessionDep, principal: CurrentUser,
    current: Annotated[str, Form(max_length=200)] = "", new: Annotated[str, Form(max_length=200)] = "",
    new2: Annotated[str, Form(max_length=200)] = "",
):
    had_password = _has_password(session, principal)
    try:
        if new != new2:
            raise Invalid("两次输入的新密码不一致", errors={"new2": "两次输入的新密码不一致"})
        service.change_password(session, principal=principal, current=current, new=new)
    except DomainError as exc:
        return render(request, "auth/password.html", {"errors": exc.errors, "error": exc.message, "done": False,
                                                      "has_password": had_password}, status_code=exc.status_code)
    return render(request, "auth/password.html", {"errors": {}, "error": None, "done": True, "has_password": True,
                                                  "first": not had_password})


# --- the account page: who I am, my password, where I am signed in ----------------------------------

ACCOUNT_DONE = {
    "reset": "密码已重设，其他设备上的登录已全部退出。",
    "ended": "已退出该设备上的登录。",
    "others": "其他设备上的登录已全部退出。",
}


@router.get("/account")
def account_page(request: Request, session: SessionDep, principal: CurrentUser, done: str = ""):
    return render(request, "auth/account.html", {
        "has_password": _has_password(session, principal), "done": ACCOUNT_DONE.get(done),
        "sessions": service.open_sessions(session, principal=principal),
        "beijing": _minute,
    })


def _minute(moment: datetime) -> str:
    local = to_cn(moment)
    return local.strftime("%Y-%m-%d %H:%M") if local else ""


@router.post("/account/sessions/{session_id}/end")
def end_session(request: Request, session: WriteSessionDep, principal: CurrentUser,
                session_id: Annotated[str, Path(min_length=64, max_length=64, pattern="^[0-9a-f]{64}$")]):
    service.end_sessions(session, principal=principal, session_id=session_id)
    if session_id == principal.session_id:
        response = redirect(request, "/login")
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response
    return redirect(request, "/account?done=ended")


@router.post("/account/sessions/end-others")
def end_other_sessions(request: Request, session: WriteSessionDep, principal: CurrentUser):
    service.end_sessions(session, principal=principal)
    return redirect(request, "/account?done=others")
