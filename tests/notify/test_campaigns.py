"""Reminder campaigns: the preview's figures, one transaction per send (idempotent, audited, once a
day per member), the results, and the scope."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from app.auth.service import build_principal
from app.clock import CN, now_utc
from app.errors import Invalid
from app.models import Activity, AuditLog, Notification, ReminderCampaign, UserAccount
from app.notify import campaigns
from app.notify.templates import sms_parts
from tests import factories as f
from tests.boards.test_inactive import Small

pytestmark = pytest.mark.dates

MESSAGE = "本期间还没有看到您的助推活动记录，" * 4  # 68 characters: the SMS takes two parts


@pytest.fixture
def w(session, settings_env, clock):
    settings_env(sms_price_fen="7", sms_sign_name="测试签名", sms_daily_cap="3")
    day = f.months_ago(0, 15)  # mid-month, in the daytime: no quiet hours
    clock.freeze(datetime.combine(day, time(10, 0), CN))
    world = Small(session)
    world.staff = f.persona(session, "county_staff")
    world.by = build_principal(session, world.staff, ip="test")
    clock.freeze(datetime.combine(day, time(10, 5), CN))  # campaigns go out after the world's activities
    user_of = {u.member_id: u for u in session.scalars(select(UserAccount).where(UserAccount.member_id.is_not(None)))}
    world.user_of = lambda name: user_of[world.by_name[name].id]
    return world


def draft(w, segment="idle", message=MESSAGE, **kw):
    return campaigns.Draft(org=w.wuhua, period=w.period, segment=segment, message=message, **kw)


def test_the_preview_counts_skips_and_prices_exactly(session, w, clock):
    # idle: 无活动, 已撤回, 上月退回. One opted out, one reminded today already.
    w.user_of("已撤回").reminders_opt_out = True
    session.add(Notification(channel="inapp", kind="reminder", recipient="x", event_key="campaign:0",
                             member_id=w.by_name["上月退回"].id, template="reminder", body="x", status="sent"))
    session.flush()
    p = campaigns.preview(session, draft(w))
    assert (p.plan.recipients, len(p.plan.addressees), p.plan.sms, p.plan.inapp) == (3, 1, 1, 1)
    assert p.plan.skipped == {"opted_out": 1, "reminded_today": 1}
    assert p.plan.sample == f"【测试签名】无活动委员您好：{MESSAGE}"
    assert p.plan.sms_parts == sms_parts(p.plan.sample) == 2 and p.cost_fen == 14 and p.cost_yuan == "0.14"
    assert p.plan.quiet_until is None
    # Without SMS: no cost; at 22:00 Beijing the SMS would wait until 08:00 next morning.
    assert campaigns.preview(session, draft(w, with_sms=False)).cost_fen == 0
    clock.freeze(datetime.combine(f.months_ago(0, 15), time(22, 0), CN))
    late = campaigns.preview(session, draft(w))
    assert late.plan.quiet_until == datetime.combine(f.months_ago(0, 16), time(8, 0), CN)
    # The default message when blank; a message too long is refused in Chinese.
    assert campaigns.preview(session, draft(w, message=" ")).draft.message == campaigns.DEFAULT_MESSAGES["idle"]
    with pytest.raises(Invalid) as refused:
        campaigns.preview(session, draft(w, message="长" * 121))
    assert "message" in refused.value.errors


def test_a_send_writes_once_is_audited_and_a_second_send_the_same_day_skips(session, w):
    sent = campaigns.send(session, by=w.by, draft=draft(w), submission_key="k1")
    c = sent.campaign
    assert sent.created and (c.recipients, c.skipped, c.sms_parts) == (3, 0, 6)
    rows = session.scalars(select(Notification).where(Notification.campaign_id == c.id)).all()
    assert {(r.channel, r.status) for r in rows} == {("sms", "queued"), ("inapp", "sent")}
    assert len(rows) == c.queued == 6 and {r.event_key for r in rows} == {f"campaign:{c.id}"}
    entry = session.scalar(select(AuditLog).where(AuditLog.action == "notify.campaign"))
    assert entry.target_id == str(c.id) and '"recipients": 3' in entry.after
    # A retried submission answers the same campaign and writes nothing.
    again = campaigns.send(session, by=w.by, draft=draft(w), submission_key="k1")
    assert not again.created and again.campaign.id == c.id
    assert session.scalar(select(func.count()).select_from(ReminderCampaign)) == 1
    # A new campaign the same day to the same group: everyone already reminded, nothing to send.
    with pytest.raises(Invalid) as nobody:
        campaigns.send(session, by=w.by, draft=draft(w), submission_key="k2")
    assert nobody.value.code == "nobody_to_remind"
    assert campaigns.preview(session, draft(w)).plan.skipped == {"reminded_today": 3}


def test_results_count_delivery_reads_and_members_who_recorded_within_7_and_30_days(session, w, clock):
    c = campaigns.send(session, by=w.by, draft=draft(w), submission_key="k").campaign
    sms = session.scalars(select(Notification).where(Notification.campaign_id == c.id,
                                                     Notification.channel == "sms").order_by(Notification.id)).all()
    sms[0].status, sms[0].sent_at = "sent", now_utc()
    sms[1].status = "failed"
    inapp = session.scalars(select(Notification).where(Notification.campaign_id == c.id,
                                                       Notification.channel == "inapp")).first()
    inapp.read_at = now_utc()
    session.flush()
    a3 = w.activity(w.by_name["无活动"], "pending")
    a3.created_at = c.created_at + timedelta(days=3)
    a10 = w.activity(w.by_name["已撤回"], "pending")
    a10.created_at = c.created_at + timedelta(days=10)
    gone = w.activity(w.by_name["上月退回"], "withdrawn")  # withdrawn: not counted
    gone.created_at = c.created_at + timedelta(days=1)
    before = w.activity(w.by_name["上月退回"], "pending")  # before the send: not counted
    before.created_at = c.created_at - timedelta(hours=1)
    session.flush()
    clock.freeze(c.created_at + timedelta(days=12))
    r = campaigns.results(session, session.get(ReminderCampaign, c.id))
    assert (r.addressed, r.delivered, r.failed, r.waiting, r.skipped) == (3, 1, 1, 1, 0)
    assert (r.inapp, r.read) == (3, 1)
    assert (r.recorded_7, r.recorded_30) == (1, 2) and r.pct(r.recorded_30) == "66.7%"
    assert session.scalar(select(func.count()).select_from(Activity)) >= 4


def test_pages_and_api_send_once_and_outsiders_get_404(client, session, w):
    csrf = f.login_as(client, session, w.staff)
    page = client.get(f"/boards/530102/reminders/new?period={w.period.key}&segment=idle")
    assert page.status_code == 200 and "已撤回委员您好" in page.text and 'data-confirm="' in page.text
    form = {"csrf_token": csrf, "submission_key": "page-key", "period": w.period.key, "segment": "idle",
            "message": "请记录活动", "sms": "1"}
    first = client.post("/boards/530102/reminders", data=form, follow_redirects=False)
    assert first.status_code == 303
    retried = client.post("/boards/530102/reminders", data=form, follow_redirects=False)
    assert retried.headers["location"] == first.headers["location"]
    cid = int(first.headers["location"].rsplit("/", 1)[1])
    shown = client.get(f"/reminders/{cid}")
    assert shown.status_code == 200 and "请记录活动" in shown.text and "等待发送" in shown.text
    assert "已激活但本期无活动" in client.get("/boards/530102/reminders").text
    api = client.post("/api/v1/orgs/530102/campaigns/preview",
                      json={"period": w.period.key, "segment": "never_activated", "message": "请登录"})
    assert api.status_code == 200 and api.json()["recipients"] == 2 and api.json()["sms"] == 2
    made = client.post("/api/v1/orgs/530102/campaigns", headers={"Idempotency-Key": "api-1"},
                       json={"period": w.period.key, "segment": "never_activated", "message": "请登录"})
    assert made.status_code == 201 and made.json()["recipients"] == 2
    replay = client.post("/api/v1/orgs/530102/campaigns", headers={"Idempotency-Key": "api-1"},
                         json={"period": w.period.key, "segment": "never_activated", "message": "请登录"})
    assert replay.status_code == 200 and replay.json()["id"] == made.json()["id"]
    assert client.get("/api/v1/orgs/530102/campaigns").json()["total"] == 2
    assert client.get(f"/api/v1/campaigns/{cid}").json()["waiting"] == 3

    client.cookies.clear()
    f.login_as(client, session, f.persona(session, "outsider_staff"))
    assert client.get(f"/reminders/{cid}").status_code == 404
    assert client.get(f"/api/v1/campaigns/{cid}").status_code == 404
    assert client.get("/boards/530102/reminders/new?segment=idle").status_code == 404
    assert client.post("/api/v1/orgs/530102/campaigns/preview", json={"segment": "idle"}).status_code == 404


def test_a_failing_send_leaves_neither_the_campaign_nor_its_notices(session, w, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("audit store down")

    monkeypatch.setattr(campaigns, "audit", broken)
    with pytest.raises(RuntimeError):
        campaigns.send(session, by=w.by, draft=draft(w), submission_key="k")
    session.rollback()
    assert session.scalar(select(func.count()).select_from(ReminderCampaign)) == 0
    assert session.scalar(select(func.count()).select_from(Notification)) == 0
