"""A county (五华区) with a term and three members, each with an account; staff personas around it."""

from __future__ import annotations

from datetime import date

import pytest

from app.activities import service as activities
from app.activities.schemas import ActivityInput
from app.auth.service import build_principal
from app.models import GrantRole, IndicatorKind
from tests import factories as f

# The tests' known day: 23 November of last year, so the term changes they make (July to
# September of that year) are past whatever day the suite runs on.
YEAR = f.this_year() - 1
TODAY = date(YEAR, 11, 23)


class World:
    def __init__(self, session):
        self.s = session
        self.province, self.kunming = f.org(session, "530000"), f.org(session, "530100")
        self.wuhua, self.panlong = f.org(session, "530102"), f.org(session, "530103")
        self.prefecture_staff = f.persona(session, "prefecture_staff")
        self.county_staff = f.persona(session, "county_staff")
        self.outsider_staff = f.persona(session, "outsider_staff")
        self.viewer = f.persona(session, "viewer")
        self.members = [f.make_member(session, self.wuhua, name=n) for n in ("甲委员", "乙委员", "丙委员")]
        self.users = [f.make_user(session, member=m, grants=((GrantRole.member, self.wuhua),)) for m in self.members]
        self.term = f.term_for(session, self.wuhua)
        self.task = f.task(session, 7)
        self.count = next(i for i in f.indicators(session, self.task) if i.kind == IndicatorKind.count)

    def p(self, user, today: date = TODAY):
        return build_principal(self.s, user, ip="test", today=today)

    def log(self, user, key: str, on: date, *, today: date = TODAY):
        data = ActivityInput(task_id=self.task.id, county_id=self.wuhua.id, occurred_on=on, description="义诊",
                             values={self.count.id: "2"})
        a = activities.record_activity(self.s, by=self.p(user, today), data=data, idempotency_key=key,
                                       today=today).activity
        activities.verify(self.s, by=self.p(self.prefecture_staff, today), activity_id=a.id,
                          note="已核实（补录较晚）")
        return a


@pytest.fixture
def world(session) -> World:
    return World(session)
