"""A small known world for the reports: 五华区 (a key county of 昆明市) with verified activities."""

from __future__ import annotations

from datetime import date

import pytest

from app.activities import service as activities
from app.activities.schemas import ActivityInput
from app.auth.service import build_principal
from app.boards import periods
from tests import factories as f

# The tests' known day: 23 November of last year, so that every month of its data (last year's
# May to September, one activity the year before) is past whatever day the suite runs on.
YEAR = f.this_year() - 1
TODAY = date(YEAR, 11, 23)


class World:
    def __init__(self, session):
        self.s = session
        self.province, self.kunming = f.org(session, "530000"), f.org(session, "530100")
        self.wuhua, self.panlong = f.org(session, "530102"), f.org(session, "530103")
        self.wuhua.is_key_county = True
        session.flush()
        self.member = f.persona(session, "member")  # 五华区
        self.idle = f.make_member(session, self.wuhua, name="未参与委员")
        self.staff = f.persona(session, "prefecture_staff")  # 昆明
        self.viewer = f.persona(session, "viewer")  # the province, reads only
        self.outsider = f.persona(session, "outsider_staff")  # 曲靖
        self.t1, self.t2, self.t7 = f.task(session, 1), f.task(session, 2), f.task(session, 7)
        self.projects, self.services = f.indicators(session, self.t1)
        self.sales, self.sales_money = f.indicators(session, self.t2)
        self.lectures, self.clinics, self.equipment = f.indicators(session, self.t7)

    def p(self, user):
        return build_principal(self.s, user, ip="test", today=TODAY)

    def log(self, key: str, task, values: dict[int, object], *, on: date = date(YEAR, 5, 4), county=None,
            description: str = "活动"):
        data = ActivityInput(task_id=task.id, county_id=(county or self.wuhua).id, occurred_on=on,
                             description=description, values={i: str(v) for i, v in values.items()})
        return activities.record_activity(self.s, by=self.p(self.member), data=data, idempotency_key=key,
                                          today=TODAY).activity

    def verify(self, activity) -> None:
        activities.verify(self.s, by=self.p(self.staff), activity_id=activity.id)

    def standard(self) -> None:
        """The figures the tests check: verified in YEAR's Q2–Q3, one pending, one in the year before."""
        self.verify(self.log("a", self.t1, {self.projects.id: 2, self.services.id: 5}, description="果园技术指导"))
        self.verify(self.log("b", self.t2, {self.sales.id: 1, self.sales_money.id: "12.5"}, on=date(YEAR, 8, 1)))
        self.verify(self.log("c", self.t2, {self.sales.id: 2, self.sales_money.id: "100"}, on=date(YEAR, 9, 30)))
        self.verify(self.log("d", self.t7, {self.clinics.id: 1}, on=date(YEAR, 7, 2), county=self.panlong))
        self.log("e", self.t1, {self.projects.id: 100})  # pending: never in a report
        self.verify(self.log("f", self.t1, {self.projects.id: 1}, on=date(YEAR - 1, 9, 1)))


@pytest.fixture
def world(session, settings_env) -> World:
    # These tests are about figures: activities alike on one day are logged as they come, without the
    # likely-duplicate decision and flags at entry (tested in tests/quality/).
    settings_env(quality_checks="false")
    return World(session)


@pytest.fixture
def q3() -> periods.Period:
    return periods.parse(f"{YEAR}-ytdq3", TODAY)
