"""换届 pages: the term page, the confirmation (from checkboxes or an uploaded list), the change, scope."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from app.clock import today_cn
from app.models import Membership, Term
from app.rollup import service as rollup
from tests import factories as f
from tests.terms.conftest import YEAR

pytestmark = pytest.mark.dates


def _xlsx(rows) -> bytes:
    wb = Workbook()
    for r in rows:
        wb.active.append(r)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_page_confirmation_and_change_from_checkboxes(client, session, world):
    a, b, c = world.members
    token = f.login_as(client, session, world.prefecture_staff)
    page = client.get("/terms/530102")
    assert page.status_code == 200
    assert "第1届" in page.text and "开始换届" in page.text and page.text.count('name="keep"') == 3

    preview = client.post("/terms/530102/preview", data={
        "csrf_token": token, "start_date": f"{YEAR}-07-01", "source": "list", "keep": [str(a.id), str(c.id)]})
    assert preview.status_code == 200
    assert '<div class="num" id="continuing">2</div>' in preview.text
    assert '<div class="num" id="ending">1</div>' in preview.text and "乙委员" in preview.text
    assert session.scalar(select(Term).where(Term.number == 2)) is None  # nothing written yet

    fingerprint = preview.text.split('name="fingerprint" value="')[1].split('"')[0]
    done = client.post("/terms/530102/change", data={
        "csrf_token": token, "start_date": f"{YEAR}-07-01", "keep_ids": f"{a.id},{c.id}", "fingerprint": fingerprint},
        follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/terms/530102?changed=1"
    after = client.get(done.headers["location"])
    assert f"换届完成：第2届自 {YEAR}-07-01 起" in after.text
    assert session.scalar(select(Membership.end_date).where(Membership.member_id == b.id)) == date(YEAR, 6, 30)
    assert rollup.check(session) == []

    # A term starting later: the page lists who serves today, each once.
    soon = (today_cn() + timedelta(days=30)).isoformat()
    later = client.post("/terms/530102/preview", data={"csrf_token": token, "start_date": soon,
                                                      "source": "list", "keep": [str(a.id)]})
    fp = later.text.split('name="fingerprint" value="')[1].split('"')[0]
    client.post("/terms/530102/change", data={"csrf_token": token, "start_date": soon,
                                               "keep_ids": str(a.id), "fingerprint": fp})
    scheduled = client.get("/terms/530102")
    assert "第3届" in scheduled.text and scheduled.text.count('name="keep"') == 2  # 甲 and 丙 serve until the day before
    assert rollup.check(session) == []

    stale = client.post("/terms/530102/change", data={
        "csrf_token": token, "start_date": (today_cn() + timedelta(days=60)).isoformat(), "keep_ids": f"{a.id}",
        "fingerprint": fingerprint})
    assert stale.status_code == 409


def test_uploaded_list_of_phones_and_its_errors(client, session, world):
    a, _, _ = world.members
    token = f.login_as(client, session, world.county_staff)
    bad = _xlsx([["连任委员名单"], ["姓名", "手机号"], ["甲委员", a.phone], ["某人", "12345"], ["新人", "139 0000 0000"]])
    preview = client.post("/terms/530102/preview", data={"csrf_token": token, "start_date": f"{YEAR}-07-01",
                                                        "source": "file"},
                          files={"file": ("名单.xlsx", bad, "application/octet-stream")})
    assert preview.status_code == 422
    assert "第 4 行：手机号「12345」格式不正确" in preview.text
    assert "第 5 行：手机号 13900000000 不是本组织现任委员" in preview.text
    assert "确认换届（" not in preview.text

    good = f"手机号\n{a.phone}\n".encode()
    preview = client.post("/terms/530102/preview", data={"csrf_token": token, "start_date": f"{YEAR}-07-01",
                                                        "source": "file"},
                          files={"file": ("名单.csv", good, "text/csv")})
    assert preview.status_code == 200 and 'id="continuing">1<' in preview.text and 'id="ending">2<' in preview.text
    assert f'name="keep_ids" value="{a.id}"' in preview.text


def test_bad_date_and_who_may_see_the_pages(client, session, world):
    token = f.login_as(client, session, world.county_staff)
    early = client.post("/terms/530102/preview", data={"csrf_token": token, "start_date": "2022-01-01"})
    assert early.status_code == 422 and "须晚于第1届的开始日期" in early.text
    assert client.post("/terms/530102/preview", data={"csrf_token": token, "start_date": "x"}).status_code == 422
    assert client.get("/terms/530100").status_code == 404  # above the county office
    assert client.get("/terms", follow_redirects=False).headers["location"] == "/terms/530102"

    f.login_as(client, session, world.viewer)
    assert client.get("/terms/530102").status_code == 403
    token = f.login_as(client, session, world.outsider_staff)
    assert client.get("/terms/530102").status_code == 404
    assert client.post("/terms/530102/change", data={"csrf_token": token, "start_date": f"{YEAR}-07-01",
                                                     "keep_ids": "", "fingerprint": "x"}).status_code == 404
    f.login_as(client, session, f.persona(session, "outsider_member"))
    assert client.get("/terms/530102").status_code == 404
    assert client.get("/terms").status_code == 403
    assert session.scalar(select(Term).where(Term.number == 2)) is None
