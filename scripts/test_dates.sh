#!/usr/bin/env bash
# The tests marked `dates`, on SQLite, as of each instant given (SZT_TODAY), one instant after
# another, each on every core (pytest-xdist; TEST_WORKERS=N sets the workers, at most four by default).
# Usage: scripts/test_dates.sh PYTHON INSTANT...
set -uo pipefail
# Compiled modules are kept (__pycache__, ignored by git) even where the environment asks Python not
# to write them (PYTHONDONTWRITEBYTECODE, common in images): without them every pytest worker and
# every server a test starts compiles the code again, and pytest rewrites every test module's asserts
# again — 20 s of each worker's start on the CI machine.
unset PYTHONDONTWRITEBYTECODE
python=$1; shift

failed=0
for instant in "$@"; do
  echo "== tests marked dates, SQLite, as of $instant"
  SZT_TODAY=$instant "$python" -m pytest -q -m dates --db sqlite -p no:cacheprovider \
    -n "${TEST_WORKERS:-auto}" --maxprocesses 4 --dist worksteal || failed=1
done
exit "$failed"
