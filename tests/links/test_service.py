"""The rules of 挂联, through the service: who may be linked where by whom, dates, overlaps, ending with
history kept, changing with the rules re-checked, 待调整, coverage, the pickers, audit (SQLite and
PostgreSQL)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.links import service as svc
from app.links.schemas import LinkChange
from app.models import ActivityStatus, AuditLog, GrantRole, LinkAssignment, LinkRole
from tests import factories as f
from tests.links.conftest import TODAY, YEAR, assigned

pytestmark = pytest.mark.dates

D = date


def _links(session) -> list[LinkAssignment]:
    return list(session.scalars(select(LinkAssignment).order_by(LinkAssignment.id)))


def _audit(session, action: str) -> list[AuditLog]:
    return list(session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)))


# --- making a link ----------------------------------------------------------------------------------

def test_the_office_links_a_provincial_leader_to_a_key_county_and_it_is_audited(world):
    result = svc.assign_leader(world.session, by=world.p(world.province_staff), data=world.data(note=" 牵头 "),
                               today=TODAY)
    assert result.created
    link = result.link
    assert (link.leader_member_id, link.county_id, link.site_id, link.role) == (
        world.vice_chair.id, world.panlong.id, None, LinkRole.lead)
    assert (link.start_date, link.end_date, link.note, link.assigned_by_user_id) == (
        D(YEAR, 3, 1), None, "牵头", world.province_staff.id)
    [entry] = _audit(world.session, "link.create")
    assert (entry.target_type, entry.target_id, entry.org_id) == ("link_assignment", str(link.id), world.panlong.id)
    assert entry.actor_user_id == world.province_staff.id and f'"leader_member_id": {world.vice_chair.id}' in entry.after


def test_the_start_date_defaults_to_today(world):
    link = svc.assign_leader(world.session, by=world.p(world.province_staff),
                             data=world.data(start_date=None), today=TODAY).link
    assert link.start_date == TODAY


def test_a_retried_identical_link_answers_the_existing_row(world):
    first = assigned(world)
    again = svc.assign_leader(world.session, by=world.p(world.province_staff), data=world.data(), today=TODAY)
    assert not again.created and again.link.id == first.id
    assert len(_links(world.session)) == 1 and len(_audit(world.session, "link.create")) == 1


@pytest.mark.parametrize(("start", "end"), [
    (D(YEAR, 5, 1), None),  # open-ended inside an open-ended one
    (D(YEAR - 1, 1, 1), D(YEAR, 3, 2)),  # in force on the other's first day
    (D(YEAR - 1, 1, 1), None),
])
def test_overlapping_links_of_the_same_leader_and_place_are_refused(world, start, end):
    assigned(world)
    with pytest.raises(Conflict) as exc:
        svc.assign_leader(world.session, by=world.p(world.province_staff),
                          data=world.data(start_date=start, end_date=end, note="另一条"), today=TODAY)
    assert exc.value.code == "link_overlap" and "时间不能重叠" in exc.value.message and "省副主席甲" in exc.value.message
    assert len(_links(world.session)) == 1


def test_links_that_do_not_meet_in_time_or_place_are_allowed(world):
    assigned(world, start_date=D(YEAR - 1, 1, 1), end_date=D(YEAR, 1, 1))
    assigned(world, start_date=D(YEAR, 1, 1))  # from the day the first ended (the end date is not in force)
    assigned(world, site_id=world.panlong_site.id)  # a site of the county is another place
    assigned(world, leader_member_id=world.kunming_sg.id)  # another leader, same county
    assert len(_links(world.session)) == 4


@pytest.mark.parametrize("who", ["plain_standing", "plain_member", "qujing_vice", "wuhua_chair"])
def test_only_a_current_leader_of_the_county_or_above_may_be_linked(world, who):
    # A 常委 without a post and a 委员 do not lead; 曲靖's vice-chair and 五华区's chair are not above 盘龙区.
    with pytest.raises(Invalid) as exc:
        svc.assign_leader(world.session, by=world.p(world.province_staff),
                          data=world.data(leader_member_id=getattr(world, who).id), today=TODAY)
    assert exc.value.code == "not_a_leader" and "leader_member_id" in exc.value.errors
    assert _links(world.session) == []


def test_a_committee_head_with_a_post_may_be_linked_and_a_county_chair_in_his_own_county(world):
    assigned(world, leader_member_id=world.committee_head.id)
    assigned(world, leader_member_id=world.wuhua_chair.id, county_id=world.wuhua.id, site_id=world.wuhua_site.id)
    assert len(_links(world.session)) == 2


def test_a_leader_whose_seat_has_ended_cannot_be_linked(world):
    world.end_membership(world.vice_chair, TODAY - timedelta(days=1))
    with pytest.raises(Invalid) as exc:
        assigned(world)
    assert exc.value.code == "not_a_leader"


def test_nobody_can_be_linked_with_a_made_up_member_id(world):
    with pytest.raises(Invalid):
        assigned(world, leader_member_id=2_000_000_000)


@pytest.mark.parametrize("who", ["member_user", "viewer"])
def test_members_and_viewers_cannot_assign(world, who):
    with pytest.raises(Forbidden) as exc:
        assigned(world, by=getattr(world, who))
    assert "安排挂联" in exc.value.message


@pytest.mark.parametrize(("who", "county"), [
    ("county_staff", "panlong"),  # a sibling county
    ("outsider_staff", "panlong"),  # a sibling prefecture's office
    ("prefecture_staff", "qilin"),  # 昆明 into 曲靖
    ("head_user", "qilin"),  # a leader's grant covers 昆明 only
])
def test_the_place_must_lie_inside_the_assigners_subtree(world, who, county):
    leader = world.vice_chair if county == "panlong" else world.qujing_vice
    with pytest.raises(NotFound):  # a county the assigner does not read is not revealed
        assigned(world, by=getattr(world, who), county_id=getattr(world, county).id, leader_member_id=leader.id)
    assert _links(world.session) == [] and _audit(world.session, "link.create") == []


def test_a_reader_of_the_place_without_link_rights_is_refused(world):
    reader = f.make_user(world.session, grants=((GrantRole.viewer, world.province), (GrantRole.staff, world.qujing)))
    with pytest.raises(Forbidden) as exc:
        assigned(world, by=reader, county_id=world.panlong.id, leader_member_id=world.qujing_vice.id)
    assert exc.value.code == "place_out_of_scope"
    assert _links(world.session) == []


def test_the_leader_must_belong_to_the_assigners_subtree_too(world):
    # 五华区's office cannot dispatch the provincial vice-chair, even to its own county.
    with pytest.raises(Invalid) as exc:
        assigned(world, by=world.county_staff, county_id=world.wuhua.id)
    assert exc.value.code == "not_a_leader"
    # …but links its own chair to one of its sites, and 昆明's leader grant links 昆明's leaders.
    assigned(world, by=world.county_staff, county_id=world.wuhua.id, leader_member_id=world.wuhua_chair.id,
             site_id=world.wuhua_site.id)
    assigned(world, by=world.head_user, leader_member_id=world.kunming_sg.id)
    assert len(_links(world.session)) == 2


def test_the_place_must_be_a_county_and_the_site_inside_it(world):
    with pytest.raises(Invalid) as exc:
        assigned(world, county_id=world.kunming.id)
    assert "county_id" in exc.value.errors
    with pytest.raises(Invalid) as exc:
        assigned(world, site_id=world.wuhua_site.id)  # a 五华区 site named with 盘龙区
    assert "site_id" in exc.value.errors
    with pytest.raises(NotFound):  # no such organisation: the organisation loaders' 404
        assigned(world, county_id=2_000_000_000)


@pytest.mark.parametrize(("start", "end", "field"), [
    (D(YEAR, 3, 1), D(YEAR, 2, 28), "end_date"),
    (D(YEAR, 3, 1), D(YEAR, 3, 1), "end_date"),  # a link must last at least a day
    (D(2017, 12, 31), None, "start_date"),
    (TODAY + timedelta(days=400), None, "start_date"),
    (D(YEAR, 3, 1), D(YEAR + 14, 1, 1), "end_date"),
])
def test_dates_must_be_coherent(world, start, end, field):
    with pytest.raises(Invalid) as exc:
        assigned(world, start_date=start, end_date=end)
    assert field in exc.value.errors and exc.value.message


def test_the_database_keeps_one_open_link_per_leader_and_place(world, session):
    """The backstop of the overlap rule, on both databases: a second open row is refused."""
    link = assigned(world)
    assigned(world, site_id=world.panlong_site.id)
    for site in (None, world.panlong_site.id):
        nested = session.begin_nested()
        session.add(LinkAssignment(leader_member_id=link.leader_member_id, county_id=link.county_id, site_id=site,
                                   role=LinkRole.liaison, start_date=D(YEAR, 5, 1)))
        with pytest.raises(IntegrityError):
            session.flush()
        nested.rollback()
    # Ended rows are history: any number of them.
    for year in (YEAR - 3, YEAR - 2):
        session.add(LinkAssignment(leader_member_id=link.leader_member_id, county_id=link.county_id,
                                   role=LinkRole.lead, start_date=D(year, 1, 1), end_date=D(year, 6, 30)))
    session.flush()
    # And the end never precedes the start.
    nested = session.begin_nested()
    session.add(LinkAssignment(leader_member_id=world.kunming_sg.id, county_id=world.panlong.id, role=LinkRole.lead,
                               start_date=D(YEAR, 3, 1), end_date=D(YEAR, 2, 1)))
    with pytest.raises(IntegrityError):
        session.flush()
    nested.rollback()


# --- ending -------------------------------------------------------------------------------------------

def test_ending_keeps_the_row_with_its_end_date_and_is_audited(world):
    link = assigned(world)
    ended = svc.end_link(world.session, by=world.p(world.province_staff), link_id=link.id, reason="换届",
                         today=TODAY)
    assert ended.end_date == TODAY and world.session.get(LinkAssignment, link.id) is not None
    [entry] = _audit(world.session, "link.end")
    assert '"end_date": null' in entry.before and f'"end_date": "{TODAY.isoformat()}"' in entry.after
    assert '"reason": "换届"' in entry.after
    with pytest.raises(Conflict) as exc:
        svc.end_link(world.session, by=world.p(world.province_staff), link_id=link.id, today=TODAY)
    assert exc.value.code == "link_ended"
    # Ended today, it no longer covers the county today; the leader may take it again from today.
    by = world.p(world.province_staff)
    assert next(r for r in svc.coverage(world.session, by, today=TODAY).rows
                if r.county_id == world.panlong.id).status == "uncovered"
    assert svc.to_read(world.session, [ended], today=TODAY)[0].state == "ended"
    assigned(world, start_date=TODAY, role=LinkRole.liaison)


def test_ending_a_link_not_yet_begun_cancels_it(world):
    link = assigned(world, start_date=TODAY + timedelta(days=20))
    ended = svc.end_link(world.session, by=world.p(world.province_staff), link_id=link.id, today=TODAY)
    assert ended.end_date == ended.start_date == TODAY + timedelta(days=20)
    assert svc.to_read(world.session, [ended], today=TODAY)[0].state == "ended"
    # A cancelled link stands in nobody's way.
    assigned(world, start_date=TODAY + timedelta(days=10))


def test_ending_on_a_chosen_day(world):
    link = assigned(world)
    with pytest.raises(Invalid) as exc:
        svc.end_link(world.session, by=world.p(world.province_staff), link_id=link.id,
                     end_date=TODAY + timedelta(days=1), today=TODAY)
    assert "end_date" in exc.value.errors
    with pytest.raises(Invalid):
        svc.end_link(world.session, by=world.p(world.province_staff), link_id=link.id, end_date=D(YEAR, 2, 1),
                     today=TODAY)
    assert svc.end_link(world.session, by=world.p(world.province_staff), link_id=link.id, end_date=D(YEAR, 9, 30),
                        today=TODAY).end_date == D(YEAR, 9, 30)


def test_outsiders_cannot_end_or_change_and_a_county_cannot_touch_the_provinces_link(world):
    link = assigned(world, county_id=world.wuhua.id)
    for who in (world.outsider_staff, world.member_user):
        with pytest.raises(NotFound):
            svc.end_link(world.session, by=world.p(who), link_id=link.id, today=TODAY)
        with pytest.raises(NotFound):
            svc.change_link(world.session, by=world.p(who), link_id=link.id, data=LinkChange(note="x"), today=TODAY)
    # 五华区's office reads the link to its county but the provincial leader is not its to move.
    with pytest.raises(Forbidden):
        svc.end_link(world.session, by=world.p(world.county_staff), link_id=link.id, today=TODAY)
    with pytest.raises(NotFound):
        svc.end_link(world.session, by=world.p(world.province_staff), link_id=2_000_000_000, today=TODAY)
    assert world.session.get(LinkAssignment, link.id).end_date is None
    assert _audit(world.session, "link.end") == [] and _audit(world.session, "link.change") == []


# --- changing -----------------------------------------------------------------------------------------

def test_a_change_rechecks_the_rules_and_is_audited_with_before_and_after(world):
    link = assigned(world)
    by = world.p(world.province_staff)
    changed = svc.change_link(world.session, by=by, link_id=link.id, today=TODAY,
                              data=LinkChange(role=LinkRole.liaison, note="改为联络员", end_date=D(YEAR + 1, 12, 31)))
    assert (changed.role, changed.note, changed.end_date, changed.start_date) == (
        LinkRole.liaison, "改为联络员", D(YEAR + 1, 12, 31), D(YEAR, 3, 1))
    [entry] = _audit(world.session, "link.change")
    assert '"role": "lead"' in entry.before and '"role": "liaison"' in entry.after
    # The same change again writes nothing.
    svc.change_link(world.session, by=by, link_id=link.id, data=LinkChange(role=LinkRole.liaison), today=TODAY)
    assert len(_audit(world.session, "link.change")) == 1
    with pytest.raises(Invalid) as exc:
        svc.change_link(world.session, by=by, link_id=link.id, data=LinkChange(end_date=D(YEAR, 1, 1)), today=TODAY)
    assert "end_date" in exc.value.errors
    with pytest.raises(Invalid):
        svc.change_link(world.session, by=by, link_id=link.id, data=LinkChange(start_date=None), today=TODAY)


def test_a_change_may_not_make_two_links_overlap(world):
    assigned(world, start_date=D(YEAR - 2, 1, 1), end_date=D(YEAR - 2, 12, 31))
    later = assigned(world, start_date=D(YEAR, 1, 1))
    with pytest.raises(Conflict) as exc:
        svc.change_link(world.session, by=world.p(world.province_staff), link_id=later.id,
                        data=LinkChange(start_date=D(YEAR - 2, 6, 1)), today=TODAY)
    assert exc.value.code == "link_overlap"


def test_an_ended_link_is_history_and_cannot_be_changed(world):
    link = assigned(world, start_date=D(YEAR - 2, 1, 1), end_date=D(YEAR - 2, 12, 31))
    with pytest.raises(Conflict) as exc:
        svc.change_link(world.session, by=world.p(world.province_staff), link_id=link.id,
                        data=LinkChange(note="改"), today=TODAY)
    assert exc.value.code == "link_ended"


# --- 待调整 -----------------------------------------------------------------------------------------------

def test_a_leader_whose_seat_ends_has_open_links_flagged_for_reassignment(world):
    open_link = assigned(world)
    old = assigned(world, county_id=world.wuhua.id, start_date=D(YEAR - 2, 1, 1), end_date=D(YEAR - 2, 12, 31))
    other = assigned(world, leader_member_id=world.kunming_sg.id, county_id=world.wuhua.id)
    by = world.p(world.province_staff)
    assert not any(r.needs_reassignment for r in svc.to_read(world.session, [open_link, old, other], today=TODAY))

    world.end_membership(world.vice_chair, TODAY - timedelta(days=10))  # 换届
    reads = {r.id: r for r in svc.to_read(world.session, [open_link, old, other], today=TODAY)}
    assert reads[open_link.id].needs_reassignment  # open: must be reassigned
    assert not reads[old.id].needs_reassignment  # ended: history, nothing to do
    assert not reads[other.id].needs_reassignment
    flagged, total = svc.list_links(world.session, by, svc.LinkFilters(state="attention"), today=TODAY)
    assert [k.id for k in flagged] == [open_link.id] and total == 1
    # 待调整 first in the list of open links.
    rows, _ = svc.list_links(world.session, by, svc.LinkFilters(), today=TODAY)
    assert rows[0].id == open_link.id
    # It can no longer be changed, only ended.
    with pytest.raises(Invalid) as exc:
        svc.change_link(world.session, by=by, link_id=open_link.id, data=LinkChange(note="x"), today=TODAY)
    assert exc.value.code == "needs_reassignment"
    svc.end_link(world.session, by=by, link_id=open_link.id, today=TODAY)


def test_a_county_covered_only_by_a_departed_leader_needs_attention(world):
    assigned(world)
    world.end_membership(world.vice_chair, TODAY - timedelta(days=1))
    cov = svc.coverage(world.session, world.p(world.province_staff), today=TODAY)
    row = next(r for r in cov.rows if r.county_id == world.panlong.id)
    assert row.status == "attention" and row.leaders[0].needs_reassignment
    assert cov.attention == 1


# --- coverage ---------------------------------------------------------------------------------------------

def test_coverage_lists_the_uncovered_key_counties_first(world):
    assigned(world)  # 盘龙区 covered
    assigned(world, leader_member_id=world.kunming_sg.id, county_id=world.wuhua.id, role=LinkRole.liaison)
    assigned(world, leader_member_id=world.wuhua_chair.id, county_id=world.wuhua.id, site_id=world.wuhua_site.id)
    assigned(world, leader_member_id=world.qujing_vice.id, county_id=world.qilin.id, start_date=D(YEAR - 2, 1, 1),
             end_date=D(YEAR - 1, 12, 31))  # ended: 麒麟区 has had nobody since
    cov = svc.coverage(world.session, world.p(world.province_staff), today=TODAY)
    order = [r.county_id for r in cov.rows]
    assert order == [world.wuhua.id, world.qilin.id, world.panlong.id]  # uncovered (by code), then covered
    assert (cov.total, cov.uncovered, cov.attention, cov.covered) == (3, 2, 0, 1)
    wuhua, _, panlong = cov.rows
    # A liaison and a site's leader do not cover a county, but they show.
    assert wuhua.status == "uncovered" and [x.name for x in wuhua.liaisons] == ["昆明秘书长乙"]
    assert wuhua.site_links == 1 and wuhua.prefecture_name == "昆明市"
    assert panlong.status == "covered" and [(x.name, x.post) for x in panlong.leaders] == [("省副主席甲", "云南省政协副主席")]


def test_coverage_counts_links_in_force_today_only(world):
    assigned(world, start_date=TODAY + timedelta(days=30))  # planned, not yet in force
    cov = svc.coverage(world.session, world.p(world.province_staff), today=TODAY)
    assert next(r for r in cov.rows if r.county_id == world.panlong.id).status == "uncovered"


def test_coverage_is_scoped_and_filtered_by_prefecture(world):
    by = world.p(world.province_staff)
    assert [r.county_id for r in svc.coverage(world.session, by, prefecture_id=world.qujing.id, today=TODAY).rows] == [
        world.qilin.id]
    assert {p.id for p in svc.coverage_prefectures(world.session, by)} == {world.kunming.id, world.qujing.id}
    assert [r.county_id for r in svc.coverage(world.session, world.p(world.county_staff), today=TODAY).rows] == [
        world.wuhua.id]
    assert [r.county_id for r in svc.coverage(world.session, world.p(world.outsider_staff), today=TODAY).rows] == [
        world.qilin.id]
    # A prefecture outside the caller's scope shows nothing of it.
    assert svc.coverage(world.session, world.p(world.outsider_staff), prefecture_id=world.kunming.id,
                        today=TODAY).rows == []
    with pytest.raises(Forbidden):
        svc.coverage(world.session, world.p(world.member_user), today=TODAY)


# --- reading ------------------------------------------------------------------------------------------------

def test_lists_are_scoped_and_filtered(world):
    panlong = assigned(world)
    qilin = assigned(world, leader_member_id=world.qujing_vice.id, county_id=world.qilin.id)
    site = assigned(world, leader_member_id=world.wuhua_chair.id, county_id=world.wuhua.id, site_id=world.wuhua_site.id)
    old = assigned(world, county_id=world.wuhua.id, start_date=D(YEAR - 2, 1, 1), end_date=D(YEAR - 2, 12, 31))

    def ids(who, **filters):
        return {k.id for k in svc.list_links(world.session, world.p(who), svc.LinkFilters(**filters), today=TODAY)[0]}

    assert ids(world.province_staff) == {panlong.id, qilin.id, site.id}
    assert ids(world.province_staff, state="all") == {panlong.id, qilin.id, site.id, old.id}
    assert ids(world.province_staff, state="ended") == {old.id}
    assert ids(world.viewer) == {panlong.id, qilin.id, site.id}  # read-only sees, cannot change
    assert ids(world.outsider_staff) == {qilin.id}
    assert ids(world.county_staff, state="all") == {site.id, old.id}
    assert ids(world.member_user) == set()
    assert ids(world.province_staff, county_id=world.wuhua.id, state="all") == {site.id, old.id}
    assert ids(world.province_staff, site_id=world.wuhua_site.id) == {site.id}
    assert ids(world.province_staff, prefecture_id=world.kunming.id) == {panlong.id, site.id}
    assert ids(world.province_staff, leader_member_id=world.vice_chair.id, state="all") == {panlong.id, old.id}
    assert ids(world.province_staff, leader_q="副主席甲", state="all") == {panlong.id, old.id}
    assert ids(world.province_staff, active_on=D(YEAR - 2, 6, 1), state="all") == {old.id}
    assert ids(world.province_staff, active_on=D(YEAR, 2, 1), state="all") == set()  # all start in March
    assert ids(world.province_staff, active_on=D(YEAR, 4, 1), state="all") == {panlong.id, qilin.id, site.id}
    with pytest.raises(NotFound):
        svc.link_for_read(world.session, world.p(world.outsider_staff), panlong.id)
    assert svc.manageable_ids(world.session, world.p(world.county_staff), [panlong.id, site.id, old.id]) == {site.id}
    assert svc.manageable_ids(world.session, world.p(world.viewer), [panlong.id]) == set()


def test_a_leader_reads_his_own_links_without_any_reading_grant(world, session):
    link = assigned(world, leader_member_id=world.kunming_sg.id)
    own = f.make_user(session, member=world.kunming_sg, grants=((f.GrantRole.member, world.kunming),))
    by = world.p(own)
    assert [k.id for k in svc.my_links(session, by, today=TODAY)] == [link.id]
    assert svc.link_for_read(session, by, link.id).id == link.id
    assert svc.manageable_ids(session, by, [link.id]) == set()


def test_the_read_model_names_people_places_and_state(world):
    link = assigned(world, site_id=world.panlong_site.id, role=LinkRole.liaison, end_date=D(YEAR + 1, 1, 31))
    later = assigned(world, county_id=world.wuhua.id, start_date=TODAY + timedelta(days=5))
    r, s = svc.to_read(world.session, [link, later], today=TODAY)
    assert (r.leader_name, r.leader_post, r.county_name, r.prefecture_name) == ("省副主席甲", "云南省政协副主席", "盘龙区", "昆明市")
    assert r.site_name == world.panlong_site.name and r.is_key_county and r.role_label == "联络员"
    assert (r.state, r.state_label, r.assigned_by_name) == ("active", "挂联中", world.province_staff.display_name)
    assert (s.state, s.state_label) == ("scheduled", "未开始")


# --- pickers and the leader's page ----------------------------------------------------------------------------

def test_the_leader_picker_offers_current_leaders_of_the_place_and_above_higher_levels_first(world):
    by = world.p(world.province_staff)
    names = [o.name for o in svc.leader_options(world.session, by, county_id=world.panlong.id, today=TODAY)]
    assert names.index("省副主席甲") < names.index("昆明秘书长乙")
    assert {"省副主席甲", "昆明秘书长乙", "专委主任丙"} <= set(names)
    assert not {"五华主席丁", "曲靖副主席戊", "常委己", "委员庚"} & set(names)
    found = svc.leader_options(world.session, by, county_id=world.panlong.id, q="秘书", today=TODAY)
    assert [(o.name, o.post) for o in found] == [("昆明秘书长乙", "昆明市政协秘书长")]
    county = [o.name for o in svc.leader_options(world.session, world.p(world.county_staff), county_id=world.wuhua.id,
                                                 today=TODAY)]
    assert county == ["五华主席丁"]
    assert svc.leader_options(world.session, world.p(world.viewer), county_id=world.panlong.id, today=TODAY) == []
    world.end_membership(world.vice_chair, TODAY - timedelta(days=1))
    assert "省副主席甲" not in [o.name for o in svc.leader_options(world.session, by, county_id=world.panlong.id,
                                                                   today=TODAY)]


def test_the_county_picker_puts_key_counties_first_and_stays_in_scope(world):
    counties = svc.county_options(world.session, world.p(world.prefecture_staff))
    assert [c.id for c in counties[:2]] == [world.wuhua.id, world.panlong.id]
    assert all(c.is_key_county for c in counties[:2]) and not any(c.is_key_county for c in counties[2:])
    assert world.qilin.id not in {c.id for c in counties}
    assert svc.county_options(world.session, world.p(world.member_user)) == []


def test_recent_activities_at_my_linked_places(world, session):
    task = f.task(session, 1)
    value = {f.indicators(session, task)[0].id: 1}
    assigned(world, leader_member_id=world.vice_chair.id)  # 盘龙区, the whole county
    assigned(world, county_id=world.wuhua.id, site_id=world.wuhua_site.id)  # one 五华区 site
    recorder = world.member_user

    def activity(county, site=None, status=ActivityStatus.verified, day=D(YEAR, 10, 1)):
        a = f.make_activity(session, recorder=recorder, credited=world.wuhua, county=county, task_=task, values=value,
                            status=status, occurred_on=day)
        a.site_id = site
        session.flush()
        return a

    in_county = activity(world.panlong, day=D(YEAR, 10, 2))
    at_site = activity(world.wuhua, world.wuhua_site.id)
    pending = activity(world.panlong, status=ActivityStatus.pending, day=D(YEAR, 9, 1))
    activity(world.wuhua)  # elsewhere in 五华区: not a linked place
    activity(world.panlong, status=ActivityStatus.withdrawn)
    activity(world.qilin)
    by = world.p(world.leader_user)
    links = svc.my_links(session, by, today=TODAY)
    assert len(links) == 2
    assert [a.id for a in svc.activities_at(session, by, links, today=TODAY)] == [in_county.id, at_site.id, pending.id]
    # Ended links no longer bring their places' activities.
    for link in links:
        svc.end_link(session, by=world.p(world.province_staff), link_id=link.id, today=TODAY)
    assert svc.activities_at(session, by, svc.my_links(session, by, today=TODAY), today=TODAY + timedelta(days=1)) == []
    assert session.scalar(select(func.count()).select_from(LinkAssignment)) == 2
