"""Login, logout, first activation with a one-time code, and changing one's password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from app.auth import service
from app.config import get_settings
from app.deps import SESSION_COOKIE, CurrentUser, WriteSessionDep, client_ip
from app.errors import DomainError, Invalid
from app.security import is_https
from app.web import redirect, render, safe_next

router = APIRouter(include_in_schema=False)


def _set_session_cookie(request: Request, response: Response, raw: str) -> Response:
    response.set_cookie(
        SESSION_COOKIE, raw, httponly=True, samesite="lax", secure=is_https(request.scope),
        max_age=get_settings().session_absolute_minutes * 60, path="/",
    )
    return response


@router.get("/login")
def login_page(request: Request, next: str = "/"):
    return render(request, "auth/login.html", {"next": safe_next(next), "login": "", "error": None})


@router.post("/login")
def login_submit(
    request: Request, session: WriteSessionDep,
    login: Annotated[str, Form(max_length=40)] = "", password: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
):
    try:
        _, raw = service.login(session, login=login, password=password, ip=client_ip(request),
                               user_agent=request.headers.get("user-agent", ""))
    except DomainError as exc:
        return render(request, "auth/login.html", {"next": safe_next(next), "login": login, "error": exc.message},
                      status_code=exc.status_code, headers=exc.headers)
    return _set_session_cookie(request, redirect(request, safe_next(next)), raw)


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


@router.get("/account/password")
def password_page(request: Request, principal: CurrentUser):
    return render(request, "auth/password.html", {"errors": {}, "error": None, "done": False})


@router.post("/account/password")
def password_submit(
    request: Request, session: WriteSessionDep, principal: CurrentUser,
    current: Annotated[str, Form(max_length=200)] = "", new: Annotated[str, Form(max_length=200)] = "",
    new2: Annotated[str, Form(max_length=200)] = "",
):
    try:
        if new != new2:
            raise Invalid("两次输入的新密码不一致", errors={"new2": "两次输入的新密码不一致"})
        service.change_password(session, principal=principal, current=current, new=new)
    except DomainError as exc:
        return render(request, "auth/password.html", {"errors": exc.errors, "error": exc.message, "done": False},
                      status_code=exc.status_code)
    return render(request, "auth/password.html", {"errors": {}, "error": None, "done": True})
