# Two commands: `make run` and `make test`. Each bootstraps .venv on its own (idempotent).
# `make bench` runs the benchmarks (not part of the tests; JSON on stdout, see docs/benchmarks.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit bench clean venv browser screenshots

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

# The browser tests drive Debian's chromium (Playwright's own browser downloads are not used).
browser:
	@command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

test: lint typecheck browser
	$(BIN)/pytest -q -n auto

# Regenerate docs/img/*.png from the browser test.
screenshots: $(STAMP) browser
	GNOMON_SCREENSHOTS=1 $(BIN)/pytest -q tests/e2e/test_ui.py

BENCH_ARGS ?=
bench: $(STAMP)
	@$(BIN)/python -m bench --output bench/results/latest.json $(BENCH_ARGS)

# The examples' home (database, logs) stays in the checkout unless GNOMON_HOME says otherwise.
run: $(STAMP)
	GNOMON_HOME=$${GNOMON_HOME:-$(CURDIR)/.gnomon} $(BIN)/gnomon standalone --dags-folder examples/dags

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
