#!/usr/bin/env bash
# The tests marked `dates`, on SQLite, as of each instant given (SZT_TODAY), one instant after
# another, each on every core (pytest-xdist; TEST_WORKERS=N sets the workers, at most four by default).
# Usage: scripts/test_dates.sh PYTHON INSTANT...
set -uo pipefail
python=$1; shift
cores=$(nproc 2>/dev/null || echo 2)
workers=${TEST_WORKERS:-$((cores < 4 ? cores : 4))}

failed=0
for instant in "$@"; do
  echo "== tests marked dates, SQLite, as of $instant"
  SZT_TODAY=$instant "$python" -m pytest -q -m dates --db sqlite -p no:cacheprovider -n "$workers" \
    --dist worksteal || failed=1
done
exit "$failed"
