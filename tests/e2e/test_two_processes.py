"""Two server processes on one database: a verification made through one shows on a board served by
the other (the boards' version lives in the database, not in a process)."""

from __future__ import annotations

import re

from tests.e2e.conftest import log_in_http, second_server, serve_app, verified_count

PROVINCE_STAFF, VIEWER = "13900000002", "13900000008"


def test_a_change_through_one_process_shows_on_the_other(tmp_path):
    with serve_app(tmp_path, demo_activities=2000) as first:
        env = {"DATABASE_URL": f"sqlite:///{first.db}", "SZT_UPLOAD_DIR": str(tmp_path / "uploads")}
        with second_server(tmp_path, env) as other:
            viewer, _ = log_in_http(other, VIEWER)
            board = viewer.get("/boards/530000")
            version = int(re.search(r'data-version="(\d+)"', board.text).group(1))
            before = verified_count(board.text)
            assert viewer.get(f"/boards/530000?since={version}").status_code == 204

            staff, token = log_in_http(first.base, PROVINCE_STAFF)
            pending = staff.get("/api/v1/activities", params={"status": "pending", "per_page": 1}).json()["items"][0]
            answer = staff.post(f"/api/v1/activities/{pending['id']}/verify",
                                headers={"X-CSRF-Token": token, "Origin": first.base})
            assert answer.status_code == 200, answer.text

            moved = viewer.get(f"/boards/530000?since={version}", headers={"HX-Request": "true"})
            assert moved.status_code == 200 and verified_count(moved.text) == before + 1
