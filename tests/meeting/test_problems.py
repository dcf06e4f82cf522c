"""问题清单 (app/meeting/problems.py): each kind appears when its condition holds and not otherwise,
with figures that are the boards' (and a recount from raw rows for one)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from app.clock import CN
from app.links.schemas import LinkCreate
from app.links.service import assign_leader
from app.meeting import problems as pl
from app.models import Activity, ActivityStatus, ActivityValue, AnnualTarget, MeetingSetting, MemberRole
from app.orgs.service import subtree_ids
from tests import factories as f
from tests.links.conftest import make_leader
from tests.meeting.conftest import TODAY, YEAR

pytestmark = pytest.mark.dates
SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # lean: the rules, once


def kinds(items, kind):
    return {p.ref: p for p in items if p.kind == kind}


def test_drop_threshold_is_five_points_inclusive():
    assert not pl.is_drop(0.05, 0.001)  # 4.9 points
    assert pl.is_drop(0.05, 0.0)  # 5.0 points
    assert pl.is_drop(0.30, 0.25)  # 5.0 points, float noise and all
    assert not pl.is_drop(0.25, 0.30) and not pl.is_drop(None, 0.1) and not pl.is_drop(0.2, None)
    assert pl.drop_points(0.55, 0.50) == 5.0


@SQLITE
def test_behind_pace_appears_under_ninety_percent_with_the_boards_figures(world):
    world.verify(world.log("a", count=30))
    world.log("pending", count=500)  # pending never counts
    world.target(world.kunming, 120)  # pace for 11 months: 110
    items = kinds(pl.problems(world.s, world.kunming, world.period()), "behind_pace")
    item = items[f"indicator:{world.count.id}"]
    assert item.figures["verified"] == 30 and item.figures["pace"] == 110 and item.figures["target"] == 120
    assert "30" in item.why and "110" in item.why and "27.3%" in item.why
    assert item.link == f"/boards/530100/activities?period={YEAR}-ytd11&task={world.task.id}"
    # The figure is the raw rows' sum: verified values credited inside the subtree in the period.
    recount = world.s.scalar(select(func.sum(ActivityValue.value)).join(Activity, Activity.id == ActivityValue.activity_id)
                             .where(ActivityValue.indicator_id == world.count.id,
                                    Activity.status == ActivityStatus.verified,
                                    Activity.credited_org_id.in_(subtree_ids(world.kunming.id)),
                                    Activity.occurred_on.between(date(YEAR, 1, 1), date(YEAR, 11, 30))))
    assert item.figures["verified"] == recount
    # At 90 % of the pace or more: not a problem. 30 ≥ 0.9 × (33 × 11 / 12 = 30.25).
    row = world.s.scalar(select(AnnualTarget).where(AnnualTarget.org_id == world.kunming.id))
    row.value = 33
    world.s.flush()
    assert not kinds(pl.problems(world.s, world.kunming, world.period()), "behind_pace")


@SQLITE
def test_imbalance_names_the_unit_behind_with_its_rank_and_change(world):
    world.target(world.wuhua, 12)
    world.target(world.panlong, 12)
    world.verify(world.log("a", count=30))  # 五华区 far ahead
    items = kinds(pl.problems(world.s, world.kunming, world.period()), "imbalance")
    assert set(items) == {"org:530103"}
    item = items["org:530103"]
    assert item.figures["rank"] == 2 and item.figures["previous_rank"] == 2 and item.figures["rank_change"] == 0
    assert item.figures["score"] == 0 and "排第 2 名" in item.why and "持平" in item.why
    assert item.link == f"/boards/530103?period={YEAR}-ytd11"


def _leader(world):
    leader = make_leader(world.s, world.kunming, name="昆明副主席甲", title="副主席", role=MemberRole.chair_council)
    assign_leader(world.s, by=world.p(world.province_staff), today=TODAY,
                  data=LinkCreate(leader_member_id=leader.id, county_id=world.wuhua.id, start_date=date(YEAR, 3, 1)))
    return leader


@SQLITE
def test_uncovered_key_county_until_a_leader_is_linked(world):
    assert "county:530102" in kinds(pl.problems(world.s, world.kunming, world.period()), "uncovered_county")
    _leader(world)
    assert "county:530102" not in kinds(pl.problems(world.s, world.kunming, world.period()), "uncovered_county")


@SQLITE
def test_idle_leader_three_months_to_the_day(world):
    leader = _leader(world)
    ref = f"leader:{leader.id}:530102"
    item = kinds(pl.problems(world.s, world.wuhua, world.period()), "idle_leader")[ref]
    assert item.figures == {"months": 3, "last": None, "since": f"{YEAR}-03-01"} and "挂联以来没有记录" in item.why
    user = f.make_user(world.s, member=leader)
    # 23 August is three months before the 23 November: still active; the day before is not.
    world.verify(world.log("old", on=date(YEAR, 8, 22), user=user))
    assert ref in kinds(pl.problems(world.s, world.wuhua, world.period()), "idle_leader")
    world.verify(world.log("edge", on=date(YEAR, 8, 23), user=user))
    assert ref not in kinds(pl.problems(world.s, world.wuhua, world.period()), "idle_leader")
    # N is the office's: at 2 months the same leader is idle again.
    world.s.add(MeetingSetting(org_id=world.wuhua.id, link_idle_months=2))
    world.s.flush()
    assert ref in kinds(pl.problems(world.s, world.wuhua, world.period()), "idle_leader")


@SQLITE
def test_above_a_county_idle_leaders_are_counted_per_unit(world):
    leader = _leader(world)
    world.verify(world.log("colleague", on=date(YEAR, 11, 1)))  # a colleague's activity is not the leader's
    items = kinds(pl.problems(world.s, world.kunming, world.period()), "idle_leader")
    assert set(items) == {"unit:530102"}
    assert items["unit:530102"].figures == {"months": 3, "links": 1, "leaders": 1}
    assert leader.name in items["unit:530102"].why
    province = kinds(pl.problems(world.s, world.province, world.period()), "idle_leader")
    assert set(province) == {"unit:530100"} and province["unit:530100"].link == f"/links/coverage?prefecture_id={world.kunming.id}"


@SQLITE
def test_backlog_past_the_service_level(world):
    a = world.log("waiting")
    assert not kinds(pl.problems(world.s, world.kunming, world.period()), "backlog")
    a.submitted_at = datetime.combine(TODAY - timedelta(days=8), time(9), CN)
    world.s.flush()
    item = kinds(pl.problems(world.s, world.kunming, world.period()), "backlog")["org:530102"]
    assert item.figures == {"overdue": 1, "pending": 1, "sla_days": 7, "oldest_age_days": 8}
    assert item.link == "/boards/530100/backlog"


@SQLITE
def test_participation_drop_of_five_points_against_last_month(world):
    for _ in range(19):  # 20 members in 五华区 with the recorder
        f.make_member(world.s, world.wuhua)
    world.verify(world.log("october", on=date(YEAR, 10, 5)))  # October 1/20 = 5.0 %, November 0 %
    items = kinds(pl.problems(world.s, world.wuhua, world.period()), "participation_drop")
    item = items["org:530102"]
    assert item.figures["before"] == pytest.approx(0.05) and item.figures["now"] == 0 and item.figures["points"] == 5.0
    assert "下降 5.0 个百分点" in item.why
    f.make_member(world.s, world.wuhua)  # 1/21 = 4.8 %: under the threshold
    assert not kinds(pl.problems(world.s, world.wuhua, world.period()), "participation_drop")


@SQLITE
def test_nothing_to_report_is_an_empty_list(world):
    assert pl.problems(world.s, world.qujing, world.period()) == []  # no targets, key county, link or queue
