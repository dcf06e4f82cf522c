"""挂联 pages: coverage (page, fragment, filter, Excel read back), the form and its type-ahead blocks,
making a link in place from the coverage page, errors beside their fields, the list, changing, ending
with a confirmation, 我的挂联 — and who may do what (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.clock import today_cn
from app.models import ActivityStatus, AuditLog, GrantRole, LinkAssignment, Site
from tests import factories as f
from tests.links.conftest import YEAR, as_user, assigned

pytestmark = pytest.mark.dates

HX = {"HX-Request": "true"}


def _count(session) -> int:
    return session.scalar(select(func.count()).select_from(LinkAssignment)) or 0


def _fields(world, **overrides) -> dict:
    data = {"leader_member_id": str(world.vice_chair.id), "county_id": str(world.panlong.id), "role": "lead",
            "start_date": f"{YEAR}-03-01", "end_date": "", "note": "牵头", "site_id": "", "next": "/links/coverage"}
    data.update(overrides)
    return data


def _rows(html: str) -> list[tuple[str, str]]:
    """(county id, status) of each coverage row, in order."""
    return re.findall(r'<tr id="county-(\d+)" class="coverage-row coverage-\w+" data-status="(\w+)"', html)


# --- coverage -------------------------------------------------------------------------------------

def test_coverage_lists_uncovered_key_counties_first_and_highlighted(client, world):
    assigned(world)  # 盘龙区 covered
    as_user(client, world, world.province_staff)
    r = client.get("/links/coverage")
    assert r.status_code == 200 and "<html" in r.text and "重点帮扶县挂联覆盖情况" in r.text
    assert _rows(r.text) == [(str(world.wuhua.id), "uncovered"), (str(world.qilin.id), "uncovered"),
                             (str(world.panlong.id), "covered")]
    assert 'id="uncovered-count">2<' in r.text and "无挂联领导" in r.text
    assert "省副主席甲" in r.text and "云南省政协副主席" in r.text
    # Each row offers to make a link in place (HTMX) or on the form page (without JavaScript).
    assert f'href="/links/new?county_id={world.wuhua.id}&amp;next=/links/coverage"' in r.text
    assert 'hx-target="#assign-panel"' in r.text and 'hx-trigger="links-changed from:body"' in r.text


def test_the_prefecture_filter_swaps_the_table_only(client, world):
    as_user(client, world, world.viewer)
    r = client.get("/links/coverage", params={"prefecture_id": world.qujing.id}, headers=HX)
    assert r.status_code == 200 and "<html" not in r.text and r.text.lstrip().startswith('<div id="coverage">')
    assert _rows(r.text) == [(str(world.qilin.id), "uncovered")]
    assert f'/links/coverage.xlsx?prefecture_id={world.qujing.id}' in r.text
    assert "安排挂联" not in r.text  # a viewer reads, does not assign
    # Blank means all; a prefecture outside the caller's scope falls back to all of theirs.
    assert len(_rows(client.get("/links/coverage", params={"prefecture_id": ""}).text)) == 3
    as_user(client, world, world.outsider_staff)
    assert _rows(client.get("/links/coverage", params={"prefecture_id": world.kunming.id}).text) == [
        (str(world.qilin.id), "uncovered")]


def test_coverage_is_refused_to_a_plain_member(client, world):
    as_user(client, world, world.member_user)
    r = client.get("/links/coverage")
    assert r.status_code == 403 and "挂联覆盖" in r.text
    assert client.get("/links/coverage.xlsx").status_code == 403


def test_the_excel_export_reads_back_with_numbers_as_numbers(client, world):
    assigned(world)
    assigned(world, leader_member_id=world.wuhua_chair.id, county_id=world.wuhua.id, site_id=world.wuhua_site.id)
    as_user(client, world, world.province_staff)
    r = client.get("/links/coverage.xlsx")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    assert "filename*=UTF-8''" in r.headers["content-disposition"]
    wb = load_workbook(io.BytesIO(r.content))
    ws = wb["挂联覆盖"]
    assert [c.value for c in ws[1]] == ["序号", "州（市）", "重点帮扶县", "覆盖情况", "挂联领导", "挂联领导人数", "联络员",
                                        "助推点挂联数", "待调整人数"]
    assert ws.freeze_panes == "A2" and ws.column_dimensions["E"].width >= 30
    rows = [[c.value for c in row] for row in ws.iter_rows(min_row=2)]
    assert [r[2] for r in rows] == ["五华区", "麒麟区", "盘龙区"]  # uncovered first, as on the page
    assert rows[0][:4] == [1, "昆明市", "五华区", "无挂联领导"] and rows[0][5] == 0 and rows[0][7] == 1
    assert rows[2][4] == "省副主席甲（云南省政协副主席）" and rows[2][5] == 1
    assert all(isinstance(r[n], int) for r in rows for n in (0, 5, 7, 8))
    notes = wb["说明"]
    assert notes["B2"].value == 3 and notes["B3"].value == 2
    filtered = load_workbook(io.BytesIO(client.get("/links/coverage.xlsx", params={"prefecture_id": world.qujing.id}).content))
    assert [row[2].value for row in filtered["挂联覆盖"].iter_rows(min_row=2)] == ["麒麟区"]


# --- the form ---------------------------------------------------------------------------------------

def test_the_form_offers_key_counties_first_and_today(client, world):
    as_user(client, world, world.prefecture_staff)
    r = client.get("/links/new", params={"county_id": world.panlong.id})
    assert r.status_code == 200 and "<html" in r.text and "新增挂联" in r.text
    counties = r.text.split('id="f-county"')[1].split("</select>")[0]
    assert counties.index('label="重点帮扶县"') < counties.index('label="其他县（市、区）"')
    assert f'<option value="{world.panlong.id}" selected>' in counties and f'value="{world.qilin.id}"' not in counties
    assert f'value="{today_cn().isoformat()}"' in r.text and 'name="csrf_token"' in r.text
    # The leaders of 盘龙区 and above that 昆明's office may dispatch (not the province's).
    assert "昆明秘书长乙" in r.text and "专委主任丙" in r.text and "省副主席甲" not in r.text


def test_type_ahead_blocks_for_leaders_and_sites(client, world, session):
    as_user(client, world, world.province_staff)
    r = client.get("/links/leaders", params={"county_id": world.panlong.id, "leader_q": "秘书"}, headers=HX)
    assert r.status_code == 200 and "<html" not in r.text and "<form" not in r.text
    assert "昆明秘书长乙" in r.text and "省副主席甲" not in r.text
    # The chosen leader stays chosen while the list changes under it.
    r = client.get("/links/leaders", params={"county_id": world.panlong.id, "leader_q": "秘书",
                                             "leader_member_id": world.vice_chair.id}, headers=HX)
    assert f'value="{world.vice_chair.id}" checked' in r.text and "昆明秘书长乙" in r.text
    site = world.panlong_site
    r = client.get("/links/sites", params={"county_id": world.panlong.id, "site_q": site.name[:2]}, headers=HX)
    assert r.status_code == 200 and "<html" not in r.text and f'value="{site.id}"' in r.text
    assert "不选，挂联全县" in r.text
    other = session.scalar(select(Site).where(Site.county_id == world.qilin.id))
    as_user(client, world, world.prefecture_staff)  # 昆明's office: 麒麟区 is 曲靖's
    r = client.get("/links/sites", params={"county_id": world.qilin.id, "site_q": other.name[:2]}, headers=HX)
    assert f'value="{other.id}"' not in r.text  # a county outside the office's scope offers nothing


@pytest.mark.parametrize("who", ["member_user", "viewer"])
def test_the_form_is_refused_to_those_who_cannot_assign(client, world, who):
    as_user(client, world, getattr(world, who))
    assert client.get("/links/new").status_code == 403
    assert client.post("/links", data=_fields(world), follow_redirects=False).status_code == 403
    assert _count(world.session) == 0


def test_a_post_makes_one_link_and_goes_back_where_it_came_from(client, world):
    as_user(client, world, world.province_staff)
    r = client.post("/links", data=_fields(world), follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/links/coverage?done=created"
    [link] = world.session.scalars(select(LinkAssignment)).all()
    assert (link.leader_member_id, link.county_id, link.note) == (world.vice_chair.id, world.panlong.id, "牵头")
    assert world.session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "link.create")) == 1
    # A retry of the same form adds nothing and says so.
    r = client.post("/links", data=_fields(world), follow_redirects=False)
    assert r.headers["location"] == "/links/coverage?done=exists" and _count(world.session) == 1
    assert "没有重复添加" in client.get(r.headers["location"]).text
    # An open redirect is not followed.
    r = client.post("/links", data=_fields(world, next="https://evil.example/", county_id=str(world.wuhua.id)),
                    follow_redirects=False)
    assert r.headers["location"] == "/links?done=created"


def test_made_in_place_from_the_coverage_panel(client, world):
    as_user(client, world, world.province_staff)
    panel = client.get("/links/new", params={"county_id": world.panlong.id, "inline": "1",
                                             "next": "/links/coverage"}, headers=HX)
    assert panel.status_code == 200 and "<html" not in panel.text and panel.text.lstrip().startswith("<form")
    assert 'name="inline" value="1"' in panel.text and "取消" in panel.text
    r = client.post("/links", data=_fields(world, inline="1"), headers=HX)
    assert r.status_code == 200 and r.headers["HX-Trigger"] == "links-changed"
    assert "<html" not in r.text and "已安排" in r.text and "省副主席甲" in r.text and "盘龙区" in r.text
    table = client.get("/links/coverage", headers=HX)
    assert (str(world.panlong.id), "covered") in _rows(table.text)


def test_errors_come_back_beside_their_fields_with_everything_typed(client, world):
    as_user(client, world, world.province_staff)
    r = client.post("/links", data=_fields(world, leader_member_id="", end_date=f"{YEAR}-01-01", note="保留的备注"),
                    headers=HX)
    assert r.status_code == 422 and "<html" not in r.text and r.text.lstrip().startswith("<form")
    assert "请选择挂联的领导" in r.text and "保留的备注" in r.text and f'value="{YEAR}-01-01"' in r.text
    r = client.post("/links", data=_fields(world, end_date=f"{YEAR}-01-01"))
    assert r.status_code == 422 and "<html" in r.text and "结束日期须晚于开始日期" in r.text
    assert 'aria-invalid="true"' in r.text
    r = client.post("/links", data=_fields(world, leader_member_id=str(world.plain_member.id)))
    assert r.status_code == 422 and "主席会议成员" in r.text
    r = client.post("/links", data=_fields(world, start_date="not-a-date", county_id="99999999999999999999"))
    assert r.status_code == 422 and "日期格式不正确" in r.text and "请选择县" in r.text
    assert _count(world.session) == 0


def test_a_reload_without_javascript_finds_leaders_and_saves_nothing(client, world):
    as_user(client, world, world.province_staff)
    r = client.post("/links", data=_fields(world, leader_member_id="", leader_q="主任", reload="1"))
    assert r.status_code == 200 and "<html" in r.text and "专委主任丙" in r.text and "牵头" in r.text
    assert 'formnovalidate name="reload" value="1"' in r.text
    assert _count(world.session) == 0


def test_an_overlap_is_refused_with_its_reason(client, world):
    assigned(world)
    as_user(client, world, world.province_staff)
    r = client.post("/links", data=_fields(world, start_date=f"{YEAR}-06-01", note="另一条"), headers=HX)
    assert r.status_code == 409 and "时间不能重叠" in r.text and 'class="toast' in r.text
    assert _count(world.session) == 1


def test_outsiders_cannot_post_a_place_outside_their_subtree(client, world):
    as_user(client, world, world.outsider_staff)  # does not read 盘龙区: not revealed
    r = client.post("/links", data=_fields(world), follow_redirects=False)
    assert r.status_code == 404 and "找不到该组织" in r.text
    # Reads the whole province but makes 挂联 only in 曲靖: may read 盘龙区, may not change it.
    reader = f.make_user(world.session, grants=((GrantRole.viewer, world.province), (GrantRole.staff, world.qujing)))
    as_user(client, world, reader)
    r = client.post("/links", data=_fields(world), follow_redirects=False)
    assert r.status_code == 403 and "管理范围" in r.text
    assert _count(world.session) == 0


def test_writes_need_the_csrf_token(client, world):
    as_user(client, world, world.province_staff)
    del client.headers["X-CSRF-Token"]
    assert client.post("/links", data=_fields(world), follow_redirects=False).status_code == 403
    assert _count(world.session) == 0


# --- the list -------------------------------------------------------------------------------------------

def test_the_list_filters_in_place_and_offers_changes_only_where_allowed(client, world):
    mine = assigned(world, leader_member_id=world.wuhua_chair.id, county_id=world.wuhua.id, site_id=world.wuhua_site.id)
    provinces = assigned(world, county_id=world.wuhua.id)
    as_user(client, world, world.county_staff)
    r = client.get("/links")
    assert r.status_code == 200 and "<html" in r.text and "共 2 条挂联" in r.text
    assert f'href="/links/{mine.id}/edit"' in r.text and f'href="/links/{provinces.id}/end"' not in r.text
    r = client.get("/links", params={"q": "五华", "county_id": "", "active_on": ""}, headers=HX)
    assert r.status_code == 200 and "<html" not in r.text and "共 1 条挂联" in r.text and "五华主席丁" in r.text
    r = client.get("/links", params={"state": "ended"})
    assert "没有符合条件的挂联" in r.text and "清除筛选条件" in r.text
    assert client.get("/links", params={"state": "bogus"}).status_code == 422


def test_the_list_pages(client, world, session):
    sites = session.scalars(select(Site.id).where(Site.county_id == world.panlong.id).order_by(Site.id).limit(31)).all()
    assert len(sites) == 31
    for site in sites:
        assigned(world, site_id=site)
    as_user(client, world, world.province_staff)
    first = client.get("/links")
    assert "共 31 条挂联，第 1 / 2 页" in first.text and "page=2" in first.text
    second = client.get("/links", params={"page": 2}, headers=HX)
    assert "第 2 / 2 页" in second.text and second.text.count('<tr id="link-') == 1


def test_links_needing_reassignment_are_flagged_on_the_list(client, world):
    link = assigned(world)
    world.end_membership(world.vice_chair, today_cn() - timedelta(days=1))
    as_user(client, world, world.province_staff)
    r = client.get("/links")
    assert f'<tr id="link-{link.id}" class="needs-attention">' in r.text and "待调整" in r.text
    assert "挂联领导待调整" in client.get("/links/coverage").text


# --- changing and ending -----------------------------------------------------------------------------------

def test_ending_asks_first_then_keeps_the_history(client, world):
    link = assigned(world)
    as_user(client, world, world.province_staff)
    confirm = client.get(f"/links/{link.id}/end", params={"next": "/links/coverage"})
    assert confirm.status_code == 200 and "确定结束这条挂联吗" in confirm.text and "记录仍保留" in confirm.text
    assert world.session.get(LinkAssignment, link.id).end_date is None  # asking changes nothing
    r = client.post(f"/links/{link.id}/end", data={"end_date": "", "reason": "工作调整", "next": "/links/coverage"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/links/coverage?done=ended"
    world.session.expire_all()
    assert world.session.get(LinkAssignment, link.id).end_date == today_cn()
    assert (str(world.panlong.id), "uncovered") in _rows(client.get("/links/coverage").text)
    assert "已结束" in client.get("/links", params={"state": "ended"}).text


def test_ending_with_a_bad_date_shows_the_confirmation_again(client, world):
    link = assigned(world)
    as_user(client, world, world.province_staff)
    r = client.post(f"/links/{link.id}/end", data={"end_date": f"{YEAR}-01-01"})
    assert r.status_code == 422 and "结束日期不能早于开始日期" in r.text and "确定结束" in r.text
    r = client.post(f"/links/{link.id}/end", data={"end_date": f"31/12/{YEAR}"})
    assert r.status_code == 422 and "日期格式不正确" in r.text
    world.session.expire_all()
    assert world.session.get(LinkAssignment, link.id).end_date is None


def test_changing_a_link(client, world):
    link = assigned(world)
    as_user(client, world, world.province_staff)
    page = client.get(f"/links/{link.id}/edit")
    assert page.status_code == 200 and "修改挂联" in page.text and f'value="{YEAR}-03-01"' in page.text
    r = client.post(f"/links/{link.id}/edit", data={"role": "liaison", "start_date": f"{YEAR}-03-01",
                                                    "end_date": f"{YEAR + 2}-06-30", "note": "改为联络员"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/links?done=changed"
    world.session.expire_all()
    stored = world.session.get(LinkAssignment, link.id)
    assert (stored.role, stored.end_date, stored.note) == ("liaison", date(YEAR + 2, 6, 30), "改为联络员")
    r = client.post(f"/links/{link.id}/edit", data={"role": "liaison", "start_date": "", "note": "x"})
    assert r.status_code == 422 and "请填写开始日期" in r.text


@pytest.mark.parametrize("who", ["outsider_staff", "member_user"])
def test_outsiders_get_404_on_someone_elses_link(client, world, who):
    link = assigned(world)
    as_user(client, world, getattr(world, who))
    for method, path in (("GET", "edit"), ("POST", "edit"), ("GET", "end"), ("POST", "end")):
        r = client.request(method, f"/links/{link.id}/{path}", data={"role": "lead", "start_date": f"{YEAR}-03-01"}
                           if method == "POST" else None, follow_redirects=False)
        assert r.status_code == 404, (method, path)
    world.session.expire_all()
    assert world.session.get(LinkAssignment, link.id).end_date is None


# --- 我的挂联 and the navigation ---------------------------------------------------------------------------

def test_my_page_shows_my_places_and_the_recent_activities_there(client, world, session):
    link = assigned(world)  # 省副主席甲 → 盘龙区
    assigned(world, county_id=world.wuhua.id, start_date=date(YEAR - 2, 1, 1), end_date=date(YEAR - 2, 12, 31))
    task = f.task(session, 1)
    there = f.make_activity(session, recorder=world.member_user, credited=world.wuhua, county=world.panlong, task_=task,
                            values={f.indicators(session, task)[0].id: 3}, status=ActivityStatus.verified)
    as_user(client, world, world.leader_user)
    r = client.get("/links/mine")
    assert r.status_code == 200 and "我的挂联" in r.text and "盘龙区" in r.text and "挂联领导" in r.text
    assert f'href="/activities/{there.id}"' in r.text and task.name in r.text
    assert "已结束的挂联（1）" in r.text
    assert link.id
    as_user(client, world, world.member_user)
    r = client.get("/links/mine")
    assert r.status_code == 200 and "您目前没有挂联的县或助推点" in r.text


def test_the_navigation_leads_to_the_link_pages(client, world):
    as_user(client, world, world.leader_user)
    home = client.get("/")
    assert 'href="/links/coverage"' in home.text and 'href="/links/mine"' in home.text
    as_user(client, world, world.member_user)
    assert 'href="/links/coverage"' not in client.get("/").text


def test_ids_and_dates_out_of_range_are_refused_not_a_server_error(client, world):
    as_user(client, world, world.province_staff)
    huge = "9" * 23
    for url in (f"/links?county_id={huge}", f"/links?prefecture_id={huge}", f"/links/coverage?prefecture_id={huge}",
                f"/links/coverage.xlsx?prefecture_id={huge}", f"/links/{huge}/edit", f"/api/v1/links?county_id={huge}",
                f"/links?active_on={YEAR}-13-01", "/links?page=0"):
        assert client.get(url).status_code == 422, url
    # Typed into the form, a huge id is just "not chosen".
    for url in (f"/links/new?county_id={huge}", f"/links/leaders?county_id={huge}&leader_member_id={huge}",
                f"/links/sites?county_id={huge}&site_q=a"):
        r = client.get(url)
        assert r.status_code == 200 and "服务器出错" not in r.text, url


def test_my_page_gives_each_key_county_its_board_figures(client, world, session):
    world.panlong.is_key_county = True
    session.flush()
    assigned(world)  # 省副主席甲 → 盘龙区
    task = f.task(session, 1)
    for status in (ActivityStatus.verified, ActivityStatus.verified, ActivityStatus.pending):
        f.make_activity(session, recorder=world.member_user, credited=world.wuhua, county=world.panlong, task_=task,
                        values={f.indicators(session, task)[0].id: 1}, status=status, occurred_on=today_cn())
    as_user(client, world, world.leader_user)
    r = client.get("/links/mine")
    assert "本县已审核活动 <strong>2</strong> 次，待审核 1 次" in r.text and 'href="/c/530103"' in r.text
