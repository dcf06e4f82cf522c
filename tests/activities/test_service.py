"""The life of an activity, rule by rule (service layer, SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from app.activities import service as svc
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.models import (
    Activity,
    ActivityParticipant,
    ActivityStatus,
    ActivityValue,
    AuditLog,
    ClosedMonth,
    Member,
    ParticipantStatus,
    Site,
)
from app.rollup import service as rollup
from tests.activities.conftest import TODAY, YEAR

pytestmark = pytest.mark.dates


def _record(world, user=None, key="k1", **form):
    return svc.record_activity(world.session, by=world.p(user or world.member_user), data=world.form(**form),
                               idempotency_key=key, today=TODAY)


def _values(session, activity):
    return dict(session.execute(select(ActivityValue.indicator_id, ActivityValue.value)
                                .where(ActivityValue.activity_id == activity.id)).all())


def test_member_records_a_pending_activity_credited_to_their_organisation(world):
    result = _record(world, values={world.count_ind.id: "２", world.money_ind.id: "12.5"})
    a = result.activity
    assert result.created and a.status == ActivityStatus.pending
    assert a.credited_org_id == world.wuhua.id and a.organiser_org_id is None
    assert _values(world.session, a) == {world.count_ind.id: 2, world.money_ind.id: 1250}
    participants = world.session.scalars(select(ActivityParticipant.member_id).where(
        ActivityParticipant.activity_id == a.id)).all()
    assert participants == [world.member_user.member_id]  # the recorder took part
    entry = world.session.scalar(select(AuditLog).where(AuditLog.action == "activity.create",
                                                        AuditLog.target_id == str(a.id)))
    assert entry.org_id == world.wuhua.id and entry.actor_user_id == world.member_user.id


def test_retry_with_the_same_key_returns_the_original(world):
    first = _record(world)
    again = _record(world)
    assert not again.created and again.activity.id == first.activity.id
    assert world.session.scalar(select(func.count()).select_from(Activity).where(
        Activity.recorder_user_id == world.member_user.id)) == 1


def test_same_key_with_other_content_is_refused(world):
    _record(world)
    with pytest.raises(Conflict) as exc:
        _record(world, description="另一条完全不同的活动")
    assert exc.value.code == "idempotency_conflict"


def test_missing_key_is_refused(world):
    with pytest.raises(Invalid):
        _record(world, key="  ")


@pytest.mark.parametrize(("count", "money", "field"), [
    ("-1", "8", "count"), ("1.5", "8", "count"), ("abc", "8", "count"),
    ("1", "8.123", "money"), ("1", "-3", "money"), ("1", "1e5", "money"),
])
def test_bad_values_get_a_chinese_error_per_field(world, count, money, field):
    with pytest.raises(Invalid) as exc:
        _record(world, values={world.count_ind.id: count, world.money_ind.id: money})
    ind = world.count_ind if field == "count" else world.money_ind
    assert f"value_{ind.id}" in exc.value.errors and ind.name in exc.value.errors[f"value_{ind.id}"]
    assert world.session.scalar(select(func.count()).select_from(Activity)) == 0  # nothing half-written


def test_at_least_one_value(world):
    with pytest.raises(Invalid) as exc:
        _record(world, values={world.count_ind.id: "", world.money_ind.id: "0"})
    assert "至少填写一项" in exc.value.message


def test_indicator_of_another_task_is_refused(world):
    from tests import factories as f

    foreign = f.indicators(world.session, f.task(world.session, 1))[0]
    with pytest.raises(Invalid):
        _record(world, values={foreign.id: "3"})


def test_future_date_is_refused(world):
    with pytest.raises(Invalid) as exc:
        _record(world, occurred_on=date(YEAR, 11, 24))
    assert "不能晚于今天" in exc.value.message


def test_site_must_be_in_the_county(world):
    other = world.session.scalars(select(Site).where(Site.county_id == world.panlong.id)).first()
    with pytest.raises(Invalid):
        _record(world, site_id=other.id)
    own = world.session.scalars(select(Site).where(Site.county_id == world.wuhua.id)).first()
    assert _record(world, site_id=own.id).activity.site_id == own.id


def test_closed_month_refuses_members_but_not_staff(world):
    world.session.add(ClosedMonth(org_id=world.kunming.id, month=YEAR * 100 + 10))
    world.session.flush()
    with pytest.raises(Invalid) as exc:
        _record(world, occurred_on=date(YEAR, 10, 5))
    assert exc.value.code == "month_closed"
    # Staff record it on the member's behalf (代录), audited as any creation.
    result = _record(world, user=world.county_staff, occurred_on=date(YEAR, 10, 5), on_behalf=True,
                     participant_member_ids=[world.member_user.member_id])
    assert result.activity.recorder_user_id == world.county_staff.id
    assert result.activity.credited_org_id == world.wuhua.id


def test_on_behalf_needs_staff_and_participants(world):
    with pytest.raises(Forbidden):
        _record(world, on_behalf=True, participant_member_ids=[world.colleague.id])
    with pytest.raises(Invalid):
        _record(world, user=world.county_staff, on_behalf=True)


def test_organiser_must_be_own_or_ancestor_and_takes_the_credit(world):
    a = _record(world, organiser_org_id=world.kunming.id).activity
    assert a.credited_org_id == world.kunming.id and a.organiser_org_id == world.kunming.id
    with pytest.raises(Invalid):
        _record(world, key="k2", organiser_org_id=world.panlong.id)


def test_participants_from_outside_are_refused(world):
    outsider = world.outsider_member_user.member_id
    with pytest.raises(Invalid) as exc:
        _record(world, participant_member_ids=[outsider])
    assert "不在本组织" in exc.value.message
    a = _record(world, participant_member_ids=[world.colleague.id]).activity
    people = set(world.session.scalars(select(ActivityParticipant.member_id)
                                       .where(ActivityParticipant.activity_id == a.id)))
    assert people == {world.member_user.member_id, world.colleague.id}


def test_account_without_membership_cannot_record(world):
    with pytest.raises(Forbidden):
        _record(world, user=world.county_staff)


# --- transitions -----------------------------------------------------------------------------

def test_verify_return_correct_reopen_withdraw(world):
    s = world.session
    a = _record(world).activity
    staff = world.p(world.county_staff)
    svc.return_activity(s, by=staff, activity_id=a.id, reason="请补充照片")
    assert (a.status, a.status_reason, a.reviewer_user_id) == ("returned", "请补充照片", world.county_staff.id)
    svc.correct_activity(s, by=world.p(world.member_user), activity_id=a.id, today=TODAY,
                         data=world.form(values={world.count_ind.id: "3", world.money_ind.id: "0.5"}))
    assert a.status == "pending" and a.status_reason is None
    assert _values(s, a) == {world.count_ind.id: 3, world.money_ind.id: 50}
    svc.verify(s, by=staff, activity_id=a.id)
    assert a.status == "verified"
    with pytest.raises(Conflict):
        svc.verify(s, by=staff, activity_id=a.id)
    with pytest.raises(Conflict):
        svc.withdraw(s, by=world.p(world.member_user), activity_id=a.id)
    svc.reopen(s, by=world.p(world.prefecture_staff), activity_id=a.id, reason="数据有误，需核实")
    assert a.status == "pending"
    svc.withdraw(s, by=world.p(world.member_user), activity_id=a.id)
    assert a.status == "withdrawn"
    actions = s.scalars(select(AuditLog.action).where(AuditLog.target_type == "activity",
                                                      AuditLog.target_id == str(a.id)).order_by(AuditLog.id)).all()
    assert actions == ["activity.create", "activity.return", "activity.correct", "activity.verify",
                       "activity.reopen", "activity.withdraw"]


def test_reasons_are_required(world):
    a = _record(world).activity
    with pytest.raises(Invalid):
        svc.return_activity(world.session, by=world.p(world.county_staff), activity_id=a.id, reason=" ")
    svc.verify(world.session, by=world.p(world.county_staff), activity_id=a.id)
    with pytest.raises(Invalid):
        svc.reopen(world.session, by=world.p(world.county_staff), activity_id=a.id, reason="")


def test_outsiders_cannot_see_or_verify(world):
    s = world.session
    a = _record(world).activity
    for outsider in (world.outsider_staff, world.outsider_member_user):
        with pytest.raises(NotFound):
            svc.activity_for_read(s, world.p(outsider), a.id)
        with pytest.raises(NotFound):
            svc.verify(s, by=world.p(outsider), activity_id=a.id)
    # The member who recorded it reads it but does not verify it.
    with pytest.raises(Forbidden):
        svc.verify(s, by=world.p(world.member_user), activity_id=a.id)


def test_place_reads_but_only_the_credited_office_verifies(world):
    s = world.session
    a = _record(world, county_id=world.panlong.id).activity  # a 五华区 member helping in 盘龙区
    assert svc.activity_for_read(s, world.p(world.panlong_staff), a.id).id == a.id
    with pytest.raises(Forbidden):
        svc.verify(s, by=world.p(world.panlong_staff), activity_id=a.id)
    svc.verify(s, by=world.p(world.county_staff), activity_id=a.id)


def test_only_the_recorder_corrects_or_withdraws(world):
    a = _record(world, participant_member_ids=[world.colleague.id]).activity
    from tests import factories as f

    colleague_user = f.make_user(world.session, member=world.colleague)
    with pytest.raises(Forbidden):  # a participant reads it, but may not withdraw it
        svc.withdraw(world.session, by=world.p(colleague_user), activity_id=a.id)
    with pytest.raises(NotFound):
        svc.withdraw(world.session, by=world.p(world.outsider_member_user), activity_id=a.id)


def test_bulk_verify_takes_only_pending_in_scope(world):
    s = world.session
    mine = [_record(world, key=f"b{n}", description=f"活动{n}号", occurred_on=date(YEAR, 11, 4 + 3 * n)).activity
            for n in range(3)]
    svc.withdraw(s, by=world.p(world.member_user), activity_id=mine[2].id)
    done = svc.bulk_verify(s, by=world.p(world.county_staff), activity_ids=[a.id for a in mine])
    assert (done.verified, done.skipped_flagged, done.skipped_other) == (2, 0, 1)
    assert svc.bulk_verify(s, by=world.p(world.outsider_staff), activity_ids=[mine[0].id]) == svc.BulkResult(0, 0, 1)


def test_participant_request_confirmed_or_refused(world):
    s = world.session
    a = _record(world).activity
    from tests import factories as f

    colleague_user = f.make_user(s, member=world.colleague, grants=((f.GrantRole.member, world.wuhua),))
    dupes = svc.likely_duplicates(s, county_id=a.county_id, task_id=a.task_id, occurred_on=a.occurred_on)
    assert [d.id for d in dupes] == [a.id]
    # A colleague the recorder could have named joins at once (申请加入: they were there).
    svc.request_to_join(s, by=world.p(colleague_user), activity_id=a.id)
    with pytest.raises(Conflict):
        svc.request_to_join(s, by=world.p(colleague_user), activity_id=a.id)
    row = s.get(ActivityParticipant, (a.id, world.colleague.id))
    assert row.status == ParticipantStatus.confirmed
    assert svc.pending_requests(s, world.p(world.county_staff)) == []
    assert rollup.check(s) == []
    # The participant sees it in their own list.
    items, total = svc.my_activities(s, world.p(colleague_user))
    assert total == 1 and items[0].id == a.id
    # The verifier may take the addition back (an outsider may not); the recorder always stays.
    with pytest.raises(NotFound):
        svc.remove_participant(s, by=world.p(world.outsider_staff), activity_id=a.id, member_id=world.colleague.id)
    with pytest.raises(Conflict):
        svc.remove_participant(s, by=world.p(world.county_staff), activity_id=a.id,
                               member_id=world.member_user.member_id)
    svc.remove_participant(s, by=world.p(world.county_staff), activity_id=a.id, member_id=world.colleague.id,
                           reason="当天未参加")
    assert s.get(ActivityParticipant, (a.id, world.colleague.id)) is None
    assert rollup.check(s) == []
    assert svc.my_activities(s, world.p(colleague_user))[1] == 0


def test_close_and_reopen_month(world):
    s = world.session
    staff = world.p(world.county_staff)
    svc.close_month(s, by=staff, org_id=world.wuhua.id, month=YEAR * 100 + 9)
    assert svc.is_month_closed(s, world.wuhua.id, YEAR * 100 + 9)
    assert not svc.is_month_closed(s, world.panlong.id, YEAR * 100 + 9)
    with pytest.raises(Conflict):
        svc.close_month(s, by=staff, org_id=world.wuhua.id, month=YEAR * 100 + 9)
    with pytest.raises(NotFound):
        svc.close_month(s, by=world.p(world.outsider_staff), org_id=world.wuhua.id, month=YEAR * 100 + 8)
    with pytest.raises(NotFound):
        svc.close_month(s, by=staff, org_id=world.kunming.id, month=YEAR * 100 + 8)  # above the caller
    svc.reopen_month(s, by=staff, org_id=world.wuhua.id, month=YEAR * 100 + 9)
    assert not svc.is_month_closed(s, world.wuhua.id, YEAR * 100 + 9)


def test_read_model_formats_money_and_hides_phones(world):
    a = _record(world, values={world.count_ind.id: "1", world.money_ind.id: "152306"}).activity
    read = svc.to_read(world.session, [a])[0]
    money = next(v for v in read.values if v.indicator_id == world.money_ind.id)
    assert (money.value, money.display) == (15230600, "152306")
    assert read.status_label == "待审核" and read.county_name == "五华区"
    assert world.member_user.login not in read.model_dump_json()


def test_a_join_request_does_not_open_the_activity(world):
    """Only a confirmed participant reads the record; asking to join is not enough."""
    from tests import factories as f

    s = world.session
    a = _record(world).activity
    stranger = f.persona(s, "outsider_member")  # another county's member, outside every read scope
    svc.request_to_join(s, by=world.p(stranger), activity_id=a.id)
    with pytest.raises(NotFound):
        svc.activity_for_read(s, world.p(stranger), a.id)
    assert svc.my_activities(s, world.p(stranger))[1] == 0
    svc.decide_participant(s, by=world.p(world.county_staff), activity_id=a.id, member_id=stranger.member_id,
                           accept=True)
    assert svc.activity_for_read(s, world.p(stranger), a.id).id == a.id


def test_participant_error_does_not_name_outsiders(world):
    outsider = world.session.get(Member, world.outsider_member_user.member_id)
    with pytest.raises(Invalid) as exc:
        _record(world, participant_member_ids=[outsider.id])
    assert outsider.name not in exc.value.message and "1 名" in exc.value.message


def test_a_retried_correction_is_not_applied_twice(world):
    s = world.session
    a = _record(world).activity
    svc.return_activity(s, by=world.p(world.county_staff), activity_id=a.id, reason="请补充")
    filled_from = a.version
    data = world.form(values={world.count_ind.id: "4"})
    svc.correct_activity(s, by=world.p(world.member_user), activity_id=a.id, data=data, today=TODAY,
                         expected_version=filled_from)
    with pytest.raises(Conflict) as exc:
        svc.correct_activity(s, by=world.p(world.member_user), activity_id=a.id, data=data, today=TODAY,
                             expected_version=filled_from)
    assert exc.value.code == "stale_version"
    assert a.version == filled_from + 1
    corrections = s.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "activity.correct", AuditLog.target_id == str(a.id)))
    assert corrections == 1
