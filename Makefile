# Both targets work from a fresh clone with only Python 3.11+ installed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/countersign demo

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider

bench: $(STAMP)
	$(BIN)/python bench/ack_latency.py
	$(BIN)/python bench/approvals.py
	$(BIN)/python bench/metering.py
	$(BIN)/python bench/cost_report.py
	$(BIN)/python bench/suggestions.py
	$(BIN)/python bench/triage.py
	$(BIN)/python bench/context.py

clean:
	rm -rf $(VENV) .countersign .pytest_cache .mypy_cache .ruff_cache
