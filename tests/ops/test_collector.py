"""The garbage collector's tuning (app/ops/collector.py): once per serving process, when the
application starts serving; never when SZT_GC_FREEZE=0."""

from __future__ import annotations

import subprocess
import sys

from fastapi.testclient import TestClient

from app.main import create_app
from app.ops import collector


def test_tuning_freezes_what_is_alive_and_raises_the_thresholds_once():
    # In a process of its own: a freeze is for the rest of a process's life.
    code = (
        "import gc; from app.main import create_app; from app.ops import collector\n"
        "app = create_app(); before = gc.get_freeze_count()\n"
        "first, second = collector.tune_once(), collector.tune_once()\n"
        "print(before, gc.get_freeze_count(), gc.get_threshold(), first, second)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split(maxsplit=2)
    before, frozen, rest = int(out[0]), int(out[1]), out[2]
    assert before == 0 and frozen > 100_000  # the application's own objects, out of every walk
    assert rest.strip() == f"{(collector.YOUNG, collector.MIDDLE, collector.OLD)} True False"


def test_the_application_tunes_it_when_it_starts_serving_unless_told_not_to(settings_env, monkeypatch):
    calls = []
    monkeypatch.setattr(collector, "tune_once", lambda: calls.append(1) or True)
    settings_env(SZT_GC_FREEZE="0", SZT_JOB_WORKERS="0")
    with TestClient(create_app()):
        pass
    assert calls == []
    settings_env(SZT_GC_FREEZE="1", SZT_JOB_WORKERS="0")
    with TestClient(create_app()):
        pass
    assert calls == [1]
