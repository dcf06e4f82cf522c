"""The inactive list split by what to do: each member in exactly one group, the page's tabs and the workbook."""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO

import pytest
from openpyxl import load_workbook

from app.boards import periods
from app.boards import service as boards
from app.clock import now_utc
from app.models import ActivityStatus, Notification
from tests import factories as f

pytestmark = pytest.mark.dates


class Small:
    """五华区 with one member of each kind; ``by_name`` maps a label to the member."""

    def __init__(self, session):
        self.s = session
        self.wuhua = f.org(session, "530102")
        self.task = f.task(session, 1)
        self.indicator = f.indicators(session, self.task)[0]
        self.day = f.months_ago(1)
        self.period = periods.parse(f.month_key(self.day))
        self.by_name = {}
        self.add("无账号", account=None)
        self.add("未登录", account="never")
        self.add("有退回", statuses=(ActivityStatus.returned,))
        self.add("退回且待审", statuses=(ActivityStatus.returned, ActivityStatus.pending))
        self.add("待审核", statuses=(ActivityStatus.pending,))
        self.add("已撤回", statuses=(ActivityStatus.withdrawn,))  # withdrawn: nothing to do but record
        self.add("无活动")
        self.add("已参与", statuses=(ActivityStatus.verified,))
        self.add("上月退回", statuses=(ActivityStatus.returned,), on=f.months_ago(2))  # outside the period
        named = self.add("被列为参与者")
        self.activity(self.by_name["待审核"], ActivityStatus.pending, participants=(named,))

    def add(self, name, *, account="activated", statuses=(), on=None):
        member = f.make_member(self.s, self.wuhua, name=name)
        self.by_name[name] = member
        if account:
            user = f.make_user(self.s, member=member)
            if account == "activated":
                user.last_login_at = now_utc() - timedelta(days=3)
                self.s.flush()
            for status in statuses:
                self.activity(member, status, on=on)
        return member

    def activity(self, member, status, *, participants=(), on=None):
        from sqlalchemy import select

        from app.models import UserAccount

        user = self.s.scalar(select(UserAccount).where(UserAccount.member_id == member.id))
        returned = status == ActivityStatus.returned
        activity = f.make_activity(self.s, recorder=user, credited=self.wuhua, county=self.wuhua, task_=self.task,
                                   values={self.indicator.id: 1}, occurred_on=on or self.day,
                                   status=ActivityStatus.pending if returned else status,
                                   participants=(member, *participants))
        if returned:  # (the figures are not what these tests are about)
            activity.status, activity.status_reason = status, "照片看不清"
            self.s.flush()
        return activity


EXPECTED = {"无账号": "never_activated", "未登录": "never_activated", "有退回": "returned",
            "退回且待审": "returned", "待审核": "pending", "被列为参与者": "pending", "已撤回": "idle",
            "无活动": "idle", "上月退回": "idle"}


def test_each_inactive_member_lands_in_one_group_and_the_groups_add_up(session):
    w = Small(session)
    rows, total = boards.inactive_members(session, w.wuhua, w.period)
    mine = {r.name: r.segment for r in rows if r.name in w.by_name}
    assert mine == EXPECTED  # 已参与 (verified) is not inactive at all
    assert len({r.member_id for r in rows}) == len(rows) == total
    counts = boards.inactive_counts(session, w.wuhua, w.period)
    assert sum(counts.values()) == total
    for segment in boards.SEGMENTS:
        some, n = boards.inactive_members(session, w.wuhua, w.period, segment=segment)
        assert n == counts[segment] == len(some) and {r.segment for r in some} <= {segment}
    page, n = boards.inactive_members(session, w.wuhua, w.period, limit=3, offset=3)
    assert n == total and [r.member_id for r in page] == [r.member_id for r in rows[3:6]]


def test_last_sign_in_and_last_contact(session):
    w = Small(session)
    member = w.by_name["无活动"]
    older, newer = now_utc() - timedelta(days=2), now_utc() - timedelta(hours=1)
    for channel, at, status in (("sms", older, "sent"), ("inapp", newer, "sent"), ("sms", now_utc(), "failed")):
        session.add(Notification(channel=channel, kind="reminder", recipient=f"{channel}:{at}", event_key="t",
                                 member_id=member.id, template="reminder", body="x", status=status,
                                 sent_at=at if status == "sent" else None))
    session.flush()
    rows, _ = boards.inactive_members(session, w.wuhua, w.period, segment="idle")
    row = next(r for r in rows if r.member_id == member.id)
    assert row.last_contact_channel == "inapp" and abs(row.last_contact_at - newer) < timedelta(seconds=1)
    assert row.last_login_at is not None
    never = next(r for r in boards.inactive_members(session, w.wuhua, w.period, segment="never_activated")[0]
                 if r.name == "无账号")
    assert never.last_login_at is None and never.last_contact_at is None


def test_the_page_has_a_tab_per_group_and_the_workbook_the_new_columns(client, session):
    w = Small(session)
    f.login_as(client, session, f.persona(session, "county_staff"))
    counts = boards.inactive_counts(session, w.wuhua, w.period)
    page = client.get(f"/boards/530102/inactive?period={w.period.key}&segment=returned")
    assert page.status_code == 200
    for label in boards.SEGMENT_LABELS.values():
        assert label in page.text
    assert ">有退回<" in page.text and ">无活动<" not in page.text  # only the group's members
    assert f"给这 {counts['returned']:,} 名委员发提醒" in page.text
    empty = client.get(f"/boards/530102/inactive?period={w.period.key}&segment=pending&page=99")
    assert empty.status_code == 200
    sheet = client.get(f"/boards/530102/inactive.xlsx?period={w.period.key}")
    ws = load_workbook(BytesIO(sheet.content)).active
    header = [c.value for c in ws[2]]
    assert header[6:] == ["分组", "最近登录", "最近联系", "联系方式"]
    rows = list(ws.iter_rows(min_row=3, values_only=True))
    assert len(rows) == sum(counts.values())
    by_name = {r[1]: r for r in rows}
    assert by_name["无账号"][6] == "从未激活" and by_name["无账号"][7] == "从未登录"
    assert by_name["待审核"][6] == "已记录待审核" and by_name["无活动"][8] == "未联系过"
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)
    assert client.get("/boards/530102/inactive?segment=nonsense").status_code == 422
