"""The database itself refuses bad rows, whatever code writes them."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.models import (
    ActivityStatus,
    ActivityValue,
    AnnualTarget,
    ClosedMonth,
    GrantRole,
    MemberRole,
    Membership,
    Organisation,
    OrgLevel,
    Site,
    SiteKind,
    Term,
)
from tests import factories as f


@pytest.fixture
def world(session):
    county = f.org(session, "530102")
    member = f.make_member(session, county)
    user = f.make_user(session, member=member, grants=((GrantRole.member, county),))
    task = f.task(session, 1)
    return session, county, user, task


def _refused(session, *objects):
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add_all(objects)
        session.flush()


def test_negative_activity_value_refused(world):
    session, county, user, task = world
    ind = f.indicators(session, task)[0]
    activity = f.make_activity(session, recorder=user, credited=county, county=county, task_=task,
                               values={ind.id: 3})
    second = f.indicators(session, task)[1]
    _refused(session, ActivityValue(activity_id=activity.id, indicator_id=second.id,
                                    task_id=task.id, value=-1))


def test_duplicate_idempotency_key_refused_per_recorder(world):
    session, county, user, task = world
    first = f.make_activity(session, recorder=user, credited=county, county=county, task_=task, values={})
    from app.models import Activity

    twin = Activity(recorder_user_id=user.id, credited_org_id=county.id, task_id=task.id,
                    county_id=county.id, occurred_on=date(2026, 3, 2),
                    idempotency_key=first.idempotency_key)
    _refused(session, twin)
    # The same key from another recorder is a different request.
    other = f.make_user(session)
    twin.recorder_user_id = other.id
    session.add(twin)
    session.flush()


def test_orphan_value_refused(world):
    session, _county, _user, task = world
    ind = f.indicators(session, task)[0]
    _refused(session, ActivityValue(activity_id=987654321, indicator_id=ind.id, task_id=task.id, value=1))


def test_value_of_another_tasks_indicator_refused(world):
    session, county, user, task = world
    activity = f.make_activity(session, recorder=user, credited=county, county=county, task_=task, values={})
    foreign = f.indicators(session, f.task(session, 2))[0]
    # Claiming the activity's task for a foreign indicator breaks the indicator's composite key;
    # claiming the indicator's task breaks the activity's.
    _refused(session, ActivityValue(activity_id=activity.id, indicator_id=foreign.id, task_id=task.id, value=1))
    _refused(session, ActivityValue(activity_id=activity.id, indicator_id=foreign.id,
                                    task_id=foreign.task_id, value=1))


def test_activity_site_must_lie_in_its_county(world):
    session, county, user, task = world
    other_county = f.org(session, "530103")
    site = session.scalars(select(Site).where(Site.county_id == other_county.id)).first()
    from app.models import Activity

    _refused(session, Activity(recorder_user_id=user.id, credited_org_id=county.id, task_id=task.id,
                               county_id=county.id, site_id=site.id, occurred_on=date(2026, 3, 2),
                               idempotency_key="k-site"))


def test_returned_activity_needs_a_reason(world):
    session, county, user, task = world
    activity = f.make_activity(session, recorder=user, credited=county, county=county, task_=task, values={})
    with pytest.raises(IntegrityError), session.begin_nested():
        activity.status = ActivityStatus.returned
        session.flush()


def test_unknown_status_refused(world):
    session, county, user, task = world
    activity = f.make_activity(session, recorder=user, credited=county, county=county, task_=task, values={})
    with pytest.raises(IntegrityError), session.begin_nested():
        activity.status = "approved"
        session.flush()


def test_org_rules(session):
    province = f.org(session, "530000")
    prefecture = f.org(session, "530100")
    _refused(session, Organisation(code="53999", name="短代码", level=OrgLevel.county, parent_id=prefecture.id))
    _refused(session, Organisation(code="539999", name="无上级", level=OrgLevel.county))
    _refused(session, Organisation(code="539998", name="第二个省", level=OrgLevel.province, parent_id=province.id))
    _refused(session, Organisation(code="530100", name="重复代码", level=OrgLevel.prefecture, parent_id=province.id))
    with pytest.raises(IntegrityError), session.begin_nested():
        prefecture.is_key_county = True
        session.flush()


def test_membership_term_must_belong_to_its_organisation(session):
    kunming, qujing = f.org(session, "530100"), f.org(session, "530300")
    member = f.make_member(session, kunming)
    qujing_term = f.term_for(session, qujing)
    _refused(session, Membership(member_id=member.id, org_id=kunming.id, term_id=qujing_term.id,
                                 role=MemberRole.member, start_date=date(2023, 1, 1)))


def test_dates_and_values(session):
    county = f.org(session, "530102")
    _refused(session, Term(org_id=county.id, number=9, start_date=date(2023, 1, 1), end_date=date(2022, 1, 1)))
    ind = f.indicators(session, f.task(session, 1))[0]
    _refused(session, AnnualTarget(org_id=county.id, indicator_id=ind.id, year=2026, value=-5))
    _refused(session, ClosedMonth(org_id=county.id, month=202613))
    _refused(session, Site(code="X1", name="地点", kind="market", county_id=county.id))
    session.add(Site(code="530102-S1", name="示范点", kind=SiteKind.demo_site, county_id=county.id))
    session.flush()
