# Two commands do everything on a fresh machine with Python 3.11: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# A synthetic portfolio through the real services and end-of-day batch: every loan decided by the
# credit pipeline, a collections desk working the daily worklist through the contact gate, hardship
# plans booked; then the report (terminal + var/report.html). 1-2 minutes on the 2-core machine.
demo: $(STAMP)
	$(BIN)/lendcore simulate --borrowers 3000 --days 120 --seed 7 --html var/report.html

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests/unit

# pytest exits 5 when it collected no test; make treats any non-zero exit as failure.
test: lint typecheck
	$(BIN)/pytest -n 2 tests

# Modest sizes so it finishes in about a minute; docs/performance.md has the full runs.
bench: $(STAMP)
	$(BIN)/python bench/schedule.py
	$(BIN)/python bench/eod.py --loans 20000 --backend sqlite --workers 1 2 --orm-sample 500
	$(BIN)/python bench/hardship.py --n 20

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
