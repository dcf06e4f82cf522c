"""app.clock, the one clock: SZT_TODAY (a date or an instant with its offset), production ignoring it,
ticking and frozen time, reset — and "today" being Beijing's, not UTC's."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import pytest

from app import clock

pytestmark = pytest.mark.dates


@pytest.fixture
def env(monkeypatch):
    """Set SZT_TODAY / SZT_ENV and make the clock read the environment again."""
    def _set(today: str | None, szt_env: str | None = None) -> None:
        for name, value in (("SZT_TODAY", today), ("SZT_ENV", szt_env)):
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        clock.reset()

    return _set


def _near(moment: datetime, expected: datetime) -> bool:
    return timedelta(0) <= moment - expected < timedelta(seconds=30)


def test_szt_today_as_a_date_is_noon_in_beijing(env):
    env("2028-02-29")
    assert clock.today_cn() == date(2028, 2, 29)
    assert _near(clock.now_utc(), datetime(2028, 2, 29, 4, 0, tzinfo=UTC))
    assert clock.now_cn().hour == 12 and clock.now_cn().utcoffset() == timedelta(hours=8)


def test_szt_today_as_an_instant_keeps_its_offset_and_today_is_beijings(env):
    env("2028-01-01T00:00+08:00")
    assert _near(clock.now_utc(), datetime(2027, 12, 31, 16, 0, tzinfo=UTC))
    # Midnight in Beijing: UTC is still on the last day of the old year, the campaign is not.
    assert clock.now_utc().date() == date(2027, 12, 31)
    assert clock.today_cn() == date(2028, 1, 1) and clock.yyyymm(clock.today_cn()) == 202801
    env("2027-12-31T15:59:00Z")
    assert clock.today_cn() == date(2027, 12, 31) and clock.now_cn().hour == 23


@pytest.mark.parametrize("text", ["2027-12-31T23:59", "2027-12-31 23:59:00", "tomorrow", "2027-13-01"])
def test_a_naive_or_unreadable_szt_today_is_refused(env, text):
    with pytest.raises(ValueError, match="SZT_TODAY"):
        env(text)
        clock.now_utc()


def test_travel_needs_an_aware_instant():
    with pytest.raises(ValueError, match="aware"):
        clock.travel_to(datetime(2027, 12, 31, 23, 59))


def test_production_ignores_szt_today(env):
    env("2028-01-01T00:00+08:00", szt_env="production")
    assert clock.configured_start() is None
    assert _near(clock.now_utc(), datetime.now(UTC) - timedelta(seconds=1))
    env("2028-01-01T00:00+08:00", szt_env="staging")
    assert clock.today_cn() == date(2028, 1, 1)


def test_szt_today_ticks_on_from_its_instant(env):
    env("2027-12-31T23:59:59+08:00")
    first = clock.now_utc()
    time.sleep(1.05)
    later = clock.now_cn()
    assert later - first >= timedelta(seconds=1)
    assert later.date() == date(2028, 1, 1)  # a second later the year has turned


def test_freeze_stands_still_and_travel_ticks():
    instant = datetime(2028, 2, 29, 23, 59, 59, tzinfo=clock.CN)
    clock.freeze(instant)
    time.sleep(0.02)
    assert clock.now_utc() == instant and clock.now_utc().tzinfo == UTC
    clock.travel_to(instant)
    time.sleep(0.02)
    assert clock.now_utc() > instant


def test_reset_returns_to_what_the_environment_says(env):
    env("2027-12-15")
    clock.freeze(datetime(2030, 6, 1, tzinfo=UTC))
    clock.reset()
    assert clock.today_cn() == date(2027, 12, 15)
    env(None)
    clock.freeze(datetime(2030, 6, 1, tzinfo=UTC))
    clock.reset()
    assert _near(clock.now_utc(), datetime.now(UTC) - timedelta(seconds=1))


def test_day_helpers_use_beijing_time():
    new_year = date(2028, 1, 1)
    assert clock.start_of_day_cn(new_year) == datetime(2027, 12, 31, 16, 0, tzinfo=UTC)
    assert clock.to_cn(datetime(2027, 12, 31, 16, 0)) == datetime(2028, 1, 1, 0, 0, tzinfo=clock.CN)
    assert clock.as_utc(None) is None and clock.to_cn(None) is None
    assert clock.as_utc(datetime(2028, 1, 1, 0, 0, tzinfo=clock.CN)) == datetime(2027, 12, 31, 16, 0, tzinfo=UTC)
