# Two commands: `make run` and `make test`. Each bootstraps .venv on its own (idempotent).
# `make bench` runs the benchmarks (not part of the tests; JSON on stdout, see docs/benchmarks.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit bench clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests examples bench
	$(BIN)/ruff format --check src tests examples bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests/unit -q

test: lint typecheck
	$(BIN)/pytest -q -n auto

BENCH_ARGS ?=
bench: $(STAMP)
	@$(BIN)/python -m bench --output bench/results/latest.json $(BENCH_ARGS)

# The examples' home (database, logs) stays in the checkout unless GNOMON_HOME says otherwise.
run: $(STAMP)
	GNOMON_HOME=$${GNOMON_HOME:-$(CURDIR)/.gnomon} $(BIN)/gnomon standalone --dags-folder examples/dags

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
