"""A membership in force — one rule (app.models.people.serving_on / serving_during): the start and the end
date are both days served (the end date is the last day, inclusive)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import aliased

from app.clock import today_cn
from app.models import Membership
from app.models.people import seat_open_on, serves_on, serving_during, serving_on
from tests import factories as f

pytestmark = pytest.mark.dates


def _seat(session, start: date, end: date | None) -> Membership:
    member = f.make_member(session, f.org(session, "530102"))
    session.execute(update(Membership).where(Membership.member_id == member.id)
                    .values(start_date=start, end_date=end))
    session.flush()
    return session.scalar(select(Membership).where(Membership.member_id == member.id))


def _holds(session, seat: Membership, condition) -> bool:
    return session.scalar(select(Membership.id).where(Membership.id == seat.id, condition)) is not None


def test_a_membership_serves_from_its_start_day_through_its_end_day(session):
    day = today_cn() - timedelta(days=10)
    ended = _seat(session, day - timedelta(days=100), day)
    begins = _seat(session, day, None)

    assert _holds(session, ended, serving_on(day)) and not _holds(session, ended, serving_on(day + timedelta(days=1)))
    assert _holds(session, begins, serving_on(day)) and not _holds(session, begins, serving_on(day - timedelta(days=1)))
    # Still open on a day before it begins (a seat scheduled ahead), not once it has ended.
    assert _holds(session, begins, seat_open_on(day - timedelta(days=5)))
    assert not _holds(session, ended, seat_open_on(day + timedelta(days=1)))


def test_serving_during_a_span_means_serving_on_one_of_its_days(session):
    day = today_cn() - timedelta(days=40)
    seat = _seat(session, day, day + timedelta(days=9))  # ten days served

    assert _holds(session, seat, serving_during(day + timedelta(days=9), day + timedelta(days=20)))  # last day
    assert _holds(session, seat, serving_during(day - timedelta(days=20), day))  # first day
    assert _holds(session, seat, serving_during(day - timedelta(days=20), day + timedelta(days=20)))  # inside
    assert not _holds(session, seat, serving_during(day + timedelta(days=10), day + timedelta(days=20)))
    assert not _holds(session, seat, serving_during(day - timedelta(days=20), day - timedelta(days=1)))


def test_the_python_twin_and_aliased_seats_follow_the_same_rule(session):
    day = today_cn() - timedelta(days=10)
    seat = _seat(session, day - timedelta(days=30), day)
    other = aliased(Membership)
    for d in (day - timedelta(days=31), day - timedelta(days=30), day, day + timedelta(days=1)):
        in_sql = session.scalar(select(other.id).where(other.id == seat.id, serving_on(d, seat=other))) is not None
        assert serves_on(seat, d) == in_sql == _holds(session, seat, serving_on(d))
    assert [serves_on(seat, d) for d in (day - timedelta(days=31), day, day + timedelta(days=1))] == [False, True, False]
