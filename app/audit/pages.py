"""(Filled in by its feature's work.)"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
