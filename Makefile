# The two commands of the README:  `make run`  and  `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt

.PHONY: run test test-dates lint install install-test clean-db

# Compiled modules are kept (__pycache__, ignored by git) even where the environment asks Python not
# to write them (PYTHONDONTWRITEBYTECODE, common in images): without them every pytest worker and
# every server a test starts compiles the code again, and pytest rewrites every test module's asserts
# again — collection 27 s a worker against 11 s on the CI machine. Every recipe runs without it.
unexport PYTHONDONTWRITEBYTECODE

# The instants (Beijing time) the calendar-bound tests are rerun at: the last minute of a year (a
# December day too), the first of the next, a leap day.
DATES := 2027-12-31T23:59+08:00 2028-01-01T00:00+08:00 2028-02-29T12:00+08:00

$(VENV)/.stamp-app: pyproject.toml constraints.txt
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) -e .
	touch $@

$(VENV)/.stamp-test: $(VENV)/.stamp-app
	$(PIP) -e ".[test]"
	touch $@

install: $(VENV)/.stamp-app
install-test: $(VENV)/.stamp-test

## run: set up, migrate ./data/szt.db, load the demo province when empty, serve on :8000
run: $(VENV)/.stamp-app
	$(BIN)/python -m app serve

## test: set up and run the whole suite as of today (SQLite, plus PostgreSQL and Chromium when present)
## on every core, then the tests marked `dates` on SQLite as of each instant in DATES
test: $(VENV)/.stamp-test
	@scripts/test_all.sh $(BIN)/python "$(PYTEST_ARGS)" $(DATES)

## test-dates: the tests marked `dates`, on SQLite, as of each instant in DATES (SZT_TODAY), one after another
test-dates: $(VENV)/.stamp-test
	@scripts/test_dates.sh $(BIN)/python $(DATES)

## lint: ruff with the rule set in pyproject.toml, and mypy held to the count in mypy-errors.txt
lint: $(VENV)/.stamp-test
	$(BIN)/ruff check .
	$(BIN)/python scripts/mypy_ratchet.py

## clean-db: remove the embedded SQLite database (the demo reloads on the next `make run`)
clean-db:
	rm -f data/szt.db data/szt.db-wal data/szt.db-shm
