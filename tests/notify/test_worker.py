"""The sender: retries never send twice, quiet hours, the daily cap, opt-out; driven by run_once in
the test's own transaction (no threads)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlmodel import Session

from app import clock as app_clock
from app.clock import CN
from app.models import MemberReach, Notification, WecomRobot
from app.notify import rules, service, worker
from tests import factories as f
from tests.notify.stubs import AliyunStub, WecomStub


def _member(session: Session, *, account: bool = True) -> service.Recipient:
    m = f.make_member(session, f.org(session, "530102"))
    user = f.make_user(session, member=m) if account else None
    return service.Recipient(user_id=user.id if user else None, member_id=m.id, phone=m.phone)


def _returned(session: Session, to: service.Recipient, n: int, *, kind: str = "activity_returned",
              channels: tuple[str, ...] = ("sms",)) -> None:
    params = ({"code": "123456", "minutes": 5} if kind == "login_code" else
              {"name": "张三", "message": "请记录本月活动"} if kind == "reminder" else
              {"date": "3月5日", "task": "产业助推", "reason": "照片不清"})
    template = {"login_code": "login_code", "reminder": "reminder"}.get(kind, "activity_returned")
    service.notify(session, kind=kind, event_key=f"test:{kind}:{n}", template=template, params=params, to=to,
                   channels=channels)


def _rows(session: Session, to: service.Recipient) -> list[Notification]:
    session.expire_all()
    return list(session.scalars(select(Notification).where(Notification.member_id == to.member_id,
                                                            Notification.channel == "sms").order_by(Notification.id)))


def _beijing(day, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=CN)


def test_retries_never_send_twice(session, settings_env, clock) -> None:
    moment = _beijing(clock.today, 10)
    clock.freeze(moment)
    people = [_member(session) for _ in range(12)]
    for n, to in enumerate(people):
        _returned(session, to, n)
    with AliyunStub(fail_rate=0.4, seed=7, clock=lambda: app_clock.now_utc().timestamp()) as stub:
        settings_env(**stub.env(), notify_max_attempts="4")
        for _ in range(8):  # each round 20 minutes on: every backoff (≤ 2 min here) has passed
            worker.run_once(session)
            moment += timedelta(minutes=20)
            clock.freeze(moment)
        assert stub.transient > 0
    rows = [r for to in people for r in _rows(session, to)]
    sent = [r for r in rows if r.status == "sent"]
    phones = [a.phone for a in stub.accepted]
    assert len(phones) == len(set(phones)) == len(sent)  # each delivered once, and each delivery recorded
    assert {r.provider_message_id for r in sent} == {a.message_id for a in stub.accepted}
    assert all(r.status in ("sent", "failed") for r in rows)
    assert all(r.attempts == 4 and "暂时无法发送" in (r.error or "") for r in rows if r.status == "failed")
    reached = session.scalars(select(MemberReach.member_id).where(MemberReach.notified_at.is_not(None)))
    assert {r.member_id for r in sent} <= set(reached)


def test_a_stale_sending_row_is_failed_not_resent(session, settings_env, clock) -> None:
    clock.freeze_on(clock.today, 10)
    to = _member(session)
    _returned(session, to, 1)
    row = _rows(session, to)[0]
    session.execute(update(Notification).where(Notification.id == row.id).values(
        status="sending", attempts=1, lease_owner="dead:1:x", leased_at=app_clock.now_utc() - timedelta(minutes=3)))
    with AliyunStub(clock=lambda: app_clock.now_utc().timestamp()) as stub:
        settings_env(**stub.env())
        worker.run_once(session)
        assert stub.accepted == []
    row = _rows(session, to)[0]
    assert (row.status, row.error) == ("failed", worker.UNKNOWN_OUTCOME)


@pytest.mark.parametrize(("hour", "minute", "quiet"), [(20, 59, False), (21, 0, True), (7, 59, True), (8, 0, False)])
def test_quiet_hours_edges(clock, hour, minute, quiet) -> None:
    at = _beijing(clock.today, hour, minute)
    morning = rules.quiet_until(at)
    assert (morning is not None) == quiet
    if quiet:
        assert morning.astimezone(CN).hour == 8 and timedelta(0) < morning - at <= timedelta(hours=11)


def test_quiet_hours_at_year_end(session, settings_env, clock) -> None:
    new_year_eve = _beijing(datetime(f.this_year(), 12, 31), 21, 30)
    clock.freeze(new_year_eve)
    to = _member(session)
    _returned(session, to, 1)
    _returned(session, to, 2, kind="login_code")
    deferred, code = _rows(session, to)
    assert deferred.not_before.astimezone(CN) == datetime(f.this_year() + 1, 1, 1, 8, 0, tzinfo=CN)
    assert code.not_before == new_year_eve  # a code goes at once

    # Written before 21:00, found by the sender after: deferred again, the attempt given back.
    session.execute(update(Notification).where(Notification.id == deferred.id).values(not_before=new_year_eve))
    worker.run_once(session)
    deferred, code = _rows(session, to)
    assert (deferred.status, deferred.attempts) == ("queued", 0)
    assert deferred.not_before.astimezone(CN).date() == datetime(f.this_year() + 1, 1, 1).date()
    assert code.status == "sent"


def test_daily_cap_leaves_codes_alone(session, settings_env, clock) -> None:
    clock.freeze_on(clock.today, 12)
    settings_env(sms_daily_cap="3")
    to = _member(session)
    for n in range(4):
        _returned(session, to, n)
    _returned(session, to, 9, kind="login_code")
    worker.run_once(session)
    rows = _rows(session, to)
    assert [r.status for r in rows] == ["sent", "sent", "sent", "skipped", "sent"]
    assert rows[3].error == rules.OVER_CAP
    clock.freeze_on(clock.today + timedelta(days=1), 12)  # a new Beijing day
    _returned(session, to, 5)
    worker.run_once(session)
    assert _rows(session, to)[-1].status == "sent"


def test_reminders_respect_opt_out(session, clock) -> None:
    from app.models import UserAccount

    clock.freeze_on(clock.today, 12)
    to = _member(session)
    session.get(UserAccount, to.user_id).reminders_opt_out = True
    session.flush()
    _returned(session, to, 1, kind="reminder", channels=("inapp", "sms"))
    _returned(session, to, 2)  # concerns their own record: sent regardless
    session.expire_all()
    rows = session.scalars(select(Notification).where(Notification.member_id == to.member_id)
                           .order_by(Notification.id)).all()
    assert [(r.kind, r.channel, r.status) for r in rows] == [
        ("reminder", "inapp", "skipped"), ("reminder", "sms", "skipped"), ("activity_returned", "sms", "queued")]
    assert rows[0].error == rules.OPTED_OUT


def test_robot_notices(session, settings_env, clock) -> None:
    clock.freeze_on(clock.today, 23)  # robots are office groups: no quiet hours
    with WecomStub(keys=("k1",)) as stub:
        settings_env(**stub.env())
        robot = WecomRobot(org_id=f.org(session, "530102").id, name="五华区办公室", webhook_url=stub.robot_url("k1"))
        gone = WecomRobot(org_id=robot.org_id, name="旧群", webhook_url=stub.robot_url("k1"), is_active=False)
        session.add_all([robot, gone])
        session.flush()
        from app.notify import robots

        written = robots.notify_robots(session, robot.org_id, kind="join_requested", event_key="join:test",
                                       template="join_requested", params={"name": "张三", "date": "3月5日", "task": "产业助推"})
        assert written == 1  # the disabled one gets nothing
        gone.is_active = True  # enabled while a notice was queued …
        session.flush()
        assert robots.notify_robots(session, robot.org_id, kind="join_requested", event_key="join:test",
                                    template="join_requested", params={"name": "张三", "date": "3月5日", "task": "产业助推"}) == 1
        gone.is_active = False  # … and disabled before it was sent
        session.flush()
        worker.run_once(session)
        assert [a.params for a in stub.accepted] == ["张三申请加入3月5日「产业助推」活动的参与名单，请审核。"]
    session.expire_all()
    statuses = dict(session.execute(select(Notification.robot_id, Notification.status).where(
        Notification.channel == "wecom", Notification.event_key == "join:test")).all())
    assert statuses == {robot.id: "sent", gone.id: "failed"}


def test_two_senders_never_send_one_notice_twice(fresh_url, settings_env, clock) -> None:
    """Two processes' senders on one committed database: every notice goes once (SKIP LOCKED on
    PostgreSQL, the single writer on SQLite); the threads start, wake and stop as the app's do."""
    import time

    from app.db import make_engine, write_session

    clock.freeze_on(clock.today, 12)
    engine = make_engine(fresh_url)
    try:
        with AliyunStub(fail_rate=0.1, seed=3, clock=lambda: app_clock.now_utc().timestamp()) as stub:
            settings_env(**stub.env())
            senders = [worker.Sender(engine).start(), worker.Sender(engine).start()]
            try:
                with write_session(engine) as s:
                    for n in range(40):
                        _returned(s, service.Recipient(phone=f"1390000{n:04d}"), n)
                    s.commit()
                worker.wake()
                deadline = time.monotonic() + 20
                # The clock stands still: a notice failed once waits out its backoff past the test.
                while len(stub.accepted) + stub.transient < 40 and time.monotonic() < deadline:
                    time.sleep(0.05)
            finally:
                for sender in senders:
                    sender.stop()
        phones = [a.phone for a in stub.accepted]
        assert len(phones) == len(set(phones)) == 40 - stub.transient and stub.transient
        with write_session(engine) as s:
            sent = s.scalars(select(Notification.recipient).where(Notification.status == "sent")).all()
        assert sorted(sent) == sorted(phones)
    finally:
        engine.dispose()


