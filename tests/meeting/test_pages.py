"""The meeting's pages: /meeting/CODE (last meeting's 督办事项, then the 问题清单 with 「列为督办」) and
/meeting/CODE/followups (list, close, by hand) — full page vs fragment, no-JS forms, scope."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.clock import today_cn
from app.models.meeting import FollowUp
from tests import factories as f
from tests.meeting.conftest import YEAR

pytestmark = pytest.mark.dates
SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def _key(html: str) -> str:
    return re.search(r'name="submission_key" value="([^"]+)"', html).group(1)


@SQLITE
def test_meeting_page_whole_and_fragment_and_list_a_problem(client, session, world):
    f.login_as(client, session, world.staff)
    page = client.get(f"/meeting/530100?period={YEAR}-ytd11")
    assert page.status_code == 200 and "<html" in page.text and "研判会问题清单" in page.text
    assert "重点帮扶县五华区" in page.text and "列为督办" in page.text and "上次研判会没有督办事项" in page.text
    fragment = client.get(f"/meeting/530100?period={YEAR}-ytd11", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text and 'id="meeting-list"' in fragment.text

    form = {"period": f"{YEAR}-ytd11", "source_kind": "uncovered_county", "source_ref": "county:530102",
            "owner_org": "530102", "due_on": (today_cn() + timedelta(days=10)).isoformat(),
            "done_criteria": "落实挂联领导", "submission_key": _key(page.text)}
    made = client.post("/meeting/530100/followups", data=form, follow_redirects=False)
    assert made.status_code == 303 and made.headers["location"].startswith(f"/meeting/530100?period={YEAR}-ytd11")
    again = client.post("/meeting/530100/followups", data=form, follow_redirects=False)  # a double tap
    assert again.status_code == 303
    assert session.scalar(select(func.count()).select_from(FollowUp)) == 1
    after = client.get(made.headers["location"])
    assert "已列入督办" in after.text and "已列为督办（未办结）" in after.text

    bad = client.post("/meeting/530100/followups", data={**form, "submission_key": "other", "done_criteria": " "})
    assert bad.status_code == 422 and "请写明怎样算办结" in bad.text
    # The next meeting opens with it: status, then and now (the county is still uncovered).
    session.scalar(select(FollowUp)).period = f"{YEAR}-10"
    session.flush()
    nxt = client.get(f"/meeting/530100?period={YEAR}-11", headers={"HX-Request": "true"})
    assert "followup-" in nxt.text and "未办结" in nxt.text and "当时" in nxt.text and "现在" in nxt.text


@SQLITE
def test_followups_page_closes_with_a_note_and_a_tick(client, session, world):
    f.login_as(client, session, world.staff)
    listing = client.get("/meeting/530100/followups")
    assert listing.status_code == 200 and "没有未办结的督办事项" in listing.text and "手工录入督办事项" in listing.text
    form = {"title": "<b>补齐盘龙区进度</b>", "owner_org": "530103", "due_on": (today_cn() + timedelta(days=5)).isoformat(),
            "done_criteria": "进度得分达到 90%", "submission_key": _key(listing.text), "back": "followups"}
    made = client.post("/meeting/530100/followups", data=form, follow_redirects=False)
    assert made.status_code == 303 and made.headers["location"] == "/meeting/530100/followups?done=created"
    fu = session.scalar(select(FollowUp))
    page = client.get("/meeting/530100/followups")
    assert "&lt;b&gt;补齐盘龙区进度&lt;/b&gt;" in page.text and "<b>补齐" not in page.text  # escaped
    assert f'action="/meeting/followups/{fu.id}/close"' in page.text and "data-confirm" in page.text
    fragment = client.get("/meeting/530100/followups", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and 'id="followup-list"' in fragment.text

    close = f"/meeting/followups/{fu.id}/close"
    no_tick = client.post(close, data={"note": "已完成", "version": "1"})
    assert no_tick.status_code == 422 and "确认办结" in no_tick.text
    no_note = client.post(close, data={"note": "", "version": "1", "confirm": "1"})
    assert no_note.status_code == 422 and "办结说明" in no_note.text
    done = client.post(close, data={"note": "已完成", "version": "1", "confirm": "1"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/meeting/530100/followups?done=closed"
    assert "已完成" in client.get("/meeting/530100/followups?status=done").text


@SQLITE
def test_readers_see_without_forms_and_outsiders_get_404(client, session, world):
    f.login_as(client, session, world.kunming_viewer)
    page = client.get(f"/meeting/530100?period={YEAR}-ytd11")
    assert page.status_code == 200 and "<summary>列为督办</summary>" not in page.text
    assert "手工录入" not in client.get("/meeting/530100/followups").text
    assert client.post("/meeting/530100/followups", data={"title": "x"}).status_code == 403
    client.cookies.clear()
    f.login_as(client, session, world.outsider)
    assert client.get("/meeting/530100").status_code == 404
    assert client.get("/meeting/530100/followups").status_code == 404


@SQLITE
def test_a_long_list_is_paged(client, session, world):
    from sqlalchemy import update

    from app.models import Organisation

    session.execute(update(Organisation).where(Organisation.level == "county").values(is_key_county=True))
    session.flush()
    f.login_as(client, session, world.province_staff)
    first = client.get(f"/meeting/530000?period={YEAR}-ytd11")
    assert first.status_code == 200 and "第 1 / " in first.text and 'start="1"' in first.text
    second = client.get(f"/meeting/530000?period={YEAR}-ytd11&page=2", headers={"HX-Request": "true"})
    assert 'start="31"' in second.text and "第 2 / " in second.text and "<html" not in second.text
