"""The audit log for the 助推办: its own subtree's entries, filtered, newest first, in Beijing time."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request

from app.accounts import service
from app.accounts.schemas import ACTION_LABELS, AuditFilters
from app.deps import CurrentUser, SessionDep
from app.web import render

router = APIRouter(include_in_schema=False)


def _page_url(filters: AuditFilters, page: int) -> str:
    query = {k: v for k, v in filters.model_dump().items() if v not in (None, "") and k != "page"}
    return "/admin/audit?" + urlencode({**query, "page": page})


@router.get("/admin/audit")
def audit_page(request: Request, session: SessionDep, by: CurrentUser, filters: Annotated[AuditFilters, Query()]):
    result = service.audit_log(
        session, by, action=filters.action, actor=filters.actor, target_type=filters.target_type,
        target_id=filters.target_id, since=filters.since, until=filters.until, page=filters.page,
    )
    return render(request, "admin/audit.html", {
        "filters": filters, "result": result, "actions": ACTION_LABELS,
        "prev_url": _page_url(filters, result.page - 1), "next_url": _page_url(filters, result.page + 1),
    }, block="results")
