#!/usr/bin/env bash
# The tests marked `dates`, on SQLite, as of each instant given (SZT_TODAY), two runs at a time: the
# runs share nothing (each has its own temporary folder and SQLite files), and one pytest process
# keeps one core busy, so on two cores the four instants take the time of two.
# Usage: scripts/test_dates.sh PYTHON INSTANT...   (JOBS=N overrides the two at a time)
set -uo pipefail
python=$1; shift
jobs=${JOBS:-2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

run() {  # index instant
  SZT_TODAY=$2 "$python" -m pytest -q -m dates --db sqlite -p no:cacheprovider \
    --basetemp="$work/tmp-$1" >"$work/log-$1" 2>&1
  echo $? >"$work/rc-$1"
}

i=0
for instant in "$@"; do
  run "$i" "$instant" &
  i=$((i + 1))
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
done
wait

failed=0
i=0
for instant in "$@"; do
  echo "== tests marked dates, SQLite, as of $instant"
  cat "$work/log-$i"
  [ "$(cat "$work/rc-$i")" = 0 ] || failed=1
  i=$((i + 1))
done
exit "$failed"
