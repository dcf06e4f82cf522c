"""A small world for the 数据管理 tests on the real tree.

昆明 (530100) holds 五华区 (530102) and 盘龙区 (530103); 曲靖 (530300) is the sibling prefecture with
麒麟区 (530302). 五华区 and 盘龙区 have a current term (第1届 since 2023); 麒麟区 has none.
"""

from __future__ import annotations

from datetime import date

import pytest

from app.auth.service import build_principal
from app.models import Committee, GrantRole
from tests import factories as f

# The tests' known day: 23 November of last year, so the dates they use (February to September
# of that year) are past whatever day the suite runs on.
YEAR = f.this_year() - 1
TODAY = date(YEAR, 11, 23)


class World:
    def __init__(self, session):
        self.s = session
        self.province, self.kunming, self.qujing = (f.org(session, c) for c in ("530000", "530100", "530300"))
        self.wuhua, self.panlong, self.qilin = (f.org(session, c) for c in ("530102", "530103", "530302"))
        self.panlong_term = f.term_for(session, self.panlong)
        self.committee = Committee(org_id=self.wuhua.id, name="农业农村委")
        session.add(self.committee)
        session.flush()
        self.alice = f.make_member(session, self.wuhua, name="王委员")
        self.bob = f.make_member(session, self.wuhua, name="李委员")
        self.alice_user = f.make_user(session, member=self.alice, grants=((GrantRole.member, self.wuhua),))
        self.province_admin = f.persona(session, "province_admin")
        self.province_staff = f.persona(session, "province_staff")
        self.prefecture_staff = f.persona(session, "prefecture_staff")  # 昆明
        self.county_staff = f.persona(session, "county_staff")  # 五华区
        self.outsider_staff = f.persona(session, "outsider_staff")  # 曲靖
        self.viewer = f.persona(session, "viewer")  # the province, reads only
        self.member_user = f.persona(session, "member")  # a 五华区 member

    def p(self, user):
        return build_principal(self.s, user, ip="test", today=TODAY)


@pytest.fixture
def world(session) -> World:
    return World(session)


def as_user(client, world: World, user) -> None:
    client.cookies.clear()
    f.login_as(client, world.s, user)
