"""成效 on the boards and in the reports: the totals stated apart from the effort figures equal a
recount from the raw activity_value rows (verified only, in the period), by organisation and by
place, on SQLite and PostgreSQL; the progress score never counts them; the .docx and .xlsx show
the figures the page shows."""

from __future__ import annotations

from datetime import date
from io import BytesIO

from docx import Document
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlmodel import Session

from app.activities import service as activities
from app.activities.schemas import ActivityInput
from app.boards import service as boards
from app.boards.periods import Period
from app.errors import DomainError
from app.models import Activity, ActivityValue, AnnualTarget, Indicator
from app.orgs.service import subtree_ids
from app.reports.docx import to_docx
from app.reports.service import build_report
from app.reports.xlsx import to_xlsx
from tests import factories as f
from tests.reports.conftest import TODAY, YEAR, World

OUTCOMES = ("受益群众", "带动就业", "带动增收")
FATES = ("verified", "pending", "returned", "withdrawn", "later")  # later: outcomes added, then verified

entries = st.lists(st.tuples(
    st.sampled_from([1, 2, 7]),  # 特色产业 (all three outcomes), 农产品销售 (two), 医疗帮扶 (受益群众 only)
    st.booleans(),  # 五华区 (a key county) or 盘龙区
    st.integers(1, 11),
    st.tuples(st.none() | st.integers(0, 900), st.none() | st.integers(0, 40), st.none() | st.integers(0, 99999)),
    st.sampled_from(FATES),
), min_size=2, max_size=8)
periods_ = st.tuples(st.integers(1, 11), st.integers(0, 10)).map(
    lambda p: Period(YEAR, p[0], min(11, p[0] + p[1]), f"{YEAR}-{p[0]:02d}~{min(11, p[0] + p[1]):02d}", "测试期间"))


def _text(kind: str, v: int) -> str:
    return f"{v // 100}.{v % 100:02d}" if kind == "money" else str(v)


class Outcomes(World):
    def __init__(self, session):
        super().__init__(session)
        self.outsider_member = f.persona(session, "outsider_member")  # 盘龙区
        self.tasks = {n: f.task(session, n) for n in (1, 2, 7)}
        self.effort = {n: f.indicators(session, t)[0] for n, t in self.tasks.items()}
        self.outcomes = {n: f.outcomes(session, t) for n, t in self.tasks.items()}

    def enter(self, n: int, entry: tuple) -> None:
        task_no, wuhua, month, amounts, fate = entry
        outs = self.outcomes[task_no]
        given_ = {outs[name].id: _text(outs[name].kind, v) for name, v in zip(OUTCOMES, amounts, strict=True)
                  if v is not None and name in outs}
        data = ActivityInput(task_id=self.tasks[task_no].id, county_id=(self.wuhua if wuhua else self.panlong).id,
                             occurred_on=date(YEAR, month, 1 + n), description="成效测试活动",
                             values={self.effort[task_no].id: "1", **({} if fate == "later" else given_)})
        who = self.member if wuhua else self.outsider_member
        activity = activities.record_activity(self.s, by=self.p(who), data=data, idempotency_key=f"o{n}",
                                              today=TODAY).activity
        staff = self.p(self.staff)
        if fate == "later" and given_:
            activities.add_outcomes(self.s, by=self.p(who), activity_id=activity.id,
                                    values=dict(given_), today=TODAY)
        if fate in ("verified", "later"):
            activities.verify(self.s, by=staff, activity_id=activity.id, note="已核实")
        elif fate == "returned":
            activities.return_activity(self.s, by=staff, activity_id=activity.id, reason="请补充照片")
        elif fate == "withdrawn":
            activities.withdraw(self.s, by=self.p(who), activity_id=activity.id)


def recount(session: Session, period: Period, *where) -> dict[str, int]:
    """Verified outcome values in the period from the raw rows, by outcome name (zeros left out)."""
    rows = session.execute(
        select(Indicator.name, func.sum(ActivityValue.value))
        .join(Activity, Activity.id == ActivityValue.activity_id)
        .join(Indicator, Indicator.id == ActivityValue.indicator_id)
        .where(Indicator.is_outcome.is_(True), Activity.status == "verified",
               Activity.occurred_on.between(period.start, period.end), *where)
        .group_by(Indicator.name))
    return {name: int(v) for name, v in rows if v}


