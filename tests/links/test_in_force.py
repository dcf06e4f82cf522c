"""挂联 in force on a day — one rule (links.service.active_on), asked by the links list, the coverage and
the county board alike: from the start date (inclusive) up to the end date (exclusive); a link ended on
its start date was cancelled and is never in force."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from app.auth.service import build_principal
from app.boards import periods
from app.boards import service as boards
from app.clock import today_cn
from app.links import service
from app.models import LinkAssignment, LinkRole, MemberRole, Organisation
from tests import factories as f

pytestmark = pytest.mark.dates


@pytest.fixture
def wuhua(session) -> Organisation:
    county = f.org(session, "530102")
    session.execute(update(Organisation).where(Organisation.id == county.id).values(is_key_county=True))
    session.flush()
    session.refresh(county)
    return county


def _link(session, county: Organisation, name: str, start: date, end: date | None) -> LinkAssignment:
    leader = f.make_member(session, county, name=name, role=MemberRole.chair_council)
    link = LinkAssignment(leader_member_id=leader.id, county_id=county.id, role=LinkRole.lead,
                          start_date=start, end_date=end)
    session.add(link)
    session.flush()
    return link


def _in_force(session, link: LinkAssignment, day: date) -> bool:
    return session.scalar(select(LinkAssignment.id).where(LinkAssignment.id == link.id,
                                                          service.active_on(day))) is not None


def test_a_link_is_in_force_from_its_start_day_up_to_not_including_its_end_day(session, wuhua):
    day = today_cn() - timedelta(days=20)
    ending = _link(session, wuhua, "到期领导", day - timedelta(days=30), day)
    starting = _link(session, wuhua, "新任领导", day, None)
    cancelled = _link(session, wuhua, "取消领导", day - timedelta(days=5), day - timedelta(days=5))

    assert _in_force(session, ending, day - timedelta(days=1))
    assert not _in_force(session, ending, day)
    assert not _in_force(session, starting, day - timedelta(days=1))
    assert _in_force(session, starting, day)
    for d in (day - timedelta(days=6), day - timedelta(days=5), day - timedelta(days=4)):
        assert not _in_force(session, cancelled, d)
    # The Python twin says the same.
    assert service.has_ended(ending, day) and not service.has_ended(ending, day - timedelta(days=1))
    assert service.has_ended(cancelled, day - timedelta(days=30))


def test_the_county_board_of_a_past_month_shows_the_links_in_force_on_its_last_day(session, wuhua):
    last_day = today_cn().replace(day=1) - timedelta(days=1)  # the previous month's last day
    _link(session, wuhua, "月末到期领导", last_day - timedelta(days=40), last_day)
    _link(session, wuhua, "次日到期领导", last_day - timedelta(days=40), last_day + timedelta(days=1))
    _link(session, wuhua, "月末起任领导", last_day, None)
    _link(session, wuhua, "已取消领导", last_day - timedelta(days=3), last_day - timedelta(days=3))

    period = periods.parse(f"{last_day.year}-{last_day.month:02d}", today_cn())
    shown = {x.name for x in boards.county_board(session, wuhua, period, with_own=False).leaders}
    assert shown == {"次日到期领导", "月末起任领导"}


def test_the_county_board_of_the_current_period_shows_the_links_in_force_today(session, wuhua):
    today = today_cn()
    _link(session, wuhua, "今日到期领导", today - timedelta(days=30), today)
    _link(session, wuhua, "明日到期领导", today - timedelta(days=30), today + timedelta(days=1))
    _link(session, wuhua, "今日起任领导", today, None)
    _link(session, wuhua, "明日起任领导", today + timedelta(days=1), None)

    shown = {x.name for x in boards.county_board(session, wuhua, periods.parse(None, today), with_own=False).leaders}
    assert shown == {"明日到期领导", "今日起任领导"}
    # The coverage (挂联 module) counts the very same leaders today.
    prov = f.persona(session, "province_staff")
    cov = service.coverage(session, build_principal(session, prov, ip="test", today=today), today=today)
    row = next(r for r in cov.rows if r.county_id == wuhua.id)
    assert {x.name for x in row.leaders} == shown
