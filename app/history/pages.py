"""汇总录入 pages: /history/{code} — the entries of an organisation's subtree, a page at a time.

Entries come in through the import page (/imports, kind ``history``); this page shows what is
stored, so staff can check an import and find what a board's 「含汇总录入数据」 note refers to.
"""

from __future__ import annotations

from math import ceil

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from app.auth.principal import STAFF_ROLES
from app.deps import CurrentUser, OrgForStaff, SessionDep
from app.errors import Forbidden
from app.history import service
from app.web import render

router = APIRouter(prefix="/history", include_in_schema=False)


@router.get("")
def history_home(session: SessionDep, by: CurrentUser):
    orgs = by.grant_orgs(session, *STAFF_ROLES)
    if not orgs:
        raise Forbidden(service.STAFF_ONLY, code="staff_only")
    return RedirectResponse(f"/history/{orgs[0].code}", status_code=303)


@router.get("/{code}")
def history_page(request: Request, session: SessionDep, org: OrgForStaff, page: int = 1):
    page = max(1, min(page, 100_000))
    rows, total = service.stored_entries(session, org, page=page)
    pages = max(1, ceil(total / service.PER_PAGE))
    return render(request, "history/index.html", {
        "org": org, "rows": rows, "total": total, "page": page, "pages": pages,
        "prev_url": f"/history/{org.code}?page={page - 1}" if page > 1 else None,
        "next_url": f"/history/{org.code}?page={page + 1}" if page < pages else None,
    }, block="entries")
