"""Bad input never becomes a 500: out-of-range ids, unknown pages."""

from __future__ import annotations

from tests import factories as f

HUGE = "99999999999999999999999"


def test_ids_beyond_the_database_range_are_refused_cleanly(client, session):
    f.login_as(client, session, f.persona(session, "member"))
    page = client.get(f"/activities/{HUGE}")
    api = client.get(f"/api/v1/activities/{HUGE}")
    assert page.status_code in (404, 422) and "服务器出错" not in page.text
    assert api.status_code in (404, 422) and api.json()["code"] in ("not_found", "out_of_range", "validation_error")


def test_unknown_page_is_a_chinese_404(client):
    r = client.get("/no-such-page")
    assert r.status_code == 404 and "页面不存在" in r.text
    assert client.get("/api/v1/no-such").json() == {"detail": "页面不存在", "code": "http_404"}
