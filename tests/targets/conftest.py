"""A small world for target tests: personas of the real tree, indicators of both kinds."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.auth.service import build_principal
from app.clock import today_cn
from app.config import get_settings
from app.models import AnnualTarget, GrantRole, IndicatorKind
from tests import factories as f

YEAR = today_cn().year


class World:
    def __init__(self, session):
        self.session = session
        self.province, self.kunming = f.org(session, "530000"), f.org(session, "530100")
        self.wuhua, self.panlong, self.qujing = f.org(session, "530102"), f.org(session, "530103"), f.org(session, "530300")
        self.prefecture_staff = f.persona(session, "prefecture_staff")
        self.county_staff = f.persona(session, "county_staff")
        self.province_admin = f.persona(session, "province_admin")
        self.viewer = f.persona(session, "viewer")
        self.member = f.persona(session, "member")
        self.kunming_viewer = f.make_user(session, grants=((GrantRole.viewer, self.kunming),))
        task = f.task(session, 7)  # 医疗帮扶: two counts and a money indicator
        self.indicators = f.indicators(session, task)
        self.count = next(i for i in self.indicators if i.kind == IndicatorKind.count)
        self.money = next(i for i in self.indicators if i.kind == IndicatorKind.money)

    def p(self, user):
        """The principal of ``user`` as a request would build it."""
        return build_principal(self.session, user, ip="test")

    def target(self, org, indicator, year: int = YEAR) -> int | None:
        return self.session.scalar(select(AnnualTarget.value).where(
            AnnualTarget.org_id == org.id, AnnualTarget.indicator_id == indicator.id, AnnualTarget.year == year))

    def put(self, org, indicator, value: int, year: int = YEAR) -> None:
        self.session.add(AnnualTarget(org_id=org.id, indicator_id=indicator.id, year=year, value=value))
        self.session.flush()


@pytest.fixture
def world(session) -> World:
    return World(session)


@pytest.fixture(autouse=True)
def uploads_in_tmp(tmp_path, monkeypatch):
    """Staged import files of these tests go to a throw-away folder, never data/uploads."""
    monkeypatch.setenv("SZT_UPLOAD_DIR", str(tmp_path / "uploads"))
    get_settings.cache_clear()
    yield tmp_path / "uploads"
    get_settings.cache_clear()
