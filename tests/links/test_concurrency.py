"""A doubled submission under real concurrency (SQLite's writer lock, PostgreSQL's row lock on the
leader): ten simultaneous copies of one link make one row; overlapping ones, one row and friendly 409s."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import func, select

from app.auth.service import build_principal
from app.db import make_engine, read_session, write_session
from app.errors import Conflict
from app.links.schemas import LinkCreate
from app.links.service import assign_leader
from app.models import AuditLog, GrantRole, LinkAssignment, UserAccount
from app.seed.province import init_province
from tests import factories as f
from tests.links.conftest import TODAY, YEAR, make_leader

pytestmark = pytest.mark.dates


def _race(engine, principal, bodies: list[LinkCreate]) -> tuple[list, list]:
    results, errors = [], []
    barrier = threading.Barrier(len(bodies))

    def submit(body: LinkCreate) -> None:
        try:
            barrier.wait()
            with write_session(engine) as s:
                r = assign_leader(s, by=principal, data=body, today=TODAY)
                results.append((r.link.id, r.created))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=submit, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def test_simultaneous_copies_make_one_link(fresh_url):
    engine = make_engine(fresh_url)
    try:
        with write_session(engine) as s:
            init_province(s, "53")
            province, panlong = f.org(s, "530000"), f.org(s, "530103")
            leader = make_leader(s, province, name="省副主席", title="副主席")
            staff = f.make_user(s, grants=((GrantRole.staff, province),))
            s.commit()
            staff_id, leader_id, county_id = staff.id, leader.id, panlong.id
        with read_session(engine) as s:
            principal = build_principal(s, s.get(UserAccount, staff_id), today=TODAY)

        same = LinkCreate(leader_member_id=leader_id, county_id=county_id, start_date=date(YEAR, 3, 1))
        results, errors = _race(engine, principal, [same] * 10)
        assert errors == [] and len(results) == 10
        assert len({link_id for link_id, _ in results}) == 1 and sum(created for _, created in results) == 1

        others = [LinkCreate(leader_member_id=leader_id, county_id=county_id, start_date=date(YEAR, 4, n), note=f"{n}")
                  for n in range(1, 7)]
        results, errors = _race(engine, principal, others)
        assert results == [] and len(errors) == 6
        assert all(isinstance(e, Conflict) and e.code == "link_overlap" for e in errors)
        with read_session(engine) as s:
            assert s.scalar(select(func.count()).select_from(LinkAssignment)) == 1
            assert s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "link.create")) == 1
    finally:
        engine.dispose()
