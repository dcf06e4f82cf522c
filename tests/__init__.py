"""The test suite. Every test builds applications of its own: the serving process's one-time tuning
of the interpreter (the garbage collector and the switch interval, app/ops/interpreter.py) stays off
here, unless a test asks for it."""

import os

os.environ.setdefault("SZT_GC_FREEZE", "0")
