"""``/readyz`` and ``/metrics`` (``/healthz`` stays in app/main.py: it needs nothing)."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.config import get_settings
from app.db import end_read
from app.deps import SessionDep
from app.ops import health, metrics

router = APIRouter(include_in_schema=False)


def _check_threads(request: Request) -> anyio.CapacityLimiter:
    # One per application, made on its event loop (as app/db.py's writer turn).
    limiter = getattr(request.app.state, "szt_check_threads", None)
    if limiter is None:
        limiter = request.app.state.szt_check_threads = anyio.CapacityLimiter(health.CHECK_THREADS)
    return limiter


@router.api_route("/readyz", methods=["GET", "HEAD"])  # HEAD: load balancers ask so too
async def readyz(request: Request, session: SessionDep) -> JSONResponse:
    ok, checks = await health.readiness(session, getattr(request.app.state, "job_worker", None),
                                        _check_threads(request), getattr(request.app.state, "notify_sender", None))
    return JSONResponse({"status": "ok" if ok else "fail", "checks": checks}, status_code=200 if ok else 503,
                        headers={"Cache-Control": "no-store"})


@router.get("/metrics")
def prometheus_metrics(request: Request, session: SessionDep) -> Response:
    host = request.client.host if request.client else None
    if not metrics.allowed(host, metrics.parse_allow(get_settings().metrics_allow)):
        raise StarletteHTTPException(404)  # as if there were no such page
    try:
        metrics.read_database_gauges(session)
        end_read(session)
    except SQLAlchemyError:
        # The database does not answer: the figures read from it are left out, the rest still served
        # (/readyz says what is wrong).
        session.rollback()
        metrics.forget_database_gauges()
    return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
