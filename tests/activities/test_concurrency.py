"""Idempotency under real concurrency: 20 simultaneous submissions with one key make one row."""

from __future__ import annotations

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
