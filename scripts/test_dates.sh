#!/usr/bin/env bash
# The tests marked `dates`, on SQLite, as of each instant given (SZT_TODAY), one instant after
# another, each on every core (pytest-xdist; TEST_WORKERS=N sets the workers, at most four by default).
# Usage: scripts/test_dates.sh PYTHON INSTANT...
set -uo pipefail
python=$1; shift

failed=0
for instant in "$@"; do
  echo "== tests marked dates, SQLite, as of $instant"
  SZT_TODAY=$instant "$python" -m pytest -q -m dates --db sqlite -p no:cacheprovider \
    -n "${TEST_WORKERS:-auto}" --maxprocesses 4 --dist worksteal || failed=1
done
exit "$failed"
