"""The office's pages: the review queue, participant requests and closed months — page vs fragment,
post/redirect/get without JavaScript, Chinese texts, and every route for each kind of caller."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from app.activities import service as svc
from app.models import Activity, ActivityParticipant, ActivityStatus, ClosedMonth, Member, ParticipantStatus
from tests import factories as f
from tests.activities.conftest import YEAR
from tests.activities.conftest import as_user as _as
from tests.activities.conftest import recorded as _recorded

pytestmark = pytest.mark.dates

HX = {"HX-Request": "true"}




def _status(world, activity: Activity) -> str:
    world.session.expire_all()
    return world.session.get(Activity, activity.id).status


# --- the queue -----------------------------------------------------------------------------------------

def test_queue_lists_pending_activities_of_the_subtree(client, world):
    a = _recorded(world, participant_member_ids=[world.colleague.id])
    _as(client, world, world.county_staff)
    r = client.get("/review")
    assert r.status_code == 200 and "<html" in r.text and "活动审核" in r.text
    assert f'id="activity-{a.id}"' in r.text and "在五华区开展义诊活动" in r.text
    assert "同事委员" in r.text and "待审核" in r.text and "批量通过所选" in r.text
    assert 'data-label="指标数值"' in r.text and 'name="reason"' in r.text
    assert 'href="/activities/new?on_behalf=1"' in r.text  # 代录 is the member form's job
    assert world.member_user.login not in r.text


def test_filtering_with_htmx_answers_only_the_list(client, world):
    a = _recorded(world, occurred_on=date(YEAR, 11, 2))
    b = _recorded(world, key="k2", occurred_on=date(YEAR, 11, 12), county_id=world.panlong.id, description="盘龙区义诊")
    _as(client, world, world.county_staff)
    r = client.get("/review", params={"county_id": world.panlong.id}, headers=HX)
    assert r.status_code == 200 and "<html" not in r.text
    assert r.text.lstrip().startswith('<div id="review-queue">')
    assert f'id="activity-{b.id}"' in r.text and f'id="activity-{a.id}"' not in r.text
    window = client.get("/review", params={"date_from": f"{YEAR}-11-01", "date_to": f"{YEAR}-11-05"})
    assert f'id="activity-{a.id}"' in window.text and f'id="activity-{b.id}"' not in window.text
    nobody = client.get("/review", params={"member": "查无此人"})
    assert "没有待审核的活动" in nobody.text and "清除筛选条件" in nobody.text
    svc.verify(world.session, by=world.p(world.county_staff), activity_id=a.id)
    verified = client.get("/review", params={"status": "verified"})
    assert f'id="activity-{a.id}"' in verified.text and "重新打开" in verified.text
    assert f'id="activity-{a.id}"' not in client.get("/review").text
    assert f'id="activity-{a.id}"' in client.get("/review", params={"status": "all", "task_id": world.task.id}).text
    # Empty fields from a plain form are accepted; nonsense is a 422.
    assert client.get("/review?status=pending&county_id=&task_id=&member=&date_from=&date_to=").status_code == 200
    assert client.get("/review", params={"status": "lost"}).status_code == 422


def test_the_queue_pages(client, world):
    task_ = world.task
    values = {world.count_ind.id: 1}
    made = [f.make_activity(world.session, recorder=world.member_user, credited=world.wuhua, county=world.wuhua,
                            task_=task_, values=values, occurred_on=date(YEAR, 10, 1 + n % 28)) for n in range(51)]
    _as(client, world, world.county_staff)
    first = client.get("/review")
    assert "共 51 条，第 1 / 2 页" in first.text and "下一页" in first.text and "上一页" not in first.text
    second = client.get("/review", params={"page": 2}, headers=HX)
    assert "第 2 / 2 页" in second.text and "上一页" in second.text and second.text.count('class="review-row"') == 1
    assert all(f'id="activity-{a.id}"' in first.text + second.text for a in made)


def test_verify_with_htmx_answers_the_row_in_place(client, world):
    a = _recorded(world)
    _as(client, world, world.county_staff)
    r = client.post(f"/review/{a.id}/verify", data={"back": "status=pending"}, headers=HX)
    assert r.status_code == 200 and "<html" not in r.text
    assert r.text.lstrip().startswith(f'<tr id="activity-{a.id}"') and "已通过" in r.text
    assert "重新打开" in r.text and "已审核通过" in r.text
    assert _status(world, a) == ActivityStatus.verified


def test_verify_without_javascript_redirects_back_to_the_filtered_queue(client, world):
    a = _recorded(world)
    _as(client, world, world.county_staff)
    back = f"status=pending&county_id={world.wuhua.id}&page=1"
    r = client.post(f"/review/{a.id}/verify", data={"back": back}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == f"/review?county_id={world.wuhua.id}&done=verified"
    assert "已审核通过" in client.get(r.headers["location"]).text
    # A hostile "back" cannot send the browser elsewhere.
    b = _recorded(world, key="k2", description="另一次义诊", occurred_on=date(YEAR, 11, 10))
    r = client.post(f"/review/{b.id}/verify", data={"back": "//evil.example/?x=1"}, follow_redirects=False)
    assert r.headers["location"] == "/review?done=verified"


def test_return_needs_a_reason_shown_beside_the_row(client, world):
    a = _recorded(world)
    _as(client, world, world.county_staff)
    empty = client.post(f"/review/{a.id}/return", data={"reason": "  "}, headers=HX)
    assert empty.status_code == 422 and empty.text.lstrip().startswith(f'<tr id="activity-{a.id}"')
    assert "请填写退回理由" in empty.text and "<details class=\"reason-box\" open>" in empty.text
    plain = client.post(f"/review/{a.id}/return", data={"reason": ""})
    assert plain.status_code == 422 and "<html" in plain.text and "请填写退回理由" in plain.text
    assert _status(world, a) == ActivityStatus.pending
    done = client.post(f"/review/{a.id}/return", data={"reason": "请补充照片"}, follow_redirects=False)
    assert done.status_code == 303 and "done=returned" in done.headers["location"]
    world.session.expire_all()
    row = world.session.get(Activity, a.id)
    assert (row.status, row.status_reason) == (ActivityStatus.returned, "请补充照片")


def test_reopen_a_verified_activity_with_a_reason(client, world):
    a = _recorded(world)
    svc.verify(world.session, by=world.p(world.county_staff), activity_id=a.id)
    _as(client, world, world.prefecture_staff)  # an ancestor's office
    assert client.post(f"/review/{a.id}/reopen", data={"reason": ""}, headers=HX).status_code == 422
    r = client.post(f"/review/{a.id}/reopen", data={"reason": "数据有误，需要核实"}, headers=HX)
    assert r.status_code == 200 and "待审核" in r.text and "数据有误，需要核实" in r.text
    assert _status(world, a) == ActivityStatus.pending
    # A second reopen is a bad transition: the toast says why (HTMX does not swap 409s).
    again = client.post(f"/review/{a.id}/reopen", data={"reason": "再来一次"}, headers=HX)
    assert again.status_code == 409 and 'class="toast toast-error"' in again.text and "不能重新打开" in again.text


def test_bulk_verify_asks_first_without_javascript_then_verifies_the_pending_ones(client, world):
    s = world.session
    mine = [_recorded(world, key=f"b{n}", description=f"活动{n}号", occurred_on=date(YEAR, 11, 4 + 3 * n))
            for n in range(3)]
    svc.withdraw(s, by=world.p(world.member_user), activity_id=mine[2].id)
    ids = [str(a.id) for a in mine]
    _as(client, world, world.county_staff)
    ask = client.post("/review/bulk-verify", data={"activity_ids": ids, "back": "status=pending"})
    assert ask.status_code == 200 and "确认批量通过" in ask.text and 'name="confirmed" value="1"' in ask.text
    assert _status(world, mine[0]) == ActivityStatus.pending
    done = client.post("/review/bulk-verify", data={"activity_ids": ids, "confirmed": "1", "back": "status=pending"},
                       follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/review?done=bulk&n=2&skipped=1"
    page = client.get(done.headers["location"])
    assert "已批量审核通过 2 条" in page.text and "另有 1 条" in page.text
    assert [_status(world, a) for a in mine] == ["verified", "verified", "withdrawn"]
    nothing = client.post("/review/bulk-verify", data={"confirmed": "1"}, headers=HX)
    assert nothing.status_code == 422 and "请先勾选" in nothing.text


def test_bulk_verify_with_htmx_answers_the_list(client, world):
    a = _recorded(world, key="x1")
    b = _recorded(world, key="x2", description="第二次义诊", occurred_on=date(YEAR, 11, 10))
    _as(client, world, world.county_staff)
    r = client.post("/review/bulk-verify", data={"activity_ids": [a.id, b.id], "confirmed": "1"}, headers=HX)
    assert r.status_code == 200 and r.text.lstrip().startswith('<div id="review-queue">')
    assert "已批量审核通过 2 条" in r.text and "没有待审核的活动" in r.text


def test_outsider_office_bulk_verifies_nothing(client, world):
    a = _recorded(world)
    _as(client, world, world.outsider_staff)
    r = client.post("/review/bulk-verify", data={"activity_ids": [a.id], "confirmed": "1"}, follow_redirects=False)
    assert r.headers["location"] == "/review?done=bulk&n=0&skipped=1"
    assert _status(world, a) == ActivityStatus.pending


# --- who may do what -----------------------------------------------------------------------------------

PAGES = ["/review", "/review/requests", "/review/months"]


@pytest.mark.parametrize("path", PAGES)
def test_pages_need_a_login(client, world, path):
    r = client.get(path, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/login?next={path}"


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("who", ["member_user", "outsider_member_user", "viewer"])
def test_pages_are_for_the_office_only(client, world, path, who):
    user = f.persona(world.session, "viewer") if who == "viewer" else getattr(world, who)
    _as(client, world, user)
    r = client.get(path)
    assert r.status_code == 403 and "只有「双助推」办公室工作人员" in r.text


def test_outsider_office_sees_an_empty_queue(client, world):
    a = _recorded(world)
    _as(client, world, world.outsider_staff)
    r = client.get("/review", params={"status": "all"})
    assert r.status_code == 200 and f'id="activity-{a.id}"' not in r.text and "共 0 条" in r.text
    _as(client, world, world.prefecture_staff)
    assert f'id="activity-{a.id}"' in client.get("/review").text


def _post_action(client, activity_id: int, action: str):
    if action == "bulk":
        return client.post("/review/bulk-verify", data={"activity_ids": [activity_id], "confirmed": "1"},
                           follow_redirects=False)
    data = {} if action == "verify" else {"reason": "理由"}
    return client.post(f"/review/{activity_id}/{action}", data=data, follow_redirects=False)


@pytest.mark.parametrize("action", ["verify", "return", "reopen"])
@pytest.mark.parametrize(("who", "expected"), [
    ("county_staff", 303), ("prefecture_staff", 303),
    ("member_user", 403), ("outsider_member_user", 403), ("viewer", 403),  # not the office: refused outright
    ("panlong_staff", 403),  # an office that reads it (by place) but does not verify it
    ("outsider_staff", 404),  # an office that cannot even see it
])
def test_every_row_action_for_every_caller(client, world, action, who, expected):
    a = _recorded(world, county_id=world.panlong.id)
    if action == "reopen":
        svc.verify(world.session, by=world.p(world.county_staff), activity_id=a.id)
    before = _status(world, a)
    user = f.persona(world.session, "viewer") if who == "viewer" else getattr(world, who)
    _as(client, world, user)
    r = _post_action(client, a.id, action)
    assert r.status_code == expected, r.text
    if expected != 303:
        assert _status(world, a) == before
        assert "<html" in r.text  # a plain request gets the error page


def test_row_actions_need_the_csrf_token(client, world):
    a = _recorded(world)
    _as(client, world, world.county_staff)
    client.headers.pop("X-CSRF-Token")
    r = client.post(f"/review/{a.id}/verify", data={})
    assert r.status_code == 403 and "页面已过期" in r.text
    ok = client.post(f"/review/{a.id}/verify", data={"csrf_token": _csrf(world)}, follow_redirects=False)
    assert ok.status_code == 303  # the hidden field of a plain form carries it too


def _csrf(world) -> str:
    from app.models import UserSession

    return world.session.scalar(select(UserSession.csrf_token).where(UserSession.user_id == world.county_staff.id))


# --- participant requests ----------------------------------------------------------------------------------

def _requested(world) -> tuple[Activity, int]:
    a = _recorded(world)
    # A 盘龙区 member was there too: not one the recorder could have named, so it waits as a request
    # (a 五华区 colleague would join at once).
    neighbour = f.make_member(world.session, world.panlong, name="邻县委员")
    user = f.make_user(world.session, member=neighbour, grants=((f.GrantRole.member, world.panlong),))
    svc.request_to_join(world.session, by=world.p(user), activity_id=a.id)
    return a, neighbour.id


def test_requests_are_listed_and_confirmed(client, world):
    a, member_id = _requested(world)
    _as(client, world, world.county_staff)
    page = client.get("/review/requests")
    assert page.status_code == 200 and "参与申请" in page.text and "邻县委员" in page.text
    assert f"/review/requests/{a.id}/{member_id}/confirm" in page.text
    assert world.session.get(Member, member_id).phone not in page.text
    r = client.post(f"/review/requests/{a.id}/{member_id}/confirm", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/review/requests?done=confirmed"
    assert "已确认参与申请" in client.get(r.headers["location"]).text
    world.session.expire_all()
    assert world.session.get(ActivityParticipant, (a.id, member_id)).status == ParticipantStatus.confirmed
    assert client.post(f"/review/requests/{a.id}/{member_id}/confirm").status_code == 409  # nothing left to decide


def test_requests_refused_with_htmx_answers_the_list(client, world):
    a, member_id = _requested(world)
    _as(client, world, world.prefecture_staff)
    r = client.post(f"/review/requests/{a.id}/{member_id}/refuse", headers=HX)
    assert r.status_code == 200 and r.text.lstrip().startswith('<div id="review-requests">')
    assert "已拒绝参与申请" in r.text and "没有待确认的参与申请" in r.text
    world.session.expire_all()
    assert world.session.get(ActivityParticipant, (a.id, member_id)) is None


@pytest.mark.parametrize(("who", "expected"), [
    ("outsider_staff", 404), ("panlong_staff", 404), ("member_user", 403), ("viewer", 403)])
def test_requests_are_decided_only_by_the_verifying_office(client, world, who, expected):
    a, member_id = _requested(world)
    user = f.persona(world.session, "viewer") if who == "viewer" else getattr(world, who)
    _as(client, world, user)
    if who.endswith("staff"):
        assert "邻县委员" not in client.get("/review/requests").text
    r = client.post(f"/review/requests/{a.id}/{member_id}/confirm", follow_redirects=False)
    # 盘龙区's office cannot read an activity done in 五华区 at all: 404 like any outsider.
    assert r.status_code == expected
    assert client.post(f"/review/requests/{a.id}/{member_id}/maybe").status_code in (403, 422)


# --- closed months ----------------------------------------------------------------------------------------

def test_months_page_offers_the_offices_subtree(client, world):
    _as(client, world, world.prefecture_staff)
    r = client.get("/review/months")
    assert r.status_code == 200 and "月份关账" in r.text and 'type="month"' in r.text
    assert "昆明市政协" in r.text and "五华区政协" in r.text
    assert "曲靖市政协" not in r.text and "云南省政协" not in r.text
    assert "还没有关账的月份" in r.text


def test_close_and_reopen_a_month_without_javascript(client, world):
    _as(client, world, world.county_staff)
    r = client.post("/review/months/close", data={"org_id": world.wuhua.id, "month": f"{YEAR}-09"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/review/months?done=closed"
    page = client.get(r.headers["location"])
    assert "已关账" in page.text and f"{YEAR}年9月" in page.text and "五华区政协" in page.text
    assert svc.is_month_closed(world.session, world.wuhua.id, YEAR * 100 + 9)
    twice = client.post("/review/months/close", data={"org_id": world.wuhua.id, "month": f"{YEAR}-09"})
    assert twice.status_code == 409 and "该月份已经关账" in twice.text and "<html" in twice.text
    ask = client.post("/review/months/reopen", data={"org_id": world.wuhua.id, "month": YEAR * 100 + 9})
    assert ask.status_code == 200 and "确认重新打开" in ask.text and 'name="confirmed" value="1"' in ask.text
    assert svc.is_month_closed(world.session, world.wuhua.id, YEAR * 100 + 9)
    done = client.post("/review/months/reopen", data={"org_id": world.wuhua.id, "month": YEAR * 100 + 9, "confirmed": "1"},
                       follow_redirects=False)
    assert done.headers["location"] == "/review/months?done=month_reopened"
    assert not svc.is_month_closed(world.session, world.wuhua.id, YEAR * 100 + 9)


def test_close_a_month_with_htmx_answers_the_block(client, world):
    _as(client, world, world.county_staff)
    r = client.post("/review/months/close", data={"org_id": world.wuhua.id, "month": f"{YEAR}-10"}, headers=HX)
    assert r.status_code == 200 and r.text.lstrip().startswith('<div id="review-months">')
    assert f"{YEAR}年10月" in r.text and "hx-confirm" in r.text
    again = client.post("/review/months/close", data={"org_id": world.wuhua.id, "month": f"{YEAR}-10"}, headers=HX)
    assert again.status_code == 409 and 'class="toast toast-error"' in again.text
    bad = client.post("/review/months/close", data={"org_id": world.wuhua.id, "month": "九月"}, headers=HX)
    assert bad.status_code == 422 and "请选择要关账的月份" in bad.text
    future = client.post("/review/months/close", data={"org_id": world.wuhua.id, "month": "2099-01"})
    assert future.status_code == 422 and "只能关闭已经开始的月份" in future.text
    reopened = client.post("/review/months/reopen", data={"org_id": world.wuhua.id, "month": YEAR * 100 + 10, "confirmed": "1"},
                           headers=HX)
    assert reopened.status_code == 200 and "已重新打开该月" in reopened.text


@pytest.mark.parametrize(("who", "org", "expected"), [
    ("outsider_staff", "wuhua", 404), ("county_staff", "kunming", 404),  # outside, or above, the office
    ("prefecture_staff", "wuhua", 303), ("member_user", "wuhua", 403), ("viewer", "wuhua", 403),
])
def test_months_are_closed_only_inside_the_office(client, world, who, org, expected):
    user = f.persona(world.session, "viewer") if who == "viewer" else getattr(world, who)
    _as(client, world, user)
    target = getattr(world, org)
    r = client.post("/review/months/close", data={"org_id": target.id, "month": f"{YEAR}-08"}, follow_redirects=False)
    assert r.status_code == expected
    closed = world.session.scalar(select(ClosedMonth).where(ClosedMonth.org_id == target.id))
    assert (closed is not None) == (expected == 303)


def test_reopening_a_month_outside_the_office_is_404(client, world):
    world.session.add(ClosedMonth(org_id=world.kunming.id, month=YEAR * 100 + 7))
    world.session.flush()
    for user, expected in ((world.county_staff, 404), (world.outsider_staff, 404), (world.member_user, 403)):
        _as(client, world, user)
        r = client.post("/review/months/reopen", data={"org_id": world.kunming.id, "month": YEAR * 100 + 7, "confirmed": "1"})
        assert r.status_code == expected
    assert svc.is_month_closed(world.session, world.kunming.id, YEAR * 100 + 7)
