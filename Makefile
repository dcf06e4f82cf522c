# The two commands of the README:  `make run`  and  `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt

.PHONY: run test install install-test clean-db

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

## test: set up and run the whole suite (SQLite, plus PostgreSQL and Chromium when present)
test: $(VENV)/.stamp-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## clean-db: remove the embedded SQLite database (the demo reloads on the next `make run`)
clean-db:
	rm -f data/szt.db data/szt.db-wal data/szt.db-shm
