"""The calendar's edges on purpose: the year turns at midnight in Beijing (16:00 UTC the day before)
for the boards' period, targets' years and activities' dates; and a leap day closes February.

The instants are built from this year (the run's ``today_cn()``), so they stay true whenever the suite runs."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from app.activities.schemas import ActivityInput
from app.activities.service import record_activity
from app.auth.service import build_principal
from app.boards import periods
from app.clock import CN, now_utc, today_cn
from app.errors import Invalid
from app.targets import service as targets
from tests.api.conftest import bearer, make_token
from tests.factories import indicators, next_leap_year, org, persona, task, this_year

pytestmark = pytest.mark.dates


@pytest.fixture
def year_end(clock):
    """Stand at 23:59 on 31 December of this year, then at 00:00 on 1 January (both Beijing time)."""
    year = this_year()

    def at(moment: str) -> int:
        instant = (datetime(year, 12, 31, 23, 59, tzinfo=CN) if moment == "last minute"
                   else datetime(year + 1, 1, 1, 0, 0, tzinfo=CN))
        clock.freeze(instant)
        return year

    return at


def _record(session, day: date, key: str):
    member = persona(session, "member")  # 五华区
    t = task(session, 7)
    data = ActivityInput(task_id=t.id, county_id=org(session, "530102").id, occurred_on=day,
                         description="年末义诊活动", values={indicators(session, t)[0].id: "1"})
    return record_activity(session, by=build_principal(session, member, ip="test"), data=data, idempotency_key=key)


def test_the_new_year_starts_at_midnight_in_beijing_while_utc_is_still_in_the_old_one(year_end):
    year = year_end("first minute")
    assert now_utc().date() == date(year, 12, 31) and now_utc().hour == 16
    assert today_cn() == date(year + 1, 1, 1)


def test_the_boards_period_turns_with_the_year(year_end, client, session):
    year = year_end("last minute")
    assert periods.parse(None).key == f"{year}-ytd12"
    with pytest.raises(Invalid, match="统计期间超出范围"):
        periods.parse(str(year + 1))
    year_end("first minute")
    current = periods.parse(None)
    assert (current.key, current.start, current.end) == (f"{year + 1}-ytd01", date(year + 1, 1, 1), date(year + 1, 1, 31))
    assert periods.parse(str(year)).end == date(year, 12, 31)  # last year, whole, stays readable
    with pytest.raises(Invalid, match="尚未开始"):
        periods.parse(f"{year + 1}-02")
    assert periods.choices()[0][0] == f"{year + 1}-ytd01"
    # What the API answers by default is that same period.
    _, raw = make_token(session, code="530100")
    got = client.get("/api/v1/progress?org=530100", headers=bearer(raw))
    assert got.status_code == 200 and got.json()["period"]["key"] == f"{year + 1}-ytd01"


def test_targets_may_be_set_up_to_next_year_counted_in_beijing(year_end):
    year = year_end("last minute")
    assert targets.year_bounds()[1] == year + 1
    with pytest.raises(Invalid, match=f"年份须在 .* 至 {year + 1} 年之间"):
        targets.check_year(year + 2)
    year_end("first minute")
    assert targets.check_year(year + 2) == year + 2


def test_an_activity_dated_today_is_accepted_at_midnight_and_tomorrow_refused(year_end, session):
    year = year_end("first minute")
    new_year = date(year + 1, 1, 1)
    made = _record(session, new_year, "new-year")
    assert made.created and made.activity.occurred_on == new_year
    with pytest.raises(Invalid, match="不能晚于今天"):
        _record(session, new_year + timedelta(days=1), "tomorrow")
    year_end("last minute")
    with pytest.raises(Invalid, match="不能晚于今天"):
        _record(session, new_year, "a-minute-early")


def test_a_leap_day_ends_february_and_its_periods(clock, session):
    leap = next_leap_year()
    clock.freeze_on(date(leap, 2, 29))
    current = periods.parse(None)
    assert (current.key, current.end, current.months) == (f"{leap}-ytd02", date(leap, 2, 29), 2)
    assert periods.parse(f"{leap}-02").end == date(leap, 2, 29)
    assert periods.parse(f"{leap}-q1").end == date(leap, 3, 31)  # begun, not ended: still a period
    assert current.year_earlier().end == date(leap - 1, 2, 28)  # 同比 with a February of 28 days
    with pytest.raises(Invalid, match="尚未开始"):
        periods.parse(f"{leap}-03")
    made = _record(session, date(leap, 2, 29), "leap-day")
    assert made.activity.occurred_on == date(leap, 2, 29)
    with pytest.raises(Invalid, match="不能晚于今天"):
        _record(session, date(leap, 3, 1), "march")
