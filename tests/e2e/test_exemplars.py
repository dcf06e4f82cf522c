"""典型 in a real browser (issue 20): the demo 州市's office opens the candidates ranked on evidence,
nominates the first with the drafted citation, the province's office selects them, and the 典型's page shows."""

from __future__ import annotations

import re

from app import clock
from tests.e2e.test_boards import PROVINCE_STAFF, _log_in

PREFECTURE_STAFF = "13900000003"  # the demo 州市's 「双助推」办公室


def test_a_prefecture_nominates_the_province_selects_the_exemplar_page_shows(live_server, browser, artifacts):
    office = browser.new_page(viewport={"width": 360, "height": 740})
    province = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        _log_in(office, live_server, PREFECTURE_STAFF, "/boards")
        office.get_by_role("link", name="典型", exact=True).first.click()  # from the 州市's board
        office.wait_for_url(re.compile(r"/exemplars/\d{6}"))
        year = clock.today_cn().year
        if not office.locator("article.candidate").count():  # early January: last year's evidence
            year -= 1
            office.goto(re.sub(r"\?.*$", "", office.url) + f"?year={year}")
        assert "得分怎么算" in office.content()
        assert office.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0  # 360 px
        first = office.locator("article.candidate").first
        name = first.locator("strong").inner_text()
        first.get_by_role("link", name="推荐为典型").click()
        citation = office.locator("textarea[name=citation]")
        assert name in citation.input_value() and "已审核" in citation.input_value()
        citation.fill(citation.input_value() + "\n该同志扎根基层，带动身边委员共同履职。")
        office.get_by_role("button", name="报送推荐").click()
        office.wait_for_url(re.compile(r"/exemplars/nominations/\d+"))
        assert office.locator("#nomination-status").inner_text() == "待审定"
        assert office.locator("#select-form").count() == 0  # the nominating office does not select
        nomination_url = re.sub(r"\?.*$", "", office.url)

        _log_in(province, live_server, PROVINCE_STAFF, "/boards")
        province.goto(nomination_url)
        province.once("dialog", lambda dialog: dialog.accept())
        province.get_by_role("button", name="选树为典型").click()
        province.wait_for_url(re.compile(r"done=select"))
        assert province.locator("#nomination-status").inner_text() == "已选树"
        assert province.locator("#exemplar-title").inner_text().startswith(f"{year}年度「双助推」典型 · {name}")
        assert "带动身边委员共同履职" in province.locator("#citation").inner_text()
        assert province.get_by_role("link", name="下载典型事迹材料（Word）").count() == 1
        province.screenshot(path=str(artifacts / "exemplar-page.png"), full_page=True)

        # The office sees its 典型 too, with the files to download.
        office.goto(nomination_url)
        assert office.locator("#nomination-status").inner_text() == "已选树"
        overflow = office.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the 典型's page scrolls sideways by {overflow}px at 360 px"
    finally:
        office.close()
        province.close()
