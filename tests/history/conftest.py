"""A small world for 汇总录入 tests: personas of the real tree, a count and a money indicator."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.auth.service import build_principal
from app.clock import today_cn
from app.history.service import HistoryRow
from app.models import HistoryEntry, IndicatorKind
from tests import factories as f

LAST_YEAR = today_cn().year - 1


class World:
    def __init__(self, session):
        self.session = session
        self.province, self.kunming = f.org(session, "530000"), f.org(session, "530100")
        self.wuhua, self.panlong, self.qujing = f.org(session, "530102"), f.org(session, "530103"), f.org(session, "530300")
        self.province_staff = f.persona(session, "province_staff")
        self.prefecture_staff = f.persona(session, "prefecture_staff")
        self.county_staff = f.persona(session, "county_staff")
        self.outsider_staff = f.persona(session, "outsider_staff")
        self.viewer = f.persona(session, "viewer")
        self.task = f.task(session, 7)  # 医疗帮扶: two counts and a money indicator
        self.indicators = f.indicators(session, self.task)
        self.count = next(i for i in self.indicators if i.kind == IndicatorKind.count)
        self.money = next(i for i in self.indicators if i.kind == IndicatorKind.money)

    def p(self, user):
        return build_principal(self.session, user, ip="test")

    def entries(self) -> list[HistoryEntry]:
        return list(self.session.scalars(select(HistoryEntry).order_by(HistoryEntry.id)))


def rows(*cells) -> list[HistoryRow]:
    """HistoryRow per tuple of cells (org, year, period, indicator, value[, note]), rows from 2."""
    return [HistoryRow(n, *c) for n, c in enumerate(cells, start=2)]


@pytest.fixture
def world(session) -> World:
    return World(session)
