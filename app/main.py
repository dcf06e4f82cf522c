"""The ASGI application: routers, static files, CSRF, and one place that turns errors into answers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import DataError, OperationalError
from starlette.datastructures import State
from starlette.exceptions import HTTPException as StarletteHTTPException

from app import hot_routes
from app.accounts.pages import router as accounts_router
from app.activities.api import hot_submission
from app.activities.api import router as activities_api
from app.activities.pages import router as activities_router
from app.activities.review_pages import router as review_router
from app.api_http import ApiHttpMiddleware
from app.audit.pages import router as audit_router
from app.auth.csrf import AnonCsrfCookieMiddleware
from app.auth.pages import router as auth_router
from app.auth.principals import keep_fresh
from app.boards.api import router as boards_api
from app.boards.cache import BoardCache
from app.boards.pages import hot_boards
from app.boards.pages import router as boards_router
from app.config import PROJECT_ROOT, get_settings
from app.deps import csrf_protect, principal_cache, read_principal_version
from app.errors import DomainError, Unauthorized
from app.exemplars.api import router as exemplars_api
from app.exemplars.pages import router as exemplars_router
from app.exports.pages import router as exports_router
from app.history.pages import router as history_router
from app.home.pages import router as home_router
from app.imports.pages import router as imports_router
from app.leads.api import router as leads_api
from app.leads.pages import router as leads_router
from app.limits import BodyLimitMiddleware, refused_as_anonymous, too_large_message
from app.links.api import router as links_api
from app.links.pages import router as links_router
from app.manage.pages import router as manage_router
from app.matching.api import router as matching_api
from app.matching.pages import router as matching_router
from app.meeting.api import router as meeting_api
from app.meeting.pages import router as meeting_router
from app.meeting.settings_pages import router as meeting_settings_router
from app.notify.api import router as messages_api
from app.notify.campaign_api import router as campaigns_api
from app.notify.campaign_pages import router as campaigns_router
from app.notify.pages import router as messages_router
from app.offline import router as offline_router
from app.ops import interpreter, storage_full
from app.ops.metrics import route_of
from app.ops.routes import router as ops_router
from app.orgs.api import router as orgs_api
from app.profiles.api import router as profiles_api
from app.profiles.pages import router as profiles_router
from app.reports.api import router as reports_api
from app.reports.pages import router as reports_router
from app.screens.pages import router as screens_router
from app.security import HardenedFastAPI, content_security_policy, inline_script_hashes
from app.static_files import CompressionMiddleware, FingerprintedStatic
from app.suggestions.api import router as suggestions_api
from app.suggestions.pages import router as suggestions_router
from app.targets.api import router as targets_api
from app.targets.pages import router as targets_router
from app.terms.pages import router as terms_router
from app.timing import ServerTimingMiddleware
from app.tokens.pages import router as tokens_router
from app.web import is_htmx, message_header, render

log = logging.getLogger("app")

HTTP_MESSAGES = {
    400: "请求内容无法解析，请发送有效的 JSON",
    404: "页面不存在",
    405: "不支持此操作",
}


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error_response(request: Request, status: int, message: str, code: str,
                    errors: dict | list | None = None, headers: dict[str, str] | None = None,
                    extra: dict | None = None) -> Response:
    if _wants_json(request):
        body = {"detail": message, "code": code, **(extra or {})}
        if errors:
            body["errors"] = errors
        return JSONResponse(body, status_code=status, headers=headers)
    if status == 401:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if is_htmx(request):
            return Response(status_code=401, headers={"HX-Redirect": f"/login?next={target}"})
        return RedirectResponse(f"/login?next={target}", status_code=303)
    # HTMX: the fragment goes to the toast area (static/js/app.js); a plain request gets a page.
    if is_htmx(request):
        headers = {**(headers or {}), **message_header(message)}
    return render(request, "error.html", {"status": status, "message": message, "code": code},
                  block="toast" if is_htmx(request) else None, status_code=status, headers=headers)


def _body_refused(request: Request) -> Response:
    """A body over its limit (app/limits.py): say how much this form takes — or, on a form that takes
    files sent without credentials, ask to sign in (a signed-in member's upload would have fitted)."""
    if refused_as_anonymous(request.scope):
        return _error_response(request, 401, Unauthorized.default_message, Unauthorized.code)
    return _error_response(request, 413, too_large_message(request.scope), "body_too_large")


SWAGGER_VERSION = "5.35.0"  # static/vendor, recorded in static/VENDORED.md

API_DESCRIPTION = """\
「双助推」行动平台的数据接口，供其他系统（如乡村振兴部门、州市自建看板）读取进度、排名、报告与活动，
也供绑定委员的系统提交活动。

**认证**：在请求头中携带 API 令牌 `Authorization: Bearer szt_…`（由「双助推」办公室在 /tokens 创建；
不要放进网址）。令牌只能读取创建时所选组织及其下级的数据。每个接口的 `x-token-access` 说明可用的令牌：
`aggregate`（任何令牌：合计、进度、排名、报告，不含个人信息）、`records`（明细级令牌：另含活动与挂联，
带姓名，任何接口都不返回手机号）、`write`（绑定委员的可写令牌：以该委员名义提交活动）。
没有 `x-token-access` 的接口只供登录用户（会话 Cookie 加 `X-CSRF-Token` 请求头）使用。

**错误**：一律为 `{"detail": 中文说明, "code": 稳定代码}`，422 另有逐字段的 `errors`。
范围外的记录与不存在的一样答 404。

**缓存**：每个 GET 的成功响应带 `ETag`；带上 `If-None-Match` 再次请求，未变化时答 304（无响应体）。

**限流**：每个令牌每分钟的请求数有上限（响应头 `X-RateLimit-Limit` / `X-RateLimit-Remaining`），
超过时答 429 并以 `Retry-After` 告知需等待的秒数。

**翻页与增量同步**：活动列表用 `next_cursor` 翻页；`order=updated&updated_since=上次同步时刻`
取回此后新增或变化的活动。

The platform's data API. Authenticate with `Authorization: Bearer <token>`; each operation's
`x-token-access` says which tokens may call it. Errors are `{"detail", "code"}`; GETs carry ETags;
tokens are rate-limited (429 + Retry-After); activities page by cursor and sync by `updated_since`.
"""


def _openapi(app: FastAPI) -> dict:
    """FastAPI's document, with the errors every operation really answers: its 422 is our error
    body (not FastAPI's list), and an operation with a body answers 400 for bytes that are not JSON."""
    if app.openapi_schema:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi

    from app.api_docs import ErrorBody

    spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    error_ref = {"$ref": "#/components/schemas/ErrorBody"}
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("ErrorBody", ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}"))
    for ops in spec["paths"].values():
        for op in ops.values():
            responses = op.setdefault("responses", {})
            invalid = responses.get("422")
            if invalid and "HTTPValidationError" in str(invalid):
                responses["422"] = {"description": "请求格式不正确（code: validation_error），errors 为逐字段说明 / "
                                                   "invalid input, with per-field errors",
                                    "content": {"application/json": {"schema": error_ref}}}
            if "requestBody" in op:
                responses.setdefault("400", {"description": "请求体不是有效的 JSON（code: http_400） / the body is not JSON",
                                             "content": {"application/json": {"schema": error_ref}}})
    if "HTTPValidationError" not in str(spec["paths"]):
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
    app.openapi_schema = spec
    return spec


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Run this process's background-job worker and notice sender while the application serves."""
    from app.db import get_session
    from app.jobs.service import Worker
    from app.notify.worker import Sender

    threads = get_settings().job_workers
    # An application whose sessions are overridden (a test's one transaction) does not own the
    # database its requests see: no worker could find their jobs, so none is started.
    worker = Worker(threads=threads).start() if threads > 0 and get_session not in app.dependency_overrides else None
    app.state.job_worker = worker  # /readyz asks whether its threads are alive (app/ops/health.py)
    # The notices' sender runs where the job worker runs, and for the same reason not elsewhere.
    sender = Sender().start() if worker is not None else None
    app.state.notify_sender = sender
    # The principal cache's version read ahead of each second (app/auth/principals.py), for the same
    # reason only where the application owns its database.
    fresh = None
    if get_session not in app.dependency_overrides:
        fresh = asyncio.get_running_loop().create_task(keep_fresh(principal_cache(app), read_principal_version))
    if get_settings().gc_freeze:
        interpreter.tune_once()  # the application is built: its objects out of the collector's walks
    try:
        yield
    finally:
        if fresh is not None:
            fresh.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await fresh
        if sender is not None:
            sender.stop()
        if worker is not None:
            worker.stop()


def api_docs(request: Request) -> Response:
    """/docs: Swagger UI from static/vendor — the documentation works on an intranet without internet.
    No validator badge: it would send the API's address to validator.swagger.io."""
    page = get_swagger_ui_html(
        openapi_url=request.app.openapi_url, title="双助推行动平台 API 文档",
        swagger_js_url=f"/static/vendor/swagger-ui-bundle-{SWAGGER_VERSION}.js",
        swagger_css_url=f"/static/vendor/swagger-ui-{SWAGGER_VERSION}.css",
        swagger_favicon_url="/static/vendor/swagger-ui-favicon-32x32.png",
        swagger_ui_parameters={"validatorUrl": None})
    # Its one inline script (the setup) is allowed by hash: the strict policy otherwise holds here too.
    script_src = f"'self' {inline_script_hashes(bytes(page.body).decode())}"
    page.headers["Content-Security-Policy"] = content_security_policy(script_src=script_src)
    return page


def healthz() -> dict[str, str]:
    return {"status": "ok"}


def fresh_state(app: FastAPI) -> None:
    """The application's own state, new: the boards' cache, made here; what requests make on first
    need (the principal cache, the writers' limiters, the group commit) is made again by them.
    The boards' rendered blocks belong to this application, not to a module: two apps (tests,
    databases) never serve each other's boards (app/boards/cache.py)."""
    app.state = State()
    app.state.board_cache = BoardCache(ttl_seconds=get_settings().board_cache_seconds)


def create_app() -> FastAPI:
    app = HardenedFastAPI(  # security headers on every answer (app/security.py)
        title="双助推行动平台 API", version="1.0.0", description=API_DESCRIPTION, docs_url=None, redoc_url=None,
        lifespan=_lifespan,
        dependencies=[Depends(csrf_protect)],
        # operationId = the handler's name (read_progress, list_activities …): what generated clients call.
        generate_unique_id_function=lambda route: route.name,
    )
    fresh_state(app)
    app.add_middleware(AnonCsrfCookieMiddleware)
    app.add_middleware(ApiHttpMiddleware)  # ETag / 304 and rate-limit headers on /api/
    # Outside the CSRF cookie, the form parser and authentication: an oversized body is refused
    # before any of them reads it (app/limits.py).
    app.add_middleware(BodyLimitMiddleware, refuse=_body_refused)
    # Outside the API's ETags, which are taken of the uncompressed body (app/static_files.py).
    app.add_middleware(CompressionMiddleware)
    app.add_middleware(ServerTimingMiddleware)  # outermost: times everything below it
    # Fingerprinted names kept for a year, plain names revalidated (app/static_files.py).
    app.mount("/static", FingerprintedStatic(directory=PROJECT_ROOT / "static"), name="static")
    app.include_router(auth_router)
    app.include_router(home_router)
    app.include_router(activities_router)
    app.include_router(review_router)
    app.include_router(accounts_router)
    app.include_router(audit_router)
    app.include_router(activities_api)
    app.include_router(boards_router)  # before screens_router: /d/{token} is the meeting view
    app.include_router(screens_router)
    app.include_router(links_router)
    app.include_router(links_api)
    app.include_router(targets_router)
    app.include_router(targets_api)
    app.include_router(reports_router)
    app.include_router(reports_api)
    app.include_router(suggestions_router)  # 意见建议的跟踪: /suggestions/CODE
    app.include_router(suggestions_api)
    app.include_router(exemplars_router)  # 典型: /exemplars/CODE, /exemplars/nominations/ID
    app.include_router(exemplars_api)
    app.include_router(exports_router)
    app.include_router(imports_router)
    app.include_router(tokens_router)
    app.include_router(terms_router)
    app.include_router(history_router)
    app.include_router(manage_router)
    app.include_router(campaigns_router)
    app.include_router(campaigns_api)
    app.include_router(messages_router)
    app.include_router(messages_api)
    app.include_router(orgs_api)
    app.include_router(boards_api)
    app.include_router(meeting_router)
    app.include_router(leads_router)
    app.include_router(leads_api)
    app.include_router(meeting_settings_router)  # /meeting/CODE/settings: 大屏设置
    app.include_router(meeting_api)
    app.include_router(offline_router)  # /sw.js, /offline, /session/token
    app.include_router(profiles_router)  # 履职档案: /members/{id}/profile, /me/profile
    app.include_router(profiles_api)
    app.include_router(matching_router)  # 补位匹配 and 带动: /matching/CODE/TASK, /bringing/CODE
    app.include_router(matching_api)

    # The month's-end request, answered without FastAPI's dependency solving when it is the everyday
    # one (app/hot_routes.py); every other request of that route goes the way above.
    for hot in (hot_submission(), *hot_boards()):
        hot_routes.install(app, hot, app_dependencies=(csrf_protect,))
    app.openapi = lambda: _openapi(app)

    # Module-level endpoints: FastAPI keeps every endpoint it classifies in a process-wide cache
    # (4,096 entries), so a closure over ``app`` made here would keep each application alive.
    app.add_api_route("/docs", api_docs, methods=["GET"], include_in_schema=False)
    # HEAD: load balancers and uptime checks
    app.add_api_route("/healthz", healthz, methods=["GET", "HEAD"], include_in_schema=False)

    app.include_router(ops_router)  # /readyz, /metrics

    @app.exception_handler(OSError)
    @app.exception_handler(OperationalError)
    async def _storage_full(request: Request, exc: Exception) -> Response:
        # A full disk (file or database): a 503 that says so, logged once a minute (app/ops/storage_full.py).
        if not storage_full.is_storage_full(exc):
            raise exc  # any other: the unexpected-error handler below
        storage_full.report(exc, f"{request.method} {route_of(request.scope)}")
        return _error_response(request, 503, storage_full.MESSAGE, storage_full.CODE,
                               headers={"Retry-After": str(storage_full.RETRY_AFTER_SECONDS)})

    @app.exception_handler(DomainError)
    async def _domain_error(request: Request, exc: DomainError) -> Response:
        return _error_response(request, exc.status_code, exc.message, exc.code, exc.errors or None, exc.headers,
                               exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = [{"loc": list(e.get("loc", [])), "msg": e.get("msg", "")} for e in exc.errors()]
        return _error_response(request, 422, "请求格式不正确", "validation_error", errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 413:  # a body over its limit (app/limits.py)
            return _body_refused(request)
        message = HTTP_MESSAGES.get(exc.status_code, str(exc.detail))
        return _error_response(request, exc.status_code, message, f"http_{exc.status_code}",
                               headers=getattr(exc, "headers", None))

    @app.exception_handler(DataError)
    async def _data_error(request: Request, exc: DataError) -> Response:
        # The database refused a value's size or type (e.g. an id beyond BIGINT in a URL):
        # bad input, not a server fault.
        return _error_response(request, 422, "请求中的数值超出范围", "out_of_range")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # The route's template, not the path as typed (it may hold a phone number: app/ops/logs.py).
        log.exception("unhandled error on %s %s", request.method, route_of(request.scope))
        return _error_response(request, 500, "服务器出错了，请稍后重试；已填写的内容没有丢失", "server_error")

    return app


def serving_app() -> FastAPI:
    """The application a served process runs (``python -m app serve``: uvicorn calls this in each
    worker before it accepts a connection), with every route already built.

    FastAPI builds an included router's routes (dependants, fields, validators) at the first request
    that reaches that router: about 1.2 s for this application on the benchmark machine, which the
    first requests after each start of each worker would wait for (at the month's end, a queue of
    them). Building the API document walks every route and builds it; it also readies /openapi.json.
    Tests' in-process applications (``create_app``) still build on first need: they are many, and
    most answer a handful of requests."""
    app = create_app()
    app.openapi()
    return app
