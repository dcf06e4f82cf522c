"""The first verified participation of a year whose counters are not kept yet counts once, whether
the writer flushed its rows before telling the rollup (an import, the factories) or after (the review
service sets the status after): ensure_year builds the year from the kept months, which never hold
the change being applied. The year before this one: its counters are not kept in a fresh database."""

from __future__ import annotations

from datetime import date

import pytest

from app.activities import review
from app.auth.service import build_principal
from app.models import ActivityStatus, GrantRole
from app.rollup import service as rollup
from tests import factories as f

pytestmark = pytest.mark.dates

YEAR = f.this_year() - 1


def _world(session):
    wuhua = f.org(session, "530102")
    member = f.make_member(session, wuhua)
    recorder = f.make_user(session, member=member, grants=((GrantRole.member, wuhua),))
    staff = f.make_user(session, grants=((GrantRole.staff, wuhua),))
    task = f.task(session, 1)
    values = {f.indicators(session, task)[0].id: 2}
    return wuhua, member, recorder, staff, task, values


@pytest.mark.parametrize("flushed_first", [True, False], ids=["rows-then-rollup", "rollup-then-status"])
def test_the_first_participation_of_a_year_not_kept_counts_once(session, flushed_first):
    wuhua, member, recorder, staff, task, values = _world(session)
    assert YEAR not in rollup.kept_years(session)
    if flushed_first:  # the activity is written verified, then the rollup told (imports, factories)
        f.make_activity(session, recorder=recorder, credited=wuhua, county=wuhua, task_=task, values=values,
                        occurred_on=date(YEAR, 3, 10), status=ActivityStatus.verified, participants=(member,))
    else:  # recorded pending, then verified through the service (the rollup told before the status moves)
        activity = f.make_activity(session, recorder=recorder, credited=wuhua, county=wuhua, task_=task,
                                   values=values, occurred_on=date(YEAR, 3, 10), participants=(member,))
        review.verify(session, by=build_principal(session, staff), activity_id=activity.id)
    assert YEAR in rollup.kept_years(session)
    assert rollup.check(session) == []  # took part once: 1 of 1 active, never 2 of 1
