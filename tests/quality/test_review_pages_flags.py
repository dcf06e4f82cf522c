"""The review queue acts on flags (issue 16 items 1 and 4), on the pages and the JSON API: badges with
the reason under each row, a filter by flag, 批量通过 saying how many flagged items it left and why,
通过 on a flagged item asking for a note, standard return reasons, the side-by-side duplicates page
with 合并到这条, and 移除 on the activity's page for its verifier."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from app.models import Activity, ActivityParticipant, ActivityStatus
from app.quality import flags as quality
from app.rollup import service as rollup
from tests import factories as f
from tests.activities.conftest import TODAY, YEAR, World
from tests.activities.conftest import as_user as _as

pytestmark = pytest.mark.dates

HX = {"HX-Request": "true"}


@pytest.fixture
def world(session) -> World:
    return World(session)


def _record(world: World, user=None, key: str = "k1", **form) -> Activity:
    return f.record_another(world.session, by=world.p(user or world.member_user), data=world.form(**form),
                            idempotency_key=key, today=TODAY).activity


def _flag(world: World, activity: Activity, *flags: tuple[str, str]) -> None:
    quality.store(world.session, activity.id, [quality.Flag(c, m) for c, m in flags])
    world.session.commit()


def _status(world: World, activity: Activity) -> str:
    world.session.expire_all()
    return world.session.get(Activity, activity.id).status


def test_rows_show_flag_badges_with_the_full_reason_and_the_filter_finds_them(client, world):
    plain = _record(world, occurred_on=date(YEAR, 11, 2))
    big = _record(world, key="k2", occurred_on=date(YEAR, 11, 8))
    _flag(world, big, ("over_bound", "资助学子 5000 人超过单次活动上限 200 人，请核实"),
          ("money_no_photo", "投入资金 80 万元，金额较大但没有照片"))
    _as(client, world, world.county_staff)
    page = client.get("/review")
    row = page.text.split(f'id="activity-{big.id}"')[1].split("</tr>")[0]
    assert "超出上限" in row and "资助学子 5000 人超过单次活动上限 200 人，请核实" in row  # the reason, not a tooltip
    assert "大额无照片" in row and 'class="flag-list"' in row and "核实后通过" in row and 'name="note"' in row
    clean = page.text.split(f'id="activity-{plain.id}"')[1].split("</tr>")[0]
    assert "flag-badge" not in clean and 'name="note"' not in clean
    assert '<option value="any">有提示</option>' in page.text and '<option value="over_bound">超出上限</option>' in page.text
    for flag, shown, hidden in (("any", big, plain), ("over_bound", big, plain), ("duplicate", None, big)):
        r = client.get("/review", params={"flag": flag}, headers=HX)
        assert r.status_code == 200
        if shown:
            assert f'id="activity-{shown.id}"' in r.text
        assert f'id="activity-{hidden.id}"' not in r.text
    assert client.get("/review", params={"flag": "nonsense"}).status_code == 422


def test_bulk_verify_leaves_flagged_items_and_says_how_many_and_why(client, world):
    made = [_record(world, key=f"b{n}", occurred_on=date(YEAR, 11, 1 + 3 * n)) for n in range(4)]
    _flag(world, made[0], ("over_bound", "超过上限"))
    _flag(world, made[1], ("over_bound", "超过上限"), ("duplicate", "与 #1 同县、同日、同实事"))
    ids = [a.id for a in made]
    _as(client, world, world.county_staff)
    ask = client.post("/review/bulk-verify", data={"activity_ids": ids})
    assert "其中 2 条有需要核实的提示" in ask.text
    done = client.post("/review/bulk-verify", data={"activity_ids": ids, "confirmed": "1"}, follow_redirects=False)
    assert done.status_code == 303
    assert done.headers["location"] == "/review?done=bulk&n=2&skipped=0&flagged=2&why=duplicate.1%2Cover_bound.2"
    text = client.get(done.headers["location"]).text
    assert "已批量审核通过 2 条。2 条有需要核实的提示未通过（疑似重复 1、超出上限 2），请逐条核实。" in text
    assert [_status(world, a) for a in made] == ["pending", "pending", "verified", "verified"]
    # With HTMX the list comes back with the same message; a forged ?why= shows only known labels.
    _flag(world, made[2], ("ratio", "比例异常"))
    r = client.post("/review/bulk-verify", data={"activity_ids": ids, "confirmed": "1"}, headers=HX)
    assert "已批量审核通过 0 条。2 条有需要核实的提示未通过（疑似重复 1、超出上限 2），请逐条核实。" in r.text
    forged = client.get("/review", params={"done": "bulk", "n": 1, "flagged": 1, "why": "<b>x</b>.1,over_bound.x"})
    assert "1 条有需要核实的提示未通过，请逐条核实" in forged.text and "<b>x</b>" not in forged.text


def test_verify_on_a_flagged_item_asks_for_a_note(client, world):
    a = _record(world)
    _flag(world, a, ("over_bound", "超过上限"))
    _as(client, world, world.county_staff)
    r = client.post(f"/review/{a.id}/verify", data={"note": ""}, headers=HX)
    assert r.status_code == 422 and r.text.lstrip().startswith(f'<tr id="activity-{a.id}"')
    assert "请填写核实说明后再通过" in r.text and '<details class="reason-box verify-note" open>' in r.text
    plain = client.post(f"/review/{a.id}/verify", data={"note": "x"})
    assert plain.status_code == 422 and "<html" in plain.text and "请填写核实说明后再通过" in plain.text
    assert _status(world, a) == ActivityStatus.pending
    ok = client.post(f"/review/{a.id}/verify", data={"note": "已电话核实"}, headers=HX)
    assert ok.status_code == 200 and "已审核通过" in ok.text and _status(world, a) == ActivityStatus.verified


def test_return_offers_standard_reasons_and_combines_them_with_own_words(client, world):
    a = _record(world)
    _as(client, world, world.county_staff)
    page = client.get("/review").text
    assert 'name="standard_reason" value="数值有误"' in page and 'value="照片与活动不符"' in page
    r = client.post(f"/review/{a.id}/return", data={"standard_reason": "数值有误", "reason": "投入资金应为 1.2 万元"},
                    headers=HX)
    assert r.status_code == 200 and "数值有误：投入资金应为 1.2 万元" in r.text
    world.session.expire_all()
    assert world.session.get(Activity, a.id).status_reason == "数值有误：投入资金应为 1.2 万元"


def _pair(world: World):
    s = world.session
    colleague_user = f.make_user(s, member=world.colleague, grants=((f.GrantRole.member, world.wuhua),))
    s.commit()
    original = _record(world)
    dup = _record(world, colleague_user, key="dup", description="同一次义诊，又记了一次")
    return original, dup


def test_the_duplicates_page_shows_both_side_by_side_and_merges(client, world):
    original, dup = _pair(world)
    assert "duplicate" in {fl.code for fl in quality.flags_of(world.session, [dup.id])[dup.id]}
    _as(client, world, world.county_staff)
    row = client.get("/review").text.split(f'id="activity-{dup.id}"')[1].split("</tr>")[0]
    assert f'href="/review/{dup.id}/duplicates?' in row and "疑似重复" in row
    assert "另一次活动（测试数据）" in row  # the recorder's distinct note
    page = client.get(f"/review/{dup.id}/duplicates", params={"back": "status=pending"})
    assert page.status_code == 200 and "对比疑似重复的记录" in page.text
    assert f'id="dup-{dup.id}"' in page.text and f'id="dup-{original.id}"' in page.text
    assert "同一次义诊，又记了一次" in page.text and "在五华区开展义诊活动" in page.text
    assert f'name="into_id" value="{original.id}"' in page.text and "data-confirm=" in page.text
    assert "1 张" not in page.text and "0 张" in page.text

    done = client.post(f"/review/{dup.id}/merge", data={"into_id": original.id, "back": "status=pending"},
                       follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/review?done=merged"
    assert "已合并" in client.get(done.headers["location"]).text
    assert _status(world, dup) == ActivityStatus.withdrawn and _status(world, original) == ActivityStatus.pending
    assert world.colleague.id in set(world.session.scalars(select(ActivityParticipant.member_id).where(
        ActivityParticipant.activity_id == original.id)))
    assert rollup.check(world.session) == []
    again = client.post(f"/review/{dup.id}/merge", data={"into_id": original.id})
    assert again.status_code == 422 and "已合并到" in again.text and "<html" in again.text


def test_the_duplicates_page_and_merge_are_for_the_activitys_office(client, world):
    original, dup = _pair(world)
    _as(client, world, world.outsider_staff)
    assert client.get(f"/review/{dup.id}/duplicates").status_code == 404
    assert client.post(f"/review/{dup.id}/merge", data={"into_id": original.id}).status_code == 404
    _as(client, world, world.member_user)
    assert client.get(f"/review/{dup.id}/duplicates").status_code == 403
    assert _status(world, dup) == ActivityStatus.pending


def test_the_verifier_sees_who_joined_and_removes_a_participant(client, world):
    from app.activities import service as svc

    s = world.session
    colleague_user = f.make_user(s, member=world.colleague, grants=((f.GrantRole.member, world.wuhua),))
    s.commit()
    a = _record(world)
    svc.request_to_join(s, by=world.p(colleague_user), activity_id=a.id)
    _as(client, world, world.member_user)  # the recorder: no 移除, no history
    mine = client.get(f"/activities/{a.id}").text
    assert "移除" not in mine and "参加名单的变化" not in mine
    _as(client, world, world.county_staff)
    page = client.get(f"/activities/{a.id}").text
    assert "同事委员 申请加入" in page and "参加名单的变化" in page
    assert f'action="/review/{a.id}/participants/{world.colleague.id}/remove"' in page
    assert f'/participants/{world.member_user.member_id}/remove' not in page  # the recorder stays
    done = client.post(f"/review/{a.id}/participants/{world.colleague.id}/remove", follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/activities/{a.id}?removed=1"
    after = client.get(done.headers["location"]).text
    assert "已将该委员移出参加名单" in after and "移出参与名单" in after
    assert rollup.check(s) == []
    _as(client, world, world.outsider_staff)
    assert client.post(f"/review/{a.id}/participants/{world.member_user.member_id}/remove").status_code == 404


# --- the JSON API -------------------------------------------------------------------------------------

def test_api_verify_takes_a_note_for_flagged_items_and_still_works_without_a_body(client, world):
    a = _record(world)
    b = _record(world, key="k2", occurred_on=date(YEAR, 11, 10))
    _flag(world, a, ("over_bound", "超过上限"))
    _as(client, world, world.county_staff)
    refused = client.post(f"/api/v1/activities/{a.id}/verify")
    assert refused.status_code == 422 and refused.json()["code"] == "flag_note_required"
    ok = client.post(f"/api/v1/activities/{a.id}/verify", json={"note": "已核实"})
    assert ok.status_code == 200 and ok.json()["status"] == "verified"
    assert ok.json()["flags"] == [{"code": "over_bound", "message": "超过上限"}]
    assert client.post(f"/api/v1/activities/{b.id}/verify").json()["status"] == "verified"


def test_api_merge(client, world):
    original, dup = _pair(world)
    _as(client, world, world.county_staff)
    assert client.post(f"/api/v1/activities/{dup.id}/merge", json={"into_id": dup.id}).json()["code"] == "merge_self"
    r = client.post(f"/api/v1/activities/{dup.id}/merge", json={"into_id": original.id})
    assert r.status_code == 200 and r.json()["id"] == original.id and "同事委员" in r.json()["participants"]
    gone = client.get(f"/api/v1/activities/{dup.id}").json()
    assert gone["status"] == "withdrawn" and gone["merged_into_id"] == original.id
