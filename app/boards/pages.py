"""Board pages: the overview of a subtree (/boards/CODE), a key county's board (/c/CODE), the
activities behind a figure, and the meeting room's rotating display (/d/TOKEN).

Live: each board carries the version of the rollup units it shows (app/boards/service.version)
and polls its own URL with ``since=VERSION`` every few seconds; an unchanged version answers 204
(htmx leaves the page alone), a changed one answers the board block, swapped in place. The
version lives in the database, so a change made through any server process shows on every board.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import Annotated, Any, Literal, NamedTuple
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from markupsafe import Markup
from openpyxl import Workbook
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlmodel import Session

from app.api_http import etag_matches, etag_of
from app.auth.principal import STAFF_ROLES, Principal, org_for_read
from app.boards import breakdown, charts, periods
from app.boards import service as boards
from app.boards.cache import (
    BoardCache,
    BoardCacheDep,
    BoardKey,
    ViewerKind,
    gzip_around,
    gzip_tag,
    page_etag,
)
from app.clock import CN, now_cn
from app.db import database_key
from app.deps import CodeInPath, CurrentUser, OrgForRead, OrgForStaff, SessionDep
from app.errors import NotFound
from app.hot_routes import HotRoute, query_int
from app.links.schemas import IdOrBlank
from app.links.service import county_link_effect
from app.meeting import slides
from app.meeting.settings import settings_for
from app.models import Committee, Organisation
from app.models.base import MAX_BIGINT
from app.orgs.service import ancestors
from app.quality import backlog
from app.reports.tables import cell_text
from app.screens.deps import SCREEN_HEADERS, ScreenScope
from app.suggestions import service as suggestions
from app.web import render, render_block_html, render_page_html, wants_fragment
from app.xlsx import text_row, workbook_bytes

router = APIRouter(include_in_schema=False)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

POLL_SECONDS = 1  # an unchanged board answers 204 from one indexed read: cheap enough every second


# --- serving a board: the cached block inside a per-request page ----------------------------------
# The application's BoardCache (app/boards/cache.py) keeps each board's block, as HTML and compressed;
# the page around it (CSRF token, the user's name and menu) is rendered for each request, split where
# the block goes, and sent around the block as kept: a gzip stream whose middle is the block's kept
# deflate segment (cache.gzip_around), or the plain bytes for a client that takes no gzip.
#
# Validators: an HTMX answer's body is the block alone, the same for every viewer of one kind, so its
# ETag is the block's (key and content). A whole page wraps per-user content, so its ETag is the block's
# tag mixed with the digest of the page around it as it reads with the session's CSRF token itself
# (cache.page_etag): it never matches another user's (or another session's) page, changes with the
# name, the menu or anything later added around the block, is the same in every server process for
# the same page, and is had without the block's bytes. Each coding has its own strong tag (``-gz``).
# Signed-in answers are ``private, no-cache`` (a browser may keep them but asks again; no shared cache
# stores them); the meeting view keeps its display headers (no-store: the token stays out of caches).

PRIVATE = {"Cache-Control": "private, no-cache"}


class Crumb(NamedTuple):
    """An organisation above a board's, as its page's crumbs name it."""

    code: str
    name: str


# Where the block goes in the page's frame: a comment no escaped text can make (org names are escaped).
BOARD_SLOT = Markup("<!--board-slot-" + secrets.token_hex(8) + "-->")
HTML = "text/html; charset=utf-8"


def _accepts_gzip(request: Request) -> bool:
    """The client takes ``Content-Encoding: gzip`` (named, or ``*``, without ``q=0``)."""
    for part in request.headers.get("accept-encoding", "").lower().split(","):
        coding, _, params = part.partition(";")
        q = params.strip().removeprefix("q=") if params.strip().startswith("q=") else "1"
        try:
            weight = float(q)
        except ValueError:
            weight = 0.0
        if coding.strip() in ("gzip", "*") and weight > 0:
            return True
    return False


def _period(key: str | None) -> periods.Period:
    return periods.parse(key)


def _overview_context(session, org: Organisation, period: periods.Period, *, base: str,  # noqa: ANN001
                      version: int) -> dict:
    ov = boards.overview(session, org, period)
    ctx = {"ov": ov, "period": period, "choices": periods.choices(), "base": base,
           "version": version, "poll": POLL_SECONDS, "charts": charts,
           "breakdowns": [breakdown.breakdown(session, org, period, by) for by in ("sector", "committee")],
           # 采纳率 (app/suggestions): a direct query; a state change bumps the stamps this block is keyed by.
           "adoption": suggestions.adoption(session, org, period)}
    if org.parent_id is None and ov.ranking:  # the province: the 州市 on the map
        ctx["map_option"] = charts.progress_map_option(
            {r.org.code: r.score for r in ov.ranking}, {r.org.code: r.org.name for r in ov.ranking},
            title="各州市工作进度")
    return ctx


def _serve_board(request: Request, session: Session, cache: BoardCache, org: Organisation,
                 period: periods.Period, since: int | None, *, county: bool, base: str, viewer: ViewerKind,
                 headers: dict[str, str] | None = None) -> Response:
    """One board, live: 204 when its version is still ``since``; 304 when ``If-None-Match`` names what
    would be sent; else the board block for htmx (gzip as kept, when the client takes it), or the page
    around it. The block is rendered once per key while the cache keeps it.

    The version is read before the figures: a change landing in between makes the board poll
    again (read after, a change could hide behind a version the figures never showed)."""
    units = [("place", org.id), ("org", org.id)] if county else [("org", org.id)]
    version = boards.version(session, units)
    if since is not None and since == version:
        return Response(status_code=204)
    template, make = ("boards/county.html", _county_context) if county else ("boards/overview.html", _overview_context)
    key = BoardKey(database=database_key(session), version=version, period=period.key, viewer=viewer,
                   board=template, org_id=org.id, base=base)

    def render_block() -> str:
        ctx = make(session, org, period, base=base, version=version)
        return render_block_html(request, template, "board",
                                 ctx | {"staff": viewer == "staff"})

    block = cache.block(key, render_block)
    headers = {**PRIVATE, **(headers or {}), "Vary": "HX-Request, Accept-Encoding"}
    if_none_match = request.headers.get("if-none-match", "")
    gz = _accepts_gzip(request)
    if wants_fragment(request):
        headers["ETag"] = block.gzip_etag if gz else block.etag
        if etag_matches(if_none_match, headers["ETag"]):
            return Response(status_code=304, headers=headers)
        if gz:
            return Response(block.gz, media_type=HTML, headers=headers | {"Content-Encoding": "gzip"})
        return Response(block.raw, media_type=HTML, headers=headers)
    # The page's frame needs only the organisation and its ancestors (one indexed read), not the figures.
    # The crumbs are kept with the blocks (renames within the same time-to-live as the blocks' own names).
    crumbs = cache.kept(("crumbs", key.database, org.id),
                        lambda: tuple(Crumb(a.code, a.name) for a in ancestors(session, org.id)))
    frame = render_page_html(request, template, {
        "org": org, "ancestors": crumbs, "period": period, "choices": periods.choices(),
        "base": base, "board_html": BOARD_SLOT})
    before, slot, after = frame.partition(BOARD_SLOT)
    if not slot:
        raise RuntimeError(f"{template} has no place for the board's block")
    head, tail = before.encode("utf-8"), after.encode("utf-8")
    # The page's CSRF token is masked afresh each time (app/auth/csrf.py): the tag is of the page as it
    # reads with the token itself — still this user's own, and the same while the board is unchanged.
    masked, token = getattr(request.state, "csrf_masked", ("", ""))
    unmasked = head + b"\0" + tail
    if masked:
        unmasked = unmasked.replace(masked.encode(), token.encode())
    tag = page_etag(block, unmasked)
    headers["ETag"] = gzip_tag(tag) if gz else tag
    if etag_matches(if_none_match, headers["ETag"]):
        return Response(status_code=304, headers=headers)
    if gz:
        return Response(gzip_around(head, block, tail), media_type=HTML, headers=headers | {"Content-Encoding": "gzip"})
    return Response(b"".join((head, block.raw, tail)), media_type=HTML, headers=headers)


def _viewer(session: Session, by: Principal, org: Organisation) -> ViewerKind:
    return "staff" if by.can(session, org.id, *STAFF_ROLES) else "reader"


@router.get("/boards")
def boards_home(session: SessionDep, by: CurrentUser):
    org = boards.home_board(session, by)
    if org is None:
        raise NotFound("您没有可查看的看板")
    return RedirectResponse(f"/boards/{org.code}", status_code=303)


# The two boards load their organisation inside the handler, not through the OrgForRead dependency:
# a plain-function dependency is a thread hop of its own, and a board is what a meeting room and every
# office's screen poll (their everyday request skips FastAPI's dependency solving: ``hot_boards``).

@router.get("/boards/{code}")
def overview_page(request: Request, session: SessionDep, cache: BoardCacheDep, by: CurrentUser, code: CodeInPath,
                  period: Annotated[str | None, Query()] = None,
                  since: Annotated[int | None, Query()] = None) -> Response:
    org = org_for_read(session, by, code)
    return _serve_board(request, session, cache, org, _period(period), since, county=False, base="/boards",
                        viewer=_viewer(session, by, org))


def _county_context(session, county: Organisation, period: periods.Period, *, base: str,  # noqa: ANN001
                    version: int) -> dict:
    cb = boards.county_board(session, county, period)
    option = charts.trend_option(cb.trend_months, cb.trend, unit="次", title="各助推方向每月活动数（已审核）")
    return {"cb": cb, "period": period, "choices": periods.choices(), "base": base, "trend_option": option,
            "version": version, "poll": POLL_SECONDS,
            "link_effect": county_link_effect(session, county, period)}  # 挂联实效 of the county's leaders


@router.get("/c/{code}")
def county_page(request: Request, session: SessionDep, cache: BoardCacheDep, by: CurrentUser, code: CodeInPath,
                period: Annotated[str | None, Query()] = None,
                since: Annotated[int | None, Query()] = None) -> Response:
    county = org_for_read(session, by, code)
    return _serve_board(request, session, cache, county, _period(period), since, county=True, base="",
                        viewer=_viewer(session, by, county))


_CODE = re.compile(r"\d{6}")


def _everyday_board(request: Request, by: Principal) -> dict[str, Any] | None:
    """A board's arguments for the everyday request (app/hot_routes.py): a plain code, period and
    ``since``; None for anything else, which the route answers itself."""
    code, period = request.path_params.get("code", ""), request.query_params.get("period")
    plain, since = query_int(request, "since", maximum=MAX_BIGINT)
    if not plain or not isinstance(code, str) or not _CODE.fullmatch(code):
        return None
    return {"request": request, "cache": request.app.state.board_cache, "by": by, "code": code,
            "period": period, "since": since}


def hot_boards() -> list[HotRoute]:
    """The overview and county boards without FastAPI's dependency solving for the everyday request."""
    return [HotRoute(route, "GET", resolve=_everyday_board, read_arg="session")
            for route in router.routes
            if isinstance(route, APIRoute) and route.endpoint in (overview_page, county_page)]


