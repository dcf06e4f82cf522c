"""The ASGI application."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.config import PROJECT_ROOT
from app.home.pages import router as home_router


def create_app() -> FastAPI:
    app = FastAPI(title="双助推行动平台", version="0.1.0", docs_url="/docs", redoc_url=None)
    app.mount("/static", StaticFiles(directory=PROJECT_ROOT / "static"), name="static")
    app.include_router(home_router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
