"""数据管理 pages: each page and action for staff in scope (page and HTMX block), errors beside their
fields, confirmations before ending a membership and changing a key-county flag, and who may do what:
outsiders 404, members and viewers 403 (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.clock import today_cn
from app.models import AppMeta, AuditLog, Indicator, Membership, Organisation, Site
from app.rollup import service as rollup
from tests import factories as f
from tests.manage.conftest import as_user

pytestmark = pytest.mark.dates

HX = {"HX-Request": "true"}


def _csrf(client) -> dict:
    return {"csrf_token": client.headers["X-CSRF-Token"]}


def _post(client, url: str, data: dict):
    """A form post as the browser sends it; the redirect is looked at, not followed."""
    return client.post(url, data=data, follow_redirects=False)


def _actions(world) -> list[str]:
    return list(world.s.scalars(select(AuditLog.action).order_by(AuditLog.id)))


def test_the_nav_offers_data_management_to_staff_only(client, world):
    as_user(client, world, world.county_staff)
    assert 'href="/manage/members">数据管理<' in client.get("/manage/members").text
    as_user(client, world, world.member_user)
    r = client.get("/activities/mine")
    assert r.status_code == 200 and "/manage/members" not in r.text


def test_members_page_and_its_listing_block(client, world):
    as_user(client, world, world.county_staff)
    r = client.get("/manage/members")
    assert r.status_code == 200 and "<html" in r.text and "委员管理" in r.text
    assert "王委员" in r.text and world.alice.phone in r.text  # phones: staff only, as on /admin/users
    r = client.get("/manage/members", params={"q": "李"}, headers=HX)
    assert r.status_code == 200 and "<html" not in r.text and r.text.lstrip().startswith('<div id="members-listing">')
    assert "李委员" in r.text and "王委员" not in r.text
    r = client.get("/manage/members", params={"q": "没有这个人"})
    assert "没有符合条件的在任委员" in r.text and "清除筛选条件" in r.text


def test_the_members_pages_refuse_members_and_viewers_and_hide_from_outsiders(client, world):
    for user in (world.member_user, world.viewer):
        as_user(client, world, user)
        assert client.get("/manage/members").status_code == 403
        assert client.get(f"/manage/members/{world.alice.id}").status_code == 403
        assert _post(client, f"/manage/members/{world.alice.id}/end", _csrf(client)).status_code == 403
    as_user(client, world, world.outsider_staff)
    assert client.get("/manage/members").status_code == 200  # their own (empty) subtree
    assert client.get(f"/manage/members/{world.alice.id}").status_code == 404
    r = _post(client, f"/manage/members/{world.alice.id}/transfer", {**_csrf(client), "to_org_id": world.qilin.id})
    assert r.status_code == 404
    assert world.s.scalar(select(Membership.end_date).where(Membership.member_id == world.alice.id)) is None


def test_editing_a_member_and_a_taken_phone_shown_beside_the_field(client, world):
    as_user(client, world, world.county_staff)
    page = client.get(f"/manage/members/{world.alice.id}")
    assert page.status_code == 200 and 'name="phone"' in page.text and "调动到其他组织" in page.text
    form = {**_csrf(client), "name": "王委员", "phone": world.bob.phone, "sector": "经济界", "role": "member"}
    r = _post(client, f"/manage/members/{world.alice.id}", form)
    assert r.status_code == 409 and "该手机号已被其他委员或账号使用" in r.text and 'aria-invalid="true"' in r.text
    form |= {"phone": "13911112222", "enterprise": "滇茶公司", "committee_id": str(world.committee.id)}
    r = _post(client, f"/manage/members/{world.alice.id}", form)
    assert r.status_code == 303 and r.headers["location"] == f"/manage/members/{world.alice.id}?done=saved"
    world.s.refresh(world.alice)
    assert (world.alice.phone, world.alice.enterprise) == ("13911112222", "滇茶公司")
    assert "已保存" in client.get(r.headers["location"]).text
    assert _actions(world).count("member.update") == 1


def test_transfer_from_the_member_page(client, world):
    as_user(client, world, world.prefecture_staff)
    page = client.get(f"/manage/members/{world.alice.id}")
    assert f'<option value="{world.panlong.id}"' in page.text and f'<option value="{world.qilin.id}"' not in page.text
    r = _post(client, f"/manage/members/{world.alice.id}/transfer", {
        **_csrf(client), "to_org_id": str(world.kunming.id), "on": today_cn().isoformat(), "role": "member"})
    assert r.status_code == 422 and "没有在任的届次" in r.text
    r = _post(client, f"/manage/members/{world.alice.id}/transfer", {
        **_csrf(client), "to_org_id": str(world.panlong.id), "on": today_cn().isoformat(), "role": "member"})
    assert r.status_code == 303
    shown = client.get(r.headers["location"]).text
    assert "已调动" in shown and re.search(r'id="member-org">盘龙区政协<', shown)
    assert rollup.check(world.s) == [] and "member.transfer" in _actions(world)


def test_ending_a_membership_asks_first(client, world):
    as_user(client, world, world.county_staff)
    yesterday = today_cn() - timedelta(days=1)
    confirm = client.get(f"/manage/members/{world.bob.id}/end")
    assert confirm.status_code == 200 and "确定结束" in confirm.text and "不结束，返回" in confirm.text
    r = _post(client, f"/manage/members/{world.bob.id}/end", {**_csrf(client), "end_date": "2999-01-01"})
    assert r.status_code == 422 and "不能晚于今天" in r.text
    r = _post(client, f"/manage/members/{world.bob.id}/end",
              {**_csrf(client), "end_date": yesterday.isoformat(), "reason": "辞职"})
    assert r.status_code == 303 and "任职已结束" in client.get(r.headers["location"]).text
    # The end date is the last day served: from today on the member is no longer in the list.
    assert world.s.scalar(select(Membership.end_date).where(Membership.member_id == world.bob.id)) == yesterday
    assert rollup.check(world.s) == [] and "membership.end" in _actions(world)
    assert "李委员" not in client.get("/manage/members").text


def test_orgs_page_and_the_key_county_flag_with_a_confirmation(client, world):
    as_user(client, world, world.prefecture_staff)
    r = client.get("/manage/orgs")
    assert r.status_code == 200 and "盘龙区政协" in r.text and "曲靖" not in r.text
    assert "标为重点县" not in r.text  # a prefecture sees the flag, the province sets it
    assert client.get(f"/manage/orgs/{world.panlong.id}/key-county").status_code == 403
    assert _post(client, f"/manage/orgs/{world.panlong.id}/key-county", {**_csrf(client), "value": "1"}).status_code == 403
    as_user(client, world, world.province_staff)
    r = client.get("/manage/orgs", params={"q": "盘龙"}, headers=HX)
    assert "<html" not in r.text and f'href="/manage/orgs/{world.panlong.id}/key-county">标为重点县' in r.text
    confirm = client.get(f"/manage/orgs/{world.panlong.id}/key-county")
    assert confirm.status_code == 200 and "确定将盘龙区标为重点帮扶县吗" in confirm.text
    r = _post(client, f"/manage/orgs/{world.panlong.id}/key-county", {**_csrf(client), "value": "1"})
    assert r.status_code == 303 and "已标为重点帮扶县" in client.get(r.headers["location"]).text
    assert world.s.scalar(select(Organisation.is_key_county).where(Organisation.id == world.panlong.id)) is True
    assert "只看重点帮扶县" in client.get("/manage/orgs", params={"key": "1"}).text
    assert client.get(f"/manage/orgs/{world.kunming.id}/key-county").status_code == 422
    as_user(client, world, world.viewer)
    assert client.get("/manage/orgs").status_code == 403


def test_sites_add_and_rename(client, world):
    as_user(client, world, world.county_staff)
    r = client.get("/manage/sites")  # one county in scope: it is chosen
    assert r.status_code == 200 and "添加地点" in r.text and f'name="county_id" value="{world.wuhua.id}"' in r.text
    taken = world.s.scalar(select(Site.code).where(Site.county_id == world.wuhua.id))
    r = _post(client, "/manage/sites", {**_csrf(client), "county_id": str(world.wuhua.id), "code": taken,
                                           "name": "重复", "kind": "studio"})
    assert r.status_code == 409 and "已被其他地点使用" in r.text
    r = _post(client, "/manage/sites", {**_csrf(client), "county_id": str(world.wuhua.id), "code": "WH-STUDIO-9",
                                           "name": "王委员工作室", "kind": "studio"})
    assert r.status_code == 303 and "地点已添加" in client.get(r.headers["location"]).text
    site = world.s.scalar(select(Site).where(Site.code == "WH-STUDIO-9"))
    assert client.get(f"/manage/sites/{site.id}").status_code == 200
    r = _post(client, f"/manage/sites/{site.id}", {**_csrf(client), "name": "王委员之家"})
    assert r.status_code == 303 and world.s.get(Site, site.id).name == "王委员之家"
    assert _post(client, f"/manage/sites/{site.id}", {**_csrf(client), "name": " "}).status_code == 422
    assert [a for a in _actions(world) if a.startswith("site.")] == ["site.create", "site.rename"]
    as_user(client, world, world.outsider_staff)
    assert client.get(f"/manage/sites/{site.id}").status_code == 404
    assert client.get("/manage/sites", params={"county_id": world.wuhua.id}).status_code == 200  # not theirs: not chosen
    as_user(client, world, world.member_user)
    assert client.get("/manage/sites").status_code == 403


def test_catalogue_pages_for_a_prefecture_and_the_province(client, world):
    as_user(client, world, world.prefecture_staff)
    r = client.get("/manage/catalogue")
    assert r.status_code == 200 and "添加指标" in r.text and "/manage/wording" not in r.text
    assert "/manage/catalogue/tasks/new" not in r.text and client.get("/manage/catalogue/tasks/new").status_code == 403
    task = f.task(world.s, 1)
    assert client.get(f"/manage/catalogue/tasks/{task.id}").status_code == 403
    r = _post(client, "/manage/catalogue/indicators", {
        **_csrf(client), "task_id": str(task.id), "owner_org_id": str(world.kunming.id), "name": "昆明特色指标",
        "unit": "次", "kind": "count", "narrative": "开展昆明特色活动{value}"})
    assert r.status_code == 303
    ind = world.s.scalar(select(Indicator).where(Indicator.name == "昆明特色指标"))
    assert ind.owner_org_id == world.kunming.id and "昆明特色指标" in client.get("/manage/catalogue").text
    r = _post(client, f"/manage/catalogue/indicators/{ind.id}", {**_csrf(client), "name": "昆明特色指标",
                                                                    "unit": "次", "narrative": "没有数值"})
    assert r.status_code == 422 and "{value}" in r.text
    as_user(client, world, world.outsider_staff)
    assert "昆明特色指标" not in client.get("/manage/catalogue").text
    assert client.get(f"/manage/catalogue/indicators/{ind.id}").status_code == 404
    as_user(client, world, world.province_admin)
    r = _post(client, f"/manage/catalogue/tasks/{task.id}", {
        **_csrf(client), "name": task.name, "short_name": "产业与技术", "narrative_prefix": task.narrative_prefix,
        "area_id": str(task.area_id)})
    assert r.status_code == 303 and "产业与技术" in client.get("/manage/catalogue").text
    as_user(client, world, world.viewer)
    assert client.get("/manage/catalogue").status_code == 403


def test_the_wording_page_saves_an_override_and_shows_errors(client, world):
    as_user(client, world, world.province_admin)
    page = client.get("/manage/wording")
    assert page.status_code == 200 and "参与率" in page.text and "{rate}" in page.text
    r = _post(client, "/manage/wording", {**_csrf(client), "key": "participation", "text": "{scope}参与率{percent}"})
    assert r.status_code == 422 and "只能使用下列占位符" in r.text
    r = _post(client, "/manage/wording", {**_csrf(client), "key": "participation",
                                             "text": "{scope}委员参与率为{rate}，参与{took_part}人。"})
    assert r.status_code == 303 and "已修改" in client.get("/manage/wording").text
    assert world.s.get(AppMeta, "wording:shuang-zhutui:participation").value == "{scope}委员参与率为{rate}，参与{took_part}人。"
    as_user(client, world, world.province_staff)
    assert client.get("/manage/wording").status_code == 403
