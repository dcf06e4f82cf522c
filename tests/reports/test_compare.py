"""推进会对比稿: a frozen report against today — the figures then from the stored report, the
paragraph's deltas, units that rose or fell, follow-ups closed since, scope, Word and escaping."""

from __future__ import annotations

from datetime import date, timedelta
from io import BytesIO

import pytest
from docx import Document

from app.activities import service as activities
from app.activities.schemas import ActivityInput
from app.boards import periods
from app.meeting import followups as fus
from app.meeting.schemas import FollowUpCreate
from app.models import AnnualTarget
from app.reports.compare import compare_to_frozen
from app.reports.service import build_report, freeze_report
from tests import factories as f
from tests.reports.conftest import TODAY, YEAR

pytestmark = pytest.mark.dates

MEETING = date(YEAR, 10, 15)  # the 推进会 the report was frozen for
HOSTILE_UNIT = "盘龙区<img src=x>政协"
HOSTILE_TITLE = "<script>alert(1)</script>督办"


class Meeting:
    """昆明's 推进会 on MEETING: 盘龙区 ahead of 五华区 then; 五华区 overtakes it afterwards."""

    def __init__(self, world, clock):
        self.w, self.clock = world, clock
        s = world.s
        self.panlong_user = f.persona(s, "outsider_member")  # a member of 盘龙区
        for org in (world.wuhua, world.panlong):
            s.add(AnnualTarget(org_id=org.id, indicator_id=world.clinics.id, year=YEAR, value=10))
        world.panlong.name = HOSTILE_UNIT
        s.flush()

    def clinic(self, key: str, user, count: int, on: date, *, with_=()) -> None:
        data = ActivityInput(task_id=self.w.t7.id, county_id=self.w.wuhua.id, occurred_on=on, description="义诊",
                             values={self.w.clinics.id: str(count)}, participant_member_ids=[m.id for m in with_])
        done = activities.record_activity(self.w.s, by=self.w.p(user), data=data, idempotency_key=key, today=TODAY)
        self.w.verify(done.activity)

    def followup(self, key: str, title: str, due: date):
        w = self.w
        data = FollowUpCreate(title=title, owner_org="530102", due_on=due, done_criteria="办完")
        fu, _ = fus.create_followup(w.s, by=w.p(w.staff), org=w.kunming, period=periods.parse(f"{YEAR}-ytd10", TODAY),
                                    data=data, submission_key=key)
        return fu

    def close(self, fu) -> None:
        fus.close_followup(self.w.s, by=self.w.p(self.w.staff), followup_id=fu.id, note="已办结", version=fu.version)

    def held(self):
        """Decide, close and freeze as the meeting did, then move to TODAY and add verified work."""
        w, clock = self.w, self.clock
        clock.freeze_on(MEETING - timedelta(days=5))
        self.before = self.followup("k1", "会前已办结的事项", MEETING)
        self.close(self.before)
        self.after = self.followup("k2", HOSTILE_TITLE, MEETING + timedelta(days=20))
        self.late = self.followup("k3", "超期未办的事项", MEETING)
        self.clinic("w1", w.member, 1, date(YEAR, 9, 1))  # 五华区: 1 of 10
        self.clinic("p1", self.panlong_user, 3, date(YEAR, 9, 2))  # 盘龙区: 3 of 10, ahead
        clock.freeze_on(MEETING)
        self.frozen = freeze_report(w.s, by=w.p(w.staff), org=w.kunming, period=periods.parse(f"{YEAR}-ytd10", TODAY))
        clock.freeze_on(MEETING + timedelta(days=10))
        self.close(self.after)
        clock.freeze_on(TODAY)
        # Verified after the freeze, dated before it: recomputing the meeting's period would now say 12.
        self.clinic("w2", w.member, 8, date(YEAR, 9, 3), with_=[w.idle])  # 五华区's idle member joins
        return self


@pytest.fixture
def meeting(world, clock):
    return Meeting(world, clock).held()


def test_figures_then_come_from_the_frozen_report(world, meeting):
    c = compare_to_frozen(world.s, world.p(world.viewer), meeting.frozen.id, periods.parse(None))
    clinics = next(i for i in c["indicators"] if i["name"] == world.clinics.name)
    recomputed = build_report(world.s, world.kunming, periods.parse(f"{YEAR}-ytd10", TODAY))
    assert next(i["verified"] for t in recomputed["figures"] for i in t["indicators"]
                if i["id"] == world.clinics.id) == 12  # the data changed since the meeting …
    assert (clinics["then"], clinics["now"], clinics["delta_text"]) == (4, 12, "+8")  # … what it was told did not
    assert (c["activities"]["then"], c["activities"]["now"]) == (2, 3)
    assert c["today"]["period_key"] == f"{YEAR}-ytd11" and c["frozen"]["day"] == "10月15日"
    assert c["caveat"] is None  # both count from January


