"""意见建议的跟踪 (app/suggestions/service.py): the states, who may set them, only verified ones, the
version read, the audit entry, and 采纳率 of a subtree for a period."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.models import ActivityStatus, AuditLog, Indicator, RollupStamp
from app.suggestions import service
from tests import factories as f
from tests.suggestions.conftest import TODAY, YEAR

pytestmark = pytest.mark.dates
SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # lean: the first on PostgreSQL too


def _audits(world):
    return list(world.s.scalars(select(AuditLog).where(AuditLog.action == "suggestion.state").order_by(AuditLog.id)))


@SQLITE
def test_the_catalogue_marks_the_two_suggestion_indicators(session):
    names = set(session.scalars(select(Indicator.name).where(Indicator.is_suggestion.is_(True))))
    assert names == {"意见建议", "建言献策"}


def test_states_move_with_the_version_read_and_each_change_is_audited(world):
    a = world.made(3)
    row, changed = world.set(a, "reported", department="  县 乡村振兴局 ")
    assert changed and row.state == "reported" and row.department == "县 乡村振兴局" and row.version == 1
    again, changed = world.set(a, "reported", department="县 乡村振兴局", version=0)  # a retry: no change
    assert not changed and again.version == 1
    with pytest.raises(Conflict) as stale:
        world.set(a, "adopted", version=0)  # someone else set it first
    assert stale.value.code == "stale_version"
    row, _ = world.set(a, "implemented", on=date(YEAR, 7, 1), version=1)
    assert row.version == 2 and row.state == "implemented"
    entries = _audits(world)
    assert len(entries) == 2 and entries[0].target_id == str(a.id) and entries[0].org_id == world.wuhua.id
    assert '"implemented"' in entries[1].after and '"reported"' in entries[1].before
    state = service.state_of(world.s, world.p(world.kunming_viewer), a.id)
    assert state.label == "已落实" and state.items == 3 and not state.may_change


@SQLITE
def test_a_change_moves_the_boards_stamps_above(world):
    a = world.made(2)

    def stamp(org):
        return world.s.scalar(select(RollupStamp.version).where(RollupStamp.scope == "org",
                                                                RollupStamp.unit_id == org.id)) or 0
    before = stamp(world.province)
    world.set(a)
    assert stamp(world.province) == before + 1


@SQLITE
def test_only_the_office_over_the_credited_organisation_sets_it(world):
    a = world.made(2)
    with pytest.raises(NotFound):
        world.set(a, by=world.outsider)  # 曲靖 reads nothing of 昆明's
    with pytest.raises(Forbidden):
        world.set(a, by=world.kunming_viewer)  # reads, may not change
    with pytest.raises(Forbidden):
        world.set(a, by=world.member)  # the recorder reads it, the office follows it up
    above = world.made(2, credited=world.kunming)
    with pytest.raises(Forbidden):
        world.set(above, by=world.county_staff)  # done in the county (read by place), credited above it
    assert world.set(a, by=world.county_staff)[1]


@SQLITE
def test_only_verified_suggestions_and_a_sane_form(world):
    pending = world.made(2, status=ActivityStatus.pending)
    with pytest.raises(Invalid) as got:
        world.set(pending)
    assert got.value.code == "not_verified"
    other = f.make_activity(world.s, recorder=world.member, credited=world.wuhua, county=world.wuhua,
                            task_=world.other, values={world.other_count.id: 1}, status=ActivityStatus.verified)
    with pytest.raises(NotFound) as got:
        world.set(other)
    assert got.value.code == "not_suggestion"
    a = world.made(2, on=date(YEAR, 5, 4))
    with pytest.raises(Invalid) as got:
        service.set_state(world.s, by=world.p(world.staff), activity_id=a.id, state="lost", department=" ",
                          state_on=date(YEAR, 5, 3), version=0)
    assert set(got.value.errors) == {"state", "department", "state_on"}
    with pytest.raises(Invalid) as got:
        world.set(a, on=TODAY.replace(day=24))
    assert "state_on" in got.value.errors
    with pytest.raises(Invalid):
        world.set(a, department="部" * 101)


@SQLITE
def test_adoption_counts_items_by_the_activitys_date_and_state(world):
    p = world.period()
    assert service.adoption(world.s, world.kunming, p).rate is None  # nothing made: —
    a, b, c = world.made(4), world.made(3, task=world.task10), world.made(5, credited=world.panlong)
    world.made(7, status=ActivityStatus.pending)  # not verified: not made
    world.made(9, on=date(YEAR, 12, 2))  # after the period
    outside = world.made(6, credited=world.qujing)
    world.set(a, "adopted")
    world.set(b, "implemented")
    world.set(c, "declined")
    world.set(outside, "adopted", by=f.persona(world.s, "province_staff"))
    got = service.adoption(world.s, world.kunming, p)
    assert (got.made, got.adopted, got.implemented, got.declined, got.untracked) == (12, 7, 3, 5, 0)
    assert got.rate == pytest.approx(7 / 12)
    wuhua = service.adoption(world.s, world.wuhua, p)
    assert (wuhua.made, wuhua.adopted) == (7, 7)
    assert service.adoption_text(got) == "所提意见建议（含建言献策）12条中，已采纳7条（其中已落实3条），采纳率58.3%。"


@SQLITE
def test_a_reopened_suggestion_keeps_its_state_but_leaves_the_figures(world):
    a = world.made(4)
    world.set(a, "adopted")
    a.status = ActivityStatus.pending
    world.s.flush()
    got = service.adoption(world.s, world.kunming, world.period())
    assert (got.made, got.adopted) == (0, 0)
    assert service.state_of(world.s, world.p(world.staff), a.id).label == "已采纳"


@SQLITE
def test_the_list_filters_by_state_and_pages(world):
    made = [world.made(n + 1, on=date(YEAR, 3, n + 1)) for n in range(4)]
    world.made(2, credited=world.qujing)
    world.set(made[0], "adopted")
    by = world.p(world.staff)
    rows, total = service.list_suggestions(world.s, by, world.kunming, per_page=3)
    assert total == 4 and [r.activity.id for r in rows] == [m.id for m in made[::-1][:3]]
    assert all(r.may_change for r in rows) and rows[0].items == 4
    rows, total = service.list_suggestions(world.s, by, world.kunming, state="none")
    assert total == 3 and made[0].id not in {r.activity.id for r in rows}
    rows, total = service.list_suggestions(world.s, by, world.kunming, state="adopted")
    assert total == 1 and rows[0].label == "已采纳" and rows[0].row.department == "县农业农村局"
    rows, _ = service.list_suggestions(world.s, world.p(world.kunming_viewer), world.kunming)
    assert not any(r.may_change for r in rows)
    with pytest.raises(Invalid):
        service.list_suggestions(world.s, by, world.kunming, state="bogus")
    assert world.s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "suggestion.state")) == 1
