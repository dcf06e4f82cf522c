"""The ASGI application: routers, static files, CSRF, and one place that turns errors into answers."""

from __future__ import annotations

import logging

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.accounts.pages import router as accounts_router
from app.activities.api import router as activities_api
from app.activities.pages import router as activities_router
from app.activities.review_pages import router as review_router
from app.audit.pages import router as audit_router
from app.auth.csrf import AnonCsrfCookieMiddleware
from app.auth.pages import router as auth_router
from app.boards.api import router as boards_api
from app.boards.pages import router as boards_router
from app.config import PROJECT_ROOT
from app.deps import csrf_protect
from app.display.pages import router as display_router
from app.errors import DomainError
from app.exports.pages import router as exports_router
from app.home.pages import router as home_router
from app.imports.pages import router as imports_router
from app.timing import ServerTimingMiddleware
from app.tokens.pages import router as tokens_router
from app.api_http import ApiHttpMiddleware
from app.links.api import router as links_api
from app.orgs.api import router as orgs_api
from app.links.pages import router as links_router
from app.manage.pages import router as manage_router
from app.reports.api import router as reports_api
from app.reports.pages import router as reports_router
from app.history.pages import router as history_router
from app.targets.api import router as targets_api
from app.terms.pages import router as terms_router
from app.targets.pages import router as targets_router
from app.web import is_htmx, render

log = logging.getLogger("app")

HTTP_MESSAGES = {
    404: "页面不存在",
    405: "不支持此操作",
    413: "上传的内容太大",
}


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error_response(request: Request, status: int, message: str, code: str,
                    errors: dict | list | None = None, headers: dict[str, str] | None = None) -> Response:
    if _wants_json(request):
        body = {"detail": message, "code": code}
        if errors:
            body["errors"] = errors
        return JSONResponse(body, status_code=status, headers=headers)
    if status == 401:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if is_htmx(request):
            return Response(status_code=401, headers={"HX-Redirect": f"/login?next={target}"})
        return RedirectResponse(f"/login?next={target}", status_code=303)
    # HTMX: the fragment goes to the toast area (static/js/app.js); a plain request gets a page.
    return render(request, "error.html", {"status": status, "message": message, "code": code},
                  block="toast" if is_htmx(request) else None, status_code=status, headers=headers)


def create_app() -> FastAPI:
    app = FastAPI(
        title="双助推行动平台", version="0.1.0", docs_url="/docs", redoc_url=None,
        dependencies=[Depends(csrf_protect)],
    )
    app.add_middleware(AnonCsrfCookieMiddleware)
    app.add_middleware(ApiHttpMiddleware)  # ETag / 304 and rate-limit headers on /api/
    app.add_middleware(ServerTimingMiddleware)  # outermost: times everything below it
    app.mount("/static", StaticFiles(directory=PROJECT_ROOT / "static"), name="static")
    app.include_router(auth_router)
    app.include_router(home_router)
    app.include_router(activities_router)
    app.include_router(review_router)
    app.include_router(accounts_router)
    app.include_router(audit_router)
    app.include_router(activities_api)
    app.include_router(boards_router)  # before display_router: /d/{token} is the meeting view
    app.include_router(display_router)
    app.include_router(links_router)
    app.include_router(links_api)
    app.include_router(targets_router)
    app.include_router(targets_api)
    app.include_router(reports_router)
    app.include_router(reports_api)
    app.include_router(exports_router)
    app.include_router(imports_router)
    app.include_router(tokens_router)
    app.include_router(terms_router)
    app.include_router(history_router)
    app.include_router(manage_router)
    app.include_router(orgs_api)
    app.include_router(boards_api)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.exception_handler(DomainError)
    async def _domain_error(request: Request, exc: DomainError) -> Response:
        return _error_response(request, exc.status_code, exc.message, exc.code, exc.errors or None, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = [{"loc": list(e.get("loc", [])), "msg": e.get("msg", "")} for e in exc.errors()]
        return _error_response(request, 422, "请求格式不正确", "validation_error", errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
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
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error_response(request, 500, "服务器出错了，请稍后重试；已填写的内容没有丢失", "server_error")

    return app
