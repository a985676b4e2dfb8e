# Two entry points a new user needs: `make run` and `make test`. Everything else supports them.
# Needs only Python 3.11 and make: uv (pinned here) is installed into .venv-tools on first use,
# then .venv is synced from uv.lock exactly (`--frozen`: the lock is never changed by a sync).
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .venv-tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The system's Python 3.11, never one uv would download; the venv is the workspace's .venv.
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: run backtest test lint bench clean sync lock check-lock uv

# The recipe runs only when the pinned version is missing, so an old copy is replaced in place.
$(UV): Makefile
	@if ! $(UV) --version 2>/dev/null | grep -qx "uv $(UV_VERSION)[^0-9]*"; then \
	  $(PYTHON) -m venv $(TOOLS) && \
	  $(TOOLS)/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"; \
	fi
	@touch $(UV)

uv: $(UV)

# Every distribution of the workspace, editable, plus the dev group (tests, linters, SBOM tool).
$(STAMP): $(UV) uv.lock pyproject.toml shared/pyproject.toml services/*/pyproject.toml
	$(UV) sync --frozen --all-packages --python python3.11 --quiet
	touch $(STAMP)

sync: $(STAMP)

# After changing a dependency in a pyproject; `$(UV) lock --upgrade-package NAME` moves one package.
lock: $(UV)
	$(UV) lock --python python3.11

# uv.lock matches the pyprojects, and the Windows images' requirements all have wheels (.ci/run).
check-lock: $(UV)
	@deploy/scripts/check-lock.sh

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
	rm -rf $(VENV) $(TOOLS) out .pytest_cache .mypy_cache .ruff_cache .hypothesis
