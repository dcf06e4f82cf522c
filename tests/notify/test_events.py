"""Notices of an activity's events: written in the event's transaction, once per event."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from app.activities import service as svc
from app.errors import Conflict
from app.models import Activity, Notification, WecomRobot
from app.notify import events
from tests import factories as f
from tests.activities.conftest import TODAY, World, recorded


@pytest.fixture
def world(session) -> World:
    return World(session)


def _notices(world: World, kind: str) -> list[Notification]:
    world.session.expire_all()
    return list(world.session.scalars(select(Notification).where(Notification.kind == kind).order_by(Notification.id)))


def test_a_return_notifies_the_recorder_once_per_return(world) -> None:
    s, staff = world.session, world.p(world.county_staff)
    a = recorded(world)
    svc.return_activity(s, by=staff, activity_id=a.id, reason="照片不清", standard_reason="缺少照片")
    rows = _notices(world, "activity_returned")
    assert [(r.channel, r.user_id, r.status) for r in rows] == [
        ("inapp", world.member_user.id, "sent"), ("sms", world.member_user.id, "queued")]
    assert "缺少照片：照片不清" in rows[0].body and rows[0].link == f"/activities/{a.id}"
    assert rows[1].recipient == world.member_user.login  # the member's phone

    with pytest.raises(Conflict):  # a retried POST: no second return, no second notice
        svc.return_activity(s, by=staff, activity_id=a.id, reason="照片不清", standard_reason="缺少照片")
    s.rollback()
    assert len(_notices(world, "activity_returned")) == 2

    svc.correct_activity(s, by=world.p(world.member_user), activity_id=a.id, today=TODAY, data=world.form())
    svc.return_activity(s, by=staff, activity_id=a.id, reason="金额有误")
    assert len(_notices(world, "activity_returned")) == 4  # returned again after correction: told again


def test_the_notice_rolls_back_with_its_event(world, monkeypatch) -> None:
    s = world.session
    a = recorded(world)
    s.commit()
    real = events.activity_returned

    def then_fail(*args, **kwargs):
        real(*args, **kwargs)
        raise RuntimeError("the return fails after its notice was written")

    monkeypatch.setattr(events, "activity_returned", then_fail)
    with pytest.raises(RuntimeError):
        svc.return_activity(s, by=world.p(world.county_staff), activity_id=a.id, reason="照片不清")
    s.rollback()
    assert _notices(world, "activity_returned") == []
    assert s.get(Activity, a.id).status == "pending"


def test_join_requests_reach_the_office_robot_and_the_decision_the_member(world) -> None:
    s = world.session
    a = recorded(world)
    robot = WecomRobot(org_id=a.credited_org_id, name="五华区政协办公室",
                       webhook_url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k")
    s.add(robot)
    s.flush()
    stranger = f.persona(s, "outsider_member")  # not in the credited subtree: stays a request
    svc.request_to_join(s, by=world.p(stranger), activity_id=a.id)
    [office] = _notices(world, "join_requested")
    assert (office.channel, office.recipient, office.status) == ("wecom", f"robot:{robot.id}", "queued")
    assert "申请加入" in office.body

    svc.decide_participant(s, by=world.p(world.county_staff), activity_id=a.id, member_id=stranger.member_id,
                           accept=False)
    rows = _notices(world, "join_decided")
    assert {r.channel for r in rows} == {"inapp", "sms"} and all(r.member_id == stranger.member_id for r in rows)
    assert "未同意" in rows[0].body

    s.execute(update(Notification).values(status="sent"))  # asked again, decided again: a new notice
    svc.request_to_join(s, by=world.p(stranger), activity_id=a.id)
    svc.decide_participant(s, by=world.p(world.county_staff), activity_id=a.id, member_id=stranger.member_id,
                           accept=True)
    assert len(_notices(world, "join_requested")) == 2
    assert "已同意" in _notices(world, "join_decided")[-1].body
