"""Figures by 界别 and by 专委会 (app/boards/breakdown.py): equal to a naive recount from the raw rows,
the 界别 rows adding up to the subtree's 参与率, the API scoped to the caller's subtree."""

from __future__ import annotations

import calendar
from datetime import date

import pytest
from sqlalchemy import select

from app.boards import breakdown, periods
from app.boards import service as boards
from app.models import (
    Activity,
    ActivityParticipant,
    ActivityStatus,
    Committee,
    Member,
    MemberRole,
    Membership,
    Organisation,
    ParticipantStatus,
)
from app.orgs.service import subtree_ids
from app.rollup import service as rollup
from tests import factories as f
from tests.api.conftest import bearer, make_token

pytestmark = pytest.mark.dates


class World:
    """昆明 (530100) with two committees of its own, members in 昆明, 五华 and 盘龙 in three 界别 of this
    test's own, and one in 曲靖 (outside). Time stands on 15 September; the period is January–September."""

    def __init__(self, session, clock):
        self.s = session
        self.year = f.this_year()
        clock.freeze_on(date(self.year, 9, 15))
        self.kunming, self.wuhua = f.org(session, "530100"), f.org(session, "530102")
        self.panlong, self.qujing = f.org(session, "530103"), f.org(session, "530300")
        self.task = f.task(session, 1)
        self.indicator = f.indicators(session, self.task)[0]
        self.period = periods.parse(f"{self.year}-ytd09")
        self.c1 = self.committee("测试经济委")
        self.c2 = self.committee("测试农业委")
        self.recorder = f.make_user(session)
        y = self.year
        # Took part in March while on 测试经济委.
        self.a = self.member("甲", "测试甲界", [(self.kunming, self.c1, date(y, 1, 1), None)])
        # On 测试经济委 until 10 February; took part in April, after leaving.
        self.b = self.member("乙", "测试乙界", [(self.kunming, self.c1, date(y, 1, 1), date(y, 2, 10))])
        # Seated from October: not active in the period.
        self.c = self.member("丙", "测试甲界", [(self.kunming, self.c2, date(y, 10, 1), None)])
        # 五华, no committee, only a pending activity.
        self.d = self.member("丁", "测试乙界", [(self.wuhua, None, date(y - 1, 3, 1), None)])
        # 盘龙, took part in March in the same activity as 甲 (one activity, counted once for 测试甲界).
        self.e = self.member("戊", "测试甲界", [(self.panlong, None, date(y, 2, 20), None)])
        # On 测试农业委 until May, then 五华 from June (no committee); took part in July.
        self.g = self.member("己", "测试丙界", [(self.kunming, self.c2, date(y - 2, 1, 1), date(y, 5, 31)),
                                               (self.wuhua, None, date(y, 6, 1), None)])
        # 曲靖: outside 昆明, took part in March.
        self.h = self.member("庚", "测试甲界", [(self.qujing, None, date(y, 1, 1), None)])
        self.activity(date(y, 3, 5), ActivityStatus.verified, self.a, self.e)
        self.activity(date(y, 3, 8), ActivityStatus.verified, self.e)
        self.activity(date(y, 4, 2), ActivityStatus.verified, self.b)
        self.activity(date(y, 4, 3), ActivityStatus.pending, self.d)
        self.activity(date(y, 7, 9), ActivityStatus.verified, self.g)
        self.activity(date(y, 3, 9), ActivityStatus.verified, self.h)
        self.activity(date(y, 10, 9), ActivityStatus.verified, self.c)  # after the period

    def committee(self, name):
        found = Committee(org_id=self.kunming.id, name=name)
        self.s.add(found)
        self.s.flush()
        return found

    def member(self, name, sector, seats):
        member = Member(name=f"测试{name}", phone=f"172{next(f._seq):08d}",
                        sector=sector)
        self.s.add(member)
        self.s.flush()
        before = rollup.member_masks(self.s, [member.id])
        for organisation, committee, start, end in seats:
            self.s.add(Membership(member_id=member.id, org_id=organisation.id,
                                  term_id=f.term_for(self.s, organisation).id, role=MemberRole.member,
                                  committee_id=committee.id if committee else None, start_date=start, end_date=end))
        self.s.flush()
        rollup.members_changed(self.s, before, [member.id])
        return member

    def activity(self, day, status, *members):
        org = self.s.get(Organisation, self.s.scalar(
            select(Membership.org_id).where(Membership.member_id == members[0].id)))
        return f.make_activity(self.s, recorder=self.recorder, credited=org, county=self.wuhua, task_=self.task,
                               values={self.indicator.id: 1}, occurred_on=day, status=status, participants=members)


