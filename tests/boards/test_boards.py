"""Boards: figures from the rollup, targets and pace, 参与率, ranking; pages, scope, live polling, 大屏."""

from __future__ import annotations

from datetime import date

import pytest

from app.activities import service as activities
from app.activities.schemas import ActivityInput
from app.auth.service import build_principal
from app.boards import periods
from app.boards import service as boards
from app.errors import NotFound
from app.models import AnnualTarget
from app.screens.service import create_screen
from tests import factories as f

pytestmark = pytest.mark.dates

# The tests' known day: 23 November of last year, so every month of its data is past whatever
# day the suite runs on.
YEAR = f.this_year() - 1
TODAY = date(YEAR, 11, 23)


class World:
    def __init__(self, session):
        self.s = session
        self.province, self.kunming = f.org(session, "530000"), f.org(session, "530100")
        self.wuhua, self.panlong = f.org(session, "530102"), f.org(session, "530103")
        self.wuhua.is_key_county = True
        session.flush()
        self.member = f.persona(session, "member")
        self.staff = f.persona(session, "prefecture_staff")
        self.viewer = f.persona(session, "viewer")
        self.outsider = f.persona(session, "outsider_staff")
        self.task = f.task(session, 7)
        inds = f.indicators(session, self.task)
        self.count = next(i for i in inds if i.kind == "count")
        self.money = next(i for i in inds if i.kind == "money")

    def p(self, user):
        return build_principal(self.s, user, ip="test", today=TODAY)

    def log(self, key: str, *, count: int = 3, money: str = "2.5", on: date = date(YEAR, 5, 4), county=None):
        data = ActivityInput(task_id=self.task.id, county_id=(county or self.wuhua).id, occurred_on=on,
                             description="义诊", values={self.count.id: str(count), self.money.id: money})
        return activities.record_activity(self.s, by=self.p(self.member), data=data, idempotency_key=key,
                                          today=TODAY).activity

    def verify(self, activity) -> None:
        activities.verify(self.s, by=self.p(self.staff), activity_id=activity.id)


@pytest.fixture
def world(session, settings_env) -> World:
    # These tests are about figures: activities alike on one day are logged as they come, without the
    # likely-duplicate decision and flags at entry (tested in tests/quality/).
    settings_env(quality_checks="false")
    return World(session)


def _figure(ov, indicator_id):
    return next(x for t in ov.tasks for x in t.indicators if x.indicator.id == indicator_id)


def test_overview_counts_verified_apart_from_pending_at_every_level(world):
    a = world.log("a", count=3)
    world.log("b", count=5)
    world.verify(a)
    period = periods.parse(f"{YEAR}-ytd11", TODAY)
    for org in (world.wuhua, world.kunming, world.province):
        fig = _figure(boards.overview(world.s, org, period), world.count.id)
        assert (fig.verified, fig.pending) == (3, 5), org.name
    # Outside the period: nothing.
    fig = _figure(boards.overview(world.s, world.province, periods.parse(f"{YEAR}-q3", TODAY)), world.count.id)
    assert (fig.verified, fig.pending) == (0, 0)
    # A sibling county's subtree does not see it.
    assert _figure(boards.overview(world.s, world.panlong, period), world.count.id).verified == 0


def test_pace_progress_and_lagging_follow_the_targets(world):
    world.verify(world.log("a", count=4))
    for org, value in ((world.kunming, 12), (world.wuhua, 12), (world.panlong, 24)):
        world.s.add(AnnualTarget(org_id=org.id, indicator_id=world.count.id, year=YEAR, value=value))
    world.s.flush()
    ov = boards.overview(world.s, world.kunming, periods.parse(f"{YEAR}-h1", TODAY))  # pace = target × 6/12
    fig = _figure(ov, world.count.id)
    assert fig.target == 12 and fig.pace == 6 and fig.progress == pytest.approx(4 / 6) and fig.behind
    rows = {r.org.code: r for r in ov.ranking}
    assert rows["530102"].score == pytest.approx(4 / 6) and rows["530102"].rank == 1 and rows["530102"].behind
    assert rows["530103"].score == 0 and rows["530103"].rank == 2
    assert rows["530111"].score is None and rows["530111"].rank is None  # no targets: not ranked
    # 150 % cap: a county far ahead does not hide the others.
    world.verify(world.log("b", count=100))
    ov = boards.overview(world.s, world.kunming, periods.parse(f"{YEAR}-h1", TODAY))
    assert {r.org.code: r for r in ov.ranking}["530102"].score == pytest.approx(1.5)


def test_participation_counts_members_who_took_part_in_a_verified_activity(world):
    period = periods.parse(f"{YEAR}-ytd11", TODAY)
    before = boards.overview(world.s, world.wuhua, period).participation
    a = world.log("a")
    assert boards.overview(world.s, world.wuhua, period).participation.took_part == before.took_part  # pending
    world.verify(a)
    after = boards.overview(world.s, world.wuhua, period).participation
    assert after.active == before.active and after.took_part == before.took_part + 1
    assert 0 < after.rate <= 1
    # A month in which they did nothing.
    assert boards.overview(world.s, world.wuhua, periods.parse(f"{YEAR}-09", TODAY)).participation.took_part == 0


