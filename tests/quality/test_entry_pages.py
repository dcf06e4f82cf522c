"""The member hears it at entry (issue 16 items 1 and 5): re-entering an activity is a decision
(申请加入 / 这是另一次活动 with a note / 您已记录过这次活动), a value over a bound asks 「请确认数值无误」
without refusing it, and a retried submission says it already succeeded — on the form and in the
JSON API (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.activities import service as svc
from app.activities.values import display_value
from app.clock import today_cn
from app.config import get_settings
from app.models import Activity, ActivityParticipant, ActivityStatus, ParticipantStatus
from app.quality import flags as quality
from app.quality.rules import effective_rules
from tests import factories as f
from tests.activities.conftest import World
from tests.activities.conftest import as_user as _as

pytestmark = pytest.mark.dates

HX = {"HX-Request": "true"}
API = "/api/v1/activities"


@pytest.fixture
def world(session) -> World:
    return World(session)


@pytest.fixture(autouse=True)
def uploads_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("SZT_UPLOAD_DIR", str(tmp_path / "uploads"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _fields(world, **overrides) -> dict:
    data = {
        "idempotency_key": "entry-key-1", "task_id": str(world.task.id), "county_id": str(world.wuhua.id),
        "occurred_on": today_cn().isoformat(), "description": "在五华区开展义诊活动",
        f"value_{world.count_ind.id}": "1", f"value_{world.money_ind.id}": "8",
    }
    data.update(overrides)
    return data


def _post(client, world, headers=None, **overrides):
    return client.post("/activities", data=_fields(world, **overrides), headers=headers, follow_redirects=False)


def _rows(session) -> list[Activity]:
    session.expire_all()
    return list(session.scalars(select(Activity).order_by(Activity.id)))


def _colleague(world):
    """A second member of the same county organisation, with an account."""
    return f.make_user(world.session, member=world.colleague, grants=((f.GrantRole.member, world.wuhua),))


def _recorded_by(world, user, key="first", **form):
    return svc.record_activity(world.session, by=world.p(user), data=world.form(occurred_on=today_cn(), **form),
                               idempotency_key=key).activity


def _confirmed(session, activity_id) -> set[int]:
    session.expire_all()
    return set(session.scalars(select(ActivityParticipant.member_id).where(
        ActivityParticipant.activity_id == activity_id, ActivityParticipant.status == ParticipantStatus.confirmed)))


# --- the duplicate decision ------------------------------------------------------------------------

def test_re_entering_the_same_activity_asks_and_one_tap_joins_it(client, session, world):
    other = _colleague(world)
    first = _recorded_by(world, other)
    _as(client, world, world.member_user)

    r = _post(client, world)
    assert r.status_code == 422 and "<html" in r.text
    assert "申请加入" in r.text and "这是另一次活动" in r.text and "您已记录过" not in r.text
    assert f'formaction="/activities/{first.id}/join"' in r.text
    assert f'name="distinct_from" value="{first.id}"' in r.text and "同事委员" in r.text  # its recorder
    assert 'value="在五华区开展义诊活动"' in r.text or ">在五华区开展义诊活动<" in r.text  # nothing typed is lost
    assert len(_rows(session)) == 1  # not a second row
    # With HTMX: the form alone, swapped in (422 is the swapped error status), not a 409 toast.
    fragment = _post(client, world, headers=HX)
    assert fragment.status_code == 422 and "<html" not in fragment.text and 'id="activity-form"' in fragment.text
    assert "申请加入" in fragment.text

    joined = client.post(f"/activities/{first.id}/join", follow_redirects=False)
    assert joined.status_code == 303 and joined.headers["location"] == f"/activities/{first.id}?joined=1"
    assert "已加入这次活动" in client.get(joined.headers["location"]).text
    assert len(_rows(session)) == 1
    assert _confirmed(session, first.id) == {world.colleague.id, world.member_user.member_id}

    # Now named in it: entering it again says so instead of offering to join.
    again = _post(client, world, idempotency_key="entry-key-2")
    assert "您已在这次活动的参与名单中" in again.text and f'formaction="/activities/{first.id}/join"' not in again.text


def test_another_activity_needs_a_note_and_is_then_recorded_with_a_duplicate_flag(client, session, world):
    first = _recorded_by(world, _colleague(world))
    _as(client, world, world.member_user)

    no_note = _post(client, world, distinct_from=str(first.id), distinct_note=" ")
    assert no_note.status_code == 422 and len(_rows(session)) == 1
    note_part = no_note.text.split('id="f-distinct-note"')[1].split("</div>")[0]
    assert 'class="field-error"' in note_part and "请说明与已有记录的不同" in note_part  # beside the note
    assert "申请加入" in no_note.text  # the same question again

    done = _post(client, world, distinct_from=str(first.id), distinct_note="下午在另一所学校，是两次活动")
    assert done.status_code == 303, done.text
    rows = _rows(session)
    assert len(rows) == 2 and rows[1].distinct_note == "下午在另一所学校，是两次活动"
    assert [fl.code for fl in quality.flags_of(session, [rows[1].id])[rows[1].id]].count("duplicate") == 1


def test_re_entering_my_own_activity_links_to_it(client, session, world):
    mine = _recorded_by(world, world.member_user)
    _as(client, world, world.member_user)
    r = _post(client, world, idempotency_key="entry-key-2")
    assert r.status_code == 422 and "您已记录过这次活动" in r.text
    assert f'href="/activities/{mine.id}"' in r.text and f'href="/activities/{mine.id}/edit"' in r.text  # pending
    assert f'formaction="/activities/{mine.id}/join"' not in r.text
    assert len(_rows(session)) == 1
    # The live nudge while filling speaks the same language.
    nudge = client.get("/activities/duplicates", headers=HX, params={
        "county_id": world.wuhua.id, "task_id": world.task.id, "occurred_on": today_cn().isoformat()})
    assert "您已记录过这次活动" in nudge.text and f'href="/activities/{mine.id}/edit"' in nudge.text


# --- 请确认数值无误 ---------------------------------------------------------------------------------

def _bounded(session, world):
    """An indicator of the world's task with a bound, and a value just over it (as typed)."""
    rules = effective_rules(session, world.wuhua.id)
    ind = next((i for i in world.indicators if i.id in rules.bounds), None)
    if ind is None:
        pytest.skip("the seeded rules bound none of this task's indicators")
    top = rules.bounds[ind.id].max_value
    return ind, (f"{(top + 100) / 100:.2f}" if ind.kind == "money" else str(top + 1))


