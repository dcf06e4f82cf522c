"""A small world for 意见建议的跟踪 on the real tree and catalogue, as of a known day of last year.

昆明 (530100) holds 五华区 (530102) and 盘龙区 (530103); 曲靖 (530300) is the sibling prefecture. Task 5's
indicator 意见建议 and task 10's 建言献策 are the catalogue's suggestions (unit 条); task 7 is not.
"""

from __future__ import annotations

from datetime import date

import pytest

from app.auth.service import build_principal
from app.boards import periods
from app.models import ActivityStatus, GrantRole
from app.suggestions import service
from tests import factories as f

YEAR = f.this_year() - 1
TODAY = date(YEAR, 11, 23)


class World:
    def __init__(self, session):
        self.s = session
        self.province, self.kunming, self.qujing = (f.org(session, c) for c in ("530000", "530100", "530300"))
        self.wuhua, self.panlong = f.org(session, "530102"), f.org(session, "530103")
        self.member = f.persona(session, "member")  # 五华区
        self.staff = f.persona(session, "prefecture_staff")  # 昆明
        self.county_staff = f.persona(session, "county_staff")  # 五华区
        self.outsider = f.persona(session, "outsider_staff")  # 曲靖
        self.kunming_viewer = f.make_user(session, grants=((GrantRole.viewer, self.kunming),))
        self.task = f.task(session, 5)
        self.idea = f.indicators(session, self.task)[0]
        self.task10 = f.task(session, 10)
        self.idea10 = f.indicators(session, self.task10)[0]
        self.other = f.task(session, 7)
        self.other_count = next(i for i in f.indicators(session, self.other) if i.kind == "count")

    def p(self, user):
        return build_principal(self.s, user, ip="test", today=TODAY)

    def period(self, key: str = f"{YEAR}-ytd11") -> periods.Period:
        return periods.parse(key, TODAY)

    def made(self, items: int = 3, *, credited=None, on: date = date(YEAR, 5, 4),
             status: ActivityStatus = ActivityStatus.verified, task=None):
        task = task or self.task
        ind = self.idea if task is self.task else self.idea10
        return f.make_activity(self.s, recorder=self.member, credited=credited or self.wuhua, county=self.wuhua,
                               task_=task, values={ind.id: items}, occurred_on=on, status=status)

    def set(self, activity, state: str = "adopted", *, by=None, department: str = "县农业农村局",
            on: date = date(YEAR, 6, 1), version: int = 0):
        return service.set_state(self.s, by=self.p(by or self.staff), activity_id=activity.id, state=state,
                                 department=department, state_on=on, version=version)


@pytest.fixture
def world(session, clock) -> World:
    clock.freeze_on(TODAY)
    return World(session)
