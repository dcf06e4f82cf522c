"""A small world for activity tests: personas of the real tree and a form to fill."""

from __future__ import annotations

from datetime import date

import pytest

from app.activities.schemas import ActivityInput
from app.auth.service import build_principal
from tests import factories as f

# The tests' known day: 23 November of last year, so every date and closed month they use
# (July to November of that year) is past whatever day the suite runs on.
YEAR = f.this_year() - 1
TODAY = date(YEAR, 11, 23)


class World:
    def __init__(self, session):
        self.session = session
        self.wuhua, self.panlong = f.org(session, "530102"), f.org(session, "530103")
        self.kunming, self.province = f.org(session, "530100"), f.org(session, "530000")
        self.member_user = f.persona(session, "member")
        self.colleague = f.make_member(session, self.wuhua, name="同事委员")
        self.outsider_member_user = f.persona(session, "outsider_member")
        self.county_staff = f.persona(session, "county_staff")
        self.prefecture_staff = f.persona(session, "prefecture_staff")
        self.outsider_staff = f.persona(session, "outsider_staff")
        self.panlong_staff = f.make_user(session, grants=((f.GrantRole.staff, self.panlong),))
        self.task = f.task(session, 7)  # a task with a count and a money indicator
        self.indicators = f.indicators(session, self.task)
        self.count_ind = next(i for i in self.indicators if i.kind == "count")
        self.money_ind = next(i for i in self.indicators if i.kind == "money")

    def p(self, user):
        """The principal of ``user`` as the request would build it."""
        return build_principal(self.session, user, ip="test", today=TODAY)

    def form(self, **overrides) -> ActivityInput:
        data = {"task_id": self.task.id, "county_id": self.wuhua.id, "occurred_on": date(YEAR, 11, 20),
                    "description": "在五华区开展义诊活动",
                    "values": {self.count_ind.id: "1", self.money_ind.id: "8"}}
        data.update(overrides)
        return ActivityInput(**data)


@pytest.fixture
def world(session) -> World:
    return World(session)


def recorded(world: World, key: str = "k1", **form):
    """An activity recorded by the world's member through the service (what the pages then act on)."""
    from app.activities.service import record_activity

    return record_activity(world.session, by=world.p(world.member_user), data=world.form(**form),
                           idempotency_key=key, today=TODAY).activity


def as_user(client, world: World, user) -> None:
    """Switch the client to ``user`` (a fresh session cookie and CSRF header)."""
    client.cookies.clear()
    f.login_as(client, world.session, user)
