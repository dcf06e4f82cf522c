"""A small world for 典型 on the real tree and catalogue, as of a known day of last year.

昆明 (530100) holds 五华区 (530102), 盘龙区 (530103) and 官渡区 (530111); 曲靖 (530300) is the sibling
prefecture. 明星 records three joint-or-outcome activities in three places on three tasks and brings two
members to their first activity; 忙人 records twelve alike activities alone in one place on one task.
"""

from __future__ import annotations

from datetime import date

import pytest

from app.auth.service import build_principal
from app.exemplars import service
from app.models import ActivityStatus, GrantRole
from tests import factories as f

YEAR = f.this_year() - 1
TODAY = date(YEAR, 11, 23)


class World:
    def __init__(self, s):
        self.s = s
        self.province, self.kunming, self.qujing = (f.org(s, c) for c in ("530000", "530100", "530300"))
        self.wuhua, self.panlong, self.guandu = (f.org(s, c) for c in ("530102", "530103", "530111"))
        self.province_staff = f.persona(s, "province_staff")
        self.staff = f.persona(s, "prefecture_staff")  # 昆明
        self.county_staff = f.persona(s, "county_staff")  # 五华区
        self.outsider = f.persona(s, "outsider_staff")  # 曲靖
        self.tasks = [f.task(s, n) for n in (1, 2, 3)]
        self.plain = {}
        for t in self.tasks:
            inds = f.indicators(s, t)
            for i in inds:
                i.is_outcome = False
            self.plain[t.id] = inds[0]
        self.outcome = f.indicators(s, self.tasks[0])[-1]
        self.outcome.is_outcome = True
        s.flush()
        self.star = f.make_member(s, self.wuhua, name="明星委员")
        self.star_user = f.make_user(s, member=self.star, grants=((GrantRole.member, self.wuhua),))
        self.busy = f.make_member(s, self.wuhua, name="忙人委员")
        self.busy_user = f.make_user(s, member=self.busy, grants=((GrantRole.member, self.wuhua),))
        self.regular = f.make_member(s, self.panlong, name="老委员")
        self.new1 = f.make_member(s, self.panlong, name="新委员甲")
        self.new2 = f.make_member(s, self.guandu, name="新委员乙")
        self.far = f.make_member(s, self.qujing, name="曲靖委员")
        regular_user = f.make_user(s, member=self.regular)
        # 老委员's first activity was the year before: not a newcomer when joining 明星's.
        self.act(regular_user, self.wuhua, 0, date(YEAR - 1, 6, 1), (self.regular,))
        self.a1 = self.act(self.star_user, self.wuhua, 0, date(YEAR, 3, 2), (self.star, self.new1, self.regular),
                           outcome=120)
        self.a2 = self.act(self.star_user, self.panlong, 1, date(YEAR, 4, 9), (self.star,))
        self.a3 = self.act(self.star_user, self.guandu, 2, date(YEAR, 5, 20), (self.star, self.new2))
        for day in range(1, 13):
            self.act(self.busy_user, self.wuhua, 0, date(YEAR, 6, day), (self.busy,))
        # Not evidence: pending, and the year before.
        self.act(self.star_user, self.wuhua, 1, date(YEAR, 7, 1), (self.star,), status=ActivityStatus.pending)
        self.act(self.star_user, self.qujing, 1, date(YEAR - 1, 7, 1), (self.star,))

    def act(self, user, county, task_n, on, people, *, outcome=0, status=ActivityStatus.verified):
        t = self.tasks[task_n]
        values = {self.plain[t.id].id: 3}
        if outcome:
            values[self.outcome.id] = outcome
        return f.make_activity(self.s, recorder=user, credited=county, county=county, task_=t, values=values,
                               occurred_on=on, status=status, participants=people)

    def p(self, user):
        return build_principal(self.s, user, ip="test", today=TODAY)

    def nominate(self, member=None, *, by=None, org=None, key="k1", citation="推荐事迹：扎根基层。"):
        return service.nominate(self.s, by=self.p(by or self.staff), org_ref=(org or self.kunming).id,
                                member_id=(member or self.star).id, year=YEAR, citation=citation, submission_key=key)


@pytest.fixture
def world(session, clock) -> World:
    clock.freeze_on(TODAY)
    return World(session)
