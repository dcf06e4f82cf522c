"""Two server processes on one database: a verification made through one shows on a board served by
the other (the boards' version lives in the database, not in a process)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import httpx

from tests.e2e.conftest import PROJECT, _free_port, serve_app

PASSWORD = "demo2026"
PROVINCE_STAFF, VIEWER = "13900000002", "13900000008"


def _log_in(base: str, login: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=base, timeout=30)
    client.get("/login")
    client.post("/login", data={"login": login, "password": PASSWORD, "csrf_token": client.cookies["szt_csrf"],
                                "next": "/"})
    token = re.search(r'"X-CSRF-Token": "([^"]+)"', client.get("/").text).group(1)
    return client, token


def _verified(html: str) -> int:
    return int(re.search(r'id="verified-activities">([\d,]+)<', html).group(1).replace(",", ""))


def test_a_change_through_one_process_shows_on_the_other(tmp_path):
    with serve_app(tmp_path, demo_activities=1500) as first:
        port = _free_port()
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{first.db}", "SZT_UPLOAD_DIR": str(tmp_path / "uploads")}
        with (tmp_path / "second.log").open("w") as log:
            second = subprocess.Popen([sys.executable, "-m", "app", "serve", "--port", str(port), "--no-demo"],
                                      cwd=PROJECT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            other = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(other + "/healthz", timeout=1)
                    break
                except httpx.HTTPError:
                    assert time.monotonic() < deadline, (tmp_path / "second.log").read_text()
                    time.sleep(0.3)
            viewer, _ = _log_in(other, VIEWER)
            board = viewer.get("/boards/530000")
            version = int(re.search(r'data-version="(\d+)"', board.text).group(1))
            before = _verified(board.text)
            assert viewer.get(f"/boards/530000?since={version}").status_code == 204

            staff, token = _log_in(first.base, PROVINCE_STAFF)
            pending = staff.get("/api/v1/activities", params={"status": "pending", "per_page": 1}).json()["items"][0]
            answer = staff.post(f"/api/v1/activities/{pending['id']}/verify",
                                headers={"X-CSRF-Token": token, "Origin": first.base})
            assert answer.status_code == 200, answer.text

            moved = viewer.get(f"/boards/530000?since={version}", headers={"HX-Request": "true"})
            assert moved.status_code == 200 and _verified(moved.text) == before + 1
        finally:
            second.terminate()
            second.wait(timeout=10)