def test_a_frozen_quarter_is_compared_with_a_caveat(world, clock):
    clock.freeze_on(TODAY)
    frozen = freeze_report(world.s, by=world.p(world.staff), org=world.kunming, period=periods.parse(f"{YEAR}-q3", TODAY))
    c = compare_to_frozen(world.s, world.p(world.staff), frozen.id, periods.parse(None))
    assert c["caveat"] and f"{YEAR}年第三季度" in c["caveat"] and f"{YEAR}年1月至11月" in c["caveat"]
    assert c["paragraph"].startswith(f"从{TODAY.month}月{TODAY.day}日推进会到今天") and c["movers"] == []


def test_paragraph_names_the_deltas(world, meeting):
    c = compare_to_frozen(world.s, world.p(world.viewer), meeting.frozen.id, periods.parse(None))
    text = c["paragraph"]
    assert text.startswith("从10月15日推进会到今天，全市已审核活动由2次增至3次（+1），其中")
    assert f"{world.clinics.name}由4{world.clinics.unit}增至12{world.clinics.unit}（+8）" in text
    assert "参与率由66.7%升至100%（+33.3个百分点）" in text  # 2 of 3 members then, all 3 now
    assert "推进会以来办结督办事项1项，尚未办结1项（其中已超期1项）" in text
    # An indicator that did not move is not named.
    assert world.lectures.name + "由" not in text


def test_a_unit_that_fell_is_listed_as_fell(world, meeting):
    c = compare_to_frozen(world.s, world.p(world.viewer), meeting.frozen.id, periods.parse(None))
    moves = {m["code"]: (m["then"], m["now"], m["direction"]) for m in c["movers"]}
    assert moves == {"530102": (2, 1, "rose"), "530103": (1, 2, "fell")}


def test_followups_closed_since_the_freeze(world, meeting):
    c = compare_to_frozen(world.s, world.p(world.viewer), meeting.frozen.id, periods.parse(None))
    assert [x["id"] for x in c["closed"]] == [meeting.after.id]  # closed after the meeting, not before
    assert [(x["id"], x["status"]) for x in c["open"]] == [(meeting.late.id, "overdue")]


def test_page_api_and_word_say_the_same_and_escape(client, session, world, meeting):
    f.login_as(client, session, world.viewer)
    listing = client.get("/reports/frozen")
    assert f'href="/reports/compare?frozen={meeting.frozen.id}"' in listing.text
    page = client.get(f"/reports/compare?frozen={meeting.frozen.id}")
    assert page.status_code == 200
    api = client.get(f"/api/v1/reports/compare?frozen={meeting.frozen.id}")
    assert api.status_code == 200
    paragraph = api.json()["paragraph"]
    assert paragraph.startswith("从10月15日推进会到今天")
    assert paragraph.replace("<", "&lt;").replace(">", "&gt;") in page.text
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;督办" in page.text
    assert "<img src=x>" not in page.text and "盘龙区&lt;img src=x&gt;政协" in page.text
    assert {m["code"]: m["direction"] for m in api.json()["movers"]} == {"530102": "rose", "530103": "fell"}

    fragment = client.get(f"/reports/compare?frozen={meeting.frozen.id}", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and 'id="compare-result"' in fragment.text and "<html" not in fragment.text

    word = client.get(f"/reports/compare.docx?frozen={meeting.frozen.id}")
    assert word.status_code == 200
    doc = Document(BytesIO(word.content))
    assert paragraph in [p.text for p in doc.paragraphs]
    cells = [c.text for t in doc.tables for row in t.rows for c in row.cells]
    assert HOSTILE_TITLE in cells and HOSTILE_UNIT in cells


def test_outsiders_get_404_and_an_empty_picker(client, session, world, meeting):
    f.login_as(client, session, world.outsider)  # 曲靖 staff
    assert client.get(f"/reports/compare?frozen={meeting.frozen.id}").status_code == 404
    assert client.get(f"/reports/compare.docx?frozen={meeting.frozen.id}").status_code == 404
    assert client.get(f"/api/v1/reports/compare?frozen={meeting.frozen.id}").status_code == 404
    empty = client.get("/reports/compare")
    assert empty.status_code == 200 and "还没有冻结的报告" in empty.text and meeting.frozen.title not in empty.text
    assert client.get("/api/v1/reports/compare?frozen=abc").status_code == 422
    assert client.get("/reports/compare?frozen=0").status_code == 422
