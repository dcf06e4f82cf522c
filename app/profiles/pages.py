"""履职档案 pages: /members/{id}/profile (an office, or the member), /me/profile (我的履职档案), and the
record as a Word file. Who sees whose record: ``service.member_for_profile`` (404 outside it)."""

from __future__ import annotations

from math import ceil
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response
from sqlmodel import Session

from app.auth.principal import Principal
from app.deps import CurrentUser, Id, SessionDep
from app.errors import NotFound
from app.profiles import service
from app.profiles.docx import to_docx
from app.web import render

router = APIRouter(include_in_schema=False)
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
Page = Annotated[int, Query(ge=1, le=100_000)]


def _page(request: Request, session: Session, by: Principal, access: service.ProfileAccess, page: int,
          base: str) -> Response:
    profile = service.profile_of(session, by, access, page=page)
    log = profile.activities
    return render(request, "profiles/profile.html", {
        "p": profile, "own": access.own, "base": base, "page": page,
        "pages": max(1, ceil(log.total / log.per_page)),
    }, block="activities")


@router.get("/members/{member_id}/profile")
def member_profile(request: Request, session: SessionDep, by: CurrentUser, member_id: Id, page: Page = 1):
    access = service.member_for_profile(session, by, member_id)
    return _page(request, session, by, access, page, f"/members/{member_id}/profile")


@router.get("/me/profile")
def my_profile(request: Request, session: SessionDep, by: CurrentUser, page: Page = 1):
    if by.member_id is None:
        raise NotFound("您的账号没有对应的委员，没有履职档案", code="member_not_found")
    access = service.member_for_profile(session, by, by.member_id)
    return _page(request, session, by, access, page, "/me/profile")


@router.get("/members/{member_id}/profile.docx")
def member_profile_docx(session: SessionDep, by: CurrentUser, member_id: Id):
    access = service.member_for_profile(session, by, member_id)
    profile = service.profile_of(session, by, access, per_page=1)
    data = to_docx(profile, service.every_activity(session, by, access))
    name = f"{profile.member.name}履职档案.docx"
    return Response(data, media_type=DOCX, headers={
        "Content-Disposition": f"attachment; filename=\"profile-{member_id}.docx\"; filename*=UTF-8''{quote(name)}",
        "Cache-Control": "private, no-store"})
