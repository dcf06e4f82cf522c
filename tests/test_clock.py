"""app.clock, the one clock: SZT_TODAY (a date or an instant with its offset), production ignoring it,
ticking and frozen time, reset — and "today" being Beijing's, not UTC's."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import pytest

from app import clock
from tests.factories import next_leap_year, this_year

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


def _new_year() -> date:
    """1 January of next year, seen from the run's today: the instants below are built from it."""
    return date(this_year() + 1, 1, 1)


def _eve(new_year: date) -> date:
    return new_year - timedelta(days=1)


def _near(moment: datetime, expected: datetime) -> bool:
    return timedelta(0) <= moment - expected < timedelta(seconds=30)


def test_szt_today_as_a_date_is_noon_in_beijing(env):
    leap_day = date(next_leap_year(), 2, 29)
    env(leap_day.isoformat())
    assert clock.today_cn() == leap_day
    assert _near(clock.now_utc(), datetime.combine(leap_day, datetime.min.time(), UTC) + timedelta(hours=4))
    assert clock.now_cn().hour == 12 and clock.now_cn().utcoffset() == timedelta(hours=8)


def test_szt_today_as_an_instant_keeps_its_offset_and_today_is_beijings(env):
    new_year = _new_year()
    eve = _eve(new_year)
    env(f"{new_year.isoformat()}T00:00+08:00")
    assert _near(clock.now_utc(), datetime.combine(eve, datetime.min.time(), UTC) + timedelta(hours=16))
    # Midnight in Beijing: UTC is still on the last day of the old year, the campaign is not.
    assert clock.now_utc().date() == eve
    assert clock.today_cn() == new_year and clock.yyyymm(clock.today_cn()) == new_year.year * 100 + 1
    env(f"{eve.isoformat()}T15:59:00Z")
    assert clock.today_cn() == eve and clock.now_cn().hour == 23


# Instants without an offset, words, a 13th month: ``{y}`` is this year.
@pytest.mark.parametrize("template", ["{y}-12-31T23:59", "{y}-12-31 23:59:00", "tomorrow", "{y}-13-01"])
def test_a_naive_or_unreadable_szt_today_is_refused(env, template):
    text = template.format(y=this_year())
    with pytest.raises(ValueError, match="SZT_TODAY"):
        env(text)
        clock.now_utc()


def test_travel_needs_an_aware_instant():
    with pytest.raises(ValueError, match="aware"):
        clock.travel_to(datetime.combine(_eve(_new_year()), datetime.min.time()).replace(hour=23, minute=59))


def test_production_ignores_szt_today(env):
    new_year = _new_year()
    env(f"{new_year.isoformat()}T00:00+08:00", szt_env="production")
    assert clock.configured_start() is None
    assert _near(clock.now_utc(), datetime.now(UTC) - timedelta(seconds=1))
    env(f"{new_year.isoformat()}T00:00+08:00", szt_env="staging")
    assert clock.today_cn() == new_year


def test_szt_today_ticks_on_from_its_instant(env):
    new_year = _new_year()
    env(f"{_eve(new_year).isoformat()}T23:59:59+08:00")
    first = clock.now_utc()
    time.sleep(1.05)
    later = clock.now_cn()
    assert later - first >= timedelta(seconds=1)
    assert later.date() == new_year  # a second later the year has turned


def test_freeze_stands_still_and_travel_ticks():
    instant = datetime.combine(date(next_leap_year(), 2, 29), datetime.max.time(), clock.CN).replace(microsecond=0)
    clock.freeze(instant)
    time.sleep(0.02)
    assert clock.now_utc() == instant and clock.now_utc().tzinfo == UTC
    clock.travel_to(instant)
    time.sleep(0.02)
    assert clock.now_utc() > instant


def test_reset_returns_to_what_the_environment_says(env):
    new_year = _new_year()
    december = _eve(new_year).replace(day=15)
    elsewhere = datetime.combine(new_year.replace(year=new_year.year + 2, month=6), datetime.min.time(), UTC)
    env(december.isoformat())
    clock.freeze(elsewhere)
    clock.reset()
    assert clock.today_cn() == december
    env(None)
    clock.freeze(elsewhere)
    clock.reset()
    assert _near(clock.now_utc(), datetime.now(UTC) - timedelta(seconds=1))


def test_day_helpers_use_beijing_time():
    new_year = _new_year()
    eve_16_utc = datetime.combine(_eve(new_year), datetime.min.time()) + timedelta(hours=16)
    midnight_cn = datetime.combine(new_year, datetime.min.time(), clock.CN)
    assert clock.start_of_day_cn(new_year) == eve_16_utc.replace(tzinfo=UTC)
    assert clock.to_cn(eve_16_utc) == midnight_cn
    assert clock.as_utc(None) is None and clock.to_cn(None) is None
    assert clock.as_utc(midnight_cn) == eve_16_utc.replace(tzinfo=UTC)