@router.get("/boards/{code}/activities")
def activities_behind(request: Request, session: SessionDep, by: CurrentUser, org: OrgForRead,
                      period: Annotated[str | None, Query()] = None,
                      scope: Annotated[str, Query(pattern="^(org|place)$")] = "org",
                      task: Annotated[int | None, Query(ge=1, le=2**31)] = None,
                      status: Annotated[str, Query(pattern="^(verified|pending)$")] = "verified",
                      page: Annotated[int, Query(ge=1, le=10_000)] = 1):
    p = _period(period)
    items, total = boards.activities_behind(session, by, org, p, scope=scope, task_id=task, status=status,
                                            page=page, per_page=50)
    return render(request, "boards/activities.html", {
        "org": org, "period": p, "items": items, "total": total, "page": page, "per_page": 50,
        "scope": scope, "task": task, "status": status,
        "history": status == "verified" and boards.history_in(session, org.id, p, scope=scope)}, block="results")


# --- 待审核积压 (signed-in readers; loaded by the board's frame, outside the cached block) ------------

@router.get("/boards/{code}/backlog")
def backlog_fragment(request: Request, session: SessionDep, by: CurrentUser, org: OrgForRead):
    rows = backlog.backlog(session, by, org.id)
    return render(request, "boards/_backlog.html", {
        "org": org, "rows": rows, "total": backlog.backlog_total(rows),
        "staff": by.can(session, org.id, *STAFF_ROLES)}, block="backlog", headers=dict(PRIVATE))


