"""Idempotency under real concurrency: 20 simultaneous submissions with one key make one row."""

from __future__ import annotations

import dataclasses
import threading
from datetime import date

from sqlalchemy import func, select

from app.activities.schemas import ActivityInput
from app.activities.service import record_activity
from app.auth.service import build_principal
from app.db import make_engine, read_session, write_session
from app.models import Activity, ActivityValue, AuditLog, GrantRole, UserAccount
from app.seed.province import init_province
from tests import factories as f
from tests.activities.conftest import TODAY, YEAR


def test_twenty_concurrent_posts_with_one_key_make_one_row(fresh_url):
    engine = make_engine(fresh_url)
    try:
        with write_session(engine) as s:
            init_province(s, "53")
            wuhua = f.org(s, "530102")
            member = f.make_member(s, wuhua)
            user = f.make_user(s, member=member, grants=((GrantRole.member, wuhua),))
            task = f.task(s, 3)
            indicator = f.indicators(s, task)[0]
            s.commit()
            user_id, data = user.id, ActivityInput(
                task_id=task.id, county_id=wuhua.id, occurred_on=date(YEAR, 11, 20),
                description="就业技能培训", values={indicator.id: "2"})

        with read_session(engine) as s:
            principal = build_principal(s, s.get(UserAccount, user_id), today=TODAY)
        results, errors = [], []
        barrier = threading.Barrier(20)

        def submit() -> None:
            try:
                barrier.wait()
                with write_session(engine) as s:
                    r = record_activity(s, by=principal, data=data, idempotency_key="same-key-20", today=TODAY)
                    results.append((r.activity.id, r.created))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=submit) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len(results) == 20 and len({activity_id for activity_id, _ in results}) == 1
        assert sum(created for _, created in results) == 1
        with write_session(engine) as s:
            assert s.scalar(select(func.count()).select_from(Activity)) == 1
            assert s.scalar(select(func.count()).select_from(ActivityValue)) == 1
            assert s.scalar(select(func.count()).select_from(AuditLog).where(
                AuditLog.action == "activity.create")) == 1
    finally:
        engine.dispose()


def test_a_copy_that_commits_between_the_probe_and_the_duplicate_check_is_the_answer(fresh_url, monkeypatch):
    """The interleaving the test above meets by chance on PostgreSQL, made certain: the key's probe
    saw nothing, then the other copy committed, so the duplicate check finds this very submission.
    It is answered as the replay it is, never as 「疑似重复」."""
    from app.activities import recording

    engine = make_engine(fresh_url)
    try:
        with write_session(engine) as s:
            init_province(s, "53")
            wuhua = f.org(s, "530102")
            user = f.make_user(s, member=f.make_member(s, wuhua), grants=((GrantRole.member, wuhua),))
            task = f.task(s, 3)
            data = ActivityInput(task_id=task.id, county_id=wuhua.id, occurred_on=date(YEAR, 11, 20),
                                 description="就业技能培训", values={f.indicators(s, task)[0].id: "2"})
            principal = build_principal(s, user, today=TODAY)
            first = record_activity(s, by=principal, data=data, idempotency_key="k-1", today=TODAY)
        probe, missed = recording.probe, []

        def late_probe(session, **asked):  # the first probe runs before the copy committed
            found = probe(session, **asked)
            if not missed:
                missed.append(asked["key"])
                return dataclasses.replace(found, existing_id=None)
            return found

        monkeypatch.setattr(recording, "probe", late_probe)
        with write_session(engine) as s:
            again = record_activity(s, by=principal, data=data, idempotency_key="k-1", today=TODAY)
        assert missed == ["k-1"] and (again.activity.id, again.created) == (first.activity.id, False)
        with write_session(engine) as s:
            assert s.scalar(select(func.count()).select_from(Activity)) == 1
    finally:
        engine.dispose()
