"""典型 on evidence: the ranking's components and weights, who nominates and decides, keys and versions."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.exemplars import service
from app.models import AuditLog, GrantRole, NominationStatus
from tests import factories as f
from tests.exemplars.conftest import YEAR


def test_the_ranking_weighs_evidence_not_the_raw_count(world):
    rows, total = service.candidates(world.s, world.kunming, service.year_period(YEAR))
    by_name = {c.name: c for c in rows}
    star, busy = by_name["明星委员"], by_name["忙人委员"]
    assert (star.activities, star.outcome_activities, star.counties, star.tasks, star.joint_led, star.newcomers) \
        == (3, 1, 3, 3, 2, 2)
    assert star.score == 1 * 5 + 3 * 3 + 3 * 3 + 2 * 4 + 2 * 5 + 3 * 1
    # Twelve alike activities: the raw count adds at most ACTIVITY_CAP points.
    assert (busy.activities, busy.counties, busy.tasks, busy.joint_led, busy.newcomers) == (12, 1, 1, 0, 0)
    assert busy.score == service.ACTIVITY_CAP + 3 + 3
    assert rows[0].name == "明星委员" and star.score > busy.score
    shown = "1.2" if world.outcome.kind == "money" else "120"  # money: hundredths of 万元
    assert star.outcomes == [(world.outcome.name, f"{shown}{world.outcome.unit}")]
    assert "曲靖委员" not in by_name and total == len(rows)
    # 老委员 joined before: not brought along; the newcomers score for 明星 only.
    assert by_name["老委员"].newcomers == 0 and by_name["新委员甲"].activities == 1


def test_nominate_decide_with_keys_versions_and_audit(world):
    n, made = world.nominate()
    again, made_again = world.nominate()  # the same form sent twice
    assert made and not made_again and again.id == n.id
    with pytest.raises(Conflict):  # a second nomination of the member for the year by the office
        world.nominate(key="k2")
    province = world.p(world.province_staff)
    with pytest.raises(Conflict):  # stale version
        service.decide(world.s, by=province, nomination_id=n.id, decision="select", note="", version=0)
    with pytest.raises(Invalid):  # a return needs its reason
        service.decide(world.s, by=province, nomination_id=n.id, decision="return", note=" ", version=1)
    n, changed = service.decide(world.s, by=province, nomination_id=n.id, decision="return", note="事迹不具体",
                                version=1)
    assert changed and n.status == NominationStatus.returned and n.version == 2
    n, changed = service.resubmit(world.s, by=world.p(world.staff), nomination_id=n.id, citation="补充后的事迹。",
                                  version=2)
    assert n.status == NominationStatus.nominated and n.version == 3
    n, changed = service.decide(world.s, by=province, nomination_id=n.id, decision="select", note="", version=3)
    _, again_changed = service.decide(world.s, by=province, nomination_id=n.id, decision="select", note="", version=3)
    assert changed and not again_changed and n.status == NominationStatus.selected
    with pytest.raises(Conflict):  # selected: no withdrawal
        service.withdraw(world.s, by=world.p(world.staff), nomination_id=n.id, version=4)
    actions = list(world.s.scalars(select(AuditLog.action).where(AuditLog.target_type == "exemplar_nomination",
                                                                   AuditLog.target_id == str(n.id))))
    assert sorted(actions) == sorted(["exemplar.nominate", "exemplar.return", "exemplar.resubmit", "exemplar.select"])
    assert [r.member_name for r in service.selected_for(world.s, world.kunming, service.year_period(YEAR))] \
        == ["明星委员"]
    assert service.honours_of(world.s, world.star.id)[0][0] == YEAR


def test_outsiders_and_wrong_levels_are_refused(world):
    # Outside the office's subtree: the member (曲靖) is not found for 昆明; 曲靖's office cannot use 昆明.
    with pytest.raises(NotFound):
        world.nominate(world.far)
    with pytest.raises(NotFound):
        world.nominate(by=world.outsider)
    with pytest.raises(NotFound):  # 五华区's office does not read 昆明
        world.nominate(by=world.county_staff)
    with pytest.raises(Forbidden):  # 昆明's viewer reads it but has no office role
        world.nominate(by=f.make_user(world.s, grants=((GrantRole.viewer, world.kunming),)))
    n, _ = world.nominate()
    # The nominating office cannot select its own nomination; a sibling office does not see it.
    with pytest.raises(Forbidden):
        service.decide(world.s, by=world.p(world.staff), nomination_id=n.id, decision="select", note="", version=1)
    with pytest.raises(NotFound):
        service.decide(world.s, by=world.p(world.outsider), nomination_id=n.id, decision="select", note="", version=1)
    with pytest.raises(NotFound):
        service.withdraw(world.s, by=world.p(world.county_staff), nomination_id=n.id, version=1)
    n, changed = service.withdraw(world.s, by=world.p(world.staff), nomination_id=n.id, version=1)
    assert changed and n.status == NominationStatus.withdrawn
    with pytest.raises(Conflict):  # withdrawn: nothing left to decide
        service.decide(world.s, by=world.p(world.province_staff), nomination_id=n.id, decision="select", note="",
                       version=2)


def test_the_citation_is_drafted_from_verified_activities(world):
    _, member, text = service.draft_for(world.s, world.p(world.staff), world.kunming.id, world.star.id, YEAR)
    assert member.id == world.star.id and "明星委员" in text and "参加已审核的「双助推」活动3次" in text
    assert "3月2日在五华区" in text and world.tasks[0].short_name in text and world.outcome.name in text
    with pytest.raises(Invalid):
        world.nominate(citation="字" * (service.CITATION_MAX + 1))
