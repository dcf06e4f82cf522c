"""Truth at the door, at the service: the likely-duplicate decision, and every flag computed when an
activity is written — each one shown firing and shown staying quiet."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.activities import service as svc
from app.errors import Invalid
from app.models import ActivityStatus, IndicatorBaseline, PlausibilityRule, RuleKind, Site, SiteKind
from app.quality import flags as quality
from app.quality import rules
from app.quality.duplicates import LikelyDuplicate
from app.rollup import service as rollup
from tests import factories as f
from tests.activities.conftest import TODAY, YEAR, World


@pytest.fixture
def world(session, clock) -> World:
    clock.freeze_on(TODAY)  # submitted today: the late-entry flag measures from the tests' day
    quality.forget_baselines()
    yield World(session)
    quality.forget_baselines()


def _record(world, user=None, key="k1", **form):
    return svc.record_activity(world.session, by=world.p(user or world.member_user), data=world.form(**form),
                               idempotency_key=key, today=TODAY)


def _codes(world, activity_id) -> list[str]:
    return [flag.code for flag in quality.flags_of(world.session, [activity_id]).get(activity_id, [])]


def _colleague(world):
    return f.make_user(world.session, member=world.colleague, grants=((f.GrantRole.member, world.wuhua),))


# --- duplicates ---------------------------------------------------------------------------------------

def test_a_second_entry_of_the_same_activity_is_a_decision_not_a_row(world):
    s = world.session
    first = _record(world).activity
    colleague = _colleague(world)
    with pytest.raises(LikelyDuplicate) as exc:
        _record(world, user=colleague, key="c1")
    assert exc.value.code == "likely_duplicate" and exc.value.status_code == 409
    [candidate] = exc.value.extra["candidates"]
    assert candidate == {"id": first.id, "occurred_on": first.occurred_on.isoformat(), "site_id": None,
                         "recorder": world.member_user.display_name, "status": "pending"}
    # Confirmed distinct, but without saying how: asked for the note, beside its field.
    with pytest.raises(Invalid) as missing:
        _record(world, user=colleague, key="c1", distinct_from=[first.id], distinct_note=" ")
    assert missing.value.code == "distinct_note_missing" and "distinct_note" in missing.value.errors
    second = _record(world, user=colleague, key="c1", distinct_from=[first.id], distinct_note="下午在另一个村").activity
    assert second.id != first.id and second.distinct_note == "下午在另一个村"
    [flag] = quality.flags_of(s, [second.id])[second.id]
    assert flag.code == "duplicate" and f"#{first.id}" in flag.message and "下午在另一个村" in flag.message
    assert _codes(world, first.id) == []
    # A retry of the accepted submission is answered with it, before any duplicate question.
    again = _record(world, user=colleague, key="c1", distinct_from=[first.id], distinct_note="下午在另一个村")
    assert (again.created, again.activity.id) == (False, second.id)
    again = _record(world, user=colleague, key="c1")  # the same content without the decision: still a replay
    assert (again.created, again.activity.id) == (False, second.id)


def test_another_site_of_the_same_county_and_day_is_no_duplicate(world):
    s = world.session
    town = Site(code="530102901001", name="甲镇", kind=SiteKind.town, county_id=world.wuhua.id)
    other = Site(code="530102902001", name="乙镇", kind=SiteKind.town, county_id=world.wuhua.id)
    s.add_all([town, other])
    s.flush()
    _record(world, site_id=town.id)
    colleague = _colleague(world)
    assert _record(world, user=colleague, key="c1", site_id=other.id).created
    with pytest.raises(LikelyDuplicate):  # no site named: it may be either
        _record(world, user=colleague, key="c2")


def test_withdrawn_and_returned_activities_are_not_candidates(world):
    s = world.session
    first = _record(world).activity
    svc.withdraw(s, by=world.p(world.member_user), activity_id=first.id)
    assert _record(world, user=_colleague(world), key="c1").created


def test_a_re_entry_a_day_apart_is_flagged_not_refused(world):
    first = _record(world).activity
    near = _record(world, key="k2", occurred_on=first.occurred_on - timedelta(days=1)).activity
    assert _codes(world, near.id) == ["duplicate"]
    assert f"#{first.id}" in quality.flags_of(world.session, [near.id])[near.id][0].message
    # Another member's activity a day apart with other figures is simply another activity.
    other = _record(world, user=_colleague(world), key="c1", occurred_on=first.occurred_on + timedelta(days=1),
                    values={world.count_ind.id: "4"}).activity
    assert _codes(world, other.id) == []


def test_the_check_can_be_turned_off_for_measuring(world, settings_env):
    settings_env(quality_checks="false")
    first = _record(world).activity
    second = _record(world, user=_colleague(world), key="c1").activity
    assert second.id != first.id and _codes(world, second.id) == []


# --- plausibility rules (the catalogue's defaults) ----------------------------------------------------

def test_a_value_over_the_bound_and_big_money_without_photo_are_flagged(world):
    # 医疗设备投入资金: at most 1000 万元 in one activity (app/data/plausibility.json).
    over = _record(world, values={world.money_ind.id: "1200"}).activity
    assert _codes(world, over.id) == ["over_bound", "money_no_photo"]
    message = quality.flags_of(world.session, [over.id])[over.id][0].message
    assert "1200 万元" in message and "1000 万元" in message
    fine = _record(world, key="k2", occurred_on=date(YEAR, 11, 1), values={world.money_ind.id: "8"}).activity
    assert _codes(world, fine.id) == []


def test_a_ratio_out_of_range_is_flagged_with_its_figures(world):
    s = world.session
    students = f.task(s, 8)  # 资助学子: 投入资金 per 资助学子 between 0.05 and 20 万元
    by_name = {i.name: i for i in f.indicators(s, students)}
    head, money = by_name["资助学子"], by_name["投入资金"]
    odd = _record(world, task_id=students.id, values={head.id: "5000", money.id: "0.01"}).activity
    found = {flag.code: flag.message for flag in quality.flags_of(s, [odd.id])[odd.id]}
    assert set(found) == {"over_bound", "ratio"}
    assert "每人投入资金" in found["ratio"] and "低于合理下限 0.05 万元/人" in found["ratio"]
    usual = _record(world, key="k2", task_id=students.id, occurred_on=date(YEAR, 11, 2),
                    values={head.id: "10", money.id: "3"}).activity
    assert _codes(world, usual.id) == []


def test_a_prefecture_may_tighten_a_bound_for_its_subtree_only(world):
    s = world.session
    s.add(PlausibilityRule(org_id=world.kunming.id, indicator_id=world.money_ind.id, kind=RuleKind.bound,
                           max_value=500, source="昆明市从严"))  # 5 万元
    rules.bump_version(s)
    s.commit()
    assert rules.effective_rules(s, world.wuhua.id).bounds[world.money_ind.id].max_value == 500
    qujing = f.org(s, "530300")
    assert rules.effective_rules(s, qujing.id).bounds[world.money_ind.id].max_value == 100_000
    a = _record(world, values={world.money_ind.id: "8"}).activity
    assert _codes(world, a.id) == ["over_bound"]
    # A looser prefecture rule changes nothing: the province's still holds.
    s.add(PlausibilityRule(org_id=qujing.id, indicator_id=world.money_ind.id, kind=RuleKind.bound,
                           max_value=10_000_000, source="放宽无效"))
    rules.bump_version(s)
    s.commit()
    assert rules.effective_rules(s, qujing.id).bounds[world.money_ind.id].max_value == 100_000


def test_a_rule_change_reflags_pending_activities(world):
    s = world.session
    a = _record(world, values={world.money_ind.id: "8"}).activity
    assert _codes(world, a.id) == []
    rule = PlausibilityRule(org_id=world.province.id, indicator_id=world.money_ind.id, kind=RuleKind.bound,
                            max_value=300, source="测试")
    s.add(rule)
    rules.bump_version(s)
    assert quality.recompute(s, quality.pending_ids(s, world.province.id), today=TODAY) == 1
    s.commit()
    assert _codes(world, a.id) == ["over_bound"]
    s.delete(rule)
    rules.bump_version(s)
    assert quality.recompute(s, quality.pending_ids(s, world.province.id), today=TODAY) == 1
    s.commit()
    assert _codes(world, a.id) == []


def test_a_correction_recomputes_the_flags(world):
    s = world.session
    a = _record(world, values={world.money_ind.id: "1200"}).activity
    svc.correct_activity(s, by=world.p(world.member_user), activity_id=a.id,
                         data=world.form(values={world.money_ind.id: "12"}), today=TODAY)
    assert _codes(world, a.id) == []


# --- statistical flags -------------------------------------------------------------------------------

def _history(world, values: list[int], recorder=None) -> None:
    s = world.session
    for n, value in enumerate(values):
        f.make_activity(s, recorder=recorder or world.county_staff, credited=world.wuhua, county=world.wuhua,
                        task_=world.task, values={world.count_ind.id: value}, status=ActivityStatus.verified,
                        occurred_on=TODAY - timedelta(days=40 + n % 300))  # no day the tests record on
    s.commit()


def test_a_value_far_beyond_the_province_history_is_flagged_and_the_baseline_is_kept_for_the_day(world):
    s = world.session
    _history(world, [1, 2, 3, 2, 1, 4, 2, 3, 5, 1] * 4)  # 40 values, median 2
    ordinary = _record(world, values={world.count_ind.id: "30"}).activity  # rare but real
    assert _codes(world, ordinary.id) == []
    odd = _record(world, key="k2", occurred_on=date(YEAR, 11, 3), values={world.count_ind.id: "300"}).activity
    found = {flag.code: flag.message for flag in quality.flags_of(s, [odd.id])[odd.id]}
    assert "outlier_history" in found and "中位数约 2 次" in found["outlier_history"]
    stored = s.get(IndicatorBaseline, world.count_ind.id)
    assert (stored.as_of, stored.samples) == (TODAY, 40)
    # The day's baseline is reused, not recomputed on every write (the table keeps it for every process).
    _history(world, [2] * 40)
    quality.forget_baselines()
    assert quality.baseline(s, world.count_ind.id, TODAY).samples == 40
    assert quality.baseline(s, world.count_ind.id, TODAY + timedelta(days=1)).samples == 80


def test_too_little_history_gives_no_outlier_flag(world):
    _history(world, [1, 2, 3])
    a = _record(world, values={world.count_ind.id: "40"}).activity
    assert "outlier_history" not in _codes(world, a.id)


def test_a_value_far_beyond_the_members_own_record_is_flagged(world):
    _history(world, [1, 2, 2], recorder=world.member_user)
    a = _record(world, values={world.count_ind.id: "25"}).activity
    assert _codes(world, a.id) == ["outlier_member"]
    assert "最高值（2 次）" in quality.flags_of(world.session, [a.id])[a.id][0].message
    b = _record(world, key="k2", occurred_on=date(YEAR, 11, 4), values={world.count_ind.id: "6"}).activity
    assert _codes(world, b.id) == []


def test_a_late_entry_and_a_back_filled_closed_month_are_flagged(world):
    s = world.session
    late = _record(world, occurred_on=TODAY - timedelta(days=31)).activity
    assert _codes(world, late.id) == ["late_entry"]
    assert "31 天后才记录" in quality.flags_of(s, [late.id])[late.id][0].message
    on_time = _record(world, user=_colleague(world), key="c1", occurred_on=TODAY - timedelta(days=30),
                      values={world.count_ind.id: "4"}).activity
    assert _codes(world, on_time.id) == []
    staff = world.p(world.county_staff)
    svc.close_month(s, by=staff, org_id=world.wuhua.id, month=YEAR * 100 + 11)
    backfilled = svc.record_activity(s, by=staff, data=world.form(
        on_behalf=True, participant_member_ids=[world.colleague.id], occurred_on=date(YEAR, 11, 10)),
        idempotency_key="staff-1", today=TODAY).activity
    assert _codes(world, backfilled.id) == ["closed_month"]
    assert rollup.check(s) == []


def test_the_api_carries_the_flags(world, client):
    a = _record(world, values={world.money_ind.id: "1200"}).activity
    world.session.commit()
    f.login_as(client, world.session, world.county_staff)
    body = client.get(f"/api/v1/activities/{a.id}").json()
    assert [flag["code"] for flag in body["flags"]] == ["over_bound", "money_no_photo"]
    assert all(flag["message"] for flag in body["flags"])
    assert body["distinct_note"] is None and body["merged_into_id"] is None


def test_flags_are_stored_once_per_code(world):
    a = _record(world, values={world.money_ind.id: "1200"}).activity
    rows = world.session.execute(select(quality.ActivityFlag.code).where(
        quality.ActivityFlag.activity_id == a.id)).scalars().all()
    assert sorted(rows) == ["money_no_photo", "over_bound"]
