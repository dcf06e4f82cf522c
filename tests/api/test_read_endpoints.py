"""The read endpoints other systems use: organisations, catalogue, progress, rankings, and the
activities list walked by cursor and synced by change time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.activities import service as activities
from app.auth.service import build_principal
from app.boards import periods
from app.boards import service as boards
from app.clock import now_utc, today_cn
from app.models import Activity, ActivityStatus, Organisation
from tests.api.conftest import bearer, make_token
from tests.factories import indicators, make_activity, months_ago, org, persona, task, this_year

pytestmark = pytest.mark.dates


def _key(session, *codes):
    for code in codes:
        org(session, code).is_key_county = True
    session.flush()


def _verified(session, *, county="530102", day=None, value=3):
    t = task(session)
    place = org(session, county)
    return make_activity(session, recorder=persona(session, "county_staff"), credited=place, county=place, task_=t,
                         values={indicators(session, t)[0].id: value}, status=ActivityStatus.verified,
                         occurred_on=day or today_cn().replace(day=1))


def test_progress_is_the_boards_figures(client, session):
    _verified(session, value=7)
    _, raw = make_token(session, code="530100")
    got = client.get("/api/v1/progress?org=530100", headers=bearer(raw)).json()
    board = boards.overview(session, org(session, "530100"), periods.parse(None))
    assert got["org"]["code"] == "530100" and got["period"]["key"] == board.period.key
    first = board.tasks[0]
    assert got["tasks"][0]["activities_verified"] == first.activities[0] >= 1
    assert got["tasks"][0]["indicators"][0]["verified"] == first.indicators[0].verified >= 7
    assert got["participation"]["active"] == board.participation.active


def test_rankings_of_children_and_of_key_counties(client, session):
    _key(session, "530102", "530302")
    _verified(session)
    _, raw = make_token(session, code="530000")
    children = client.get(f"/api/v1/rankings?org=530000&period={this_year()}", headers=bearer(raw)).json()
    prefectures = session.scalars(select(Organisation.code).where(Organisation.level == "prefecture")).all()
    assert children["of"] == "children" and sorted(r["code"] for r in children["rows"]) == sorted(prefectures)
    keys = client.get("/api/v1/rankings?org=530000&of=key_counties", headers=bearer(raw)).json()
    key_codes = session.scalars(select(Organisation.code).where(Organisation.is_key_county.is_(True))).all()
    assert sorted(r["code"] for r in keys["rows"]) == sorted(key_codes)
    ranks = [r["rank"] for r in keys["rows"] if r["rank"] is not None]
    assert ranks == sorted(ranks)


def test_county_progress_only_for_key_counties(client, session):
    _key(session, "530102")
    _verified(session)
    _, raw = make_token(session, code="530000")
    key = org(session, "530102")
    got = client.get(f"/api/v1/counties/{key.code}/progress?period={this_year()}", headers=bearer(raw))
    assert got.status_code == 200 and got.json()["county"]["code"] == key.code
    assert got.json()["rank"] == 1 and got.json()["tasks"][0]["activities_verified"] >= 1
    assert got.json()["ranked"] == len(session.scalars(select(Organisation.id).where(Organisation.is_key_county.is_(True))).all())
    plain = session.scalar(select(Organisation).where(Organisation.level == "county",
                                                      Organisation.is_key_county.is_(False)).limit(1))
    assert client.get(f"/api/v1/counties/{plain.code}/progress", headers=bearer(raw)).status_code == 404


def test_catalogue_and_bad_periods(client, session):
    _, raw = make_token(session, code="530100")
    cat = client.get("/api/v1/catalogue", headers=bearer(raw)).json()
    assert cat["tasks"] and all(t["indicators"] for t in cat["tasks"]) and cat["areas"]
    bad = client.get("/api/v1/progress?org=530100&period=2026-13", headers=bearer(raw))
    assert bad.status_code == 422 and bad.json()["code"] == "bad_period"
    worse = client.get("/api/v1/progress?org=530100&period=lastyear", headers=bearer(raw))
    assert worse.status_code == 422 and worse.json()["code"] == "validation_error"


def test_cursor_pages_through_every_activity_once(client, session):
    made = [_verified(session, day=months_ago(2) + timedelta(days=i % 3)) for i in range(7)]
    _, raw = make_token(session, code="530102", level="records")
    seen, cursor, pages = [], None, 0
    while True:
        url = "/api/v1/activities?per_page=3&status=verified" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=bearer(raw)).json()
        assert page["total"] == (7 if cursor is None else None)
        seen += [(a["occurred_on"], a["id"]) for a in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and sorted(i for _, i in seen) == sorted(a.id for a in made)
    assert seen == sorted(seen, reverse=True)  # newest first, ties by id
    uncounted = client.get("/api/v1/activities?per_page=3&status=verified&count=false", headers=bearer(raw)).json()
    assert uncounted["total"] is None and uncounted["next_cursor"] and len(uncounted["items"]) == 3
    bad = client.get("/api/v1/activities?cursor=bm9wZQ", headers=bearer(raw))
    assert bad.status_code == 422 and bad.json()["code"] == "bad_cursor"
    # A cursor of one order is refused by the other.
    first = client.get("/api/v1/activities?per_page=1", headers=bearer(raw)).json()
    other = client.get(f"/api/v1/activities?order=updated&cursor={first['next_cursor']}", headers=bearer(raw))
    assert other.status_code == 422


def test_updated_since_returns_what_changed_oldest_change_first(client, session):
    t = task(session)
    place = org(session, "530102")
    staff = persona(session, "county_staff")
    pending = [make_activity(session, recorder=staff, credited=place, county=place, task_=t,
                             values={indicators(session, t)[0].id: 1}) for _ in range(3)]
    old = now_utc() - timedelta(days=2)
    for a in pending:
        a.updated_at = old
    session.flush()
    mark = now_utc() - timedelta(seconds=1)
    by = build_principal(session, persona(session, "prefecture_staff"))
    activities.verify(session, by=by, activity_id=pending[2].id)
    activities.return_activity(session, by=by, activity_id=pending[0].id, reason="照片不清楚")
    _, raw = make_token(session, code="530102", level="records")
    since = mark.isoformat().replace("+00:00", "Z")
    got = client.get("/api/v1/activities", params={"updated_since": since, "order": "updated"},
                     headers=bearer(raw)).json()
    assert [a["id"] for a in got["items"]] == [pending[2].id, pending[0].id]
    assert [a["status"] for a in got["items"]] == ["verified", "returned"]
    assert session.get(Activity, pending[1].id).updated_at < mark
