"""补位匹配 and 带动 through HTTP: the county board's link, the page (components shown), an invitation posted
twice with one key (one batch), its workbook, the JSON API (candidates, invitations with joins, 带动), 404
outside the caller's subtree and 403 for a reader."""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.models.exemplars import MatchInvitation
from tests import factories as f
from tests.matching.test_matching import Small
from tests.meeting.conftest import YEAR

pytestmark = pytest.mark.dates
SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
PERIOD = f"{YEAR}-ytd11"


@pytest.fixture
def small(world):
    return Small(world)


@SQLITE
def test_board_links_to_matching_and_the_page_shows_each_component(client, world, small):
    f.login_as(client, world.s, world.staff)
    board = client.get(f"/c/{world.wuhua.code}?period={PERIOD}")
    assert f'/matching/{world.wuhua.code}/{world.task.id}?period={PERIOD}' in board.text
    page = client.get(f"/matching/{world.wuhua.code}/{world.task.id}?period={PERIOD}")
    assert page.status_code == 200
    for text in ("测医", "做过该实事 +20", "到过本州市 +10", "界别相关 +15", "专委会相关 +10", "行业相关 +15",
                 "到过该县 +20", "还没有发出过邀请"):
        assert text in page.text
    assert "测远" not in page.text and "测忙" not in page.text


@SQLITE
def test_invite_on_the_page_once_per_key_then_list_workbook(client, world, small):
    csrf = f.login_as(client, world.s, world.staff)
    url = f"/matching/{world.wuhua.code}/{world.task.id}"
    form = {"csrf_token": csrf, "submission_key": "page-1", "period": PERIOD, "channel": "list",
            "member_ids": [str(small.doc.id), str(small.old.id)], "note": "请支援"}
    first = client.post(url, data=form, follow_redirects=False)
    second = client.post(url, data=form, follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == second.headers["location"]
    assert world.s.scalar(select(func.count()).select_from(MatchInvitation)) == 2
    batch = world.s.scalar(select(func.min(MatchInvitation.id)))
    page = client.get(first.headers["location"].split("#")[0])
    assert "下载名单" in page.text and f'id="batch-{batch}"' in page.text
    book = client.get(f"/matching/batches/{batch}.xlsx")
    rows = list(load_workbook(io.BytesIO(book.content)).active.iter_rows(values_only=True))
    assert rows[2][1:3] == ("测医", small.doc.phone) and rows[3][1] == "测老"
    bad = client.post(url, data=form | {"submission_key": "page-2", "member_ids": [str(small.far.id)]})
    assert bad.status_code == 422 and "不在可邀请的范围内" in bad.text


@SQLITE
def test_api_candidates_invitations_and_bringing(client, world, small):
    f.login_as(client, world.s, world.staff)
    base = f"/api/v1/counties/{world.wuhua.code}/matching/{world.task.id}"
    got = client.get(f"{base}/candidates?period={PERIOD}").json()
    assert got["behind"] is True and got["total"] == 2
    assert [(c["name"], c["score"]) for c in got["candidates"]] == [("测医", 70), ("测老", 20)]
    assert {x["key"] for x in got["candidates"][0]["components"]} == {"done", "place", "sector", "committee", "industry"}
    body = {"member_ids": [small.doc.id], "channel": "inapp", "note": "", "period": PERIOD}
    made = client.post(f"{base}/invitations", json=body, headers={"Idempotency-Key": "api-1"})
    again = client.post(f"{base}/invitations", json=body, headers={"Idempotency-Key": "api-1"})
    assert made.status_code == 201 and again.status_code == 200 and made.json()["id"] == again.json()["id"]
    small.activity(date(YEAR, 11, 23), small.doc)  # on the invitation's day: joined
    [batch] = client.get(f"{base}/invitations?period={PERIOD}").json()
    assert (batch["invited"], batch["joined"], batch["rate"]) == (1, 1, 1.0)
    lead = small.member(world.kunming, "测带", "经济界")
    newcomer = small.member(world.kunming, "测新", "经济界")
    small.activity(date(YEAR, 7, 1), lead, newcomer, recorder=f.make_user(world.s, member=lead))
    bring = client.get(f"/api/v1/orgs/{world.kunming.code}/bringing?period={PERIOD}").json()
    assert bring["total"] == 1 and bring["members"] == [
        {"member_id": lead.id, "name": "测带", "brought": 1, "newcomers": ["测新"]}]
    assert "测带" in client.get(f"/bringing/{world.kunming.code}?period={PERIOD}").text


@SQLITE
def test_outsiders_404_readers_read_but_may_not_invite(client, world, small):
    base = f"/api/v1/counties/{world.wuhua.code}/matching/{world.task.id}"
    f.login_as(client, world.s, world.outsider)
    assert client.get(f"{base}/candidates").status_code == 404
    assert client.get(f"/matching/{world.wuhua.code}/{world.task.id}").status_code == 404
    assert client.get(f"/api/v1/orgs/{world.kunming.code}/bringing").status_code == 404
    csrf = f.login_as(client, world.s, world.kunming_viewer)
    got = client.get(f"{base}/candidates?period={PERIOD}")
    assert got.status_code == 200, got.text
    assert got.json()["total"] == 2
    assert client.post(f"{base}/invitations", json={"member_ids": [small.doc.id], "channel": "inapp"},
                       headers={"Idempotency-Key": "v-1"}).status_code == 403
    page = client.get(f"/matching/{world.wuhua.code}/{world.task.id}?period={PERIOD}")
    assert "测医" in page.text and 'name="member_ids"' not in page.text and "只有该县及上级" in page.text
    form = {"csrf_token": csrf, "submission_key": "v-2", "period": PERIOD, "channel": "inapp",
            "member_ids": [str(small.doc.id)]}
    assert client.post(f"/matching/{world.wuhua.code}/{world.task.id}", data=form).status_code == 403
    assert world.s.scalar(select(func.count()).select_from(MatchInvitation)) == 0


@SQLITE
def test_tokens_records_level_reads_candidates_never_phones_aggregate_403_outside_404(client, world, small):
    from tests.api.conftest import bearer, make_token

    base = f"/api/v1/counties/{world.wuhua.code}/matching/{world.task.id}"
    _, records = make_token(world.s, code="530100", level="records")
    got = client.get(f"{base}/candidates?period={PERIOD}", headers=bearer(records))
    assert got.status_code == 200 and [c["name"] for c in got.json()["candidates"]] == ["测医", "测老"]
    assert small.doc.phone not in got.text
    assert client.post(f"{base}/invitations", json={"member_ids": [small.doc.id], "channel": "inapp"},
                       headers=bearer(records) | {"Idempotency-Key": "t-1"}).status_code in (401, 403)
    _, aggregate = make_token(world.s, code="530100")
    assert client.get(f"{base}/candidates", headers=bearer(aggregate)).status_code == 403
    assert client.get(f"/api/v1/orgs/{world.kunming.code}/bringing", headers=bearer(aggregate)).status_code == 403
    _, elsewhere = make_token(world.s, code="530300", level="records")
    assert client.get(f"{base}/candidates", headers=bearer(elsewhere)).status_code == 404
