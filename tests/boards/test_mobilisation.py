"""动员面 where 参与率 is: the boards, the JSON API; and members marked reached once a month by the
requests they make while signed in."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import event, func, select

from app.boards import periods
from app.boards import service as boards
from app.clock import CN
from app.models import MemberReach
from app.rollup import reach
from app.rollup import service as rollup
from tests.api.conftest import bearer, make_token
from tests.factories import login_as, make_member, month_key, months_ago, org, persona

pytestmark = pytest.mark.dates


def _reach_statements(session):
    """A list that collects the SQL statements touching member_reach, while the block runs."""
    seen: list[str] = []

    def listen(conn, cursor, statement, *args) -> None:
        if "member_reach" in statement:
            seen.append(statement.split()[0].upper())

    return seen, listen


def test_requests_mark_a_member_reached_once_a_month(client, session, clock):
    """Signing in marks the month; the requests after it write nothing more that month (remembered
    per process); the first request of a new Beijing month marks that month once, then nothing."""
    user = persona(session, "member")
    first_of_this = datetime.combine(months_ago(0), time(0, 10), CN)
    end_of_last = first_of_this - timedelta(minutes=20)  # 23:50 Beijing on the last day of last month
    clock.freeze(end_of_last)
    login_as(client, session, user)  # the login's own transaction marks last month
    rows = select(MemberReach.month, MemberReach.signed_in_at).where(MemberReach.member_id == user.member_id)
    assert session.execute(rows).all() == [(end_of_last.year * 100 + end_of_last.month, end_of_last)]

    seen, listen = _reach_statements(session)
    conn = session.connection()
    event.listen(conn, "before_cursor_execute", listen)
    try:
        for _ in range(3):
            assert client.get("/").status_code == 200
        assert seen == []  # the login marked the month and remembered it
        seen.clear()
        clock.freeze(first_of_this)  # 20 minutes later, a new month
        for _ in range(3):
            assert client.get("/").status_code == 200
        assert seen.count("INSERT") == 1 and len(seen) <= 2
    finally:
        event.remove(conn, "before_cursor_execute", listen)
    assert [m for m, _ in session.execute(rows.order_by(MemberReach.month))] == [
        end_of_last.year * 100 + end_of_last.month, first_of_this.year * 100 + first_of_this.month]
    assert rollup.check(session) == []
    wuhua = org(session, "530102")
    now = boards.participation(session, [wuhua.id], periods.parse(month_key(months_ago(0))))[wuhua.id]
    assert now.reached == 1 and now.reach_active == now.active >= 1


def test_api_gives_mobilisation_beside_participation(client, session, clock):
    kunming = org(session, "530100")
    _, raw = make_token(session, code="530100")
    got = client.get("/api/v1/progress?org=530100", headers=bearer(raw)).json()
    assert got["mobilisation"] is None  # nobody ever reached: 未统计, never 0
    ranked = client.get("/api/v1/rankings?org=530100", headers=bearer(raw)).json()
    assert {r["mobilisation_rate"] for r in ranked["rows"]} == {None}

    members = [make_member(session, org(session, "530102")).id for _ in range(3)]
    reach.mark(session, members[:2], clock.now(), via="notified")
    key = month_key(months_ago(0))
    got = client.get(f"/api/v1/progress?org=530100&period={key}", headers=bearer(raw)).json()
    board = boards.overview(session, kunming, periods.parse(key)).participation
    assert got["mobilisation"] == {"active": board.active, "reached": 2, "rate": 2 / board.active, "since": None}
    assert got["participation"]["active"] == board.active
    year = client.get(f"/api/v1/progress?org=530100&period={months_ago(0).year}", headers=bearer(raw)).json()
    if months_ago(0).month > 1:  # the year began before tracking: counted from this month, and says so
        assert year["mobilisation"]["since"] == key
    ranked = client.get(f"/api/v1/rankings?org=530100&period={key}", headers=bearer(raw)).json()
    wuhua = next(r for r in ranked["rows"] if r["code"] == "530102")
    assert wuhua["mobilisation_rate"] == pytest.approx(2 / boards.participation(
        session, [org(session, "530102").id], periods.parse(key))[org(session, "530102").id].active)
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    assert set(schema["MobilisationRead"]["properties"]) == {"active", "reached", "rate", "since"}


def test_boards_show_mobilisation_or_untracked(client, session, clock):
    login_as(client, session, persona(session, "province_staff"))  # no member: marks nobody
    page = client.get("/boards/530100")
    assert page.status_code == 200 and "委员动员面" in page.text
    assert '<div class="num" id="mobilisation-rate">未统计</div>' in page.text
    assert "<th>动员面</th>" in page.text

    wuhua = org(session, "530102")
    reach.mark(session, [make_member(session, wuhua).id], clock.now(), via="signed_in")
    active = boards.participation(session, [org(session, "530100").id], periods.parse(None))[org(session, "530100").id]
    page = client.get("/boards/530100")
    assert f"委员动员面 · 1 / {active.reach_active:,} 名" in page.text
    assert session.scalar(select(func.count()).select_from(MemberReach)) == 1


def test_the_big_screen_shows_mobilisation(client, session, clock):
    """The meeting room's slides (/d/…) are the boards: 动员面 beside 参与率 there too."""
    from app.screens import service as screens
    from tests.accounts.helpers import who

    kunming, wuhua = org(session, "530100"), org(session, "530102")
    wuhua.is_key_county = True
    session.flush()
    _, raw = screens.create_screen(session, who(session, "prefecture_staff"), name="昆明大屏", org_id=kunming.id)
    reach.mark(session, [make_member(session, wuhua).id], clock.now(), via="notified")
    for code, part in (("530100", "summary"), ("530102", "own-1")):  # the overview, the county 政协's own
        slide = client.get(f"/d/{raw}/slide/{code}?part={part}")
        assert slide.status_code == 200 and "委员动员面 · 1 / " in slide.text
