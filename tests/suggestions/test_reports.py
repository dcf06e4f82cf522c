"""采纳率 where the office reads its figures: the report (its JSON, Word and Excel) and the overview
board — 「—」 when nothing was made, and the cached board moves when a state changes."""

from __future__ import annotations

from io import BytesIO

import pytest
from docx import Document
from openpyxl import load_workbook

from app.reports.docx import to_docx
from app.reports.service import build_report
from app.reports.xlsx import to_xlsx
from tests import factories as f
from tests.suggestions.conftest import YEAR

pytestmark = pytest.mark.dates
SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
SENTENCE = "所提意见建议（含建言献策）5条中，已采纳3条（其中已落实0条），采纳率60.0%。"


@SQLITE
def test_the_report_states_adoption_in_json_word_and_excel(world):
    quiet = build_report(world.s, world.kunming, world.period())
    assert quiet["suggestions"]["rate"] is None and "采纳率" not in quiet["text"]
    world.set(world.made(3), "adopted")
    world.made(2, task=world.task10)
    report = build_report(world.s, world.kunming, world.period())
    assert report["suggestions"] | {"rate": None} == {"made": 5, "reported": 0, "adopted": 3, "implemented": 0,
                                                      "declined": 0, "untracked": 2, "rate": None}
    assert report["suggestions"]["rate"] == pytest.approx(0.6) and report["paragraphs"][-1] == [SENTENCE]
    doc = Document(BytesIO(to_docx(report)))
    assert any(p.text == SENTENCE for p in doc.paragraphs)
    sheet = load_workbook(BytesIO(to_xlsx(report)))["报告正文"]
    assert SENTENCE in [c.value for c in sheet["A"]]


@SQLITE
def test_the_overview_board_shows_adoption_and_moves_with_a_state(client, session, world):
    f.login_as(client, session, world.staff)
    url = f"/boards/530100?period={YEAR}-ytd11"
    page = client.get(url)
    assert page.status_code == 200 and "意见建议采纳率" in page.text
    assert '<div class="num" id="adoption-rate">—</div>' in page.text  # nothing made
    a = world.made(4)
    assert '<div class="num" id="adoption-rate">0%</div>' in client.get(url).text  # made, none adopted yet
    world.set(a, "implemented")  # no figure of the rollup moves: the stamps it bumps renew the cached block
    page = client.get(url)
    assert '<div class="num" id="adoption-rate">100%</div>' in page.text and "其中已落实 4" in page.text
