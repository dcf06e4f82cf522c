"""Report pages: /reports (organisation and period pickers, a preview HTMX updates in place, Word
and Excel downloads, freezing for staff) and /reports/frozen (the reports as presented, unchanged).

Every figure of the preview links to the boards' list of the verified activities that make it up.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request, Response
from sqlalchemy import select

from app.auth.principal import READ_ROLES, STAFF_ROLES, Principal
from app.boards import periods
from app.boards import service as boards
from app.deps import CurrentUser, Id, SessionDep, WriteSessionDep, org_for_read
from app.errors import Invalid, NotFound
from app.models import Organisation
from app.models.base import MAX_BIGINT
from app.reports import compare as comparing
from app.reports import service
from app.reports.docx import to_docx
from app.reports.tables import cell_text
from app.reports.xlsx import to_xlsx
from app.web import redirect, render

router = APIRouter(include_in_schema=False)
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MEDIA = {"docx": DOCX, "xlsx": XLSX}

OrgCode = Annotated[str | None, Query(max_length=12, description="组织的 6 位行政区划代码")]
PeriodKey = Annotated[str | None, Query(max_length=16)]


def report_org(session, by: Principal, code: str | None) -> Organisation:  # noqa: ANN001
    """The organisation of ``code`` if the caller reads it (404 otherwise); none given: their highest."""
    if not code:
        org = boards.home_board(session, by)
        if org is None:
            raise NotFound("您没有可查看报告的组织")
        return org
    if not code.strip().isdigit() or len(code.strip()) not in (2, 4, 6):
        raise Invalid("组织代码应为 6 位行政区划代码，如 530000", code="bad_org", errors={"org": "请从列表中选择组织"})
    return org_for_read(session, by, code)


def _org_choices(session, by: Principal) -> list[tuple[str, str, int]]:  # noqa: ANN001
    """(code, name, depth) of every organisation the caller reads, in tree order by code."""
    rows = session.execute(select(Organisation.code, Organisation.name, Organisation.level)
                           .where(Organisation.id.in_(by.scope(*READ_ROLES))).order_by(Organisation.code)).all()
    depth = {"province": 0, "prefecture": 1, "county": 2}
    return [(r.code, r.name, depth.get(str(r.level), 0)) for r in rows]


def _attachment(data: bytes, kind: str, name: str) -> Response:
    return Response(data, media_type=MEDIA[kind], headers={
        "Content-Disposition": f"attachment; filename=\"report.{kind}\"; filename*=UTF-8''{quote(name)}",
        "Cache-Control": "private, no-store"})


@router.get("/reports")
def report_page(request: Request, session: SessionDep, by: CurrentUser, org: OrgCode = None,
                period: PeriodKey = None, compare: Annotated[bool, Query()] = False):
    target = report_org(session, by, org)
    p = periods.parse(period)
    report = service.build_report(session, target, p, compare=compare)
    return render(request, "reports/report.html", {
        "report": report, "org": target, "period": p, "compare": compare, "choices": periods.choices(),
        "orgs": _org_choices(session, by), "staff": by.can(session, target.id, *STAFF_ROLES),
        "cell_text": cell_text, "query": f"org={target.code}&period={p.key}" + ("&compare=1" if compare else "")},
        block="preview")


def _report_file(session, by: Principal, kind: str, org: str | None, period: str | None,  # noqa: ANN001
                 compare: bool) -> Response:
    target = report_org(session, by, org)
    p = periods.parse(period)
    report = service.build_report(session, target, p, compare=compare)
    data = to_docx(report) if kind == "docx" else to_xlsx(report)
    return _attachment(data, kind, f"{report['title']}.{kind}")


@router.get("/reports/report.docx")
def report_docx(session: SessionDep, by: CurrentUser, org: OrgCode = None, period: PeriodKey = None,
                compare: Annotated[bool, Query()] = False):
    return _report_file(session, by, "docx", org, period, compare)


@router.get("/reports/report.xlsx")
def report_xlsx(session: SessionDep, by: CurrentUser, org: OrgCode = None, period: PeriodKey = None,
                compare: Annotated[bool, Query()] = False):
    return _report_file(session, by, "xlsx", org, period, compare)


@router.post("/reports/freeze")
def freeze(request: Request, session: WriteSessionDep, by: CurrentUser, org: Annotated[str, Form(max_length=12)],
           period: Annotated[str, Form(max_length=16)], compare: Annotated[bool, Form()] = False):
    target = report_org(session, by, org)
    frozen = service.freeze_report(session, by=by, org=target, period=periods.parse(period), compare=compare)
    return redirect(request, f"/reports/frozen?new={frozen.id}")


@router.get("/reports/frozen")
def frozen_list(request: Request, session: SessionDep, by: CurrentUser,
                new: Annotated[int | None, Query(ge=1, le=MAX_BIGINT)] = None):
    return render(request, "reports/frozen.html", {"rows": service.list_frozen(session, by), "new": new})


def _frozen_file(session, by: Principal, report_id: int, kind: str) -> Response:  # noqa: ANN001
    frozen = service.frozen_for_download(session, by, report_id)
    return _attachment(frozen.docx if kind == "docx" else frozen.xlsx, kind, f"{frozen.title}（冻结）.{kind}")


@router.get("/reports/frozen/{report_id}.docx")
def frozen_docx(session: SessionDep, by: CurrentUser, report_id: Id):
    return _frozen_file(session, by, report_id, "docx")


@router.get("/reports/frozen/{report_id}.xlsx")
def frozen_xlsx(session: SessionDep, by: CurrentUser, report_id: Id):
    return _frozen_file(session, by, report_id, "xlsx")


# --- 推进会对比稿 -------------------------------------------------------------------------------------

FrozenId = Annotated[int | None, Query(ge=1, le=MAX_BIGINT, description="已冻结报告的编号")]


@router.get("/reports/compare")
def compare_page(request: Request, session: SessionDep, by: CurrentUser, frozen: FrozenId = None):
    rows = service.list_frozen(session, by)
    chosen = frozen or (rows[0][0].id if rows else None)  # none picked: the latest 推进会's
    comparison = comparing.compare_to_frozen(session, by, chosen, periods.parse(None)) if chosen else None
    return render(request, "reports/compare.html", {"rows": rows, "chosen": chosen, "c": comparison},
                  block="result")


@router.get("/reports/compare.docx")
def compare_docx(session: SessionDep, by: CurrentUser, frozen: Annotated[int, Query(ge=1, le=MAX_BIGINT)]):
    comparison = comparing.compare_to_frozen(session, by, frozen, periods.parse(None))
    return _attachment(comparing.to_docx(comparison), "docx", f"{comparison['title']}.docx")
