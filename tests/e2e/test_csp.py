"""The strict Content-Security-Policy in a real browser (app/security.py): the main pages run without
one violation — htmx, the charts, the big screen, the API docs — and the behaviour moved out of inline handlers into
static/js/app.js still works: 全选, confirm dialogs (a "no" sends nothing), printing, going back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

PASSWORD = "demo2026"
MEMBER, PROVINCE_STAFF = "13900000007", "13900000002"
# Every violation is also reported on the console, with its directive and what was blocked.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (e) {
  console.error("CSP violation: " + e.violatedDirective + " blocked " + (e.blockedURI || "inline") +
                " at " + e.sourceFile + ":" + e.lineNumber);
});
"""


@pytest.fixture
def watched(browser) -> Iterator[tuple]:
    """A page whose CSP violations and script errors are collected, and the list they go to."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=False)
    context.add_init_script(REPORT_VIOLATIONS)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"{page.url}: {m.text}")
            if m.type == "error" and ("Content Security Policy" in m.text or "CSP violation" in m.text) else None)
    page.on("pageerror", lambda exc: problems.append(f"{page.url}: script error {exc}"))
    try:
        yield page, problems
    finally:
        context.close()


def _log_in(page, base: str, login: str, next_url: str) -> None:
    page.goto(f"{base}/login?next={next_url}")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{next_url}**")


def test_member_pages_run_under_the_policy(live_server, watched):
    page, problems = watched
    _log_in(page, live_server, MEMBER, "/")
    page.goto(live_server + "/activities/new")
    page.locator("form").first.wait_for()
    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.documentElement.classList.contains('htmx')"), "htmx did not start"
    assert problems == []


def test_staff_pages_and_their_moved_handlers(live_server, watched):
    page, problems = watched
    _log_in(page, live_server, PROVINCE_STAFF, "/review")
    boxes = page.locator("input[form=bulk-form][name=activity_ids]")
    assert boxes.count() >= 1, "the demo province should have pending activities"
    page.locator("[data-check-all]").check()
    assert all(boxes.nth(n).is_checked() for n in range(boxes.count()))
    page.locator("[data-check-all]").uncheck()
    assert not any(boxes.nth(n).is_checked() for n in range(boxes.count()))

    # A board with its charts drawn by ECharts (fetched by charts.js) under script-src 'self'.
    page.goto(live_server + "/boards/530000")
    page.locator("[data-chart] svg").first.wait_for(timeout=20_000)

    # Revoking a big-screen link asks first: "no" sends nothing, "yes" revokes.
    page.goto(live_server + "/display")
    page.fill("input[name=name]", "CSP 测试大屏")
    page.select_option("select[name=org_id]", label="云南省政协")
    page.click("button:has-text('生成链接')")
    screen_url = page.locator("#display-url").inner_text().strip()
    page.goto(screen_url + ("&" if "?" in screen_url else "?") + "every=5")  # the meeting view's rotation
    page.locator("#slide #board h1").wait_for()
    page.locator("#meeting[data-slide='1']").wait_for(state="attached", timeout=12_000)  # no eval: CSP
    page.goto(live_server + "/display")
    row = page.locator("tr", has_text="CSP 测试大屏").filter(has=page.locator("form[data-confirm]")).first
    questions: list[str] = []
    page.once("dialog", lambda d: (questions.append(d.message), d.dismiss()))
    row.locator("button", has_text="撤销").click()
    page.wait_for_timeout(500)
    assert questions and "CSP 测试大屏" in questions[0]
    assert page.url.endswith("/display") and row.locator("form[data-confirm]").count() == 1  # still active
    page.once("dialog", lambda d: d.accept())
    row.locator("button", has_text="撤销").click()
    page.wait_for_url("**/display?done=revoked")  # straight through: the confirmed field went along
    assert problems == []


def test_api_docs_error_page_and_print_button(live_server, watched):
    page, problems = watched
    page.goto(live_server + "/docs")
    page.locator(".swagger-ui .info .title").wait_for(timeout=20_000)

    page.goto(live_server + "/login")
    page.goto(live_server + "/no-such-page")
    back = page.locator("[data-back] a")
    assert back.is_visible()
    back.click()
    page.wait_for_url("**/login")
    assert problems == []
