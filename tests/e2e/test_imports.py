"""导入 in a real browser on the demo province: the office downloads the members template, fills it,
uploads it, watches the check, sees the preview with an error (row, column, message), fixes the
file, uploads it again, confirms and sees the result; the preview on a 360 px phone."""

from __future__ import annotations

import io

from openpyxl import load_workbook

PASSWORD = "demo2026"
PROVINCE_STAFF = "13900000002"


def _log_in(page, base: str, login: str, target: str) -> None:
    page.goto(f"{base}/login?next={target}")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{target}")


def _filled(template: bytes, rows: list[list[str]]) -> bytes:
    wb = load_workbook(io.BytesIO(template))
    ws = wb["导入数据"]
    for r, values in enumerate(rows, start=3):
        for c, value in enumerate(values, start=1):
            ws.cell(row=r, column=c, value=value)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _upload(page, data: bytes) -> None:
    form = page.locator("#kind-members form.import-upload")
    form.locator("input[type=file]").set_input_files(
        {"name": "委员名单.xlsx", "mimeType": "application/octet-stream", "buffer": data})
    form.locator("button[type=submit]").click()
    page.wait_for_url("**/imports/jobs/*")
    page.locator("#import-progress h2, #import-progress .alert").first.wait_for(timeout=30_000)


def test_office_imports_members_fixing_an_error_first(live_server, browser, artifacts):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        _log_in(page, live_server, PROVINCE_STAFF, "/imports")
        assert page.locator("h1").inner_text() == "导入数据"
        template = page.request.get(f"{live_server}/imports/templates/members.xlsx")
        assert template.ok
        rows = [["周一", "16600000001", "530102", "经济界", "委员", "", "", "", "2026-01-05"],
                ["吴二", "1660000", "530102", "农业界", "常委", "", "", "", "2026年1月5日"]]
        _upload(page, _filled(template.body(), rows))
        errors = page.locator("table.import-errors")
        errors.wait_for()
        text = errors.inner_text()
        assert "第 4 行" in text and "手机号" in text and "格式不正确" in text
        assert page.locator("button", has_text="确认导入").count() == 0
        phone = browser.new_page(viewport={"width": 360, "height": 780})
        try:
            phone.context.add_cookies(page.context.cookies())
            phone.goto(f"{live_server}/imports")
            assert phone.evaluate("document.documentElement.scrollWidth") <= 360
            phone.screenshot(path=str(artifacts / "imports-index-360.png"), full_page=False)
            phone.goto(page.url)
            phone.locator("table.import-errors").wait_for()
            width = phone.evaluate("document.documentElement.scrollWidth")
            assert width <= 360, width
            phone.screenshot(path=str(artifacts / "imports-preview-360.png"), full_page=True)
        finally:
            phone.close()

        page.goto(f"{live_server}/imports")
        rows[1][1] = "16600000002"
        _upload(page, _filled(template.body(), rows))
        confirm = page.locator("button", has_text="确认导入")
        confirm.wait_for()
        cards = page.locator(".import-counts").inner_text()
        assert "2\n新增" in cards or "2新增" in cards.replace("\n", "")
        page.once("dialog", lambda dialog: dialog.accept())
        confirm.click()
        page.wait_for_url("**/imports/jobs/*")
        done = page.locator("#import-progress .alert-ok")
        done.wait_for(timeout=30_000)
        assert "导入完成：新增 2 行" in done.inner_text()
        page.screenshot(path=str(artifacts / "imports-result-1280x900.png"), full_page=False)

        # The same file again: nothing to import.
        page.goto(f"{live_server}/imports")
        _upload(page, _filled(template.body(), rows))
        assert "无需导入" in page.locator("#import-progress").inner_text()
    finally:
        page.close()
