"""The 问题清单 and 督办事项 as big-screen slides: the split into pages, and one slide rendered."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.meeting import followups as fus
from app.meeting import screen
from app.meeting.schemas import FollowUpCreate
from app.web import templates
from tests.meeting.conftest import TODAY, YEAR

pytestmark = pytest.mark.dates
SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def test_split_into_pages_of_per_slide():
    assert screen.split(list(range(7)), 3) == [[0, 1, 2], [3, 4, 5], [6]]
    assert screen.split(list(range(6)), 3) == [[0, 1, 2], [3, 4, 5]]
    assert screen.split([], 5) == [[]]  # one slide that says there is nothing
    with pytest.raises(ValueError):
        screen.split([1], 0)


def test_a_reason_takes_lines_by_its_width_and_long_ones_make_more_slides():
    assert screen.text_lines("") == 1 and screen.text_lines("汉" * screen.CHARS_PER_LINE) == 1
    assert screen.text_lines("汉" * (screen.CHARS_PER_LINE + 1)) == 2
    assert screen.text_lines("9" * screen.CHARS_PER_LINE) == 1  # digits count about half
    # Six items of a one-line reason (3 lines each) fit 20 lines; six of a two-line one (4 each) need two slides.
    short, long_ = [3] * 6, [4] * 6
    assert len(screen.chunk_rows(list(range(6)), short, 20)) == 1
    assert [len(p) for p in screen.chunk_rows(list(range(6)), long_, 20)] == [3, 3]


@SQLITE
def test_problem_and_followup_slides_render_with_big_type_classes(world):
    world.target(world.wuhua, 12)
    world.target(world.panlong, 12)
    world.target(world.kunming, 1200)
    slides = screen.problem_slides(world.s, world.kunming, world.period(), 1)
    assert len(slides) >= 3 and [s["page"] for s in slides] == list(range(1, len(slides) + 1))
    assert all(len(s["items"]) == 1 and s["pages"] == len(slides) for s in slides) and slides[1]["first"] == 2
    html = templates().env.get_template("meeting/_slide_problems.html").render(**slides[0])
    assert 'class="mt-slide mt-problems"' in html and slides[0]["items"][0].why in html
    assert slides[0]["title"] == "问题清单"  # said by the slide's own header (templates/meeting/slide.html)

    fu, _ = fus.create_followup(world.s, by=world.p(world.staff), org=world.kunming, period=world.period(),
                                data=FollowUpCreate(source_kind="uncovered_county", source_ref="county:530102",
                                                    owner_org="530102", due_on=TODAY + timedelta(days=3),
                                                    done_criteria="落实挂联领导"), submission_key="s")
    fu.period = f"{YEAR}-10"  # October's meeting
    world.s.flush()
    slides = screen.followup_slides(world.s, world.kunming, world.period(f"{YEAR}-11"), 6)
    assert len(slides) == 1 and slides[0]["counts"] == {"open": 1, "overdue": 0, "done": 0}
    html = templates().env.get_template("meeting/_slide_followups.html").render(**slides[0])
    assert "mt-status-open" in html and "当时：" in html and "现在：" in html
    hostile, _ = fus.create_followup(world.s, by=world.p(world.staff), org=world.kunming, period=world.period(),
                                     data=FollowUpCreate(title="<script>alert(1)</script>", owner_org="530103",
                                                         due_on=TODAY, done_criteria="x"), submission_key="h")
    hostile.period = f"{YEAR}-10"
    world.s.flush()
    slides = screen.followup_slides(world.s, world.kunming, world.period(f"{YEAR}-11"), 6)
    html = templates().env.get_template("meeting/_slide_followups.html").render(**slides[0])
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html
    empty = screen.followup_slides(world.s, world.qujing, world.period(), 6)
    assert empty[0]["items"] == [] and "没有督办事项" in templates().env.get_template(
        "meeting/_slide_followups.html").render(**empty[0])