def test_county_board_counts_by_place_and_ranks_among_key_counties(world):
    world.panlong.is_key_county = True
    world.s.flush()
    world.verify(world.log("a", count=2))
    world.verify(world.log("b", count=1, county=world.panlong))  # a 五华区 member working in 盘龙区
    world.verify(world.log("c", count=1, county=world.panlong))
    period = periods.parse(f"{YEAR}-ytd11", TODAY)
    board = boards.county_board(world.s, world.panlong, period)
    assert _figure(board, world.count.id).verified == 2
    assert board.rank == 1 and board.ranked >= 2
    assert sum(sum(v) for v in board.trend.values()) == 2 and len(board.trend_months) == 11
    # By organisation, 盘龙区 did nothing: the activities are credited to 五华区.
    assert board.own is not None and _figure(board.own, world.count.id).verified == 0
    with pytest.raises(NotFound, match="不是重点帮扶县"):
        boards.county_board(world.s, world.kunming, period)  # not a key county


def test_pages_are_scoped_and_live(client, session, world):
    f.login_as(client, session, world.viewer)
    page = client.get("/boards/530000")
    assert page.status_code == 200 and "云南省政协 · 工作进度" in page.text and "progress-map" in page.text
    version = boards.version(session, [("org", world.province.id)])
    assert client.get(f"/boards/530000?since={version}").status_code == 204  # nothing changed
    world.verify(world.log("live"))
    changed = client.get(f"/boards/530000?since={version}", headers={"HX-Request": "true"})
    assert changed.status_code == 200 and 'id="board"' in changed.text and "<html" not in changed.text
    assert client.get("/c/530102").status_code == 200
    behind = client.get(f"/boards/530102/activities?period={YEAR}-ytd11")
    assert behind.status_code == 200 and "共 1 条" in behind.text

    client.cookies.clear()
    f.login_as(client, session, world.outsider)  # 曲靖 staff
    assert client.get("/boards/530100").status_code == 404
    assert client.get("/c/530102").status_code == 404
    assert client.get("/boards/530300").status_code == 200
    assert client.get(f"/boards/530300?period={YEAR}-q9").status_code == 422


def test_meeting_mode_needs_no_login_and_stays_in_its_subtree(client, session, world):
    _, token = create_screen(session, world.p(world.staff), name="昆明会议室", org_id=world.kunming.id)
    client.cookies.clear()
    page = client.get(f"/d/{token}")
    assert page.status_code == 200 and "/slide/530100?part=summary" in page.text  # the playlist: tests/meeting
    assert client.get(f"/d/{token}/slide/530100").status_code == 200
    county = client.get(f"/d/{token}/slide/530102", headers={"HX-Request": "true"})
    assert county.status_code == 200 and "重点帮扶县看板" in county.text
    assert client.get(f"/d/{token}/slide/530000").status_code == 404  # above its subtree
    assert client.get(f"/d/{token}/slide/530300").status_code == 404  # a sibling prefecture
    assert client.get("/d/not-a-token/slide/530100").status_code == 404


def test_inactive_members_are_listed_for_staff_and_exported(client, session, world):
    from io import BytesIO

    from openpyxl import load_workbook

    for name in ("未参与委员甲", "未参与委员乙"):
        f.make_member(session, world.wuhua, name=name)
    period = periods.parse(f"{YEAR}-ytd11", TODAY)
    before, total = boards.inactive_members(session, world.wuhua, period)
    assert total == len(before) and any(r.member_id == world.member.member_id for r in before)
    world.verify(world.log("a"))
    after, total_after = boards.inactive_members(session, world.wuhua, period)
    assert total_after == total - 1 and all(r.member_id != world.member.member_id for r in after)

    f.login_as(client, session, world.staff)
    page = client.get(f"/boards/530102/inactive?period={YEAR}-ytd11")
    assert page.status_code == 200 and f"共 {total_after:,} 名" in page.text
    assert "未参与委员名单" in client.get("/boards/530100").text
    sheet = client.get(f"/boards/530102/inactive.xlsx?period={YEAR}-ytd11")
    assert sheet.status_code == 200
    ws = load_workbook(BytesIO(sheet.content)).active
    rows = list(ws.iter_rows(min_row=3, values_only=True))
    assert len(rows) == total_after >= 2 and rows[0][0] == 1 and isinstance(rows[0][0], int)
    assert {r[1] for r in rows} >= {"未参与委员甲", "未参与委员乙"}
    assert ws.freeze_panes == "A3"

    client.cookies.clear()
    f.login_as(client, session, world.viewer)  # reads boards, is not staff: may read, may not see the list
    assert client.get("/boards/530102/inactive").status_code == 403
    assert client.get("/boards/530102/inactive.xlsx").status_code == 403
    assert "未参与委员名单" not in client.get("/boards/530000").text


def test_a_new_link_moves_the_county_board(session, world):
    from app.links.schemas import LinkCreate
    from app.links.service import assign_leader
    from app.models import MemberRole

    leader = f.make_member(session, world.wuhua, name="挂联领导甲", role=MemberRole.chair_council)
    before = boards.version(session, [("place", world.wuhua.id)])
    assign_leader(session, by=world.p(world.staff), data=LinkCreate(
        leader_member_id=leader.id, county_id=world.wuhua.id, role="lead", start_date=date(YEAR, 1, 1)))
    assert boards.version(session, [("place", world.wuhua.id)]) > before
    board = boards.county_board(session, world.wuhua, periods.parse(f"{YEAR}-ytd11", TODAY))
    assert "挂联领导甲" in [x.name for x in board.leaders]
