"""汇总录入 in the boards and reports: counted in the period's figures, labelled, never in 参与率."""

from __future__ import annotations

from datetime import date

import pytest

from app.activities import service as activities
from app.activities.schemas import ActivityInput
from app.boards import periods
from app.boards import service as boards
from app.history import service
from app.reports.service import as_text, build_report
from app.rollup import service as rollup
from tests import factories as f
from tests.history.conftest import LAST_YEAR, rows

pytestmark = pytest.mark.dates


def _figure(ov, indicator_id):
    return next(x for t in ov.tasks for x in t.indicators if x.indicator.id == indicator_id)


def test_history_counts_in_board_and_report_of_its_period_but_not_in_participation(session, world):
    member = f.make_member(session, world.wuhua)
    user = f.make_user(session, member=member)
    data = ActivityInput(task_id=world.task.id, county_id=world.wuhua.id, occurred_on=date(LAST_YEAR, 2, 4),
                         description="义诊", values={world.count.id: "3", world.money.id: "2.5"})
    activity = activities.record_activity(session, by=world.p(user), data=data, idempotency_key="h1").activity
    activities.verify(session, by=world.p(world.prefecture_staff), activity_id=activity.id, note="已核实（补录较晚）")
    q1 = periods.parse(f"{LAST_YEAR}-q1")
    before = boards.overview(session, world.kunming, q1)
    assert before.history is None

    by = world.p(world.prefecture_staff)
    service.commit_history(session, by, service.plan_history(session, by, rows(
        ("530102", LAST_YEAR, "一季度", world.count.name, "40"),
        ("530102", LAST_YEAR, "2", world.money.name, "100.5"),
        ("530100", LAST_YEAR, "4", world.count.name, "7"),  # the prefecture's own, in April
    )))
    assert rollup.check(session) == []

    ov = boards.overview(session, world.kunming, q1)
    assert (_figure(ov, world.count.id).verified, _figure(ov, world.money.id).verified) == (43, 10300)
    assert ov.history == f"含汇总录入数据：{LAST_YEAR}年2月、{LAST_YEAR}年第一季度"
    assert ov.participation == before.participation  # the same members, the same took part
    assert sum(t.activities[0] for t in ov.tasks) == sum(t.activities[0] for t in before.tasks) == 1
    wuhua_row = next(r for r in ov.ranking if r.org.id == world.wuhua.id)
    assert next(x for t in wuhua_row.tasks for x in t.indicators if x.indicator.id == world.count.id).verified == 43

    # One month of the quarter other than its last does not show the quarter's figure.
    jan = boards.overview(session, world.kunming, periods.parse(f"{LAST_YEAR}-01"))
    assert _figure(jan, world.count.id).verified == 0 and jan.history is None
    april = boards.overview(session, world.kunming, periods.parse(f"{LAST_YEAR}-04"))
    assert _figure(april, world.count.id).verified == 7 and april.history == f"含汇总录入数据：{LAST_YEAR}年4月"
    # The prefecture's own entry is not in the county's figures.
    assert boards.overview(session, world.wuhua, periods.parse(f"{LAST_YEAR}-04")).history is None

    report = build_report(session, world.kunming, q1)
    medical = next(t for t in report["figures"] if t["task_id"] == world.task.id)
    assert next(i for i in medical["indicators"] if i["id"] == world.count.id)["verified"] == 43
    assert report["history"] == f"含汇总录入数据：{LAST_YEAR}年2月、{LAST_YEAR}年第一季度"
    assert f"含汇总录入数据：{LAST_YEAR}年2月、{LAST_YEAR}年第一季度（历史汇总数" in as_text(report)
    assert report["participation"]["took_part"] == before.participation.took_part
    assert build_report(session, world.kunming, periods.parse(f"{LAST_YEAR}-q3"))["history"] is None


def test_county_board_by_place_shows_a_county_history(client, session, world):
    world.wuhua.is_key_county = True
    session.flush()
    by = world.p(world.county_staff)
    service.commit_history(session, by, service.plan_history(session, by, rows(
        ("530102", LAST_YEAR, "5", world.count.name, "6"))))
    board = boards.county_board(session, world.wuhua, periods.parse(f"{LAST_YEAR}-q2"))
    assert next(x for t in board.tasks for x in t.indicators if x.indicator.id == world.count.id).verified == 6
    assert board.history == f"含汇总录入数据：{LAST_YEAR}年5月"

    f.login_as(client, session, world.prefecture_staff)
    page = client.get(f"/boards/530100?period={LAST_YEAR}-q2")
    assert page.status_code == 200 and f"含汇总录入数据：{LAST_YEAR}年5月" in page.text
    county = client.get(f"/c/530102?period={LAST_YEAR}-q2")
    assert county.status_code == 200 and f"含汇总录入数据：{LAST_YEAR}年5月" in county.text
    report = client.get(f"/reports?org=530100&period={LAST_YEAR}-q2")
    assert report.status_code == 200 and f"含汇总录入数据：{LAST_YEAR}年5月" in report.text
    assert "含汇总录入数据" not in client.get(f"/boards/530100?period={LAST_YEAR}-q3").text
    behind = client.get(f"/boards/530100/activities?period={LAST_YEAR}-q2")
    assert behind.status_code == 200 and f"看板上的指标数还包括汇总录入的历史数据：{LAST_YEAR}年5月" in behind.text
    assert "汇总录入" not in client.get(f"/boards/530100/activities?period={LAST_YEAR}-q3").text