def stated(totals) -> dict[str, int]:  # OutcomeTotal objects or the report's dicts
    return {(o["name"] if isinstance(o, dict) else o.name): (o["verified"] if isinstance(o, dict) else o.verified)
            for o in totals if (o["verified"] if isinstance(o, dict) else o.verified)}


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(sequence=entries, period=periods_)
def test_outcome_totals_equal_a_recount_of_the_raw_rows(base_engine, settings_env, sequence, period):
    settings_env(quality_checks="false")
    conn = base_engine.connect()
    outer = conn.begin()
    s = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        world = Outcomes(s)
        for n, entry in enumerate(sequence):
            try:
                world.enter(n, entry)
            except DomainError:
                s.rollback()
        by_org = recount(s, period, Activity.credited_org_id.in_(subtree_ids(world.kunming.id)))
        ov = boards.overview(s, world.kunming, period)
        assert stated(ov.outcomes) == by_org
        report = build_report(s, world.kunming, period)
        assert stated(report["outcomes"]) == by_org
        table = next(t for t in report["tables"] if t["key"] == "outcomes")
        total = dict(zip([c["name"].split("（")[0] for c in table["columns"][1:]], table["rows"][-1][1:], strict=True))
        assert {k: v for k, v in total.items() if v} == by_org
        by_place = recount(s, period, Activity.county_id == world.wuhua.id)
        assert stated(boards.county_board(s, world.wuhua, period, with_own=False).outcomes) == by_place
    finally:
        s.close()
        outer.rollback()
        conn.close()


def test_outcomes_are_never_in_the_progress_score(world, q3):
    """A target stored for an outcome indicator is ignored: the score is the effort figures' alone."""
    people = f.outcomes(world.s, world.t1)["受益群众"]
    activity = world.log("p", world.t1, {world.projects.id: 2, people.id: 500})
    world.verify(activity)
    world.s.add(AnnualTarget(org_id=world.wuhua.id, indicator_id=world.projects.id, year=YEAR, value=8))
    world.s.add(AnnualTarget(org_id=world.wuhua.id, indicator_id=people.id, year=YEAR, value=100_000))
    world.s.flush()
    ov = boards.overview(world.s, world.wuhua, q3)
    assert ov.score == boards.score(ov.tasks) and ov.score is not None
    assert all(f_.target is None and f_.pace is None for t in ov.tasks for f_ in t.outcomes)
    assert ov.score > 0.3  # 2 of a pace of 6 (not dragged toward 0 by 500 of 75,000)
    assert ov.outcome_text.startswith("惠及群众500人")


def test_the_word_and_excel_files_show_the_outcomes_the_page_shows(client, world, q3):
    jobs, income = f.outcomes(world.s, world.t1)["带动就业"], f.outcomes(world.s, world.t1)["带动增收"]
    people = f.outcomes(world.s, world.t7)["受益群众"]
    world.verify(world.log("o1", world.t1, {world.projects.id: 1, jobs.id: 12, income.id: "8.5"}))
    world.verify(world.log("o2", world.t7, {world.clinics.id: 1, people.id: 340}, on=date(YEAR, 6, 2)))
    world.log("o3", world.t7, {world.clinics.id: 1, people.id: 9999}, on=date(YEAR, 6, 9))  # pending
    report = build_report(world.s, world.kunming, q3)
    assert report["outcome_text"] == "惠及群众340人，带动就业12人，带动群众增收8.5万元"
    f.login_as(client, world.s, world.staff)
    page = client.get(f"/reports?org={world.kunming.code}&period={q3.key}")
    assert page.status_code == 200 and report["outcome_text"] in page.text
    assert "惠及群众340人" in client.get(f"/boards/{world.kunming.code}?period={q3.key}").text

    doc = Document(BytesIO(to_docx(report)))
    assert any(report["outcome_text"] in p.text for p in doc.paragraphs)
    table = next(t for t in doc.tables if t.rows[0].cells[0].text == "实事")
    header = [c.text for c in table.rows[0].cells]
    total = {h: c.text for h, c in zip(header, table.rows[-1].cells, strict=True)}
    assert total["实事"] == "合计" and total["受益群众（人）"] == "340" and total["带动就业（人）"] == "12"
    assert total["带动增收（万元）"] == "8.5"

    wb = load_workbook(BytesIO(to_xlsx(report)))
    ws = wb["成效"]
    header = [c.value for c in ws[2]]
    last = dict(zip(header, next(ws.iter_rows(min_row=ws.max_row, values_only=True)), strict=True))
    assert last["实事"] == "合计" and last["受益群众（人）"] == 340 and last["带动增收（万元）"] == 8.5