# --- inactive members (staff) --------------------------------------------------------------------

ROLE_LABELS = {"member": "委员", "standing": "常委", "chair_council": "主席会议成员"}


def cn_minute(at: datetime | None) -> str:
    """A moment as Beijing time to the minute ("" for none)."""
    return at.astimezone(CN).strftime("%Y-%m-%d %H:%M") if at else ""


class InactiveQuery(BaseModel):
    period: str | None = None
    segment: Literal["", "never_activated", "returned", "pending", "idle"] = ""
    committee: IdOrBlank = None
    page: int = Field(default=1, ge=1, le=10_000)


def _committee(session: Session, org: Organisation, committee_id: int | None) -> Committee | None:
    """One of the organisation's own committees (the list's filter), else 404."""
    if committee_id is None:
        return None
    committee = session.get(Committee, committee_id)
    if committee is None or committee.org_id != org.id:
        raise NotFound("没有这个专委会")
    return committee


@router.get("/boards/{code}/inactive")
def inactive_page(request: Request, session: SessionDep, org: OrgForStaff, q: Annotated[InactiveQuery, Query()]):
    p = _period(q.period)
    committee = _committee(session, org, q.committee)
    per_page = 100
    segment = q.segment or None
    counts = boards.inactive_counts(session, org, p, committee_id=q.committee)
    rows, total = boards.inactive_members(session, org, p, segment=segment, committee_id=q.committee,
                                          limit=per_page, offset=(q.page - 1) * per_page)
    committees = session.scalars(select(Committee).where(Committee.org_id == org.id).order_by(Committee.name)).all()
    return render(request, "boards/inactive.html", {
        "org": org, "period": p, "rows": rows, "total": total, "page": q.page, "per_page": per_page,
        "roles": ROLE_LABELS, "choices": periods.choices(), "counts": counts, "all": sum(counts.values()),
        "segment": q.segment, "segments": boards.SEGMENT_LABELS, "hints": boards.SEGMENT_HINTS,
        "committee": committee, "committees": committees, "channels": boards.CHANNEL_LABELS, "cn": cn_minute,
        "filters": urlencode({k: v for k, v in (("period", p.key), ("segment", q.segment),
                                                ("committee", q.committee or "")) if v})}, block="results")


