"""A small world for 挂联 tests on the real tree: key counties, leaders at three levels, personas.

昆明 (530100) holds 五华区 (530102) and 盘龙区 (530103); 曲靖 (530300) is the sibling prefecture with
麒麟区 (530302). 五华区, 盘龙区 and 麒麟区 are flagged key counties here (``init`` flags none).
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select, update

from app.auth.service import build_principal
from app.links.schemas import LinkCreate
from app.models import GrantRole, MemberRole, Membership, Organisation, Site
from tests import factories as f

# The tests' known day: 23 November of last year, so links starting in its March are in force
# both on that day and on the clock's today (the pages), whatever day the suite runs on.
YEAR = f.this_year() - 1
TODAY = date(YEAR, 11, 23)


def make_leader(session, organisation, *, name: str, title: str | None = None,
                role: MemberRole = MemberRole.chair_council):
    """A member of ``organisation`` holding ``role`` and ``title`` since 2023."""
    member = f.make_member(session, organisation, name=name, role=role)
    if title is not None:
        session.execute(update(Membership).where(Membership.member_id == member.id).values(title=title))
        session.flush()
    return member


class World:
    def __init__(self, session):
        self.session = session
        self.province, self.kunming, self.qujing = (f.org(session, c) for c in ("530000", "530100", "530300"))
        self.wuhua, self.panlong, self.qilin = (f.org(session, c) for c in ("530102", "530103", "530302"))
        session.execute(update(Organisation).where(Organisation.id.in_([self.wuhua.id, self.panlong.id, self.qilin.id]))
                        .values(is_key_county=True))
        session.flush()
        for o in (self.wuhua, self.panlong, self.qilin):
            session.refresh(o)
        self.wuhua_site = session.scalar(select(Site).where(Site.county_id == self.wuhua.id).order_by(Site.id))
        self.panlong_site = session.scalar(select(Site).where(Site.county_id == self.panlong.id).order_by(Site.id))
        # Leaders: a provincial vice-chair, a 昆明 secretary-general, a 昆明 committee head (a post without
        # being 主席会议成员), a 五华区 chair, a 曲靖 vice-chair. Not leaders: a plain 常委 and a 委员.
        self.vice_chair = make_leader(session, self.province, name="省副主席甲", title="副主席")
        self.kunming_sg = make_leader(session, self.kunming, name="昆明秘书长乙", title="秘书长")
        self.committee_head = make_leader(session, self.kunming, name="专委主任丙", title="农业农村委主任",
                                          role=MemberRole.standing)
        self.wuhua_chair = make_leader(session, self.wuhua, name="五华主席丁", title="主席")
        self.qujing_vice = make_leader(session, self.qujing, name="曲靖副主席戊", title="副主席")
        self.plain_standing = make_leader(session, self.kunming, name="常委己", role=MemberRole.standing)
        self.plain_member = f.make_member(session, self.wuhua, name="委员庚")
        # Accounts.
        self.province_staff = f.persona(session, "province_staff")
        self.prefecture_staff = f.persona(session, "prefecture_staff")  # 昆明
        self.county_staff = f.persona(session, "county_staff")  # 五华区
        self.outsider_staff = f.persona(session, "outsider_staff")  # 曲靖
        self.viewer = f.persona(session, "viewer")  # province, read-only
        self.member_user = f.persona(session, "member")  # 五华区 member
        self.leader_user = f.make_user(session, member=self.vice_chair,
                                       grants=((GrantRole.member, self.province), (GrantRole.leader, self.province)))
        self.head_user = f.make_user(session, member=self.committee_head,
                                     grants=((GrantRole.member, self.kunming), (GrantRole.leader, self.kunming)))

    def p(self, user):
        """The principal of ``user`` as a request would build it (on TODAY)."""
        return build_principal(self.session, user, ip="test", today=TODAY)

    def data(self, **overrides) -> LinkCreate:
        fields = {"leader_member_id": self.vice_chair.id, "county_id": self.panlong.id, "start_date": date(YEAR, 3, 1)}
        fields.update(overrides)
        return LinkCreate(**fields)

    def end_membership(self, member, on: date) -> None:
        """换届 / resignation: the member's seat ends on ``on``."""
        self.session.execute(update(Membership).where(Membership.member_id == member.id).values(end_date=on))
        self.session.flush()


@pytest.fixture
def world(session) -> World:
    return World(session)


def assigned(world: World, by=None, **overrides):
    """A link made through the service (by the province's office unless said otherwise)."""
    from app.links.service import assign_leader

    return assign_leader(world.session, by=world.p(by or world.province_staff), data=world.data(**overrides),
                         today=TODAY).link


def as_user(client, world: World, user) -> None:
    """Switch the client to ``user`` (a fresh session cookie and CSRF header)."""
    client.cookies.clear()
    f.login_as(client, world.session, user)
