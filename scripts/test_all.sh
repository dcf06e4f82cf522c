#!/usr/bin/env bash
# `make test`: the whole suite as of today (SQLite, plus PostgreSQL and Chromium when present) on
# every core (pytest-xdist, at most four workers), then the tests marked `dates` as of each instant
# given (scripts/test_dates.sh). Both always run; the exit code fails if either failed.
# Usage: scripts/test_all.sh PYTHON "PYTEST_ARGS" INSTANT...   (TEST_WORKERS=N sets the workers)
set -uo pipefail
python=$1; args=$2; shift 2

# shellcheck disable=SC2086  # PYTEST_ARGS is a list of words
"$python" -m pytest -n "${TEST_WORKERS:-auto}" --maxprocesses 4 --dist worksteal $args
suite=$?

scripts/test_dates.sh "$python" "$@"
calendar=$?
[ "$suite" = 0 ] && [ "$calendar" = 0 ]