@router.get("/boards/{code}/inactive.xlsx")
def inactive_export(session: SessionDep, org: OrgForStaff, q: Annotated[InactiveQuery, Query()]):
    p = _period(q.period)
    committee = _committee(session, org, q.committee)
    rows, _ = boards.inactive_members(session, org, p, segment=q.segment or None, committee_id=q.committee)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("未参与委员")
    ws.freeze_panes = "A3"
    for col, width in zip("ABCDEFGHIJ", (8, 14, 24, 20, 12, 14, 18, 18, 18, 10), strict=True):
        ws.column_dimensions[col].width = width
    group = f"（{boards.SEGMENT_LABELS[q.segment]}）" if q.segment else ""
    where = f" · {committee.name}" if committee else ""
    ws.append(text_row(ws, [f"{org.name}{where} · {p.label} · 没有已审核活动的委员{group}（共 {len(rows)} 名）"]))
    ws.append(["序号", "姓名", "所在组织", "专委会", "身份", "界别", "分组", "最近登录", "最近联系", "联系方式"])
    for n, r in enumerate(rows, start=1):
        ws.append(text_row(ws, [n, r.name, r.org, r.committee or "", ROLE_LABELS.get(r.role, r.role), r.sector,
                                r.segment_label, cn_minute(r.last_login_at) or "从未登录",
                                cn_minute(r.last_contact_at) or "未联系过",
                                boards.CHANNEL_LABELS.get(r.last_contact_channel or "", "")]))
    name = f"未参与委员-{org.name}-{p.label}.xlsx"
    return Response(workbook_bytes(wb), media_type=XLSX, headers={
        "Content-Disposition": f"attachment; filename=\"inactive-members.xlsx\"; filename*=UTF-8''{quote(name)}",
        "Cache-Control": "private, no-store"})


# --- the meeting room ----------------------------------------------------------------------------
# The big screen (app/meeting/slides.py decides the slides): /d/{token} for the room's display link,
# /boards/{code}/meeting for a signed-in reader (the 大屏 button). Both play the organisation's
# playlist (its office's meeting settings); each slide is fetched on its own and fits one screen.

SLIDE_POLL_SECONDS = 10  # a paused slide asks for new figures (204 while its version is unchanged)


def _theme(session: Session, org: Organisation, asked: str | None) -> str:
    return asked if asked in ("light", "dark") else settings_for(session, org.id).theme


def _slide_href(base: str, code: str, query: dict) -> str:
    """A slide's address: /d/{token}/slide/{code}?… on a display link, /boards/{top}/meeting/slide?org={code}&…
    for a signed-in reader (``base`` ends with ``?`` there)."""
    if base.endswith("?"):
        return base + urlencode({"org": code, **query})
    return f"{base}/{code}?" + urlencode(query)


def _screen(request: Request, session: Session, top: Organisation, *, title: str, slide_base: str,
            every: int, period: periods.Period, theme: str | None, headers: dict[str, str],
            settings_url: str | None = None) -> Response:
    theme = _theme(session, top, theme)
    playing = [(_slide_href(slide_base, s.code, {"part": s.part, "period": period.key, "theme": theme}), s.title)
               for s in slides.playlist(session, top, period)]
    return render(request, "meeting/screen.html", {
        "title": title, "top": top, "slides": playing, "every": every, "period": period, "theme": theme,
        "now": now_cn(), "settings_url": settings_url}, headers=headers)


