"""下级组织分项统计 reconciles: the rows one level down plus 本级 add up to 合计 in every count and
money column, for any activities credited anywhere in the subtree (the organisation itself, a
child, a grandchild), in any period; 本级's 参与率 is its own members' distinct rate, 合计's the
subtree's. The outputs (page, Word, Excel, CLI text, API) all show the 本级 row.

Hypothesis writes random verified and pending activities through the factories (which keep the
rollup as every writer must) and compares the report's rows with each other and with a count of
the raw rows.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date
from io import BytesIO

import pytest
from docx import Document
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlalchemy import select
from sqlmodel import Session

from app.boards import periods
from app.boards import service as boards
from app.clock import today_cn
from app.models import ActivityStatus, Member, Organisation
from app.reports.docx import to_docx
from app.reports.service import as_text, build_report
from app.reports.tables import units_table
from app.reports.xlsx import to_xlsx
from tests import factories as f

pytestmark = pytest.mark.dates

# Where an activity is credited: the province itself, a prefecture itself, counties of two prefectures.
PLACES = ("530000", "530100", "530102", "530103", "530300", "qujing_county")
activity = st.tuples(
    st.sampled_from(PLACES),
    st.booleans(),  # verified (else pending)
    st.sampled_from(["sales", "clinic"]),  # task 2 (count + money) or task 7 (two counts + money)
    st.integers(1, 12),  # month of last year
    st.integers(0, 40),  # a count
    st.integers(0, 2_000_000),  # money, hundredths of 万元
    st.integers(0, 5),  # which member recorded it (a participant)
)


class World:
    """Members in the province itself, 昆明 itself and some counties; two tasks with money."""

    def __init__(self, session: Session):
        self.s = session
        self.year = today_cn().year - 1  # a whole past year: every period of it may be reported
        self.orgs = {code: f.org(session, code) for code in PLACES[:-1]}
        qujing = self.orgs["530300"]
        self.orgs["qujing_county"] = session.scalar(
            select(Organisation).where(Organisation.parent_id == qujing.id).order_by(Organisation.code))
        self.user = f.make_user(session)
        homes = ("530000", "530000", "530100", "530102", "530103", "qujing_county")
        self.members = [(f.make_member(session, self.orgs[h]), h) for h in homes]
        self.tasks = {"sales": f.task(session, 2), "clinic": f.task(session, 7)}
        self.inds = {k: f.indicators(session, t) for k, t in self.tasks.items()}
        self.logged: list[tuple[str, bool, int, Member]] = []  # (credited, verified, month, recorder)

    def log(self, where: str, verified: bool, task: str, month: int, count: int, money: int, who: int) -> None:
        credited = self.orgs[where]
        county = credited if credited.level == "county" else self.orgs["530102"]
        values = {i.id: (money if i.kind == "money" else count + n) for n, i in enumerate(self.inds[task])}
        member = self.members[who][0]
        f.make_activity(self.s, recorder=self.user, credited=credited, county=county, task_=self.tasks[task],
                        values=values, occurred_on=date(self.year, month, min(28, count + 1)),
                        status=ActivityStatus.verified if verified else ActivityStatus.pending,
                        participants=(member,))
        self.logged.append((where, verified, month, member))

    def periods(self) -> list[periods.Period]:
        y = self.year
        return [periods.parse(k, today_cn()) for k in (f"{y}", f"{y}-q2", f"{y}-h2", f"{y}-07")]


def sums_reconcile(table: dict) -> None:
    """Each count and money column: Σ (children + 本级) == 合计, exactly (integers)."""
    *parts, total = table["rows"]
    assert [k["row"] for k in table["row_keys"]][-2:] == ["own", "total"]
    for n, col in enumerate(table["columns"]):
        if col["kind"] in ("count", "money"):
            assert sum(r[n] for r in parts) == total[n], col["name"]
            assert all(r[n] >= 0 for r in parts), col["name"]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(logged=st.lists(activity, max_size=10))
def test_rows_and_own_add_up_to_the_total(session, logged):
    nested = session.begin_nested()  # each example starts from the seeded tree
    try:
        world = World(session)
        for a in logged:
            world.log(*a)
        province, kunming = world.orgs["530000"], world.orgs["530100"]
        for period in world.periods():
            months = range(period.first, period.last + 1)
            for org in (province, kunming):
                tasks, _ = boards.catalogue(session, org.id)
                table = units_table(session, org, period, tasks)
                sums_reconcile(table)
                rows = {k["row"]: r for k, r in zip(table["row_keys"], table["rows"], strict=True)}
                # 本级's activities are exactly those credited to the organisation itself.
                own = sum(1 for w, v, m, _ in world.logged if v and m in months and world.orgs[w].id == org.id)
                assert rows["own"][1] == own and rows["own"][0] == f"{org.name}本级"
                # 参与率: 本级 over the members whose membership is in the organisation itself.
                home = [m for m, h in world.members if world.orgs[h].id == org.id]
                took = {m.id for _, v, mo, m in world.logged if v and mo in months}
                active = len(home) or None
                assert rows["own"][-1] == (len([m for m in home if m.id in took]) / active if active else None)
                assert rows["total"][-1] == boards.participation(session, [org.id], period)[org.id].rate
            county = world.orgs["530102"]
            tasks, _ = boards.catalogue(session, county.id)
            assert units_table(session, county, period, tasks)["rows"] == []  # no children: no table
    finally:
        nested.rollback()


def test_province_own_work_closes_the_gap(session):
    """The demo's gap: the prefectures' rows left out what the province did itself (339 of 14,090)."""
    world = World(session)
    y = world.year
    world.log("530000", True, "sales", 3, 5, 12_345, 0)  # the province itself: 123.45 万元
    world.log("530000", True, "clinic", 4, 2, 0, 1)
    world.log("530000", False, "sales", 4, 9, 99_999, 0)  # pending: nowhere
    world.log("530100", True, "sales", 5, 3, 1_001, 2)  # 昆明 itself: 本级 of 昆明, part of 昆明's row here
    world.log("530102", True, "sales", 6, 1, 50, 3)  # a county: in 昆明's row
    world.log("qujing_county", True, "clinic", 7, 4, 7, 5)
    report = build_report(session, world.orgs["530000"], periods.parse(str(y), today_cn()))
    table = next(t for t in report["tables"] if t["key"] == "units")
    sums_reconcile(table)
    names = [c["name"] for c in table["columns"]]
    money = names.index("农产品销售·销售金额（万元）")
    rows = {r[0]: r for r in table["rows"]}
    own = rows["云南省政协本级"]
    assert (own[1], own[money]) == (2, 12_345)
    assert (rows["昆明市政协"][1], rows["昆明市政协"][money]) == (2, 1_051)
    assert rows["曲靖市政协"][1] == 1 and rows["合计"][1] == 5 == report["activities"]
    assert rows["合计"][money] == 13_396
    assert own[-1] == pytest.approx(1.0)  # both province members took part
    assert [r[0] for r in table["rows"]][-2:] == ["云南省政协本级", "合计"]
    assert table["links"][-2] == [None] * len(names)  # no list of the province's own activities to open

    # Word and Excel read back: the same row, and the columns still add up there.
    doc = Document(BytesIO(to_docx(report)))
    cells = {r.cells[0].text: [c.text for c in r.cells] for r in doc.tables[0].rows[1:]}
    assert cells["云南省政协本级"][1] == "2" and cells["云南省政协本级"][money] == "123.45"
    assert cells["合计"][money] == "133.96"
    ws = load_workbook(BytesIO(to_xlsx(report)))["下级组织"]
    xrows = list(ws.iter_rows(min_row=3, values_only=True))
    assert xrows[-2][0] == "云南省政协本级" and xrows[-2][1] == 2 and xrows[-2][money] == 123.45
    for n in (1, money):
        assert round(sum(r[n] * 100 for r in xrows[:-1])) == round(xrows[-1][n] * 100)
    assert "云南省政协本级\t2\t" in as_text(report)


def test_page_api_and_cli_show_the_own_row(client, session, monkeypatch, capsys):
    world = World(session)
    world.log("530100", True, "sales", 3, 5, 250, 2)  # 昆明 itself
    world.log("530102", True, "sales", 3, 1, 100, 3)
    y = world.year
    staff = f.persona(session, "prefecture_staff")
    f.login_as(client, session, staff)
    page = client.get(f"/reports?org=530100&period={y}", headers={"HX-Request": "true"})
    assert page.status_code == 200 and "昆明市政协本级" in page.text

    body = client.get(f"/api/v1/reports/summary?org=530100&from={y}-01&to={y}-12").json()
    units = {u["row"]: u for u in body["units"] if u["row"] != "unit"}
    assert units["own"]["name"] == "昆明市政协本级" and units["own"]["activities"] == 1
    assert units["total"]["activities"] == 2 == body["activities"]
    money = next(i for i in world.inds["sales"] if i.kind == "money")
    value = {u["org_code"]: next(v["verified"] for v in u["values"] if v["indicator_id"] == money.id)
             for u in body["units"] if u["row"] == "unit"}
    assert value["530102"] == 100 and sum(value.values()) + next(
        v["verified"] for v in units["own"]["values"] if v["indicator_id"] == money.id) == 350
    county = client.get(f"/api/v1/reports/summary?org=530102&from={y}-01&to={y}-12").json()
    assert county["units"] == []  # a county has no organisations below it

    from app import cli

    @contextmanager
    def _same_session():  # the CLI reads the test's rolled-back database
        yield session

    monkeypatch.setattr(cli, "read_session", _same_session)
    assert cli.main(["report", "--org", "530100", "--from", f"{y}-01", "--to", f"{y}-12"]) == 0
    assert "昆明市政协本级\t1\t" in capsys.readouterr().out
