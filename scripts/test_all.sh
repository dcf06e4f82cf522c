#!/usr/bin/env bash
# `make test`: the whole suite as of today (SQLite, plus PostgreSQL and Chromium when present) in the
# foreground, and the tests marked `dates` as of each instant given (scripts/test_dates.sh, one run at
# a time) alongside it: one pytest process keeps one core busy, so on two cores the calendar runs
# take no extra time. Their output follows the suite's; the exit code fails if either failed.
# Usage: scripts/test_all.sh PYTHON "PYTEST_ARGS" INSTANT...
set -uo pipefail
python=$1; args=$2; shift 2
mkdir -p test-artifacts
dates_log=test-artifacts/dates.log
JOBS=1 scripts/test_dates.sh "$python" "$@" >"$dates_log" 2>&1 &
dates=$!
trap 'kill "$dates" 2>/dev/null' INT TERM

# shellcheck disable=SC2086  # PYTEST_ARGS is a list of words
"$python" -m pytest $args
suite=$?

echo "== waiting for the runs of the tests marked dates (log: $dates_log)"
wait "$dates"
calendar=$?
cat "$dates_log"
[ "$suite" = 0 ] && [ "$calendar" = 0 ]
