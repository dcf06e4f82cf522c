"""The API against its own OpenAPI document, on a real server (`python -m app serve`, demo province):

- schemathesis (its command line, as another team would run it) generates requests for every
  operation — schema examples, boundary values, random valid and invalid input — with a records
  token that may also submit activities, and finds no server error, no answer outside the
  documented statuses, headers and schemas, and no invalid input accepted;
- a client generated from /openapi.json by openapi-python-client reads a key county's progress and
  pages through its activities.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.auth.service import build_principal, start_session
from app.clock import today_cn
from app.db import make_engine, write_session
from app.deps import SESSION_COOKIE
from app.models import Activity, Organisation, UserAccount
from app.tokens import service as tokens
from tests.conftest import ARTIFACTS
from tests.e2e.conftest import serve_app

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def api_server(tmp_path_factory):
    """A served demo province and two tokens made by its administrator: (base URL, records+write token,
    aggregate token, a key county's code)."""
    folder = tmp_path_factory.mktemp("contract")
    with serve_app(folder, demo_activities=300) as server:
        engine = make_engine(f"sqlite:///{server.db}")
        try:
            with write_session(engine) as s:
                admin_user = s.scalar(select(UserAccount).where(UserAccount.login == "13900000001"))
                admin = build_principal(s, admin_user)
                signed_in, cookie = start_session(s, user=admin_user, ip="127.0.0.1", user_agent="schemathesis")
                session_headers = [f"Cookie: {SESSION_COOKIE}={cookie}", f"X-CSRF-Token: {signed_in.csrf_token}"]
                province = s.scalar(select(Organisation).where(Organisation.level == "province"))
                _, writer = tokens.create_token(s, admin, name="契约测试", org_id=province.id, level="records",
                                                write_member_phone="13900000007", rate_per_minute=tokens.MAX_RATE)
                _, reader = tokens.create_token(s, admin, name="生成的客户端", org_id=province.id,
                                                level="aggregate", rate_per_minute=tokens.MAX_RATE)
                # The key county where the demo did the most: several pages of activities.
                county = s.scalar(select(Organisation.code).join(Activity, Activity.county_id == Organisation.id)
                                  .where(Organisation.is_key_county.is_(True)).group_by(Organisation.code)
                                  .order_by(func.count().desc(), Organisation.code).limit(1))
        finally:
            engine.dispose()
        yield server.base, writer, reader, county, folder, session_headers


def _api_operations(base: str) -> set[str]:
    with urllib.request.urlopen(base + "/openapi.json") as answer:
        spec = json.load(answer)
    return {f"{method.upper()} {path}" for path, ops in spec["paths"].items() for method in ops}


@pytest.mark.parametrize("caller", ["token", "session"])
def test_schemathesis_finds_no_error_in_any_operation(api_server, caller):
    """With the records token that may submit (the operations tokens may not call answer 403), and
    signed in as the province's administrator (cookie + CSRF header), which reaches every operation."""
    base, writer, _, _, folder, session_headers = api_server
    junit = folder / f"schemathesis-{caller}.xml"
    headers = [f"Authorization: Bearer {writer}"] if caller == "token" else session_headers
    checks = ("not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,"
              "response_schema_conformance,negative_data_rejection,missing_required_header,ignored_auth")
    run = subprocess.run(
        [str(BIN / "schemathesis"), "run", f"{base}/openapi.json", *[a for h in headers for a in ("--header", h)],
         "--checks", checks, "--mode", "all", "--phases", "examples,coverage,fuzzing", "--max-examples", "12",
         "--seed", "20261124", "--workers", "1", "--continue-on-failure", "--request-timeout", "30",
         "--suppress-health-check", "all", "--generation-with-security-parameters", "false", "--report", "junit", "--report-junit-path", str(junit)],
        cwd=folder, capture_output=True, text=True, timeout=600, check=False, env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_TELEMETRY": "false"})
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"schemathesis-{caller}.txt").write_text(run.stdout + run.stderr, encoding="utf-8")
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    tested = {case.get("name") for case in ET.parse(junit).getroot().iter("testcase")}
    assert tested == _api_operations(base), tested ^ _api_operations(base)


def _generate_client(base: str, folder: Path) -> Path:
    config = folder / "client-config.json"
    config.write_text(json.dumps({"project_name_override": "szt-api-client", "package_name_override": "szt_api_client",
                                  "post_hooks": []}), encoding="utf-8")
    out = folder / "generated"
    run = subprocess.run([str(BIN / "openapi-python-client"), "generate", "--url", f"{base}/openapi.json",
                          "--config", str(config), "--output-path", str(out), "--overwrite"],
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    return out


def test_a_generated_client_reads_a_county_and_pages_its_activities(api_server):
    base, writer, reader, county, folder, _ = api_server
    out = _generate_client(base, folder)
    sys.path.insert(0, str(out))
    try:
        client_mod = importlib.import_module("szt_api_client")
        progress_api = importlib.import_module("szt_api_client.api.progress.read_county_progress")
        activities_api = importlib.import_module("szt_api_client.api.activities.list_activities")
        orgs_api = importlib.import_module("szt_api_client.api.organisations.get_org")

        aggregate = client_mod.AuthenticatedClient(base_url=base, token=reader)
        progress = progress_api.sync(client=aggregate, code=county, period=str(today_cn().year))
        assert progress.county.code == county and progress.ranked >= 1
        assert progress.tasks and sum(t.activities_verified for t in progress.tasks) >= 0
        place_id = orgs_api.sync(client=aggregate, code=county).id
        # The aggregate token may not read activities: the generated client gets the documented 403.
        refused = activities_api.sync_detailed(client=aggregate, county_id=place_id)
        assert refused.status_code == 403 and refused.parsed.code == "token_level"

        records = client_mod.AuthenticatedClient(base_url=base, token=writer)
        seen, cursor, total = [], None, None
        while True:
            page = activities_api.sync(client=records, county_id=place_id, per_page=4,
                                       **({"cursor": cursor} if cursor else {}))
            if total is None:
                total = page.total
            seen += [a.id for a in page.items]
            assert all(a.county_id == place_id for a in page.items)
            cursor = page.next_cursor if isinstance(page.next_cursor, str) else None
            if not cursor:
                break
        assert total > 8 and len(seen) == total == len(set(seen))
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m.startswith("szt_api_client")]:
            del sys.modules[name]