def _months(period):
    for month in range(period.first, period.last + 1):
        yield date(period.year, month, 1), date(period.year, month, calendar.monthrange(period.year, month)[1])


def naive(session, org, period, by):
    """group -> (active, took part, 人次), by walking the raw rows month by month: 人次 counts each
    (member, activity) of a member active in the group that month."""
    seats = session.execute(select(Membership, Member.sector).join(Member, Member.id == Membership.member_id)).all()
    inside = set(session.scalars(subtree_ids(org.id)))
    done = session.execute(
        select(ActivityParticipant.member_id, Activity.id, Activity.occurred_on)
        .join(Activity, Activity.id == ActivityParticipant.activity_id)
        .where(Activity.status == ActivityStatus.verified.value,
               ActivityParticipant.status == ParticipantStatus.confirmed.value)).all()
    active: dict[object, set[tuple[int, int]]] = {}  # group -> {(member, month)}
    for seat, sector in seats:
        if by == "sector":
            if seat.org_id not in inside:
                continue
            group = sector
        else:
            if seat.org_id != org.id or seat.committee_id is None:
                continue
            group = seat.committee_id
        for first, last in _months(period):
            if seat.start_date <= last and (seat.end_date is None or seat.end_date >= first):
                active.setdefault(group, set()).add((seat.member_id, first.month))
    out = {}
    for group, months in active.items():
        took = {m for m, a, day in done if day.year == period.year and (m, day.month) in months}
        acts = {(m, a) for m, a, day in done if day.year == period.year and (m, day.month) in months}
        out[group] = (len({m for m, _ in months}), len(took), len(acts))
    return out


def _by_name(got):
    return {g.name: (g.participation.active, g.participation.took_part, g.participations) for g in got.groups}


def test_by_sector_equals_a_recount_and_adds_up_to_the_subtrees_participation(session, clock):
    w = World(session, clock)
    assert rollup.check(session) == []
    got = breakdown.breakdown(session, w.kunming, w.period, "sector")
    mine = {k: v for k, v in _by_name(got).items() if k.startswith("测试")}
    # 甲 and 戊 took part (one shared activity, one more of 戊's: 3 人次); 丙 is seated after the period; 庚 is
    # outside. 乙 took part in April, a month of no seat; 丁 has a pending activity only; 己 took part in July in 五华.
    assert mine == {"测试甲界": (2, 2, 3), "测试乙界": (2, 0, 0), "测试丙界": (1, 1, 1)}
    assert _by_name(got) == {k or breakdown.NO_SECTOR: v for k, v in naive(session, w.kunming, w.period, "sector").items()}
    whole = boards.participation(session, [w.kunming.id], w.period)[w.kunming.id]
    assert sum(g.participation.active for g in got.groups) == whole.active
    assert sum(g.participation.took_part for g in got.groups) == whole.took_part
    assert [g.participation.active for g in got.groups] == sorted((g.participation.active for g in got.groups),
                                                                  reverse=True)


def test_by_committee_counts_only_the_months_on_the_committee(session, clock):
    w = World(session, clock)
    got = breakdown.breakdown(session, w.kunming, w.period, "committee")
    mine = {g.committee_id: (g.participation.active, g.participation.took_part, g.participations) for g in got.groups}
    # 测试经济委: 甲 took part; 乙 left before taking part. 测试农业委: 己 served until May, took part in July.
    assert mine[w.c1.id] == (2, 1, 1)
    assert mine[w.c2.id] == (1, 0, 0)
    assert next(g for g in got.groups if g.committee_id == w.c1.id).participation.rate == 0.5
    recount = naive(session, w.kunming, w.period, "committee")
    assert {k: v for k, v in mine.items() if v != (0, 0, 0)} == recount
    # A county's breakdown by committee lists its own committees only (五华 has none of these).
    assert w.c1.id not in {g.committee_id for g in breakdown.breakdown(session, w.wuhua, w.period, "committee").groups}


def test_one_month_period_and_a_year_without_counters(session, clock):
    w = World(session, clock)
    march = periods.parse(f"{w.year}-03")
    assert _by_name(breakdown.breakdown(session, w.kunming, march, "sector"))["测试甲界"] == (2, 2, 3)
    last_year = periods.parse(str(w.year - 1))
    got = _by_name(breakdown.breakdown(session, w.kunming, last_year, "sector"))
    assert got.get("测试乙界") == (1, 0, 0)  # 丁 served last year; nobody took part
    assert got.get("测试丙界") == (1, 0, 0)  # 己 sat on 测试农业委 in 昆明


