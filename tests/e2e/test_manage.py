"""数据管理 in a real browser on a 360 px phone: a prefecture's office finds a member of one of its
counties, transfers them to another county, and sees the member's new organisation — and the member
listed there."""

from __future__ import annotations

PASSWORD = "demo2026"
PREFECTURE_STAFF = "13900000003"


def test_staff_transfer_a_member_on_a_phone(live_server, browser, artifacts):
    page = browser.new_page(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    try:
        page.goto(f"{live_server}/login?next=/manage/members")
        page.fill("input[name=login]", PREFECTURE_STAFF)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/manage/members")
        assert page.locator("h1").inner_text() == "委员管理"
        # Nothing wider than the phone: no sideways scrolling.
        assert page.evaluate("document.documentElement.scrollWidth") <= 360

        # Filter to one county of the prefecture (HTMX swaps the listing), then open its first member.
        counties = page.locator("select[name=org_id] option").evaluate_all(
            "os => os.filter(o => o.textContent.startsWith('\u3000\u3000')).map(o => [o.value, o.textContent.trim()])")
        assert len(counties) >= 2
        (source_id, source), (target_id, target) = counties[0], counties[1]
        page.select_option("select[name=org_id]", source_id)
        page.wait_for_url(f"**org_id={source_id}**")
        first = page.locator("table.members-table tbody tr").first
        first.wait_for()
        assert source in first.inner_text()
        name = first.locator("td[data-label=姓名]").inner_text().strip()
        first.locator("a", has_text="修改").click()
        page.wait_for_url("**/manage/members/*")
        member_url = page.url
        assert page.locator("#member-org").inner_text() == source

        form = page.locator("#transfer-form")
        form.locator("select[name=to_org_id]").select_option(target_id)
        form.locator("button[type=submit]").click()
        page.wait_for_url("**done=transferred")
        assert "已调动" in page.locator(".alert-ok").inner_text()
        assert page.locator("#member-org").inner_text() == target
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        page.screenshot(path=str(artifacts / "manage-transfer-360.png"), full_page=True)

        # The target county's list now has the member.
        page.goto(f"{live_server}/manage/members?org_id={target_id}&q={name}")
        assert name in page.locator("table.members-table").inner_text()
    finally:
        page.close()
    assert member_url
