"""JSON API for 履职档案 under /api/v1/members/{id}: the record and its activities page by page.

Scoped as the page is (``service.member_for_profile``: the member themself, or an office of a subtree
the member serves or served in; 404 otherwise). A records-level API token reads as a viewer of its
subtree; the phone is never in a token's answer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from app.api_docs import AUTH_ERRORS, err
from app.deps import CurrentUser, Id, SessionDep
from app.profiles import service
from app.profiles.schemas import ActivityLogPage, Profile
from app.tokens.service import token_access

router = APIRouter(prefix="/api/v1/members", tags=["profiles"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: err("找不到该委员，或不在您的范围内（code: member_not_found） / member not found or outside your scope")}
Page = Annotated[int, Query(ge=1, le=100_000, description="活动的页码")]
PerPage = Annotated[int, Query(ge=1, le=200, description="每页活动条数")]


@router.get("/{member_id}/profile", response_model=Profile, responses={**AUTH_ERRORS, **NOT_FOUND},
            openapi_extra=token_access("records"),
            summary="委员的履职档案 / a member's record",
            description="身份（手机号只给本人和「双助推」办公室人员）、历届任职、专委会、挂联、每年的活动数，"
                        "典型荣誉（省政协选定的典型），以及活动的第一页（page、per_page 翻页）。")
def read_profile(session: SessionDep, by: CurrentUser, member_id: Id, page: Page = 1,
                 per_page: PerPage = service.PER_PAGE) -> Profile:
    return service.build_profile(session, by, member_id, page=page, per_page=per_page)


@router.get("/{member_id}/activities", response_model=ActivityLogPage, responses={**AUTH_ERRORS, **NOT_FOUND},
            openapi_extra=token_access("records"),
            summary="委员记录或参与的活动 / the activities a member recorded or joined",
            description="最新在前，含状态、本人身份（记录人 / 参与）和指标数值；只含调用者可见的活动。")
def list_member_activities(session: SessionDep, by: CurrentUser, member_id: Id, page: Page = 1,
                           per_page: PerPage = service.PER_PAGE) -> ActivityLogPage:
    access = service.member_for_profile(session, by, member_id)
    return service.activity_log(session, by, access, page=page, per_page=per_page)
