"""The interpreter's tuning (app/ops/interpreter.py): once per serving process, when the
application starts serving; never when SZT_GC_FREEZE=0."""

from __future__ import annotations

import os
import subprocess
import sys

from fastapi.testclient import TestClient

from app.main import create_app
from app.ops import interpreter


def test_tuning_freezes_what_is_alive_raises_the_thresholds_and_shortens_the_switch_interval_once():
    # In a process of its own: a freeze is for the rest of a process's life.
    code = (
        "import gc, sys; from app.main import create_app; from app.ops import interpreter\n"
        "app = create_app(); before = gc.get_freeze_count(); interval = sys.getswitchinterval()\n"
        "first, second = interpreter.tune_once(), interpreter.tune_once()\n"
        "print(before, gc.get_freeze_count(), interval, sys.getswitchinterval(), gc.get_threshold(), first, second)\n"
    )
    env = {**os.environ, "SZT_SWITCH_INTERVAL": "0.0002"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=env).stdout.split(maxsplit=4)
    before, frozen, rest = int(out[0]), int(out[1]), out[4]
    assert before == 0 and frozen > 100_000  # the application's own objects, out of every walk
    # Python's default, then the setting (the interpreter keeps it in whole microseconds)
    assert (round(float(out[2]) * 1e6), round(float(out[3]) * 1e6)) == (5000, 200)
    assert rest.strip() == f"{(interpreter.YOUNG, interpreter.MIDDLE, interpreter.OLD)} True False"


def test_the_application_tunes_it_when_it_starts_serving_unless_told_not_to(settings_env, monkeypatch):
    calls = []
    monkeypatch.setattr(interpreter, "tune_once", lambda: calls.append(1) or True)
    settings_env(SZT_GC_FREEZE="0", SZT_JOB_WORKERS="0")
    with TestClient(create_app()):
        pass
    assert calls == []
    settings_env(SZT_GC_FREEZE="1", SZT_JOB_WORKERS="0")
    with TestClient(create_app()):
        pass
    assert calls == [1]


def test_the_switch_interval_is_short_on_sqlite_and_python_s_own_on_postgresql_unless_set(settings_env):
    settings_env(DATABASE_URL="sqlite:///data/x.db")
    assert interpreter.switch_interval() == interpreter.SQLITE_SWITCH_INTERVAL == 0.0001
    settings_env(DATABASE_URL="postgresql+psycopg://127.0.0.1/test")
    assert interpreter.switch_interval() is None  # several writer threads there: Python's 5 ms is kept
    settings_env(DATABASE_URL="postgresql+psycopg://127.0.0.1/test", SZT_SWITCH_INTERVAL="0.001")
    assert interpreter.switch_interval() == 0.001
