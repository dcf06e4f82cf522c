"""The big screen's playlist and slides (app/meeting/slides.py) and the office's 大屏设置
(/meeting/CODE/settings, app/meeting/settings.py): long content split into slides, the playlist's order,
the lagging key counties lowest first; the settings scoped to the office's staff, refused in Chinese when
wrong, audited once. The fit on real screens: tests/e2e/test_meeting_screen.py."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from app.boards import service as boards
from app.errors import Invalid
from app.meeting import slides
from app.meeting.settings import playlist_of, save_settings, settings_for
from app.models import AuditLog, MeetingSetting
from app.screens.service import create_screen
from tests import factories as f
from tests.meeting.conftest import YEAR

pytestmark = pytest.mark.dates
SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


# --- splitting -----------------------------------------------------------------------------------

def test_a_long_ranking_becomes_several_even_slides():
    assert slides.chunk_rows(list(range(16)), [1] * 16, 12) == [list(range(8)), list(range(8, 16))]
    assert [len(p) for p in slides.row_pages(35)] == [12, 12, 11]
    assert slides.row_pages(35)[2] == range(24, 35)
    assert slides.row_pages(0) == []
    # Tasks are kept whole: headings and their indicators never part; the fewest slides, evened out.
    sizes = [3, 3, 2, 2, 2, 3, 4, 3, 3, 2]  # the campaign's ten tasks: heading + indicators
    pages = slides.chunk_rows(list(range(10)), sizes, 16)
    assert pages == [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9]]
    assert all(sum(sizes[i] for i in p) <= 16 for p in pages)
    assert slides.chunk_rows(["tall", "short"], [20, 1], 9) == [["tall"], ["short"]]  # taller than a slide: alone


def test_a_part_names_one_slide_and_refuses_anything_else(session):
    province, wuhua = f.org(session, "530000"), f.org(session, "530102")
    wuhua.is_key_county = True
    assert slides.parse_part("ranking-2", province, province) == ("ranking", 2)
    assert slides.parse_part(None, province, province) == ("summary", 0)
    assert slides.parse_part(None, wuhua, province) == ("county", 0)
    for bad in ("ranking", "ranking-0", "figures-100", "own-x", "<b>", "summary-1"):
        with pytest.raises(ValueError):
            slides.parse_part(bad, province, province)


# --- the playlist --------------------------------------------------------------------------------

@SQLITE
def test_the_playlist_follows_the_office_order_and_puts_the_lowest_lagging_county_first(world, session):
    for county in (world.wuhua, world.panlong):
        county.is_key_county = True
        world.target(county, 120)
    session.flush()
    world.verify(world.log("a", count=80))  # 五华区: 80 of a pace of 110 (behind); 盘龙区: nothing
    period = world.period()
    lagging = slides.lagging_rows(session, world.kunming, period)
    assert [r.org.code for r, _ in lagging] == ["530103", "530102"]  # lowest progress score first
    assert all(r.behind for r, _ in lagging) and lagging[0][1].id == world.kunming.id

    default = slides.playlist(session, world.kunming, period)
    parts = [(s.code, s.part) for s in default]
    # Defaults: overview, 问题清单, 督办事项, the lagging key counties.
    assert parts[:3] == [("530100", "summary"), ("530100", "figures-1"), ("530100", "figures-2")]
    assert ("530100", "map") not in parts  # only the province has the 州市 map
    at = parts.index(("530100", "lagging-1"))
    assert parts[at + 1] == ("530103", "county")  # the lowest county's own slides follow the list
    county = [p for c, p in parts if c == "530103"]
    assert county[:1] == ["county"] and "trend" in county and "own-1" in county and "place-1" in county

    reordered = slides.playlist(session, world.kunming, period, kinds=["lagging", "overview"])
    assert (reordered[0].code, reordered[0].part) == ("530100", "lagging-1")
    # The 问题清单 (五华区 behind pace is on it) and last meeting's 督办事项 (none: one slide that says so).
    meeting = slides.playlist(session, world.kunming, period, kinds=["problems", "followups"])
    assert [s.part for s in meeting] == ["problems-1", "followups-1"]


@SQLITE
def test_a_slide_past_the_last_is_404_and_pages_never_overlap(world, session, client):
    _, token = create_screen(session, world.p(world.staff), name="昆明会议室", org_id=world.kunming.id)
    period = f"{YEAR}-ytd11"
    first = client.get(f"/d/{token}/slide/530100?part=ranking-1&period={period}", headers={"HX-Request": "true"})
    assert first.status_code == 200 and "<html" not in first.text and "数据截至" in first.text
    assert client.get(f"/d/{token}/slide/530100?part=ranking-9&period={period}").status_code == 404
    assert client.get(f"/d/{token}/slide/530100?part=bogus&period={period}").status_code == 404
    assert client.get(f"/d/{token}/slide/530100?part={'x' * 21}").status_code == 422
    assert client.get(f"/d/{token}/slide/530100?part=map&period={period}").status_code == 404  # not the province
    whole = client.get(f"/d/{token}/slide/530100?part=summary&period={period}")
    assert whole.status_code == 200 and "<html" in whole.text  # a plain request: the slide as a page
    version = boards.version(session, [("org", world.kunming.id)])
    assert client.get(f"/d/{token}/slide/530100?part=summary&since={version}").status_code == 204


# --- 大屏设置 ---------------------------------------------------------------------------------------

def _form(playlist=("counties", "overview"), theme="dark", months="6") -> dict:
    return {"playlist": list(playlist), "theme": theme, "link_idle_months": months}


@SQLITE
def test_staff_set_the_playlist_theme_and_idle_months_audited_once(world, session, client):
    f.login_as(client, session, world.staff)  # 昆明's office
    page = client.get("/meeting/530100/settings")
    assert page.status_code == 200 and "播放内容和顺序" in page.text and 'value="overview" selected' in page.text
    before = session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "meeting.settings"))
    saved = client.post("/meeting/530100/settings", data=_form(), follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == "/meeting/530100/settings?saved=1"
    again = client.post("/meeting/530100/settings", data=_form(), follow_redirects=False)  # a retried POST
    assert again.status_code == 303
    session.expire_all()
    row = settings_for(session, world.kunming.id)
    assert playlist_of(row) == ["counties", "overview"] and row.theme == "dark" and row.link_idle_months == 6
    entries = session.scalars(select(AuditLog).where(AuditLog.action == "meeting.settings")).all()
    assert len(entries) == before + 1 and entries[-1].org_id == world.kunming.id
    assert json.loads(entries[-1].after) == {"playlist": "counties,overview", "theme": "dark", "link_idle_months": 6}

    # The screen plays it: every county first (五华区, a key county: its board), then 昆明's overview; dark.
    _, token = create_screen(session, world.p(world.staff), name="昆明会议室", org_id=world.kunming.id)
    client.cookies.clear()
    screen = client.get(f"/d/{token}")
    assert screen.status_code == 200 and "theme-dark" in screen.text
    assert screen.text.index("/slide/530102?part=county") < screen.text.index("/slide/530100?part=summary")


@SQLITE
def test_bad_settings_are_refused_in_chinese_and_change_nothing(world, session, client):
    f.login_as(client, session, world.staff)
    cases = [(_form(playlist=("overview", "overview")), "同一项内容只能选一次"),
             (_form(playlist=("", "")), "请至少选择一项播放内容"),
             (_form(playlist=("overview", "<script>")), "播放内容只能从列出的几项中选择"),
             (_form(theme="pink"), "请选择浅色或深色"),
             (_form(months="25"), "月数须为 1–24 之间的整数"),
             (_form(months="三"), "月数须为 1–24 之间的整数")]
    for data, message in cases:
        r = client.post("/meeting/530100/settings", data=data)
        assert r.status_code == 422 and message in r.text, (data, r.status_code)
        assert "<script>" not in r.text
    assert session.get(MeetingSetting, world.kunming.id) is None
    with pytest.raises(Invalid) as refused:
        save_settings(session, world.p(world.staff), world.kunming, playlist=["overview"], theme="light",
                      link_idle_months=0)
    assert refused.value.errors == {"link_idle_months": "月数须为 1–24 之间的整数"}


@SQLITE
def test_settings_belong_to_the_office_outsiders_get_404_readers_403(world, session, client):
    f.login_as(client, session, world.outsider)  # 曲靖's office: 昆明 is outside what it reads
    assert client.get("/meeting/530100/settings").status_code == 404
    assert client.post("/meeting/530100/settings", data=_form()).status_code == 404
    client.cookies.clear()
    f.login_as(client, session, world.kunming_viewer)  # reads 昆明, holds no staff grant
    assert client.get("/meeting/530100/settings").status_code == 403
    assert client.post("/meeting/530100/settings", data=_form()).status_code == 403
    client.cookies.clear()
    f.login_as(client, session, world.county_staff)  # 五华区's office may set its own, not 昆明's
    assert client.get("/meeting/530100/settings").status_code == 404
    assert client.get("/meeting/530102/settings").status_code == 200
    assert session.get(MeetingSetting, world.kunming.id) is None


@SQLITE
def test_the_big_screen_button_opens_the_meeting_mode_for_a_reader(world, session, client):
    f.login_as(client, session, world.kunming_viewer)
    board = client.get("/boards/530100")
    assert 'href="/boards/530100/meeting' in board.text
    screen = client.get("/boards/530100/meeting")
    assert screen.status_code == 200 and "/boards/530100/meeting/slide?org=530100&amp;part=summary" in screen.text
    assert "/meeting/530100/settings" not in screen.text  # a reader: no 设置 link (staff: below)
    slide = client.get(f"/boards/530100/meeting/slide?org=530102&part=own-1&period={YEAR}-ytd11")
    assert slide.status_code == 200 and "县政协自身工作进度" in slide.text
    assert client.get("/boards/530100/meeting/slide?org=530300").status_code == 404  # outside 昆明
    client.cookies.clear()
    f.login_as(client, session, world.staff)
    assert 'href="/meeting/530100/settings"' in client.get("/boards/530100/meeting").text
    client.cookies.clear()
    f.login_as(client, session, world.outsider)
    assert client.get("/boards/530100/meeting").status_code == 404


@SQLITE
def test_every_figure_on_a_slide_has_thousands_separators(world, session, client):
    from app.activities import service as activities
    from app.activities.schemas import ActivityInput

    money = next(i for i in f.indicators(session, world.task) if i.kind == "money")
    data = ActivityInput(task_id=world.task.id, county_id=world.wuhua.id, occurred_on=world.period().start,
                         description="设备", values={world.count.id: "1234", money.id: "12345.67"})
    world.verify(activities.record_activity(session, by=world.p(world.member), data=data, idempotency_key="m",
                                            today=world.period().end).activity)
    _, token = create_screen(session, world.p(world.staff), name="昆明会议室", org_id=world.kunming.id)
    period = f"{YEAR}-ytd11"
    shown = "".join(client.get(f"/d/{token}/slide/530102?part=place-{n}&period={period}").text for n in (1, 2))
    assert "12,345.67" in shown and "1,234" in shown and "12345" not in shown


def test_charts_on_the_screen_carry_room_sized_type_at_any_scale():
    from app.boards import charts

    trend = slides.screen_chart(charts.trend_option([1, 2], {"产业": [1, 2]}, unit="次"), 2.0, dark=True)
    assert trend["xAxis"]["axisLabel"] == {"fontSize": 56, "color": "#f0f3f6"}
    assert trend["legend"]["textStyle"]["fontSize"] == 56 and trend["yAxis"]["nameTextStyle"]["fontSize"] == 56
    board = charts.progress_map_option({"530100": 0.8}, {"530100": "昆明市"})
    shown = slides.screen_chart(board, 1.0, dark=True)
    assert "media" not in shown and shown["visualMap"]["textStyle"]["fontSize"] == 28
    label = shown["series"][0]["data"][0]["label"]
    assert label["fontSize"] == 28 and label["color"] == "#1f2328"  # dark on its halo, whatever the theme
    assert board["series"][0]["label"]["fontSize"] == 11  # the boards' own option is left as it was