def test_a_value_over_its_bound_asks_to_confirm_then_records_it_flagged(client, session, world):
    ind, over = _bounded(session, world)
    _as(client, world, world.member_user)
    asked = _post(client, world, **{f"value_{ind.id}": over})
    assert asked.status_code == 422 and "请确认数值无误" in asked.text and ind.name in asked.text
    assert "超过单次活动上限" in asked.text and 'name="confirm_values" value="1"' in asked.text
    assert "数值无误，提交" in asked.text and len(_rows(session)) == 0  # asked, never refused

    done = _post(client, world, confirm_values="1", **{f"value_{ind.id}": over})
    assert done.status_code == 303, done.text
    [row] = _rows(session)
    assert "over_bound" in {fl.code for fl in quality.flags_of(session, [row.id])[row.id]}


def test_the_values_say_their_bounds_so_the_page_can_point_out_an_over_bound_figure(client, session, world):
    ind, _over = _bounded(session, world)
    _as(client, world, world.member_user)
    block = client.get(f"/activities/new?task_id={world.task.id}", headers={"HX-Request": "true"}).text
    bound = quality.effective_rules(session, world.wuhua.id).bounds[ind.id].max_value
    shown = display_value(ind.kind, bound)
    assert f'data-over="{shown}"' in block and f'aria-describedby="f-value_{ind.id}-over"' in block
    assert f'id="f-value_{ind.id}-over" hidden' in block and "超过单次活动上限" in block


