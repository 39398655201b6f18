# Kitflow: `make run` serves the API on the embedded SQLite default; `make test` runs the whole suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/kitflow serve --demo

lint: $(STAMP)
	$(BIN)/lint-imports

test: $(STAMP) lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# `make bench`: the HTTP benchmark (wrk against `kitflow serve` and the ceiling app; bench/http) and the
# in-process figures. ORDERS=1000000 seeds a million orders; PROFILE=1 adds a py-spy profile per scenario;
# INSTRUCTIONS=1 adds callgrind's instructions per request (load-independent); BENCH_ARGS passes more
# (see `python -m bench.http --help`). Never part of `make test`.
ORDERS ?= 20000
BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	@test -z "$(INSTRUCTIONS)" || command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind; }
	$(BIN)/python -m bench.http --orders $(ORDERS) $(if $(PROFILE),--profile) $(if $(INSTRUCTIONS),--instructions) $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
