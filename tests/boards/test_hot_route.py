"""The overview and county boards answered by the hot route (app/hot_routes.py) for the everyday
request — a signed-in reader the principal cache holds, a plain period and ``since`` — and by FastAPI's
own route for every other, with the same answers either way."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app import hot_routes
from app.clock import today_cn
from app.db import get_session, get_write_session
from tests import factories as f

pytestmark = pytest.mark.dates

COUNTY = "530102"  # 五华区


@pytest.fixture
def routed(fastapi_routed) -> list[str]:
    return fastapi_routed


@pytest.fixture
def viewer(session, new_app):
    """A TestClient signed in as the province's viewer, the principal cache holding them."""
    app = new_app()
    app.dependency_overrides[get_session] = lambda: session
    app.dependency_overrides[get_write_session] = lambda: session
    wuhua = f.org(session, COUNTY)
    wuhua.is_key_county = True
    with TestClient(app, base_url="http://testserver") as client:
        f.login_as(client, session, f.persona(session, "viewer"))
        assert client.get("/api/v1/activities").status_code == 200  # loads them into the cache
        yield client


def _both(client, monkeypatch, routed, url: str, **headers: str):
    """``url`` as the hot route answers it, then as FastAPI's route does (the resolver finding nobody)."""
    routed.clear()
    hot = client.get(url, headers=headers)
    hot_routed = list(routed)
    with monkeypatch.context() as m:
        m.setattr(hot_routes, "cached_principal_of", lambda request: None)
        plain = client.get(url, headers=headers)
    return hot, hot_routed, plain


@pytest.mark.parametrize("path", ["/boards/530000", f"/boards/{COUNTY}", f"/c/{COUNTY}"])
def test_a_board_skips_fastapis_dependencies_and_answers_as_the_route_does(viewer, monkeypatch, routed, path):
    period = f.month_key(today_cn())
    hot, hot_routed, plain = _both(viewer, monkeypatch, routed, f"{path}?period={period}")
    assert hot_routed == []
    assert hot.status_code == plain.status_code == 200
    assert hot.headers["etag"] == plain.headers["etag"]  # the same page (the tag reads the CSRF token unmasked)
    fragment, fragment_routed, plain_fragment = _both(viewer, monkeypatch, routed, f"{path}?period={period}",
                                                      **{"HX-Request": "true"})
    assert fragment_routed == [] and fragment.text == plain_fragment.text and "<html" not in fragment.text
    version = int(fragment.text.split("since=", 1)[1].split('"', 1)[0].split("&", 1)[0])
    still, still_routed, plain_still = _both(viewer, monkeypatch, routed, f"{path}?period={period}&since={version}",
                                             **{"HX-Request": "true"})
    assert (still.status_code, plain_still.status_code, still_routed) == (204, 204, [])


@pytest.mark.parametrize(("url", "status"), [
    ("/boards/999999", 404),  # no such organisation: the handler's loader, on either way
    ("/boards/530000?since=abc", 422),  # not a number: declined, FastAPI's 422
    ("/boards/530000?since=-1", 200),  # a sign: declined, and FastAPI reads it
    ("/boards/5300", 422),  # not a code
])
def test_what_it_declines_or_refuses_is_answered_exactly_as_the_route_does(viewer, monkeypatch, routed, url, status):
    hot, _, plain = _both(viewer, monkeypatch, routed, url, **{"HX-Request": "true"})
    assert hot.status_code == plain.status_code == status
    if status != 200:
        assert hot.text == plain.text


def test_a_board_outside_the_callers_subtree_is_a_404_either_way(session, monkeypatch, routed, new_app):
    app = new_app()
    app.dependency_overrides[get_session] = lambda: session
    with TestClient(app, base_url="http://testserver") as client:
        f.login_as(client, session, f.persona(session, "outsider_staff"))  # 曲靖
        assert client.get("/api/v1/activities").status_code == 200
        hot, hot_routed, plain = _both(client, monkeypatch, routed, "/boards/530100", **{"HX-Request": "true"})
        assert hot_routed == [] and hot.status_code == plain.status_code == 404
        assert hot.text == plain.text


def test_nobody_signed_in_is_answered_by_fastapis_route(session, routed, new_app):
    app = new_app()
    app.dependency_overrides[get_session] = lambda: session
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as client:
        r = client.get("/boards/530000")
        assert routed == ["/boards/530000"] and r.status_code in (303, 401)
