"""挂联实效 in the API (/api/v1/links/effect: JSON, scope, bad input) and on the pages: 覆盖情况, 我的挂联 and
the county board show each leader's own activities this period, the last date and the flag."""

from __future__ import annotations

import re
from datetime import date

import pytest

from app.models import ActivityStatus, GrantRole
from app.models.meeting import MeetingSetting
from tests import factories as f
from tests.links.conftest import YEAR, as_user, assigned

pytestmark = pytest.mark.dates

DEC_1 = date(YEAR + 1, 12, 1)
URL = "/api/v1/links/effect"
FLAG = "挂联后 3 个月未到县开展活动"


@pytest.fixture
def linked(world, clock):
    """On 1 December: 省副主席甲 → 盘龙区, last there on 2 November (not flagged); 昆明秘书长乙 → 盘龙区,
    last there on 12 May (flagged); 曲靖副主席戊 → 麒麟区, never (flagged)."""
    clock.freeze_on(DEC_1)
    assigned(world)
    assigned(world, leader_member_id=world.kunming_sg.id)
    assigned(world, leader_member_id=world.qujing_vice.id, county_id=world.qilin.id)
    task = f.task(world.session)
    value = {f.indicators(world.session, task)[0].id: 1}
    for who, on in ((world.vice_chair, date(YEAR + 1, 11, 2)), (world.kunming_sg, date(YEAR + 1, 5, 12))):
        f.make_activity(world.session, recorder=world.member_user, credited=world.kunming, county=world.panlong,
                        task_=task, values=value, occurred_on=on, status=ActivityStatus.verified, participants=(who,))
    return world


def test_the_api_answers_the_figures_flagged_first(client, linked):
    w = linked
    as_user(client, w, w.province_staff)
    r = client.get(URL, params={"org": "530000"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["org_code"], body["period"], body["on"], body["idle_months"], body["idle_since"]) == (
        "530000", f"{YEAR + 1}-ytd12", DEC_1.isoformat(), 3, date(YEAR + 1, 9, 1).isoformat())
    assert (body["total"], body["idle"]) == (3, 2)
    rows = [(x["leader_name"], x["county_name"], x["activities"], x["last_activity_on"], x["idle"]) for x in body["rows"]]
    assert rows == [("昆明秘书长乙", "盘龙区", 1, f"{YEAR + 1}-05-12", True),
                    ("曲靖副主席戊", "麒麟区", 0, None, True),
                    ("省副主席甲", "盘龙区", 1, f"{YEAR + 1}-11-02", False)]
    assert body["rows"][0]["leader_post"] == "昆明市政协秘书长" and w.kunming_sg.phone not in r.text
    # One month: the activity of May is not this period's, the last date stays.
    [sg] = [x for x in client.get(URL, params={"org": "530100", "period": f"{YEAR + 1}-11"}).json()["rows"]
            if x["leader_member_id"] == w.kunming_sg.id]
    assert (sg["activities"], sg["last_activity_on"]) == (0, f"{YEAR + 1}-05-12")


def test_the_api_reads_n_from_the_office_setting(client, linked):
    w = linked
    w.session.add(MeetingSetting(org_id=w.province.id, link_idle_months=7))
    w.session.flush()
    as_user(client, w, w.province_staff)
    body = client.get(URL, params={"org": "530000"}).json()
    assert (body["idle_months"], body["idle"]) == (7, 1)  # May 12 is within seven months


def test_the_api_is_scoped_like_the_boards(client, linked):
    w = linked
    as_user(client, w, w.outsider_staff)  # 曲靖
    r = client.get(URL, params={"org": "530100"})
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    assert [x["county_name"] for x in client.get(URL, params={"org": "530300"}).json()["rows"]] == ["麒麟区"]
    assert client.get(URL, params={"org": "530300", "period": f"{YEAR + 1}-q9"}).status_code == 422
    assert client.get(URL, params={"org": "5303"}).status_code == 422
    client.cookies.clear()
    assert client.get(URL, params={"org": "530300"}).status_code == 401


def _line(html: str, member_id: int) -> str:
    """The text of one leader's line (tags dropped)."""
    found = re.search(rf'data-leader="{member_id}">(.*?)</(?:div|li)>', html, re.DOTALL)
    assert found, f"no line for leader {member_id}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1)))


def test_coverage_shows_each_leaders_activities_last_date_and_flag(client, linked):
    w = linked
    as_user(client, w, w.province_staff)
    r = client.get("/links/coverage")
    assert r.status_code == 200
    sg, vc = _line(r.text, w.kunming_sg.id), _line(r.text, w.vice_chair.id)
    assert "最近一次 " + f"{YEAR + 1}-05-12" in sg and FLAG in sg
    assert "最近一次 " + f"{YEAR + 1}-11-02" in vc and FLAG not in vc
    assert 'id="idle-count">有 2 人次' in r.text
    # The fragment for one month (the filter swaps the table).
    r = client.get("/links/coverage", params={"period": f"{YEAR + 1}-12"}, headers={"HX-Request": "true"})
    assert "<html" not in r.text and "本期本人到县活动 <strong>0</strong> 次" in _line_html(r.text, w.vice_chair.id)


def _line_html(html: str, member_id: int) -> str:
    return re.search(rf'data-leader="{member_id}">(.*?)</div>', html, re.DOTALL).group(1)


def test_my_links_show_my_own_effect(client, linked):
    w = linked
    as_user(client, w, w.leader_user)  # 省副主席甲
    r = client.get("/links/mine")
    assert r.status_code == 200 and 'class="line my-effect"' in r.text
    assert f'<time datetime="{YEAR + 1}-11-02"' in r.text and FLAG not in r.text
    # 昆明秘书长乙, last there in May: flagged after 3 months, not after his own office's 7.
    as_user(client, w, f.make_user(w.session, member=w.kunming_sg, grants=((GrantRole.leader, w.kunming),)))
    r = client.get("/links/mine")
    assert f'<time datetime="{YEAR + 1}-05-12"' in r.text and FLAG in r.text
    w.session.add(MeetingSetting(org_id=w.kunming.id, link_idle_months=7))
    w.session.flush()
    assert "未到县开展活动" not in client.get("/links/mine").text


def test_the_county_board_shows_its_leaders_effect(client, linked):
    w = linked
    as_user(client, w, w.province_staff)
    r = client.get(f"/c/{w.panlong.code}")
    assert r.status_code == 200 and 'id="link-effect"' in r.text
    assert FLAG in _line(r.text, w.kunming_sg.id) and f"{YEAR + 1}-05-12" in _line(r.text, w.kunming_sg.id)
    assert FLAG not in _line(r.text, w.vice_chair.id)
    empty = client.get(f"/c/{w.wuhua.code}")
    assert empty.status_code == 200 and "暂无在任的挂联领导" in empty.text
