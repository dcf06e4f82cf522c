"""Account administration rules: scope, rank, duplicates, self-protection, codes, the audit trail."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event, func, select

from app.accounts import service
from app.accounts.service import _grantable
from app.audit.service import Actor, record
from app.auth import service as auth
from app.auth.principal import ROLE_RANK, STAFF_ROLES
from app.clock import today_cn
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.models import ActivationCode, AuditLog, GrantRole, Membership, RoleGrant
from tests import factories as f
from tests.accounts.helpers import (
    KUNMING,
    PANLONG,
    PROVINCE,
    QUJING,
    WUHUA,
    as_principal,
    committee,
    member_account,
    who,
)

# Activation codes expire, seats end and the audit log is read by Beijing day.
pytestmark = pytest.mark.dates


def _ids(page) -> set[int]:
    return {row.user.id for row in page.items}


def _entries(session, action: str, target_id: int) -> list[AuditLog]:
    return list(session.scalars(select(AuditLog).where(AuditLog.action == action,
                                                       AuditLog.target_id == str(target_id))))


# --- scope ------------------------------------------------------------------------------------

def test_staff_see_the_accounts_of_their_subtree_only(session):
    wuhua_member, panlong_member = member_account(session, WUHUA), member_account(session, PANLONG)
    county, prefecture = who(session, "county_staff"), who(session, "prefecture_staff")
    outsider, admin = who(session, "outsider_staff"), who(session, "province_admin")

    county_sees = _ids(service.list_users(session, county, per_page=200))
    assert wuhua_member.id in county_sees and panlong_member.id not in county_sees
    assert county.user_id in county_sees  # one's own account, through one's grant
    assert {wuhua_member.id, panlong_member.id} <= _ids(service.list_users(session, prefecture, per_page=200))
    assert not {wuhua_member.id, panlong_member.id} & _ids(service.list_users(session, outsider, per_page=200))
    assert service.user_for_staff(session, admin, panlong_member.id).id == panlong_member.id


def test_an_account_outside_scope_is_not_found(session):
    panlong_member = member_account(session, PANLONG)
    for kind in ("county_staff", "outsider_staff"):
        with pytest.raises(NotFound):
            service.user_for_staff(session, who(session, kind), panlong_member.id)
    with pytest.raises(NotFound):
        service.user_for_staff(session, who(session, "county_staff"), 10**9)


def test_members_and_viewers_are_refused_as_staff(session):
    wuhua_member = member_account(session, WUHUA)
    for kind in ("member", "viewer"):
        by = who(session, kind)
        with pytest.raises(Forbidden):
            service.list_users(session, by)
        with pytest.raises(Forbidden):
            service.user_for_staff(session, by, wuhua_member.id)
        with pytest.raises(Forbidden):
            service.audit_log(session, by)


def test_scope_follows_the_current_membership_or_a_grant(session):
    county = who(session, "county_staff")
    # A member without any grant is reached through the current membership…
    no_grant = member_account(session, WUHUA, grants=())
    assert service.user_for_staff(session, county, no_grant.id).id == no_grant.id
    # …and no longer once it has ended (换届).
    seat = session.scalar(select(Membership).where(Membership.member_id == no_grant.member_id))
    seat.end_date = today_cn() - timedelta(days=1)
    session.flush()
    with pytest.raises(NotFound):
        service.user_for_staff(session, county, no_grant.id)
    # An account without a member is reached through a grant in scope.
    leader = f.make_user(session, grants=((GrantRole.leader, f.org(session, WUHUA)),))
    row = service.list_users(session, county, q=leader.display_name).items[0]
    assert row.user.id == leader.id and row.org_name == f.org(session, WUHUA).name


def test_list_filters_by_organisation_committee_name_phone_and_status(session):
    agri = committee(session, f.org(session, WUHUA))
    first = member_account(session, WUHUA, name="李春花", committee_=agri)
    second = member_account(session, WUHUA, name="王秋实", activated=True)
    third = member_account(session, WUHUA, name="赵冬雪")
    third.is_active = False
    member_account(session, PANLONG, name="李春风")
    session.flush()
    by = who(session, "prefecture_staff")
    wuhua = f.org(session, WUHUA)

    assert _ids(service.list_users(session, by, org_id=wuhua.id, committee_id=agri.id)) == {first.id}
    assert _ids(service.list_users(session, by, org_id=wuhua.id, q="春")) == {first.id}
    assert _ids(service.list_users(session, by, q="李春")) >= {first.id} and len(
        service.list_users(session, by, q="李春").items) == 2
    assert _ids(service.list_users(session, by, q=second.login[-6:])) == {second.id}
    in_wuhua = {first.id, second.id, third.id}
    assert _ids(service.list_users(session, by, org_id=wuhua.id, status="unactivated")) & in_wuhua == {first.id}
    assert _ids(service.list_users(session, by, org_id=wuhua.id, status="activated")) & in_wuhua == {second.id}
    assert _ids(service.list_users(session, by, org_id=wuhua.id, status="disabled")) & in_wuhua == {third.id}
    row = next(r for r in service.list_users(session, by, org_id=wuhua.id).items if r.user.id == first.id)
    assert (row.name, row.org_name, row.committee_name) == ("李春花", wuhua.name, "农业农村委")
    assert [g.role for g in row.grants] == [GrantRole.member]
    with pytest.raises(Invalid):
        service.list_users(session, by, status="whatever")


def test_filters_outside_scope_are_not_found(session):
    by = who(session, "county_staff")
    with pytest.raises(NotFound):
        service.list_users(session, by, org_id=f.org(session, PANLONG).id)
    with pytest.raises(NotFound):
        service.list_users(session, by, committee_id=committee(session, f.org(session, PANLONG)).id)


def test_list_is_paginated_with_a_total(session):
    by = who(session, "county_staff")
    made = {member_account(session, WUHUA).id for _ in range(5)}
    wuhua = f.org(session, WUHUA).id
    total = service.list_users(session, by, org_id=wuhua).total
    first, second = (service.list_users(session, by, org_id=wuhua, per_page=3, page=p) for p in (1, 2))
    assert first.total == second.total == total >= 6 and first.pages == -(-total // 3)
    assert len(first.items) == 3 and not _ids(first) & _ids(second)
    assert made <= _ids(service.list_users(session, by, org_id=wuhua, per_page=200))


def test_list_runs_the_same_few_queries_for_any_page_size(session):
    by = who(session, "prefecture_staff")
    for _ in range(12):
        member_account(session, WUHUA, grants=((GrantRole.member, f.org(session, WUHUA)),
                                               (GrantRole.viewer, f.org(session, WUHUA))))
    statements = []
    conn = session.connection()
    def listener(*args) -> None:
        statements.append(args[2])

    event.listen(conn, "before_cursor_execute", listener)
    try:
        service.list_users(session, by, per_page=2)
        small = len(statements)
        statements.clear()
        service.list_users(session, by, per_page=50)
        large = len(statements)
    finally:
        event.remove(conn, "before_cursor_execute", listener)
    assert small == large <= 4


# --- rank: what one may grant -----------------------------------------------------------------

def test_the_sql_rank_rule_agrees_with_the_principal(session):
    """``_grantable`` (used on whole columns) answers exactly as can() + top_rank_over() do."""
    from sqlalchemy import literal

    orgs = [f.org(session, code) for code in (PROVINCE, KUNMING, WUHUA, PANLONG, QUJING)]
    mixed = f.make_user(session, grants=((GrantRole.staff, orgs[2]), (GrantRole.admin, orgs[4]),
                                         (GrantRole.viewer, orgs[0])))
    people = [who(session, k) for k in ("province_admin", "province_staff", "prefecture_staff", "county_staff",
                                        "member")] + [as_principal(session, mixed)]
    for by in people:
        for org in orgs:
            for role in GrantRole:
                expected = by.can(session, org.id, *STAFF_ROLES) and ROLE_RANK[role] <= by.top_rank_over(session, org.id)
                got = session.scalar(select(_grantable(by, literal(role.value), literal(org.id))))
                assert bool(got) == expected, (by.grants, org.code, role)


def test_staff_grant_within_their_subtree_and_rank(session):
    target = member_account(session, WUHUA)
    by = who(session, "county_staff")
    wuhua = f.org(session, WUHUA)
    grant = service.grant_role(session, by, user_id=target.id, role="leader", org_id=wuhua.id)
    assert (grant.role, grant.org_id, grant.granted_by_user_id) == (GrantRole.leader, wuhua.id, by.user_id)
    service.grant_role(session, by, user_id=target.id, role="staff", org_id=wuhua.id)  # equal rank is allowed
    [entry] = [e for e in _entries(session, "grant.create", target.id) if json.loads(e.after)["role"] == "leader"]
    assert entry.org_id == wuhua.id and entry.actor_user_id == by.user_id and entry.ip == "10.1.2.3"
    assert json.loads(entry.after)["org"] == wuhua.name


def test_a_county_staff_cannot_grant_admin_or_above_its_county(session):
    target = member_account(session, WUHUA)
    by = who(session, "county_staff")
    with pytest.raises(Forbidden) as above:
        service.grant_role(session, by, user_id=target.id, role="admin", org_id=f.org(session, WUHUA).id)
    assert above.value.code == "grant_above_rank" and "高于" in above.value.message
    for code in (PROVINCE, KUNMING, PANLONG):
        with pytest.raises(Forbidden) as outside:
            service.grant_role(session, by, user_id=target.id, role="member", org_id=f.org(session, code).id)
        assert outside.value.code == "grant_out_of_scope"
    assert session.scalar(select(func.count()).select_from(RoleGrant).where(RoleGrant.user_id == target.id)) == 1


def test_only_an_admin_grants_admin(session):
    target = member_account(session, WUHUA)
    province = f.org(session, PROVINCE)
    with pytest.raises(Forbidden):
        service.grant_role(session, who(session, "province_staff"), user_id=target.id, role="admin",
                           org_id=province.id)
    grant = service.grant_role(session, who(session, "province_admin"), user_id=target.id, role="admin",
                               org_id=province.id)
    assert grant.role == GrantRole.admin


def test_a_duplicate_grant_is_refused_in_chinese(session):
    target = member_account(session, WUHUA)
    by = who(session, "county_staff")
    with pytest.raises(Conflict) as exc:
        service.grant_role(session, by, user_id=target.id, role="member", org_id=f.org(session, WUHUA).id)
    assert exc.value.code == "grant_exists" and "已有「委员」权限" in exc.value.message


def test_grant_checks_the_account_role_and_organisation(session):
    by = who(session, "county_staff")
    wuhua = f.org(session, WUHUA)
    with pytest.raises(NotFound):
        service.grant_role(session, by, user_id=member_account(session, PANLONG).id, role="member", org_id=wuhua.id)
    target = member_account(session, WUHUA)
    with pytest.raises(Invalid):
        service.grant_role(session, by, user_id=target.id, role="emperor", org_id=wuhua.id)
    with pytest.raises(Invalid):
        service.grant_role(session, by, user_id=target.id, role="leader", org_id=None)
    with pytest.raises(Forbidden):
        service.grant_role(session, who(session, "member"), user_id=target.id, role="member", org_id=wuhua.id)


def test_revoking_follows_the_same_scope_and_rank(session):
    wuhua, panlong = f.org(session, WUHUA), f.org(session, PANLONG)
    target = member_account(session, WUHUA, grants=((GrantRole.member, wuhua), (GrantRole.leader, wuhua),
                                                    (GrantRole.admin, wuhua), (GrantRole.member, panlong)))
    grants = {(g.role, g.org_id): g.id for g in session.scalars(select(RoleGrant).where(RoleGrant.user_id == target.id))}
    by = who(session, "county_staff")
    assert service.revoke_grant(session, by, grant_id=grants[(GrantRole.leader, wuhua.id)]) == target.id
    [entry] = _entries(session, "grant.revoke", target.id)
    assert entry.org_id == wuhua.id and json.loads(entry.before)["role"] == "leader" and entry.after is None
    with pytest.raises(Forbidden) as above:
        service.revoke_grant(session, by, grant_id=grants[(GrantRole.admin, wuhua.id)])
    assert above.value.code == "grant_above_rank"
    with pytest.raises(NotFound):  # a grant on a sibling county is outside scope
        service.revoke_grant(session, by, grant_id=grants[(GrantRole.member, panlong.id)])
    with pytest.raises(NotFound):
        service.revoke_grant(session, who(session, "outsider_staff"), grant_id=grants[(GrantRole.member, wuhua.id)])
    assert session.get(RoleGrant, grants[(GrantRole.admin, wuhua.id)]) is not None


def test_nobody_revokes_their_own_grant(session):
    staff = f.persona(session, "county_staff")
    own = session.scalar(select(RoleGrant.id).where(RoleGrant.user_id == staff.id))
    with pytest.raises(Conflict) as exc:
        service.revoke_grant(session, as_principal(session, staff), grant_id=own)
    assert exc.value.code == "self_revoke"


# --- disabling ----------------------------------------------------------------------------------

def test_disabling_ends_every_session_and_is_audited(session):
    target = member_account(session, WUHUA, activated=True)
    _, raw = auth.start_session(session, user=target, ip="phone", user_agent="x")
    session.flush()
    by = who(session, "county_staff")
    service.set_active(session, by, user_id=target.id, active=False)
    assert target.is_active is False and auth.principal_for(session, raw) is None
    with pytest.raises(auth.Unauthorized):
        auth.login(session, login=target.login, password=f.PASSWORD, ip="1.1.1.1")
    [entry] = _entries(session, "user.disable", target.id)
    assert json.loads(entry.before) == {"is_active": True}
    assert json.loads(entry.after) == {"is_active": False, "sessions_revoked": 1}
    assert entry.org_id == f.org(session, WUHUA).id
    service.set_active(session, by, user_id=target.id, active=False)  # a second click changes nothing
    assert len(_entries(session, "user.disable", target.id)) == 1
    service.set_active(session, by, user_id=target.id, active=True)
    assert target.is_active is True and len(_entries(session, "user.enable", target.id)) == 1


def test_nobody_disables_themself(session):
    staff = f.persona(session, "county_staff")
    with pytest.raises(Conflict) as exc:
        service.set_active(session, as_principal(session, staff), user_id=staff.id, active=False)
    assert exc.value.code == "self_disable" and staff.is_active


def test_an_account_holding_more_than_the_caller_is_left_to_higher_staff(session):
    """A province administrator who is also a member of 五华区: the county's staff reach the account
    but may neither disable it nor set its password with a code."""
    target = member_account(session, WUHUA, grants=((GrantRole.member, f.org(session, WUHUA)),
                                                    (GrantRole.admin, f.org(session, PROVINCE))))
    county = who(session, "county_staff")
    assert service.user_for_staff(session, county, target.id).id == target.id
    with pytest.raises(Forbidden):
        service.set_active(session, county, user_id=target.id, active=False)
    with pytest.raises(Forbidden):
        service.issue_codes(session, county, user_ids=[target.id])
    assert service.user_detail(session, county, target.id).manageable is False
    assert service.user_detail(session, who(session, "province_admin"), target.id).manageable is True


def test_outsiders_cannot_disable(session):
    target = member_account(session, PANLONG)
    for kind in ("county_staff", "outsider_staff"):
        with pytest.raises(NotFound):
            service.set_active(session, who(session, kind), user_id=target.id, active=False)
    with pytest.raises(Forbidden):
        service.set_active(session, who(session, "member"), user_id=target.id, active=False)
    assert target.is_active


# --- activation codes ---------------------------------------------------------------------------

def test_issued_codes_replace_old_ones_and_activate(session):
    target = member_account(session, WUHUA, name="张三")
    by = who(session, "county_staff")
    old = auth.new_activation_code(session, user=target, actor=Actor(None), org_id=None)
    [issued] = service.issue_codes(session, by, user_ids=[target.id])
    assert (issued.user.id, issued.member_name, issued.org_name) == (target.id, "张三", f.org(session, WUHUA).name)
    assert len(issued.code) == auth.CODE_LENGTH
    with pytest.raises(Invalid):
        auth.activate(session, login=target.login, code=old, password="first-pass-1", ip="a")
    user, _ = auth.activate(session, login=target.login, code=issued.code, password="first-pass-1", ip="b")
    assert user.id == target.id and user.password_hash
    [entry] = _entries(session, "auth.code_issued", target.id)[-1:]
    assert entry.org_id == f.org(session, WUHUA).id and entry.actor_user_id == by.user_id
    assert session.scalar(select(func.count()).select_from(ActivationCode).where(
        ActivationCode.user_id == target.id, ActivationCode.used_at.is_(None))) == 0


def test_codes_for_chosen_accounts_are_all_or_none(session):
    inside, outside = member_account(session, WUHUA), member_account(session, PANLONG)
    disabled = member_account(session, WUHUA)
    disabled.is_active = False
    session.flush()
    by = who(session, "county_staff")
    with pytest.raises(NotFound):
        service.issue_codes(session, by, user_ids=[inside.id, outside.id])
    with pytest.raises(Conflict) as exc:
        service.issue_codes(session, by, user_ids=[inside.id, disabled.id])
    assert "已停用" in exc.value.message
    with pytest.raises(Invalid):
        service.issue_codes(session, by, user_ids=[])
    assert session.scalar(select(func.count()).select_from(ActivationCode).where(
        ActivationCode.user_id.in_([inside.id, outside.id, disabled.id]))) == 0


def test_codes_for_an_organisation_take_its_unactivated_members(session):
    wuhua = f.org(session, WUHUA)
    agri, health = committee(session, wuhua, "农业农村委"), committee(session, wuhua, "教科卫体委")
    fresh = [member_account(session, WUHUA, committee_=agri) for _ in range(3)]
    other_committee = member_account(session, WUHUA, committee_=health)
    activated = member_account(session, WUHUA, committee_=agri, activated=True)
    disabled = member_account(session, WUHUA, committee_=agri)
    disabled.is_active = False
    above = member_account(session, WUHUA, committee_=agri,
                           grants=((GrantRole.member, wuhua), (GrantRole.admin, f.org(session, PROVINCE))))
    elsewhere = member_account(session, PANLONG)
    staff_only = f.persona(session, "county_staff")  # an account of 五华区 that is no member
    session.flush()
    by = as_principal(session, staff_only)

    assert service.codes_preview(session, by, org_id=wuhua.id, committee_id=agri.id) == (3, 1)
    issued = service.issue_codes_for(session, by, org_id=wuhua.id, committee_id=agri.id)
    assert {c.user.id for c in issued} == {u.id for u in fresh}
    assert all(c.committee_name == "农业农村委" for c in issued)
    everyone = {c.user.id for c in service.issue_codes_for(session, by, org_id=wuhua.id, only_unactivated=False)}
    assert {u.id for u in fresh} | {other_committee.id, activated.id} <= everyone
    assert not everyone & {disabled.id, above.id, elsewhere.id, staff_only.id}
    # The new batch replaced the first one's codes.
    with pytest.raises(Invalid):
        auth.activate(session, login=fresh[0].login, code=issued[0].code, password="first-pass-1", ip="c")


def test_codes_for_an_organisation_outside_scope(session):
    by = who(session, "county_staff")
    with pytest.raises(NotFound):
        service.issue_codes_for(session, by, org_id=f.org(session, PANLONG).id)
    with pytest.raises(NotFound):
        service.codes_preview(session, who(session, "outsider_staff"), org_id=f.org(session, WUHUA).id)
    with pytest.raises(Invalid):  # a committee of another organisation of the scope
        service.issue_codes_for(session, who(session, "prefecture_staff"), org_id=f.org(session, WUHUA).id,
                                committee_id=committee(session, f.org(session, PANLONG)).id)


def test_codes_are_valid_until_a_day_before_they_expire(session):
    from app.config import get_settings

    until = service.code_valid_until()
    days = get_settings().activation_code_days
    today = today_cn()
    assert until == today + timedelta(days=days - 1)


# --- the detail page's data ------------------------------------------------------------------

def test_detail_shows_grants_in_scope_sessions_and_recent_entries(session):
    wuhua, panlong = f.org(session, WUHUA), f.org(session, PANLONG)
    target = member_account(session, WUHUA, grants=((GrantRole.member, wuhua), (GrantRole.viewer, panlong)))
    auth.start_session(session, user=target, ip="x", user_agent="y")
    record(session, actor=Actor(target.id, "x"), action="auth.login", target_type="user", target_id=target.id)
    record(session, actor=Actor(None), action="test.elsewhere", target_type="user", target_id=target.id,
           org_id=panlong.id)
    session.flush()
    by = who(session, "county_staff")
    detail = service.user_detail(session, by, target.id)
    assert [(g.role, g.org_id, g.revocable) for g in detail.row.grants] == [(GrantRole.member, wuhua.id, True)]
    assert detail.open_sessions == 1 and detail.manageable is False and detail.is_self is False
    assert [e.entry.action for e in detail.recent] == ["auth.login"]  # not the other county's entry
    assert GrantRole.admin not in detail.grantable_roles and GrantRole.staff in detail.grantable_roles
    assert {o.id for o in detail.scope_orgs} == {wuhua.id}


# --- the audit log ------------------------------------------------------------------------------

def _log(session, org_code: str | None, action: str, *, actor=None, at=None, target_id="1"):
    entry = record(session, actor=Actor(actor.id if actor else None, "9.9.9.9"), action=action,
                   target_type="user", target_id=target_id, org_id=f.org(session, org_code).id if org_code else None)
    if at is not None:
        entry.at = at
    session.flush()
    return entry


def test_the_log_shows_the_callers_subtree(session):
    mine, sibling, above = _log(session, WUHUA, "x.mine"), _log(session, PANLONG, "x.sibling"), _log(session, KUNMING, "x.above")
    county = who(session, "county_staff")
    seen = {e.entry.id for e in service.audit_log(session, county, action="x.", per_page=200).items}
    assert mine.id in seen and not seen & {sibling.id, above.id}
    prefecture = {e.entry.id for e in service.audit_log(session, who(session, "prefecture_staff"), action="x.").items}
    assert {mine.id, sibling.id, above.id} <= prefecture
    assert not {e.entry.id for e in service.audit_log(session, who(session, "outsider_staff"), action="x.").items} & {
        mine.id, sibling.id, above.id}


def test_several_staff_grants_see_the_union_once(session):
    both = as_principal(session, f.make_user(session, grants=(
        (GrantRole.staff, f.org(session, WUHUA)), (GrantRole.staff, f.org(session, QUJING)),
        (GrantRole.admin, f.org(session, WUHUA)))))
    wuhua, qujing, panlong = (_log(session, c, "u.entry") for c in (WUHUA, QUJING, PANLONG))
    seen = [e.entry.id for e in service.audit_log(session, both, action="u.").items]
    assert sorted(seen) == sorted([wuhua.id, qujing.id]) and len(seen) == len(set(seen))
    assert panlong.id not in seen


def test_the_log_filters_by_action_actor_target_and_beijing_dates(session):
    actor = member_account(session, WUHUA, name="孙审核")
    by = who(session, "county_staff")
    # 2026-03-01 23:30 in Beijing is 15:30 UTC the same day; 00:30 on 03-02 Beijing is 16:30 UTC on 03-01.
    late = _log(session, WUHUA, "f.verify", actor=actor, at=datetime(2026, 3, 1, 15, 30, tzinfo=UTC))
    next_day = _log(session, WUHUA, "f.verify", at=datetime(2026, 3, 1, 16, 30, tzinfo=UTC), target_id="2")
    other = _log(session, WUHUA, "f.return", actor=actor, at=datetime(2026, 3, 5, 1, 0, tzinfo=UTC))

    def ids(**kw) -> list[int]:
        return [e.entry.id for e in service.audit_log(session, by, **kw).items]

    assert ids(action="f.verify") == [next_day.id, late.id]  # newest first
    assert ids(action="f.", actor="孙审核") == [other.id, late.id]
    assert ids(action="f.", actor=actor.login) == [other.id, late.id]
    assert ids(action="f.", target_type="user", target_id="2") == [next_day.id]
    assert ids(action="f.", since=date(2026, 3, 1), until=date(2026, 3, 1)) == [late.id]
    assert ids(action="f.", since=date(2026, 3, 2), until=date(2026, 3, 2)) == [next_day.id]
    view = service.audit_log(session, by, action="f.verify", actor="孙审核").items[0]
    assert view.at_beijing == "2026-03-01 23:30:00" and view.at_utc == "2026-03-01 15:30:00 UTC"
    assert view.actor_name == "孙审核" and view.org_name == f.org(session, WUHUA).name


def test_the_log_pages_newest_first(session):
    by = who(session, "county_staff")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    made = [_log(session, WUHUA, "p.entry", at=start + timedelta(hours=n)) for n in range(5)]
    first = service.audit_log(session, by, action="p.", per_page=2)
    last = service.audit_log(session, by, action="p.", per_page=2, page=3)
    assert [e.entry.id for e in first.items] == [made[4].id, made[3].id] and first.has_next
    assert [e.entry.id for e in last.items] == [made[0].id] and not last.has_next


def test_changes_are_logged_in_their_own_transaction(session):
    """A failed grant leaves neither a grant nor a log entry behind."""
    target = member_account(session, WUHUA)
    before = session.scalar(select(func.count()).select_from(AuditLog))
    with pytest.raises(Forbidden):
        service.grant_role(session, who(session, "county_staff"), user_id=target.id, role="admin",
                           org_id=f.org(session, WUHUA).id)
    assert session.scalar(select(func.count()).select_from(AuditLog)) == before
    assert session.scalar(select(func.count()).select_from(RoleGrant).where(RoleGrant.user_id == target.id)) == 1


def test_the_log_names_the_accounts_it_is_about(session):
    target = member_account(session, WUHUA, name="陈被授权")
    _log(session, WUHUA, "n.about", target_id=str(target.id))
    _log(session, WUHUA, "n.about", target_id="not-a-number")
    views = service.audit_log(session, who(session, "county_staff"), action="n.").items
    assert sorted(v.target_name for v in views) == ["", "陈被授权"]
