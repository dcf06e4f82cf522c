"""站内消息: the bell, the list, marking read, settings — and nobody reads another's messages."""

from __future__ import annotations

from sqlalchemy import select

from app.models import Notification, UserAccount, WecomRobot
from app.notify import service
from tests import factories as f


def _message(session, user: UserAccount, n: int, link: str | None = "/activities/mine") -> None:
    service.notify(session, kind="activity_returned", event_key=f"inbox:{n}", template="activity_returned",
                   params={"date": "3月5日", "task": "产业助推", "reason": f"第{n}条理由<b>"},
                   to=service.Recipient(user_id=user.id, member_id=user.member_id), channels=("inapp",), link=link)
    session.flush()


def _ids(session, user) -> list[int]:
    return list(session.scalars(select(Notification.id).where(Notification.user_id == user.id,
                                                              Notification.channel == "inapp").order_by(Notification.id)))


def test_bell_list_and_marking_read(client, session) -> None:
    member = f.persona(session, "member")
    _message(session, member, 1)
    _message(session, member, 2, link=None)
    f.login_as(client, session, member)
    page = client.get("/messages/bell")
    assert page.status_code == 200 and 'data-unread="2"' in page.text
    assert page.headers["cache-control"] == "no-store"
    home = client.get("/messages")
    assert 'hx-get="/messages/bell"' in home.text  # the bell on every signed-in page
    text = home.text
    assert text.index("第2条理由") < text.index("第1条理由")  # newest first
    assert "第1条理由&lt;b&gt;" in text and text.count("未读</span>") == 2

    first, second = _ids(session, member)
    opened = client.post(f"/messages/{first}/open", follow_redirects=False)
    assert (opened.status_code, opened.headers["location"]) == (303, "/activities/mine")
    assert 'data-unread="1"' in client.get("/messages/bell").text
    assert client.post(f"/messages/{second}/open", follow_redirects=False).headers["location"] == "/messages"

    _message(session, member, 3)
    assert client.post("/messages/read-all", follow_redirects=False).status_code == 303
    assert "data-unread" not in client.get("/messages/bell").text
    assert client.get("/api/v1/messages").json()["unread"] == 0


def test_only_own_messages(client, session) -> None:
    member, other = f.persona(session, "member"), f.persona(session, "outsider_member")
    _message(session, member, 1)
    [mine] = _ids(session, member)
    f.login_as(client, session, other)
    assert "暂无消息" in client.get("/messages").text
    body = client.get("/api/v1/messages").json()
    assert (body["items"], body["total"], body["unread"]) == ([], 0, 0)
    assert client.post(f"/api/v1/messages/{mine}/read").status_code == 404
    assert client.post(f"/messages/{mine}/open", follow_redirects=False).status_code == 404
    assert client.post("/api/v1/messages/read-all").json() == {"unread": 0, "marked": 0}
    session.expire_all()
    assert session.get(Notification, mine).read_at is None

    client.cookies.clear()
    f.login_as(client, session, member)
    body = client.get("/api/v1/messages").json()
    assert [m["id"] for m in body["items"]] == [mine] and body["unread"] == 1 and not body["items"][0]["read"]
    assert client.post(f"/api/v1/messages/{mine}/read").json() == {"unread": 0, "marked": 1}


def test_reminder_setting(client, session) -> None:
    member = f.persona(session, "member")
    f.login_as(client, session, member)
    assert "不接收提醒（活动退回等与本人有关的通知仍会发送）" in client.get("/messages").text
    client.post("/messages/settings", data={"reminders_opt_out": "true"})
    session.refresh(member)
    assert member.reminders_opt_out is True
    client.post("/messages/settings", data={})
    session.refresh(member)
    assert member.reminders_opt_out is False


def test_robots_page(client, session) -> None:
    staff, outsider = f.persona(session, "county_staff"), f.persona(session, "outsider_staff")
    wuhua = f.org(session, "530102")
    f.login_as(client, session, staff)
    bad = client.post("/robots", data={"name": "办公室群", "org_id": str(wuhua.id), "webhook_url": "http://evil.example/x"})
    assert bad.status_code == 422 and "Webhook 地址" in bad.text
    key = "0123456789abcdef-secret"
    added = client.post("/robots", data={"name": "办公室群", "org_id": str(wuhua.id),
                                         "webhook_url": f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={key}"},
                        follow_redirects=False)
    assert added.status_code == 303
    page = client.get("/robots").text
    row = '<td data-label="名称">办公室群</td>'
    assert row in page and "0123…cret" in page and key not in page
    robot = session.scalars(select(WecomRobot).where(WecomRobot.org_id == wuhua.id)).one()

    client.cookies.clear()
    f.login_as(client, session, outsider)
    assert row not in client.get("/robots").text
    assert client.post(f"/robots/{robot.id}/disable", data={"confirmed": "1"}).status_code == 404
    session.refresh(robot)
    assert robot.is_active
