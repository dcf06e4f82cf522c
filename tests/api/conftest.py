"""API tokens in tests: fresh rate-limit buckets and use counters for every test, and helpers that
make a token the way staff do (through the service) and send it as a Bearer header."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from app.auth.service import build_principal
from app.tokens import service as tokens
from tests.factories import org, persona


@pytest.fixture(autouse=True)
def _fresh_limits():
    tokens.LIMITER.reset()
    tokens.METER.reset()
    yield
    tokens.LIMITER.reset()
    tokens.METER.reset()


def make_token(session: Session, *, code: str = "530000", level: str = "aggregate", phone: str = "",
               days: int = 30, rate: int = 600, staff: str = "province_admin") -> tuple[int, str]:
    """(token id, raw token) for ``code``'s subtree, created by a staff persona through the service."""
    by = build_principal(session, persona(session, staff))
    token, raw = tokens.create_token(session, by, name=f"测试系统{code}", org_id=org(session, code).id, level=level,
                                     days=days, write_member_phone=phone, rate_per_minute=rate)
    return token.id, raw


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}
