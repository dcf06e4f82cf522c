"""The one set of "this organisation, for this caller" loaders (app.auth.principal, re-exported by
app.deps): 404 when the organisation is missing or outside every subtree the caller reads, 403 when
they read it but may not do this. Services, the JSON API and the pages all answer through them."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from app.auth.principal import Principal
from app.auth.service import build_principal
from app.deps import org_for_links, org_for_read, org_for_staff
from app.errors import Forbidden, NotFound
from app.models import GrantRole, UserAccount
from tests import factories as f

LOADERS = (org_for_read, org_for_staff, org_for_links)
# Nothing of ours: unknown, malformed, blank, out of every id range.
NOWHERE = ("539999", "abc", "", None, "5301023", 0, -1, 999_999_999, 2**63, 10**30)


def _p(session: Session, user: UserAccount) -> Principal:
    return build_principal(session, user, ip="test")


def _user(session: Session, *grants: tuple[GrantRole, str]) -> Principal:
    return _p(session, f.make_user(session, grants=tuple((role, f.org(session, code)) for role, code in grants)))


@pytest.mark.parametrize("loader", LOADERS)
def test_nothing_of_ours_is_404(session, loader):
    by = _p(session, f.persona(session, "province_admin"))  # reads everything: only non-existence is left
    for ref in NOWHERE:
        with pytest.raises(NotFound) as exc:
            loader(session, by, ref)
        assert exc.value.code == "not_found" and "找不到该组织" in exc.value.message, ref


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize("kind", ["outsider_staff", "outsider_member", "member"])
def test_outside_what_the_caller_reads_is_404_not_403(session, loader, kind):
    # 曲靖's office, 盘龙区's member and even 五华区's own member (a 委员 grant reads no boards):
    # 五华区 is not revealed to any of them, whatever the loader asks for.
    by = _p(session, f.persona(session, kind))
    wuhua = f.org(session, "530102")
    for ref in (wuhua.id, wuhua.code):
        with pytest.raises(NotFound):
            loader(session, by, ref)


def test_above_the_callers_subtree_is_404(session):
    by = _p(session, f.persona(session, "county_staff"))  # 五华区
    for loader in LOADERS:
        with pytest.raises(NotFound):
            loader(session, by, "530100")  # 昆明: above, not inside
        with pytest.raises(NotFound):
            loader(session, by, "530103")  # 盘龙区: a sibling


def test_read_finds_by_id_and_by_code_inside_the_subtree(session):
    wuhua, kunming = f.org(session, "530102"), f.org(session, "530100")
    viewer = _p(session, f.persona(session, "viewer"))  # the province, read only
    assert org_for_read(session, viewer, wuhua.id).id == wuhua.id
    assert org_for_read(session, viewer, " 530102 ").id == wuhua.id
    assert org_for_read(session, viewer, "5301").id == kunming.id  # the data files' short code
    county = _p(session, f.persona(session, "county_staff"))
    assert org_for_read(session, county, "530102").id == wuhua.id


def test_staff_may_read_but_not_act_is_403(session):
    wuhua = f.org(session, "530102")
    for kind in ("county_staff", "prefecture_staff", "province_staff", "province_admin"):
        assert org_for_staff(session, _p(session, f.persona(session, kind)), "530102").id == wuhua.id
    for by in (_p(session, f.persona(session, "viewer")), _user(session, (GrantRole.leader, "530100"))):
        with pytest.raises(Forbidden) as exc:
            org_for_staff(session, by, wuhua.id)
        assert exc.value.code == "staff_only" and exc.value.message.startswith("没有权限")
    # Staff in 曲靖 who also read the province: may read 五华区, may not act in it.
    both = _user(session, (GrantRole.viewer, "530000"), (GrantRole.staff, "530300"))
    assert org_for_staff(session, both, "530302").code == "530302"
    with pytest.raises(Forbidden):
        org_for_staff(session, both, "530102")
    # A caller's own wording for the refusal (the 403 stays a 403).
    with pytest.raises(Forbidden) as exc:
        org_for_staff(session, both, "530102", refused="只有本级或上级办公室可以办理", refused_code="custom")
    assert (exc.value.message, exc.value.code) == ("只有本级或上级办公室可以办理", "custom")


def test_links_are_for_leaders_and_staff(session):
    wuhua = f.org(session, "530102")
    leader = _user(session, (GrantRole.leader, "530100"))
    assert org_for_links(session, leader, "530102").id == wuhua.id
    assert org_for_links(session, _p(session, f.persona(session, "county_staff")), wuhua.id).id == wuhua.id
    with pytest.raises(Forbidden) as exc:
        org_for_links(session, _p(session, f.persona(session, "viewer")), wuhua.id)
    assert exc.value.code == "links_forbidden" and "挂联" in exc.value.message
    with pytest.raises(NotFound):
        org_for_links(session, leader, "530300")  # 曲靖: outside the leader's 昆明


def test_roles_over_is_what_the_grants_give_through_the_tree(session):
    by = _user(session, (GrantRole.viewer, "530000"), (GrantRole.staff, "530100"), (GrantRole.leader, "530102"))
    assert by.roles_over(session, f.org(session, "530102").id) == {GrantRole.viewer, GrantRole.staff,
                                                                   GrantRole.leader}
    assert by.roles_over(session, f.org(session, "530103").id) == {GrantRole.viewer, GrantRole.staff}
    assert by.roles_over(session, f.org(session, "530300").id) == {GrantRole.viewer}
    assert _user(session).roles_over(session, f.org(session, "530000").id) == frozenset()


def test_the_dependency_aliases_answer_the_same(client, session):
    # OrgForRead on the JSON API, OrgForStaff on a page: 404 outside, 403 for a reader.
    f.login_as(client, session, f.persona(session, "outsider_staff"))
    r = client.get("/api/v1/orgs/530102")
    assert r.status_code == 404 and r.json()["code"] == "not_found" and "找不到该组织" in r.json()["detail"]
    assert client.get("/terms/530102").status_code == 404
    assert client.get("/api/v1/orgs/530302").json()["code"] == "530302"  # its own
    f.login_as(client, session, f.persona(session, "viewer"))
    assert client.get("/api/v1/orgs/530102").json()["name"] == f.org(session, "530102").name
    r = client.get("/terms/530102")
    assert r.status_code == 403 and "没有权限" in r.text
    assert client.get("/manage/orgs/999999999/key-county").status_code == 404