def test_outbox_gauges(session, clock) -> None:
    from prometheus_client import REGISTRY

    from app.ops import metrics

    clock.freeze_on(clock.today, 12)
    to = _member(session)
    _returned(session, to, 1)
    _returned(session, to, 2)
    clock.freeze(app_clock.now_utc() + timedelta(minutes=5))  # the sender has been away five minutes
    metrics.read_database_gauges(session)
    assert REGISTRY.get_sample_value("szt_notify_outbox", {"channel": "sms", "status": "queued"}) >= 2
    assert REGISTRY.get_sample_value("szt_notify_outbox_due_age_seconds") >= 300
    worker.run_once(session)
    metrics.read_database_gauges(session)
    assert REGISTRY.get_sample_value("szt_notify_outbox_due_age_seconds") == 0


def test_a_sign_in_code_is_not_kept_once_sent(session, settings_env, clock) -> None:
    clock.freeze_on(clock.today, 23)  # quiet hours do not hold codes back
    to = _member(session)
    _returned(session, to, 1, kind="login_code")
    with AliyunStub(clock=lambda: app_clock.now_utc().timestamp()) as stub:
        settings_env(**stub.env())
        worker.run_once(session)
        assert [a.phone for a in stub.accepted] == [to.phone]
        assert stub.accepted[0].params["code"] == "123456"  # the provider got the code …
    row = _rows(session, to)[0]
    assert row.status == "sent"
    assert "123456" not in row.body + row.params and row.params == "{}"  # … the outbox keeps no trace of it


def test_codes_are_claimed_before_a_campaign(session, clock) -> None:
    """A member waiting for a sign-in code never queues behind thousands of reminders."""
    clock.freeze_on(clock.today, 10)
    people = [_member(session, account=False) for _ in range(6)]
    for n, to in enumerate(people[:5]):
        _returned(session, to, n, kind="reminder")
    _returned(session, people[5], 99, kind="login_code")
    claimed = worker.claim(worker._databases(session), "test:1:x", app_clock.now_utc(), limit=2)
    assert len(claimed) == 2 and {c.kind for c in claimed} == {"login_code", "reminder"}
