"""/metrics: Prometheus text for the addresses in SZT_METRICS_ALLOW (loopback by default), the same 404
as a page that does not exist for everyone else."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.jobs import service as jobs
from app.ops.metrics import allowed, parse_allow
from tests import factories as f

NAMES = (
    "szt_http_requests_total", "szt_http_request_duration_seconds_bucket", "szt_db_statement_duration_seconds_sum",
    'szt_background_jobs{status="queued"}', 'szt_background_jobs{status="running"}', "szt_rollup_lag_seconds",
    "szt_storage_full_total", "process_resident_memory_bytes", "python_gc_objects_collected_total",
)


def _value(text: str, sample: str) -> float:
    match = re.search(rf"^{re.escape(sample)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_metrics_from_loopback_name_everything_and_count_requests(local_client):
    local_client.get("/healthz")  # a labelled series appears once a request has been answered
    before = local_client.get("/metrics")
    assert before.status_code == 200 and before.headers["content-type"].startswith("text/plain")
    for name in NAMES:
        assert name in before.text, name
    sample = 'szt_http_requests_total{method="GET",route="/healthz",status="200"}'
    latency = 'szt_http_request_duration_seconds_count{method="GET",route="/healthz"}'
    for _ in range(3):
        local_client.get("/healthz")
    after = local_client.get("/metrics").text
    assert _value(after, sample) == _value(before.text, sample) + 3
    assert _value(after, latency) == _value(before.text, latency) + 3
    assert _value(after, "szt_db_statement_duration_seconds_count") > _value(
        before.text, "szt_db_statement_duration_seconds_count")  # the scrape itself read the job table


def test_job_queue_depth_is_read_from_the_database(local_client, session):
    user = f.persona(session, "county_staff")
    for _ in range(2):
        jobs.submit(session, kind="export.activities", user_id=user.id)
    session.flush()
    text = local_client.get("/metrics").text
    assert _value(text, 'szt_background_jobs{status="queued"}') == 2
    assert _value(text, 'szt_background_jobs{status="running"}') == 0


@pytest.mark.parametrize("peer", ["10.1.2.3", "192.168.0.7", "2001:db8::1", "testclient"])
def test_other_addresses_get_404_as_if_there_were_no_metrics(session, peer):
    from app.db import get_session
    from app.main import create_app

    app = create_app()
    app.dependency_overrides[get_session] = lambda: session
    r = TestClient(app, client=(peer, 40000)).get("/metrics")
    assert r.status_code == 404 and "szt_" not in r.text and "页面不存在" in r.text


def test_allowed_networks_come_from_the_setting(local_client, settings_env, session):
    from app.db import get_session
    from app.main import create_app

    settings_env(SZT_METRICS_ALLOW="10.0.0.0/8, 192.0.2.5")
    app = create_app()
    app.dependency_overrides[get_session] = lambda: session
    assert TestClient(app, client=("10.9.8.7", 1)).get("/metrics").status_code == 200
    assert TestClient(app, client=("192.0.2.5", 1)).get("/metrics").status_code == 200
    assert TestClient(app, client=("192.0.2.6", 1)).get("/metrics").status_code == 404
    assert local_client.get("/metrics").status_code == 404  # loopback is no longer listed


def test_the_allow_list_parses_addresses_and_networks():
    networks = parse_allow("127.0.0.0/8,::1")
    assert allowed("127.0.0.1", networks) and allowed("127.9.9.9", networks) and allowed("::1", networks)
    assert allowed("::ffff:127.0.0.1", networks)  # an IPv4 peer on a dual-stack socket
    assert not allowed("10.0.0.1", networks) and not allowed(None, networks) and not allowed("", networks)
    with pytest.raises(ValueError, match="SZT_METRICS_ALLOW"):
        Settings(metrics_allow="127.0.0.1,localhost")
    with pytest.raises(ValueError, match="SZT_LOG_FORMAT"):
        Settings(log_format="xml")
    assert Settings(env="prod", secret_key="x" * 32).log_style == "json" and Settings().log_style == "text"


def test_without_a_database_the_figures_read_from_it_are_left_out_not_guessed(local_client, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from app.ops import metrics

    def unreachable(session):
        raise OperationalError("SELECT status …", {}, ConnectionRefusedError("connection refused"))

    assert "szt_background_jobs{" in local_client.get("/metrics").text
    monkeypatch.setattr(metrics, "read_database_gauges", unreachable)
    r = local_client.get("/metrics")
    assert r.status_code == 200 and "szt_http_requests_total" in r.text
    assert "szt_background_jobs{" not in r.text
