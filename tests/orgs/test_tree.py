"""The org tree answers the same on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from app.models import OrgLevel
from app.orgs import service as orgs
from tests import factories as f


def test_subtree_of_province_and_prefecture(session):
    province = f.org(session, "530000")
    assert len(orgs.subtree(session, province.id)) == 146
    kunming = orgs.subtree(session, f.org(session, "530100").id)
    assert kunming[0].code == "530100"  # itself first
    assert len(kunming) == 15 and all(o.code.startswith("5301") for o in kunming)
    assert orgs.subtree(session, f.org(session, "530102").id)[0].code == "530102"


def test_ancestors_root_first(session):
    wuhua = f.org(session, "530102")
    assert [o.code for o in orgs.ancestors(session, wuhua.id)] == ["530000", "530100"]
    assert [o.code for o in orgs.ancestors(session, wuhua.id, include_self=True)] == ["530000", "530100", "530102"]
    assert orgs.ancestors(session, f.org(session, "530000").id) == []


def test_is_within(session):
    wuhua, kunming, qujing = f.org(session, "530102"), f.org(session, "530100"), f.org(session, "530300")
    assert orgs.is_within(session, wuhua.id, kunming.id)
    assert orgs.is_within(session, wuhua.id, wuhua.id)
    assert not orgs.is_within(session, wuhua.id, qujing.id)
    assert not orgs.is_within(session, kunming.id, wuhua.id)


def test_counties_and_key_counties(session):
    qujing = f.org(session, "530300")
    counties = orgs.counties_of(session, qujing.id)
    assert len(counties) == 9 and {c.level for c in counties} == {OrgLevel.county}
    assert len(orgs.counties_of(session, f.org(session, "530000").id)) == 129
    assert orgs.key_counties(session, qujing.id) == []
    counties[0].is_key_county = True
    session.flush()
    assert [c.code for c in orgs.key_counties(session, qujing.id)] == [counties[0].code]
    assert orgs.key_counties(session, f.org(session, "530100").id) == []


def test_add_org_maintains_closure(session):
    kunming = f.org(session, "530100")
    new = orgs.add_org(session, code="530199", name="测试新区政协", level=OrgLevel.county, parent=kunming)
    assert orgs.is_within(session, new.id, f.org(session, "530000").id)
    assert [o.code for o in orgs.ancestors(session, new.id)] == ["530000", "530100"]
    assert len(orgs.subtree(session, kunming.id)) == 16


def test_children_and_root(session):
    assert orgs.root(session).code == "530000"
    assert len(orgs.children(session, orgs.root(session).id)) == 16


@pytest.mark.parametrize(("raw", "padded"), [("53", "530000"), ("5301", "530100"), ("530102", "530102")])
def test_pad_code(raw, padded):
    assert orgs.pad_code(raw) == padded


@pytest.mark.parametrize("bad", ["5", "53a1", "5301023", ""])
def test_pad_code_refuses_bad_codes(bad):
    with pytest.raises(ValueError):
        orgs.pad_code(bad)


def test_closure_rows_of_a_chain():
    rows = orgs.closure_rows([(1, None), (2, 1), (3, 2)])
    assert sorted(rows) == sorted([(1, 1, 0), (2, 2, 0), (3, 3, 0), (1, 2, 1), (2, 3, 1), (1, 3, 2)])
