"""积压 and 报送 on the office's pages and the boards: the /review panel and its service-level form,
the 报送 table on the close-month page with the office's own confirmation, and the board's backlog
fragment — for signed-in readers only, never on the meeting view nor inside the cached board."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.clock import now_utc, yyyymm
from app.models import Organisation
from app.models.quality import ReportConfirmation
from app.quality import backlog as bl
from tests import factories as f
from tests.quality.test_backlog import World

pytestmark = pytest.mark.dates

HX = {"HX-Request": "true"}


@pytest.fixture
def w(session) -> World:
    return World(session)


def _as(client, w: World, user) -> None:
    client.cookies.clear()
    f.login_as(client, w.session, user)


def _late(w: World, credited: Organisation, days: int):
    return w.activity(credited, submitted=now_utc() - timedelta(days=days))


# --- /review -------------------------------------------------------------------------------------

def test_review_shows_the_backlog_panel_on_the_page_not_in_the_list_fragment(client, w):
    _late(w, w.wuhua, 10)
    _late(w, w.wuhua, 1)
    _late(w, w.panlong, 2)
    _as(client, w, w.prefecture_staff)
    page = client.get("/review")
    assert page.status_code == 200 and 'id="backlog-530100"' in page.text
    assert "昆明市政协待审核积压" in page.text or "待审核积压" in page.text
    assert "超期 1" in page.text and "服务时限 7 天" in page.text and "最久 <span class=\"num\">10</span> 天" in page.text
    assert 'action="/review/sla"' in page.text and " open" in page.text.split('id="backlog-530100"')[0][-40:]
    fragment = client.get("/review", headers=HX)
    assert fragment.status_code == 200 and "backlog-530100" not in fragment.text


def test_the_office_sets_its_service_level_from_the_review_page(client, w):
    _late(w, w.wuhua, 4)
    _as(client, w, w.county_staff)
    r = client.post("/review/sla", data={"org_id": w.wuhua.id, "days": "3"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/review?done=sla"
    w.session.expire_all()
    assert w.session.get(Organisation, w.wuhua.id).review_sla_days == 3
    page = client.get("/review?done=sla")
    assert "已保存服务时限" in page.text and "超期 1" in page.text and "服务时限 3 天" in page.text
    bad = client.post("/review/sla", data={"org_id": w.wuhua.id, "days": "120"})
    assert bad.status_code == 422 and "服务时限应为 1–90 天" in bad.text and "<html" in bad.text
    _as(client, w, w.prefecture_staff)  # an office above does not set the county's
    assert client.post("/review/sla", data={"org_id": w.wuhua.id, "days": "5"}).status_code == 403
    _as(client, w, w.outsider_staff)
    assert client.post("/review/sla", data={"org_id": w.wuhua.id, "days": "5"}).status_code == 404
    w.session.expire_all()
    assert w.session.get(Organisation, w.wuhua.id).review_sla_days == 3


# --- the close-month page: 报送 ----------------------------------------------------------------------

def test_months_page_shows_each_childs_reporting_and_the_office_confirms_its_own(client, w):
    day = f.months_ago(1, 10)
    key, text = yyyymm(day), f.month_key(day)
    w.activity(w.wuhua, occurred_on=day)
    w.activity(w.panlong, occurred_on=day)
    _as(client, w, w.county_staff)
    own = client.get("/review/months", params={"month": text})
    assert own.status_code == 200 and "五华区政协本级" not in own.text
    assert f"确认{day.year}年{day.month}月报送完成" in own.text
    r = client.post("/review/months/report", data={"org_id": w.wuhua.id, "month": key, "confirm": "1"},
                    follow_redirects=False)
    assert r.status_code == 303 and "done=reported" in r.headers["location"]
    assert w.session.get(ReportConfirmation, (w.wuhua.id, key)) is not None
    again = client.get(r.headers["location"])
    assert "已确认报送完成" in again.text and "撤销报送完成的确认" in again.text

    _as(client, w, w.prefecture_staff)
    page = client.get("/review/months", params={"org_id": w.kunming.id, "month": text})
    rows = bl.reporting_status(w.session, w.p(w.prefecture_staff), w.kunming.id, [key])
    children = len(rows) - 1
    assert f"报送率 <b class=\"num\">1 / {children}</b>" in page.text
    assert "报送情况" in page.text and "已确认" in page.text and "未确认" in page.text
    assert page.text.index("报送情况") < page.text.index('action="/review/months/close"')  # before closing
    fragment = client.get("/review/months", params={"org_id": w.kunming.id, "month": text, "period": "quarter"},
                          headers=HX)
    assert fragment.status_code == 200 and "<html" not in fragment.text and "季度报送情况" in fragment.text
    # 昆明's office cannot confirm for 五华.
    refused = client.post("/review/months/report", data={"org_id": w.wuhua.id, "month": key, "confirm": "0"})
    assert refused.status_code == 403
    assert w.session.get(ReportConfirmation, (w.wuhua.id, key)) is not None
    future = client.post("/review/months/report",
                         data={"org_id": w.kunming.id, "month": yyyymm(f.months_ago(-1)), "confirm": "1"})
    assert future.status_code == 422 and "只能确认已经开始的月份" in future.text


# --- boards ------------------------------------------------------------------------------------------

def test_the_board_loads_its_backlog_apart_from_the_cached_block(client, w):
    _late(w, w.wuhua, 9)
    _as(client, w, w.viewer)
    board = client.get("/boards/530100")
    assert board.status_code == 200 and 'hx-get="/boards/530100/backlog"' in board.text
    block = client.get("/boards/530100", headers=HX)
    assert block.status_code == 200 and "backlog" not in block.text and "待审核积压" not in block.text
    frag = client.get("/boards/530100/backlog", headers=HX)
    assert frag.status_code == 200 and "<html" not in frag.text and 'id="board-backlog"' in frag.text
    assert "超期 1" in frag.text and "最久已等 <b class=\"num\">9</b> 天" in frag.text
    assert frag.headers["cache-control"] == "private, no-cache" and "去审核" not in frag.text
    assert "<html" in client.get("/boards/530100/backlog").text  # without JavaScript: a page
    _as(client, w, w.outsider_staff)
    assert client.get("/boards/530100/backlog", headers=HX).status_code == 404
    client.cookies.clear()
    assert client.get("/boards/530100/backlog", headers=HX).status_code in (401, 303)


def test_the_meeting_view_never_shows_the_backlog(client, w):
    from app.screens.service import create_screen

    _late(w, w.wuhua, 9)
    _, token = create_screen(w.session, w.p(w.prefecture_staff), name="会议室", org_id=w.kunming.id)
    client.cookies.clear()
    slide = client.get(f"/d/{token}/slide/530100")
    assert slide.status_code == 200 and "/backlog" not in slide.text and "待审核积压" not in slide.text
