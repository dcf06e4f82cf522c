"""Behind a reverse proxy: the forwarded address and scheme are believed from trusted proxies only.

The application is served here as `python -m app serve` serves it: inside uvicorn's
ProxyHeadersMiddleware configured from ``SZT_FORWARDED_ALLOW_IPS`` (app/cli.py, Dockerfile).
"""

from __future__ import annotations

from pathlib import Path

import uvicorn
from fastapi.testclient import TestClient

from app import cli
from app.config import PROJECT_ROOT, get_settings
from app.db import get_session, get_write_session
from app.main import create_app
from tests import factories as f

PROXY = "10.0.0.2"  # the nginx container's address, as the application sees the connection


def _served(session, *, peer: str) -> TestClient:
    """A client connecting from ``peer`` to the app inside uvicorn's proxy-headers layer, configured
    exactly as ``python -m app serve`` configures it."""
    app = create_app()
    app.dependency_overrides[get_session] = lambda: session
    app.dependency_overrides[get_write_session] = lambda: session
    config = uvicorn.Config(app, proxy_headers=True, forwarded_allow_ips=get_settings().forwarded_allow_ips,
                            log_config=None)
    config.load()
    return TestClient(config.loaded_app, client=(peer, 40000))


def _login(c: TestClient, login: str, password: str, **headers: str):
    c.get("/login", headers=headers)
    return c.post("/login", data={"login": login, "password": password, "csrf_token": c.cookies.get("szt_csrf")},
                  headers=headers, follow_redirects=False)


def test_serve_passes_the_trusted_proxies_to_uvicorn(fresh_url, use_database, settings_env, monkeypatch):
    use_database(fresh_url)
    settings_env(forwarded_allow_ips="10.0.0.2,10.0.0.3")
    seen: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: seen.update(kwargs))
    assert cli.main(["serve", "--no-demo"]) == 0
    assert seen["proxy_headers"] is True and seen["forwarded_allow_ips"] == "10.0.0.2,10.0.0.3"


def test_the_docker_image_passes_the_setting_too():
    dockerfile = Path(PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8")
    cmd = next(line for line in dockerfile.splitlines() if line.startswith("CMD"))
    # `python -m app serve` passes the setting (above); uvicorn started by hand must be given it,
    # with the image's default for it.
    by_serve = '"app", "serve"' in cmd
    by_hand = ("--proxy-headers" in cmd and '--forwarded-allow-ips \\"$SZT_FORWARDED_ALLOW_IPS\\"' in cmd
               and "SZT_FORWARDED_ALLOW_IPS=127.0.0.1" in dockerfile)
    assert by_serve or by_hand, cmd


def test_each_user_behind_a_trusted_proxy_keeps_their_own_address(session, settings_env):
    settings_env(forwarded_allow_ips=PROXY, login_ip_max_failures="3")
    user = f.with_password(session, f.persona(session, "member"))
    c = _served(session, peer=PROXY)
    for n in range(3):  # one address guesses three logins: that address is locked
        _login(c, f"1990000{n:04d}", "guess-guess", **{"X-Forwarded-For": "203.0.113.7"})
    assert _login(c, "19900009999", "guess-guess", **{"X-Forwarded-For": "203.0.113.7"}).status_code == 429
    # …and nobody else behind the same proxy is.
    ok = _login(c, user.login, f.PASSWORD, **{"X-Forwarded-For": "198.51.100.4"})
    assert ok.status_code == 303, ok.text[:300]


def test_forwarded_headers_from_an_untrusted_address_are_ignored(session, settings_env):
    settings_env(forwarded_allow_ips=PROXY, login_ip_max_failures="3")
    user = f.with_password(session, f.persona(session, "member"))
    c = _served(session, peer="192.0.2.50")  # talks to the app directly, claiming to be many people
    for n in range(3):
        _login(c, f"1990000{n:04d}", "guess-guess", **{"X-Forwarded-For": f"203.0.113.{n}"})
    # A forged X-Forwarded-For does not dodge the lock on the real address.
    locked = _login(c, user.login, f.PASSWORD, **{"X-Forwarded-For": "198.51.100.4"})
    assert locked.status_code == 429
    # Nor does a forged X-Forwarded-Proto earn https treatment.
    r = _served(session, peer="192.0.2.51").get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" not in r.headers["set-cookie"] and "strict-transport-security" not in r.headers


def test_https_at_a_trusted_proxy_gives_secure_cookies_and_hsts(session, settings_env):
    settings_env(forwarded_allow_ips=PROXY)
    user = f.with_password(session, f.persona(session, "member"))
    c = _served(session, peer=PROXY)
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.4"}
    page = c.get("/login", headers=https)
    assert "Secure" in page.headers["set-cookie"] and page.headers["strict-transport-security"]
    token = c.cookies.get("szt_csrf")  # the client talks plain http to the app: it holds back Secure cookies
    r = c.post("/login", data={"login": user.login, "password": f.PASSWORD, "csrf_token": token},
               headers={**https, "Origin": "https://testserver", "Cookie": f"szt_csrf={token}"}, follow_redirects=False)
    assert r.status_code == 303
    session_cookie = next(v for v in r.headers.get_list("set-cookie") if v.startswith("szt_session="))
    assert "Secure" in session_cookie and "HttpOnly" in session_cookie


def test_https_only_site_works_even_without_forwarded_proto(session, settings_env):
    settings_env(https_only="true")
    user = f.with_password(session, f.persona(session, "member"))
    c = _served(session, peer="127.0.0.1")  # the proxy forwards no X-Forwarded-Proto: the app sees http
    page = c.get("/login")
    assert "Secure" in page.headers["set-cookie"]
    # The browser's Origin is https: the CSRF origin check must not refuse the site's own form.
    token = c.cookies.get("szt_csrf")
    r = c.post("/login", data={"login": user.login, "password": f.PASSWORD, "csrf_token": token},
               headers={"Origin": "https://testserver", "Cookie": f"szt_csrf={token}"}, follow_redirects=False)
    assert r.status_code == 303 and "Secure" in r.headers["set-cookie"]
