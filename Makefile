# Two entry points a new user needs: `make run` and `make test`. Everything else supports them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PACKAGES := -e shared -e services/strategy -e services/gateway -e services/executor -e services/console

.PHONY: run backtest test lint bench clean

$(STAMP): requirements-dev.txt shared/pyproject.toml services/*/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(PACKAGES) -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/aftm run --demo

backtest: $(STAMP)
	$(BIN)/aftm backtest --ticks examples/ticks.csv --conditions examples/conditions.json \
	  --signals out/signals.jsonl --report out/report.json --plot out/equity.png
	@echo "signals: out/signals.jsonl  report: out/report.json  plot: out/equity.png"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench/engine_bench.py
	$(BIN)/python bench/pipeline_bench.py --table
	$(BIN)/python -m bench.pfcf_soak
	$(BIN)/python bench/chaos_soak.py --minutes 10
	$(BIN)/python bench/chaos_soak.py --minutes 5 --broker dotnet

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache .hypothesis
