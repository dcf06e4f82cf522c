"""Account administration for the 助推办: the account list, activation-code sheets and Excel lists,
an account's page (disable/enable, grants). Every rule is the service's; these handlers only
translate between HTTP and it.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from sqlmodel import Session

from app.accounts import service
from app.accounts.schemas import (
    ROLE_LABELS,
    CodeRequest,
    GrantForm,
    IssuedCode,
    UserDetail,
    UserFilters,
    UserStatus,
    beijing,
)
from app.auth.principal import Principal
from app.deps import CurrentUser, Id, SessionDep, WriteSessionDep
from app.errors import Conflict, Forbidden, Invalid
from app.web import redirect, render
from app.xlsx import workbook_bytes

router = APIRouter(prefix="/admin", include_in_schema=False)

# Codes exist in clear only in this response: no cache may keep a copy.
NO_STORE = {"Cache-Control": "no-store"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DONE_MESSAGES = {
    "disabled": "账号已停用，该账号的所有登录已退出。",
    "enabled": "账号已启用。",
    "signed_out": "已强制下线：该账号在所有设备上的登录已退出。",
    "granted": "已授予权限。",
    "revoked": "已撤销权限。",
}


def _page_url(filters: UserFilters, page: int) -> str:
    query = {k: v for k, v in filters.model_dump().items() if v not in (None, "") and k != "page"}
    return "/admin/users?" + urlencode({**query, "page": page})


@router.get("/users")
def users_page(request: Request, session: SessionDep, by: CurrentUser,
               filters: Annotated[UserFilters, Query()]):
    committees = service.committees_of(session, by, filters.org_id) if filters.org_id else []
    if filters.committee_id not in {c.id for c in committees}:
        # A committee left over from the organisation chosen before (or none at all).
        filters.committee_id = None
    result = service.list_users(session, by, org_id=filters.org_id, committee_id=filters.committee_id,
                                q=filters.q, status=filters.status, page=filters.page)
    ctx = {
        "filters": filters, "result": result, "orgs": service.scope_orgs(session, by), "committees": committees,
        "statuses": list(UserStatus), "prev_url": _page_url(filters, result.page - 1),
        "next_url": _page_url(filters, result.page + 1),
    }
    return render(request, "admin/users.html", ctx, block="listing")


def _confirm(request: Request, session: Session, by: Principal, form: CodeRequest):
    count, skipped = service.codes_preview(session, by, org_id=form.org_id, committee_id=form.committee_id,
                                           only_unactivated=form.only_unactivated)
    org = next(o for o in service.scope_orgs(session, by) if o.id == form.org_id)
    committee = next((c for c in service.committees_of(session, by, form.org_id) if c.id == form.committee_id), None)
    toggle = {"org_id": form.org_id, "only_unactivated": "0" if form.only_unactivated else "1"}
    if form.committee_id:
        toggle["committee_id"] = form.committee_id
    return render(request, "admin/codes_confirm.html", {
        "form": form, "org": org, "committee": committee, "count": count, "skipped": skipped,
        "toggle_url": "/admin/users/codes/confirm?" + urlencode(toggle),
    })


@router.get("/users/codes/confirm")
def codes_confirm_page(request: Request, session: SessionDep, by: CurrentUser,
                       form: Annotated[CodeRequest, Query()]):
    if form.org_id is None:
        raise Invalid("请先选择组织", code="org_required")
    return _confirm(request, session, by, form)


@router.post("/users/codes")
def codes_submit(request: Request, session: WriteSessionDep, by: CurrentUser,
                 form: Annotated[CodeRequest, Form()]):
    """Issue codes and answer with the sheet or the Excel file itself.

    Not post/redirect/get on purpose: only the codes' hashes are stored, so this response is the one
    place they can ever be read; a redirect would have nothing to show.
    """
    if form.org_id is not None and not form.user_ids:
        if not form.confirmed:  # without JavaScript the confirmation is a page of its own
            return _confirm(request, session, by, form)
        codes = service.issue_codes_for(session, by, org_id=form.org_id, committee_id=form.committee_id,
                                        only_unactivated=form.only_unactivated)
        title = (codes[0].org_name + (codes[0].committee_name if form.committee_id else "")) if codes else ""
    else:
        codes = service.issue_codes(session, by, user_ids=form.user_ids)
        title = f"已选 {len(codes)} 人"
    valid_until = service.code_valid_until()
    activate_url = str(request.url_for("activate_page"))
    if form.format == "xlsx":
        body = codes_workbook(codes, activate_url=activate_url, valid_until=valid_until)
        name = f"激活码-{title or '空'}-{valid_until:%Y%m%d}.xlsx"
        headers = {**NO_STORE, "Content-Disposition":
                   f"attachment; filename=\"activation-codes.xlsx\"; filename*=UTF-8''{quote(name)}"}
        return Response(body, media_type=XLSX, headers=headers)
    return render(request, "admin/codes_sheet.html", {
        "codes": codes, "title": title, "valid_until": valid_until, "activate_url": activate_url,
    }, headers=NO_STORE)


def codes_workbook(codes: list[IssuedCode], *, activate_url: str, valid_until: date) -> bytes:
    """The Excel list of a batch: one row per person, header frozen, phones and codes as text."""
    wb = Workbook()
    ws = wb.active
    ws.title = "激活码"
    headers = ["姓名", "组织", "专委会", "手机号", "激活码", "有效期至"]
    widths = [12, 24, 20, 15, 12, 12]
    ws.append(headers)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for c in codes:
        ws.append([c.member_name, c.org_name, c.committee_name, c.user.login, c.code, valid_until.isoformat()])
    # Text, not numbers: Excel would drop a phone's meaning and turn a code like 2E45 into 2×10⁴⁵.
    for row in ws.iter_rows(min_row=2, min_col=4, max_col=6):
        for cell in row:
            cell.number_format = "@"
    for index, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = "A2"
    notes = wb.create_sheet("使用说明")
    for line in (
        "请将激活码单独交给本人，激活码只能使用一次。",
        f"打开 {activate_url} ，输入手机号和激活码，设置自己的密码（至少 8 位）。",
        f"激活码有效期至 {valid_until.isoformat()}；过期或遗失请向「双助推」办公室重新领取，旧激活码随即作废。",
    ):
        notes.append([line])
    notes.column_dimensions["A"].width = 90
    notes["A2"].alignment = Alignment(wrap_text=True)
    return workbook_bytes(wb)


@router.get("/users/{user_id}")
def user_page(request: Request, session: SessionDep, by: CurrentUser, user_id: Id, done: str = ""):
    detail = service.user_detail(session, by, user_id)
    return _detail(request, detail, done=DONE_MESSAGES.get(done))


def _detail(request: Request, detail: UserDetail, *, done: str | None = None, error: str | None = None,
            status_code: int = 200):
    return render(request, "admin/user_detail.html", {
        "d": detail, "done": done, "error": error, "role_labels": ROLE_LABELS,
        "last_login": beijing(detail.row.user.last_login_at),
    }, status_code=status_code)


@router.post("/users/{user_id}/disable")
def disable_user(request: Request, session: WriteSessionDep, by: CurrentUser, user_id: Id):
    service.set_active(session, by, user_id=user_id, active=False)
    return redirect(request, f"/admin/users/{user_id}?done=disabled")


@router.post("/users/{user_id}/enable")
def enable_user(request: Request, session: WriteSessionDep, by: CurrentUser, user_id: Id):
    service.set_active(session, by, user_id=user_id, active=True)
    return redirect(request, f"/admin/users/{user_id}?done=enabled")


@router.post("/users/{user_id}/sessions/revoke")
def force_logout(request: Request, session: WriteSessionDep, by: CurrentUser, user_id: Id):
    service.force_logout(session, by, user_id=user_id)
    return redirect(request, f"/admin/users/{user_id}?done=signed_out")


@router.post("/users/{user_id}/grants")
def grant_submit(request: Request, session: WriteSessionDep, by: CurrentUser, user_id: Id,
                 form: Annotated[GrantForm, Form()]):
    try:
        service.grant_role(session, by, user_id=user_id, role=form.role, org_id=form.org_id)
    except (Invalid, Conflict, Forbidden) as exc:
        # The account page again, with the reason beside the form; user_detail itself still refuses
        # callers who may not see the account at all.
        return _detail(request, service.user_detail(session, by, user_id), error=exc.message,
                       status_code=exc.status_code)
    return redirect(request, f"/admin/users/{user_id}?done=granted")


@router.post("/grants/{grant_id}/revoke")
def revoke_submit(request: Request, session: WriteSessionDep, by: CurrentUser, grant_id: Id):
    user_id = service.revoke_grant(session, by, grant_id=grant_id)
    return redirect(request, f"/admin/users/{user_id}?done=revoked")

