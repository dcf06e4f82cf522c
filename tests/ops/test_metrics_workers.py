"""`serve --workers 2`: whichever worker a scrape reaches, /metrics counts the requests of both."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request

from tests.e2e.conftest import PROJECT, _free_port


def _count(base: str) -> float:
    text = urllib.request.urlopen(base + "/metrics", timeout=10).read().decode()
    sample = r'^szt_http_requests_total\{method="GET",route="/healthz",status="200"\} (\S+)$'
    match = re.search(sample, text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_two_workers_answer_one_sum(tmp_path):
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'szt.db'}", "SZT_UPLOAD_DIR": str(tmp_path / "up"),
           "SZT_JOB_WORKERS": "0"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "app", "serve", "--no-demo", "--port", str(port), "--workers", "2"],
                            cwd=PROJECT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline, answered = time.monotonic() + 120, 0
        while answered < 40:  # both workers up: a run of answers (the socket spreads them)
            assert proc.poll() is None, (tmp_path / "server.log").read_text()
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2)
                answered += 1
            except OSError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.3)
        time.sleep(1)  # the other worker, if it was still starting
        for _ in range(20):
            urllib.request.urlopen(base + "/healthz", timeout=2)
        counts = {_count(base) for _ in range(6)}
        assert counts == {answered + 20.0}, counts
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
