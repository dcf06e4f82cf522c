"""成效 (outcome indicators) on an activity: optional at entry and never instead of an effort figure,
added or changed by the recorder until verified (page and API), marked in the read model, and at no
extra SQL statement per submission."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from app.activities import service as svc
from app.errors import Conflict, Forbidden, Invalid
from tests import factories as f
from tests.activities.conftest import TODAY, as_user, recorded


@pytest.fixture
def people(world):
    """The 受益群众 outcome of the world's task (医疗帮扶: its only outcome)."""
    return f.outcomes(world.session, world.task)["受益群众"]


def _values(read):
    return {v.name: (v.display, v.is_outcome) for v in read.values}


def test_an_activity_is_recorded_with_or_without_outcomes(world, people):
    plain = recorded(world, "k-plain")
    assert _values(svc.to_read(world.session, [plain])[0]) == {"培训讲座": ("1", False), "医疗设备投入资金": ("8", False)}
    with_outcome = recorded(world, "k-out", values={world.count_ind.id: "2", people.id: "120"},
                            occurred_on=TODAY.replace(day=5))
    got = _values(svc.to_read(world.session, [with_outcome])[0])
    assert got == {"培训讲座": ("2", False), "受益群众": ("120", True)}


def test_an_outcome_alone_is_no_activity(world, people):
    with pytest.raises(Invalid) as refused:
        recorded(world, "k-alone", values={people.id: "300"})
    assert "成效为选填" in refused.value.message


def test_the_recorder_adds_an_outcome_while_pending_and_not_once_verified(world, people):
    activity = recorded(world, "k-later")
    member = world.p(world.member_user)
    svc.add_outcomes(world.session, by=member, activity_id=activity.id, values={people.id: "45"}, today=TODAY)
    read = svc.to_read(world.session, [svc.activity_for_read(world.session, member, activity.id)])[0]
    assert read.status == "pending" and _values(read)["受益群众"] == ("45", True)
    assert _values(read)["医疗设备投入资金"] == ("8", False)  # everything else as recorded
    with pytest.raises(Invalid):  # an effort indicator is not added this way
        svc.add_outcomes(world.session, by=member, activity_id=activity.id, values={world.count_ind.id: "9"},
                         today=TODAY)
    world.session.rollback()
    with pytest.raises(Forbidden):  # someone else's activity
        svc.add_outcomes(world.session, by=world.p(world.county_staff), activity_id=activity.id,
                         values={people.id: "1"}, today=TODAY)
    world.session.rollback()
    svc.verify(world.session, by=world.p(world.county_staff), activity_id=activity.id, note="已核实")
    with pytest.raises(Conflict) as refused:
        svc.add_outcomes(world.session, by=member, activity_id=activity.id, values={people.id: "50"}, today=TODAY)
    assert refused.value.code == "bad_transition" and "已审核通过" in refused.value.message


def test_outcomes_through_the_api_and_the_pages(client, world, people):
    as_user(client, world, world.member_user)
    activity = recorded(world, "k-api")
    first = activity.version
    form = client.get(f"/activities/{activity.id}/edit")
    assert "成效（选填）" in form.text and f'name="value_{people.id}"' in form.text
    page = client.get(f"/activities/{activity.id}")
    assert "补填成效" in page.text and "未填写" in page.text
    added = client.post(f"/api/v1/activities/{activity.id}/outcomes",
                        json={"values": {str(people.id): "66"}, "version": first})
    assert added.status_code == 200, added.text
    outcome = next(v for v in added.json()["values"] if v["indicator_id"] == people.id)
    assert outcome["is_outcome"] is True and outcome["display"] == "66"
    assert all(not v["is_outcome"] for v in added.json()["values"] if v["indicator_id"] != people.id)
    assert "成效：受益群众 66人" in client.get("/activities/mine").text
    as_user(client, world, world.county_staff)
    assert "成效：受益群众 <b class=\"num\">66</b>" in client.get("/review").text
    as_user(client, world, world.member_user)
    stale = client.post(f"/api/v1/activities/{activity.id}/outcomes",
                        json={"values": {str(people.id): "67"}, "version": first})
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    svc.verify(world.session, by=world.p(world.county_staff), activity_id=activity.id, note="已核实")
    late = client.post(f"/api/v1/activities/{activity.id}/outcomes", json={"values": {str(people.id): "70"}})
    assert late.status_code == 409 and "不能再补填成效" in late.json()["detail"]
    assert "66" in client.get(f"/activities/{activity.id}").text and "补填成效" not in client.get(
        f"/activities/{activity.id}").text


def test_outcome_values_cost_no_extra_statement_per_submission(world, people, base_engine):
    """The submission's statements are the same with outcome values as without (issue 21 counts them)."""
    def statements(key: str, values: dict, day: int) -> int:
        seen = []

        def listener(*args) -> None:
            seen.append(args[2])

        event.listen(base_engine, "before_cursor_execute", listener)
        try:
            recorded(world, key, values=values, occurred_on=TODAY.replace(day=day))
        finally:
            event.remove(base_engine, "before_cursor_execute", listener)
        return len(seen)

    # The first use of an indicator on a day computes its baseline (app/quality/flags.py, once a day):
    # warm both up, then compare two ordinary submissions.
    statements("s0", {world.count_ind.id: "1", people.id: "10"}, 6)
    without = statements("s1", {world.count_ind.id: "1"}, 2)  # days apart: no likely duplicate to look at
    with_outcome = statements("s2", {world.count_ind.id: "1", people.id: "30"}, 12)
    assert with_outcome == without