# --- 已提交成功 ------------------------------------------------------------------------------------

def test_a_retried_submission_says_it_already_succeeded(client, session, world):
    _as(client, world, world.member_user)
    first = _post(client, world)
    assert first.status_code == 303 and first.headers["location"].endswith("?created=1")
    again = _post(client, world)
    assert again.status_code == 303 and again.headers["location"] == first.headers["location"] + "&replayed=1"
    page = client.get(again.headers["location"])
    assert "已提交成功" in page.text and len(_rows(session)) == 1


def test_back_then_other_content_under_the_same_key_says_the_first_one_succeeded(client, session, world):
    _as(client, world, world.member_user)
    first = _post(client, world)
    activity_id = int(re.search(r"/activities/(\d+)", first.headers["location"]).group(1))
    for headers in (None, HX):
        changed = _post(client, world, headers=headers, description="改了一下简述再提交")
        assert changed.status_code == 200, changed.text
        assert "您刚才已提交成功" in changed.text and f'href="/activities/{activity_id}"' in changed.text
        assert "提交编号" not in changed.text and "再记录一条新的活动" in changed.text
    assert ("<html" in _post(client, world, description="改了").text
            and "<html" not in _post(client, world, headers=HX, description="改了").text)
    # 再记录一条新的活动: a fresh form (another key) keeping what was typed.
    carried = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">',
                              changed.text.split('action="/activities/new"')[1].split("</form>")[0]))
    assert carried["description"] == "改了一下简述再提交" and "idempotency_key" not in carried
    fresh = client.get("/activities/new", params=carried)
    assert "改了一下简述再提交" in fresh.text and f'name="value_{world.money_ind.id}" value="8"' in fresh.text
    assert 'value="entry-key-1"' not in fresh.text
    assert len(_rows(session)) == 1


# --- the JSON API ----------------------------------------------------------------------------------

def test_the_api_answers_409_likely_duplicate_with_candidates_until_confirmed(client, session, world):
    occurred = today_cn() - timedelta(days=3)
    first = svc.record_activity(session, by=world.p(_colleague(world)), data=world.form(occurred_on=occurred),
                                idempotency_key="api-first").activity
    _as(client, world, world.member_user)
    body = {"task_id": world.task.id, "county_id": world.wuhua.id, "occurred_on": occurred.isoformat(),
            "description": "在五华区开展义诊活动", "values": {str(world.count_ind.id): "1"}}

    refused = client.post(API, json=body, headers={"Idempotency-Key": "api-2"})
    assert refused.status_code == 409, refused.text
    answer = refused.json()
    assert answer["code"] == "likely_duplicate" and answer["detail"]
    assert answer["candidates"] == [{"id": first.id, "occurred_on": occurred.isoformat(), "site_id": None,
                                     "recorder": answer["candidates"][0]["recorder"], "status": "pending"}]
    assert answer["candidates"][0]["recorder"]
    assert session.scalar(select(func.count()).select_from(Activity)) == 1

    confirmed = {**body, "distinct_from": [first.id], "distinct_note": "另一所学校"}
    created = client.post(API, json=confirmed, headers={"Idempotency-Key": "api-2"})
    assert created.status_code == 201, created.text
    assert "duplicate" in {fl["code"] for fl in created.json()["flags"]}
    assert created.json()["distinct_note"] == "另一所学校"
    # An idempotent replay is answered before any duplicate check: 200, never 409.
    replay = client.post(API, json=confirmed, headers={"Idempotency-Key": "api-2"})
    assert replay.status_code == 200 and replay.json()["id"] == created.json()["id"]
    assert replay.headers["idempotent-replayed"] == "true"
    bare = client.post(API, json=body, headers={"Idempotency-Key": "api-2"})  # the decision is not content
    assert bare.status_code == 200 and bare.json()["id"] == created.json()["id"]
    assert session.scalar(select(func.count()).select_from(Activity)
                          .where(Activity.status == ActivityStatus.pending)) == 2
