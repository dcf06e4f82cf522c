"""The front page."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.deps import SessionDep
from app.home.service import overview
from app.web import render

router = APIRouter()


@router.get("/", include_in_schema=False)
def home(request: Request, session: SessionDep):
    return render(request, "home/index.html", {"o": overview(session)})
