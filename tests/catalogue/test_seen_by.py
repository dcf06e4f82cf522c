"""Which indicators an organisation sees — one rule (catalogue.service.owners_seen_by / owners_seen_within /
sees): its own and its ancestors'; a subtree's view adds the indicators owned inside it. A prefecture's own
indicator stays out of every other prefecture."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.catalogue import service as catalogue
from app.models import Indicator
from app.orgs.service import ancestors
from tests.factories import org, task

pytestmark = pytest.mark.dates


def _own_indicator(session) -> Indicator:
    own = Indicator(task_id=task(session).id, name="昆明自设指标", unit="个", kind="count",
                    owner_org_id=org(session, "530100").id, narrative="完成昆明自设指标{value}个", sort_order=99)
    session.add(own)
    session.flush()
    return own


def _seen_by(session, code: str, indicator: Indicator) -> bool:
    return session.scalar(select(Indicator.id).where(
        Indicator.id == indicator.id, Indicator.owner_org_id.in_(catalogue.owners_seen_by(org(session, code).id)))) \
        is not None


def _seen_within(session, codes: list[str], indicator: Indicator) -> bool:
    owners = catalogue.owners_seen_within([org(session, c).id for c in codes])
    return session.scalar(select(Indicator.id).where(Indicator.id == indicator.id,
                                                     Indicator.owner_org_id.in_(owners))) is not None


def test_an_organisation_sees_its_own_and_its_ancestors_indicators_only(session):
    own = _own_indicator(session)
    province_wide = session.scalar(select(Indicator).where(Indicator.owner_org_id == org(session, "530000").id)
                                   .order_by(Indicator.id).limit(1))
    assert _seen_by(session, "530100", own) and _seen_by(session, "530102", own)  # 昆明 and 五华区 below it
    # Outsiders: the sibling prefecture 曲靖, its county 麒麟区, and the province above 昆明.
    assert not _seen_by(session, "530300", own)
    assert not _seen_by(session, "530302", own)
    assert not _seen_by(session, "530000", own)
    assert all(_seen_by(session, c, province_wide) for c in ("530000", "530100", "530302"))
    # The in-memory twin (bulk loaders) agrees.
    lineage = {o.id for o in ancestors(session, org(session, "530102").id, include_self=True)}
    outsider = {o.id for o in ancestors(session, org(session, "530302").id, include_self=True)}
    assert catalogue.sees(lineage, own.owner_org_id) and not catalogue.sees(outsider, own.owner_org_id)
    assert own.id in {i.id for i in catalogue.indicators_for(session, org(session, "530102").id, task(session).campaign_id)}
    assert own.id not in {i.id for i in catalogue.indicators_for(session, org(session, "530302").id,
                                                                 task(session).campaign_id)}


def test_a_subtree_sees_what_is_owned_inside_it_but_not_beside_it(session):
    own = _own_indicator(session)
    assert _seen_within(session, ["530000"], own)  # the province's export covers 昆明's own indicator
    assert _seen_within(session, ["530100"], own)
    assert _seen_within(session, ["530300", "530100"], own)  # several grants: the union
    assert not _seen_within(session, ["530300"], own)  # 曲靖: the outsider
    assert _seen_within(session, ["530102"], own)  # 五华区's subtree: 昆明 is above it
    assert not _seen_within(session, ["530302"], own)  # 麒麟区, under 曲靖
