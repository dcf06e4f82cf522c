"""API tokens' rate limits are kept in the database: every process and machine draws on one bucket
per token (SZT_RATE_LIMIT_BACKEND=memory keeps the old per-process buckets)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.db import make_engine, read_session, write_session
from app.models import ApiTokenRate, ApiTokenUsage
from app.tokens import service as tokens
from tests.api.conftest import make_token
from tests.conftest import province_engine


def test_two_processes_draw_on_one_bucket(fresh_url, clock):
    with province_engine(fresh_url) as first:
        second = make_engine(fresh_url)  # another process (or machine) on the same database
        try:
            with write_session(first) as s:
                token_id, _ = make_token(s, code="530100", rate=3)
            start = clock.now()
            limiters = [tokens.DatabaseRateLimiter(), tokens.DatabaseRateLimiter()]

            def take(n: int, at=start) -> tuple[bool, int, int]:
                with read_session((first, second)[n % 2]) as s:
                    return limiters[n % 2].take(s, token_id, 3, now=at)

            answers = [take(n) for n in range(5)]
            assert [a[0] for a in answers] == [True, True, True, False, False]  # 3 a minute, split or not
            assert [a[1] for a in answers[:3]] == [2, 1, 0]
            assert answers[3][2] == 20  # one more every 20 s at 3 a minute
            later = start + timedelta(seconds=20)
            assert [take(1, later)[0], take(2, later)[0]] == [True, False]  # the refusals did not drain it
            with read_session(second) as s:
                assert s.scalar(select(ApiTokenRate.token_id)) == token_id  # one row per token
        finally:
            second.dispose()


def test_the_database_clock_is_the_one_every_machine_shares(fresh_url):
    """Without an instant given, "now" is the database's: a burst through two engines is one bucket."""
    with province_engine(fresh_url) as first:
        second = make_engine(fresh_url)
        try:
            with write_session(first) as s:
                token_id, _ = make_token(s, code="530100", rate=4)
            answers = []
            for n in range(6):
                with read_session((first, second)[n % 2]) as s:
                    answers.append(tokens.DatabaseRateLimiter().take(s, token_id, 4))
            assert [a[0] for a in answers] == [True] * 4 + [False] * 2
            assert [a[1] for a in answers[:4]] == [3, 2, 1, 0]
            assert 1 <= answers[4][2] <= 15
        finally:
            second.dispose()


def test_the_memory_backend_counts_in_this_process(session, monkeypatch):
    from app.config import get_settings

    token_id, _ = make_token(session, code="530100", rate=2)
    monkeypatch.setenv("SZT_RATE_LIMIT_BACKEND", "memory")
    get_settings.cache_clear()
    try:
        assert [tokens.take(session, token_id, 2)[0] for _ in range(3)] == [True, True, False]
        assert session.scalar(select(ApiTokenRate.token_id)) is None  # nothing written
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize("value", ["redis", ""])
def test_an_unknown_backend_is_refused(monkeypatch, value):
    from pydantic import ValidationError

    from app.config import Settings

    monkeypatch.setenv("SZT_RATE_LIMIT_BACKEND", value)
    with pytest.raises(ValidationError):
        Settings()


def test_the_first_use_of_a_day_is_known_to_one_process_only(fresh_url):
    """Two processes flush a token's first use of the day at once: one of them created the day's row
    (and writes the day's audit entry), never both."""
    import threading

    from app.clock import today_cn

    with province_engine(fresh_url) as engine:
        with write_session(engine) as s:
            token_id, _ = make_token(s, code="530100")
        day = today_cn()
        answers: dict[str, bool] = {}
        with write_session(engine) as first:
            answers["first"] = tokens._upsert_usage(first, token_id, day, 2, 0)

            def other() -> None:  # waits for the first's row, as a second process would
                with write_session(engine) as second:
                    answers["second"] = tokens._upsert_usage(second, token_id, day, 3, 0)
                    second.commit()

            thread = threading.Thread(target=other)
            thread.start()
            thread.join(0.5)
            first.commit()
        thread.join(30)
        assert answers == {"first": True, "second": False}
        with read_session(engine) as s:
            assert s.scalar(select(ApiTokenUsage.requests).where(ApiTokenUsage.token_id == token_id)) == 5
