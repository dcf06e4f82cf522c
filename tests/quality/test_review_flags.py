"""The review acts on flags (issue 16 items 1 and 4), at the service: a flagged activity is verified
only with a confirmation note (audited with its flags), 批量通过 leaves flagged ones pending and says
why, 退回 takes a standard reason and/or own words, a reviewer merges a duplicate into the original
(members join once, the duplicate is withdrawn, the figures move once — rollup check clean) and
removes a participant who was not there. SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select

from app.activities import service as svc
from app.errors import Conflict, Invalid, NotFound
from app.models import Activity, ActivityParticipant, ActivityStatus, AuditLog, ParticipantStatus, Rollup
from app.models.rollup import COUNT
from app.quality import flags as quality
from app.rollup import service as rollup
from tests import factories as f
from tests.activities.conftest import TODAY, YEAR, World

pytestmark = pytest.mark.dates

DAY = date(YEAR, 11, 20)


@pytest.fixture
def world(session) -> World:
    return World(session)


def _record(world: World, user=None, key: str = "k1", **form) -> Activity:
    """Recorded through the service; a look-alike of one already there is confirmed 「另一次活动」."""
    return f.record_another(world.session, by=world.p(user or world.member_user), data=world.form(**form),
                            idempotency_key=key, today=TODAY).activity


def _flag(world: World, activity: Activity, *codes: str) -> None:
    quality.store(world.session, activity.id, [quality.Flag(c, f"测试提示 {c}") for c in codes])
    world.session.commit()


def _audit(world: World, action: str, target_id: int) -> dict:
    row = world.session.scalars(select(AuditLog).where(AuditLog.action == action, AuditLog.target_id == str(target_id))
                                .order_by(AuditLog.id.desc())).first()
    assert row is not None, action
    return json.loads(row.after or "{}")


def _totals(session, task_id: int) -> dict[tuple[int, str], int]:
    """The province's stored figures for the task: (indicator, verified | pending) → sum."""
    out: dict[tuple[int, str], int] = {}
    for r in session.scalars(select(Rollup).where(Rollup.scope == "org", Rollup.task_id == task_id,
                                                  Rollup.unit_id == f.org(session, "530000").id)):
        out[(r.indicator_id, "verified")] = out.get((r.indicator_id, "verified"), 0) + r.verified
        out[(r.indicator_id, "pending")] = out.get((r.indicator_id, "pending"), 0) + r.pending
    return {k: v for k, v in out.items() if v}


def _members(session, activity_id: int) -> set[int]:
    return set(session.scalars(select(ActivityParticipant.member_id).where(
        ActivityParticipant.activity_id == activity_id, ActivityParticipant.status == ParticipantStatus.confirmed)))


# --- verifying a flagged activity ---------------------------------------------------------------------

def test_a_flagged_activity_needs_a_confirmation_note_kept_in_the_audit(world):
    s, staff = world.session, world.p(world.county_staff)
    a = _record(world)
    _flag(world, a, "over_bound", "money_no_photo")
    for note in (None, "", " 好 "):
        with pytest.raises(Invalid) as refused:
            svc.verify(s, by=staff, activity_id=a.id, note=note)
        assert refused.value.code == "flag_note_required" and "请填写核实说明" in refused.value.message
    s.expire_all()
    assert s.get(Activity, a.id).status == ActivityStatus.pending
    svc.verify(s, by=staff, activity_id=a.id, note="已电话核实，人数无误")
    s.expire_all()
    assert s.get(Activity, a.id).status == ActivityStatus.verified
    after = _audit(world, "activity.verify", a.id)
    assert after["note"] == "已电话核实，人数无误" and after["flags"] == ["over_bound", "money_no_photo"]
    assert after["status"] == "verified"


def test_an_unflagged_activity_is_verified_as_before(world):
    a = _record(world)
    svc.verify(world.session, by=world.p(world.county_staff), activity_id=a.id)
    assert world.session.get(Activity, a.id).status == ActivityStatus.verified
    assert "note" not in _audit(world, "activity.verify", a.id)


def test_a_value_over_its_bound_is_flagged_and_bulk_verify_leaves_it(world):
    from app.quality.rules import effective_rules

    bounds = effective_rules(world.session, world.wuhua.id).bounds
    ind = next((i for i in world.indicators if i.id in bounds), None)
    if ind is None:
        pytest.skip("no default bound for this task's indicators")
    over = bounds[ind.id].max_value + 1
    typed = str(over / 100) if ind.kind == "money" else str(over)
    a = _record(world, values={ind.id: typed})
    assert "over_bound" in {fl.code for fl in quality.flags_of(world.session, [a.id])[a.id]}
    done = svc.bulk_verify(world.session, by=world.p(world.county_staff), activity_ids=[a.id])
    assert (done.verified, done.skipped_flagged, done.flag_counts["over_bound"]) == (0, 1, 1)
    assert world.session.get(Activity, a.id).status == ActivityStatus.pending


