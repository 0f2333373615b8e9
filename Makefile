# Stagegate: `make run` starts the app with demo data; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi

# The suite runs in PYTEST_WORKERS pytest-xdist processes (0: serially, in one process, to debug);
# PYTEST_ARGS go to pytest after ours (`make test PYTEST_ARGS="-n0 -x tests/leads"`).
PYTEST_WORKERS ?= 4
PYTEST_ARGS ?=

.PHONY: run test test-timing bench lint install install-dev system-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

run: install
	$(BIN)/flask db upgrade
	$(BIN)/flask seed-demo
	@echo "Stagegate is starting on http://127.0.0.1:5000 (Ctrl-C stops it)"
	@# One process with threads: the embedded queue's worker thread must run exactly once.
	STAGEGATE_EMBEDDED_WORKER=1 $(BIN)/gunicorn --workers 1 --threads 8 --bind 127.0.0.1:5000 \
		--access-logfile - --log-level warning wsgi:app

# Debian packages first (apt-get as root, else it stops with the command to run), then Python ones.
system-deps:
	@PYTHON=$(PYTHON) VENV=$(VENV) .ci/system-deps

test: system-deps install-dev
	@# One test at a time to each worker (maxschedchunk 1): the long ones, sent first, spread out.
	PYTEST_ADDOPTS="-n $(PYTEST_WORKERS) --dist load --maxschedchunk 1 $(PYTEST_ARGS) $$PYTEST_ADDOPTS" $(BIN)/pytest

# Serial against parallel wall time per engine, back to back (run it on a quiet machine).
test-timing: system-deps install-dev
	TIMING_WORKERS="$${TIMING_WORKERS:-$(PYTEST_WORKERS)}" .ci/test-timing

bench: install-dev
	@command -v wrk >/dev/null || echo "wrk is not installed: the board is loaded by a Python client instead (apt-get install wrk for the issue's method)"
	$(BIN)/python -m bench

lint: install-dev
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) instance/stagegate.db