def _slide(request: Request, session: Session, top: Organisation, code: str, *, slide_base: str,
           part: str | None, period: periods.Period, since: int | None, scale: float, theme: str | None,
           headers: dict[str, str]) -> Response:
    org = boards.org_on_display(session, code, within=top.id)
    try:
        name, page = slides.parse_part(part, org, top)
    except ValueError:
        raise NotFound("大屏没有这一页") from None
    county = name in slides.COUNTY_PARTS
    version = boards.version(session, [("place", org.id), ("org", org.id)] if county else [("org", org.id)])
    if since is not None and since == version:
        return Response(status_code=204, headers=headers)
    theme = _theme(session, top, theme)
    ctx = slides.slide_context(session, org, name, page, period, scale, dark=theme == "dark")
    url = _slide_href(slide_base, org.code, {"part": f"{name}-{page}" if page else name, "period": period.key,
                                             "theme": theme, "s": scale})
    page_html = render(request, "meeting/slide.html", ctx | {
        "org": org, "top": top, "part": name, "page": ctx.get("page", 0), "period": period, "url": url,
        "version": version, "poll": SLIDE_POLL_SECONDS, "as_of": now_cn(), "scale": scale,
        "theme": theme, "figure_text": cell_text}, block="slide", headers=headers)
    # Revalidation as the boards do it: the same slide (the figures and the minute it was read) → 304.
    page_html.headers["ETag"] = etag_of(bytes(page_html.body))
    if etag_matches(request.headers.get("if-none-match", ""), page_html.headers["ETag"]):
        return Response(status_code=304, headers={**headers, "ETag": page_html.headers["ETag"]})
    return page_html


def _link_org(session: Session, link) -> Organisation:  # noqa: ANN001 - a ScreenLink
    """The display link's organisation (a foreign key: missing only if deleted under a live screen)."""
    top = session.get(Organisation, link.org_id)
    if top is None:
        raise NotFound("没有这个组织")
    return top


Scale = Annotated[float, Query(ge=0.25, le=8)]
Theme = Annotated[str | None, Query(pattern="^(light|dark)$")]


@router.get("/d/{token}")
def meeting(request: Request, session: SessionDep, link: ScreenScope,
            every: Annotated[int, Query(ge=5, le=600)] = 20, period: Annotated[str | None, Query()] = None,
            theme: Theme = None):
    top = _link_org(session, link)
    return _screen(request, session, top, title=link.name, slide_base=f"/d/{request.path_params['token']}/slide",
                   every=every, period=_period(period), theme=theme, headers=dict(SCREEN_HEADERS))


@router.get("/d/{token}/slide/{code}")
def meeting_slide(request: Request, session: SessionDep, link: ScreenScope, code: str,
                  part: Annotated[str | None, Query(max_length=20)] = None,
                  period: Annotated[str | None, Query()] = None, since: Annotated[int | None, Query()] = None,
                  s: Scale = 1.0, theme: Theme = None) -> Response:
    top = _link_org(session, link)
    return _slide(request, session, top, code, slide_base=f"/d/{request.path_params['token']}/slide", part=part,
                  period=_period(period), since=since, scale=s, theme=theme, headers=dict(SCREEN_HEADERS))


@router.get("/boards/{code}/meeting")
def board_meeting(request: Request, session: SessionDep, by: CurrentUser, org: OrgForRead,
                  every: Annotated[int, Query(ge=5, le=600)] = 20, period: Annotated[str | None, Query()] = None,
                  theme: Theme = None):
    """The 大屏 button: the same meeting mode for a signed-in reader, without a display link."""
    staff = by.can(session, org.id, *STAFF_ROLES)  # the office may change what its screen plays
    return _screen(request, session, org, title=f"{org.name} · 大屏", slide_base=f"/boards/{org.code}/meeting/slide?",
                   every=every, period=_period(period), theme=theme, headers=dict(PRIVATE),
                   settings_url=f"/meeting/{org.code}/settings" if staff else None)


@router.get("/boards/{code}/meeting/slide")
def board_meeting_slide(request: Request, session: SessionDep, by: CurrentUser, org: OrgForRead,
                        shown: Annotated[str | None, Query(alias="org", max_length=12)] = None,
                        part: Annotated[str | None, Query(max_length=20)] = None,
                        period: Annotated[str | None, Query()] = None, since: Annotated[int | None, Query()] = None,
                        s: Scale = 1.0, theme: Theme = None) -> Response:
    return _slide(request, session, org, shown or org.code, slide_base=f"/boards/{org.code}/meeting/slide?",
                  part=part,
                  period=_period(period), since=since, scale=s, theme=theme, headers=dict(PRIVATE))