def test_bulk_verify_skips_flagged_ones_and_counts_why(world):
    s = world.session
    made = [_record(world, key=f"b{n}", occurred_on=date(YEAR, 11, 1 + 3 * n)) for n in range(5)]
    _flag(world, made[0], "over_bound")
    _flag(world, made[1], "over_bound", "duplicate")
    svc.withdraw(s, by=world.p(world.member_user), activity_id=made[4].id)
    done = svc.bulk_verify(s, by=world.p(world.county_staff), activity_ids=[a.id for a in made])
    assert done == svc.BulkResult(verified=2, skipped_flagged=2, skipped_other=1,
                                  flag_counts={"over_bound": 2, "duplicate": 1})
    s.expire_all()
    assert [s.get(Activity, a.id).status for a in made] == ["pending", "pending", "verified", "verified", "withdrawn"]
    assert rollup.check(s) == []


# --- returning ------------------------------------------------------------------------------------------

def test_return_takes_a_standard_reason_and_or_own_words(world):
    s, staff = world.session, world.p(world.county_staff)
    a, b, c = (_record(world, key=k, occurred_on=date(YEAR, 11, d)) for k, d in (("r1", 2), ("r2", 6), ("r3", 10)))
    assert svc.return_activity(s, by=staff, activity_id=a.id, reason="投入资金应为 1.2 万元",
                               standard_reason="数值有误").status_reason == "数值有误：投入资金应为 1.2 万元"
    assert svc.return_activity(s, by=staff, activity_id=b.id, reason="", standard_reason="缺少照片").status_reason == "缺少照片"
    with pytest.raises(Invalid) as bad:
        svc.return_activity(s, by=staff, activity_id=c.id, reason="", standard_reason="随便写的")
    assert bad.value.code == "bad_reason"
    with pytest.raises(Invalid):
        svc.return_activity(s, by=staff, activity_id=c.id, reason=" ", standard_reason="")
    assert "重复记录" in svc.RETURN_REASONS and len(svc.RETURN_REASONS) == 7


# --- merging ------------------------------------------------------------------------------------------

def _pair(world: World, *, verify_dup: bool = False, verify_original: bool = False):
    """The member's activity and a colleague's re-entry of it (confirmed 「另一次活动」), each with its
    own participants; some verified when asked."""
    s = world.session
    colleague_user = f.make_user(s, member=world.colleague, grants=((f.GrantRole.member, world.wuhua),))
    third = f.make_member(s, world.wuhua, name="第三位委员")
    s.commit()
    original = _record(world, participant_member_ids=[third.id])
    dup = _record(world, colleague_user, key="dup", participant_member_ids=[third.id],
                  values={world.count_ind.id: "1", world.money_ind.id: "8"})
    staff = world.p(world.county_staff)
    if verify_original:
        svc.verify(s, by=staff, activity_id=original.id)
    if verify_dup:
        svc.verify(s, by=staff, activity_id=dup.id, note="先通过了")
    return original, dup, colleague_user, third


@pytest.mark.parametrize("verified", [False, True], ids=["pending", "verified"])
def test_merge_moves_members_once_withdraws_the_duplicate_and_keeps_the_rollup_exact(world, verified):
    s = world.session
    original, dup, _colleague_user, third = _pair(world, verify_dup=verified, verify_original=verified)
    # What a single entry gives: the original alone, with the colleague among its participants.
    status = "verified" if verified else "pending"
    single = {(COUNT, status): 1, (world.count_ind.id, status): 1, (world.money_ind.id, status): 800}
    assert _totals(s, world.task.id) == {k: 2 * v for k, v in single.items()}  # counted twice before
    recorder = world.member_user.member_id
    assert _members(s, original.id) == {recorder, third.id}

    result = svc.merge(s, by=world.p(world.county_staff), duplicate_id=dup.id, into_id=original.id, note="同一次义诊")
    assert result.added == {world.colleague.id}
    s.expire_all()
    dup_row, orig_row = s.get(Activity, dup.id), s.get(Activity, original.id)
    assert dup_row.status == ActivityStatus.withdrawn and dup_row.merged_into_id == original.id
    assert dup_row.status_reason == f"与 #{original.id} 重复，已合并"
    assert orig_row.status == status
    assert _members(s, original.id) == {recorder, third.id, world.colleague.id}
    assert _totals(s, world.task.id) == single  # the values count once
    assert rollup.check(s) == []
    merged = _audit(world, "activity.merge", dup.id)
    assert merged["into_id"] == original.id and merged["status"] == "withdrawn" and merged["note"] == "同一次义诊"
    assert _audit(world, "activity.merged_in", original.id)["members_added"] == [world.colleague.id]
    # The history of the original says so; merging the withdrawn duplicate again is refused.
    assert any("合并重复记录" in e.text and "同事委员" in e.text for e in svc.participant_history(s, original.id))
    with pytest.raises(Invalid) as again:
        svc.merge(s, by=world.p(world.county_staff), duplicate_id=dup.id, into_id=original.id)
    assert again.value.code == "already_merged"


