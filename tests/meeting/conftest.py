"""A small world for the 研判 meeting on the real tree, as of a known day of last year.

昆明 (530100) holds 五华区 (530102, a key county here) and 盘龙区 (530103); 曲靖 (530300) is the
sibling prefecture. The clock stands on TODAY (23 November of last year), so every month used is past.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import update

from app.activities import service as activities
from app.activities.schemas import ActivityInput
from app.auth.service import build_principal
from app.boards import periods
from app.models import AnnualTarget, GrantRole, Organisation
from tests import factories as f

YEAR = f.this_year() - 1
TODAY = date(YEAR, 11, 23)


class World:
    def __init__(self, session):
        self.s = session
        self.province, self.kunming, self.qujing = (f.org(session, c) for c in ("530000", "530100", "530300"))
        self.wuhua, self.panlong = f.org(session, "530102"), f.org(session, "530103")
        session.execute(update(Organisation).where(Organisation.id == self.wuhua.id).values(is_key_county=True))
        session.flush()
        session.refresh(self.wuhua)
        self.member = f.persona(session, "member")  # 五华区
        self.staff = f.persona(session, "prefecture_staff")  # 昆明
        self.province_staff = f.persona(session, "province_staff")
        self.county_staff = f.persona(session, "county_staff")  # 五华区
        self.outsider = f.persona(session, "outsider_staff")  # 曲靖
        self.kunming_viewer = f.make_user(session, grants=((GrantRole.viewer, self.kunming),))
        self.task = f.task(session, 7)
        self.count = next(i for i in f.indicators(session, self.task) if i.kind == "count")

    def p(self, user):
        return build_principal(self.s, user, ip="test", today=TODAY)

    def period(self, key: str = f"{YEAR}-ytd11") -> periods.Period:
        return periods.parse(key, TODAY)

    def log(self, key: str, *, count: int = 3, on: date = date(YEAR, 5, 4), county=None, user=None):
        data = ActivityInput(task_id=self.task.id, county_id=(county or self.wuhua).id, occurred_on=on,
                             description="义诊", values={self.count.id: str(count)})
        return activities.record_activity(self.s, by=self.p(user or self.member), data=data, idempotency_key=key,
                                          today=TODAY).activity

    def verify(self, activity) -> None:
        activities.verify(self.s, by=self.p(self.staff), activity_id=activity.id)

    def target(self, org, value: int) -> None:
        self.s.add(AnnualTarget(org_id=org.id, indicator_id=self.count.id, year=YEAR, value=value))
        self.s.flush()


@pytest.fixture
def world(session, settings_env, clock) -> World:
    # Figures, not the likely-duplicate decision (tested in tests/quality/).
    settings_env(quality_checks="false")
    clock.freeze_on(TODAY)
    return World(session)