def test_api_by_sector_and_committee_and_outsiders_get_404(client, session, clock):
    w = World(session, clock)
    _, raw = make_token(session, code="530100")
    got = client.get(f"/api/v1/orgs/530100/breakdown?by=sector&period={w.period.key}", headers=bearer(raw))
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["by"] == "sector" and body["org"]["code"] == "530100"
    groups = {g["name"]: g for g in body["groups"]}
    assert groups["测试甲界"]["participation"] == {"active": 2, "took_part": 2, "rate": 1.0}
    assert groups["测试甲界"]["participations"] == 3
    got = client.get(f"/api/v1/orgs/530100/breakdown?by=committee&period={w.period.key}", headers=bearer(raw)).json()
    assert {g["name"]: g["participation"]["took_part"] for g in got["groups"]}["测试经济委"] == 1
    # Outside the token's subtree: 404, as every read of another subtree.
    _, outsider = make_token(session, code="530300")
    assert client.get("/api/v1/orgs/530100/breakdown", headers=bearer(outsider)).status_code == 404
    assert client.get("/api/v1/orgs/530100/breakdown?by=place", headers=bearer(raw)).status_code == 422
    assert client.get(f"/api/v1/orgs/530100/breakdown?period={w.year}-13", headers=bearer(raw)).status_code == 422


def test_the_board_shows_both_tables_with_names_escaped(client, session, clock):
    w = World(session, clock)
    w.committee("<b>测试</b>委")
    f.login_as(client, session, f.persona(session, "prefecture_staff"))  # 昆明
    page = client.get(f"/boards/530100?period={w.period.key}")
    assert page.status_code == 200
    text = page.text
    assert 'id="breakdown-sector"' in text and 'id="breakdown-committee"' in text
    assert "分界别统计" in text and "分专委会统计" in text
    assert "&lt;b&gt;测试&lt;/b&gt;委" in text and "<b>测试</b>" not in text
    row = text[text.index("测试经济委"):]
    assert [cell.split(">")[-1] for cell in row.split("</td>")[1:5]] == ["2", "1", "50%", "1"]
    # A county without committees of its own: no committee table.
    assert 'id="breakdown-committee"' not in client.get(f"/boards/530102?period={w.period.key}").text


def test_the_report_tables_in_word_and_excel(session, clock):
    from io import BytesIO

    from docx import Document
    from openpyxl import load_workbook

    from app.reports.docx import to_docx
    from app.reports.service import build_report
    from app.reports.xlsx import to_xlsx

    w = World(session, clock)
    report = build_report(session, w.kunming, w.period)
    keys = [t["key"] for t in report["tables"]]
    assert keys[-2:] == ["sectors", "committees"]
    doc = Document(BytesIO(to_docx(report)))
    sectors = next(t for t in doc.tables if t.rows[0].cells[0].text == "界别")
    assert [c.text for c in sectors.rows[0].cells] == ["界别", "在任委员（名）", "参与委员（名）", "参与率",
                                                        "参加活动人次"]
    rows = {r.cells[0].text: [c.text for c in r.cells[1:]] for r in sectors.rows[1:]}
    assert rows["测试甲界"] == ["2", "2", "100.0%", "3"] and rows["测试乙界"] == ["2", "0", "0.0%", "0"]
    committees = next(t for t in doc.tables if t.rows[0].cells[0].text == "专委会")
    assert [c.text for c in next(r for r in committees.rows if r.cells[0].text == "测试经济委").cells[1:]] == [
        "2", "1", "50.0%", "1"]
    wb = load_workbook(BytesIO(to_xlsx(report)))
    assert wb["分界别"]["A1"].value == "分界别统计（本组织及下级的全部在任委员，已审核）"
    got = {r[0]: r[1:] for r in wb["分界别"].iter_rows(min_row=3, values_only=True)}
    assert got["测试甲界"] == (2, 2, 1.0, 3) and got["测试丙界"] == (1, 1, 1.0, 1)
    sheet = {r[0]: r[1:] for r in wb["分专委会"].iter_rows(min_row=3, values_only=True)}
    assert sheet["测试经济委"] == (2, 1, 0.5, 1) and sheet["测试农业委"] == (1, 0, 0.0, 0)