def test_merge_of_a_verified_duplicate_into_a_pending_original(world):
    s = world.session
    original, dup, _, _ = _pair(world, verify_dup=True)
    svc.merge(s, by=world.p(world.prefecture_staff), duplicate_id=dup.id, into_id=original.id)
    assert _totals(s, world.task.id) == {(COUNT, "pending"): 1, (world.count_ind.id, "pending"): 1,
                                         (world.money_ind.id, "pending"): 800}
    assert rollup.check(s) == []


def test_merge_refuses_self_other_task_or_county_out_of_scope_and_dead_ones(world):
    s, staff = world.session, world.p(world.county_staff)
    original, dup, _, _ = _pair(world)
    with pytest.raises(Invalid) as self_:
        svc.merge(s, by=staff, duplicate_id=dup.id, into_id=dup.id)
    assert self_.value.code == "merge_self"
    other_day = _record(world, key="d2", occurred_on=date(YEAR, 11, 5), county_id=world.panlong.id)
    with pytest.raises(Invalid) as mismatch:
        svc.merge(s, by=world.p(world.prefecture_staff), duplicate_id=other_day.id, into_id=original.id)
    assert mismatch.value.code == "merge_mismatch"
    other_task = f.task(s, 1)
    ind = f.indicators(s, other_task)[0]
    s.commit()
    elsewhere = _record(world, key="t1", task_id=other_task.id, values={ind.id: "1"})
    with pytest.raises(Invalid) as task_mismatch:
        svc.merge(s, by=staff, duplicate_id=elsewhere.id, into_id=original.id)
    assert task_mismatch.value.code == "merge_mismatch"
    for outsider in (world.outsider_staff, world.panlong_staff):  # 404: not theirs to see
        with pytest.raises(NotFound):
            svc.merge(s, by=world.p(outsider), duplicate_id=dup.id, into_id=original.id)
    svc.withdraw(s, by=world.p(world.member_user), activity_id=original.id)
    with pytest.raises(Invalid) as dead:
        svc.merge(s, by=staff, duplicate_id=dup.id, into_id=original.id)
    assert dead.value.code == "merge_status"
    s.expire_all()
    assert s.get(Activity, dup.id).status == ActivityStatus.pending and rollup.check(s) == []


# --- removing a participant ------------------------------------------------------------------------------

def test_remove_participant_updates_the_rollup_and_refuses_the_recorder(world):
    s = world.session
    colleague_user = f.make_user(s, member=world.colleague, grants=((f.GrantRole.member, world.wuhua),))
    s.commit()
    a = _record(world)
    svc.request_to_join(s, by=world.p(colleague_user), activity_id=a.id)
    assert world.colleague.id in _members(s, a.id)
    history = svc.participant_history(s, a.id)
    assert [e.action for e in history] == ["activity.join"] and "同事委员 申请加入" in history[0].text
    staff = world.p(world.county_staff)
    with pytest.raises(Conflict) as stays:
        svc.remove_participant(s, by=staff, activity_id=a.id, member_id=world.member_user.member_id)
    assert stays.value.code == "recorder_stays"
    svc.remove_participant(s, by=staff, activity_id=a.id, member_id=world.colleague.id, reason="当天不在场")
    assert world.colleague.id not in _members(s, a.id) and rollup.check(s) == []
    assert "移出参与名单：当天不在场" in svc.participant_history(s, a.id)[-1].text
    with pytest.raises(NotFound):
        svc.remove_participant(s, by=world.p(world.panlong_staff), activity_id=a.id, member_id=world.colleague.id)
