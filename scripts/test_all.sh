#!/usr/bin/env bash
# `make test`: the whole suite as of today (SQLite, plus PostgreSQL and Chromium when present) on
# every core (pytest-xdist, at most four workers), then the tests marked `dates` as of each instant
# given (scripts/test_dates.sh). Both always run; the exit code fails if either failed.
# Usage: scripts/test_all.sh PYTHON "PYTEST_ARGS" INSTANT...   (TEST_WORKERS=N sets the workers)
set -uo pipefail
# Compiled modules are kept (__pycache__, ignored by git) even where the environment asks Python not
# to write them (PYTHONDONTWRITEBYTECODE, common in images): without them every pytest worker and
# every server a test starts compiles the code again, and pytest rewrites every test module's asserts
# again — 20 s of each worker's start on the CI machine.
unset PYTHONDONTWRITEBYTECODE
python=$1; args=$2; shift 2

# shellcheck disable=SC2086  # PYTEST_ARGS is a list of words
"$python" -m pytest -n "${TEST_WORKERS:-auto}" --maxprocesses 4 --dist worksteal $args
suite=$?

scripts/test_dates.sh "$python" "$@"
calendar=$?
[ "$suite" = 0 ] && [ "$calendar" = 0 ]
