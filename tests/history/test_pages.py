"""/history/{code}: the stored entries of a subtree, a page at a time; staff only, scoped."""

from __future__ import annotations

import pytest

from app.history import service
from tests import factories as f
from tests.history.conftest import rows

pytestmark = pytest.mark.dates


def test_entries_page_lists_the_subtree_paginated_and_is_scoped(client, session, world):
    by = world.p(world.prefecture_staff)
    assert "尚无汇总录入的历史数据" in (f.login_as(client, session, world.prefecture_staff)
                                       and client.get("/history/530100").text)
    sheet = [("530102", 2024, str(m), world.count.name, str(m), "台账") for m in range(1, 13)]
    sheet += [("530103", 2024, str(m), world.count.name, "1") for m in range(1, 13)]
    sheet += [("530100", 2024 + y, "四季度", world.money.name, "12.5") for y in range(2)]
    sheet += [("530102", 2023, str(m), world.money.name, "3") for m in range(1, 13)]
    sheet += [("530103", 2023, str(m), world.money.name, "3") for m in range(1, 13)]
    plan = service.plan_history(session, by, rows(*sheet))
    assert plan.ok
    service.commit_history(session, by, plan)

    first = client.get("/history/530100")
    assert first.status_code == 200 and "共 50 条" in first.text and "下一页" not in first.text
    assert "2025年第四季度" in first.text and "12.5" in first.text
    more = service.plan_history(session, by, rows(("530102", 2022, "1", world.count.name, "1")))
    service.commit_history(session, by, more)
    paged = client.get("/history/530100?page=2", headers={"HX-Request": "true"})
    assert paged.status_code == 200 and "<html" not in paged.text and "第 2 / 2 页" in paged.text
    assert "2022年1月" in paged.text and "上一页" in paged.text

    f.login_as(client, session, world.county_staff)
    county = client.get("/history/530102")
    assert "共 25 条" in county.text and "盘龙" not in county.text
    assert client.get("/history/530100").status_code == 404
    assert client.get("/history", follow_redirects=False).headers["location"] == "/history/530102"
    f.login_as(client, session, world.viewer)
    assert client.get("/history/530102").status_code == 403
    f.login_as(client, session, world.outsider_staff)
    assert client.get("/history/530102").status_code == 404
