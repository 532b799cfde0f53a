# huancui: two commands do everything on a fresh machine.
#   make run   creates .venv, installs, generates a demo portfolio, imports it, runs the nightly
#              job, sends the day's messages through the file adapter (var/outbox/) and writes
#              the monitoring report (var/report.html), then serves the web app and API on
#              http://127.0.0.1:8000 and prints the demo users (Ctrl-C stops it)
#   make test  creates .venv, installs test tools, runs ruff, mypy and pytest
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_ACCOUNTS ?= 20000
DEMO_AS_OF ?= 2026-11-27
DEMO_DIR ?= var/demo-delivery
# The demo's clock for sending: 10:00 Beijing time on the planned day (as-of + 1).
DEMO_SEND_AT ?= 2026-11-28T10:00:00+08:00
DEMO_PORT ?= 8000

.PHONY: run test install lint typecheck pytest benchmark lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# The demo encrypts its fake customers' personal data with a demo key (docs/security.md).
run: export HUANCUI_PII_DEV_KEY := 1
run: $(STAMP)
	$(BIN)/huancui generate --accounts $(DEMO_ACCOUNTS) --months 15 --seed 7 --as-of $(DEMO_AS_OF) --out $(DEMO_DIR)
	$(BIN)/huancui import $(DEMO_DIR) --as-of $(DEMO_AS_OF)
	$(BIN)/huancui portfolio summary --as-of $(DEMO_AS_OF)
	$(BIN)/huancui strategy activate strategies/default.yaml --actor demo
	$(BIN)/huancui run --as-of $(DEMO_AS_OF) --actor demo
	$(BIN)/huancui outbox send --now $(DEMO_SEND_AT) --actor demo
	$(BIN)/huancui report --from 2026-01-01 --to $(DEMO_AS_OF) --out var/report.html
	@echo "Report: $(CURDIR)/var/report.html (open it in a browser; it works offline)"
	@echo "Serving the workbench; stop it with Ctrl-C. Sign in with a demo user below."
	$(BIN)/huancui serve --demo --host 127.0.0.1 --port $(DEMO_PORT)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

test: lint typecheck pytest

benchmark: $(STAMP)
	$(BIN)/python benchmarks/run.py --write-docs
	$(BIN)/python benchmarks/bench_simulate.py --write-docs

# Re-resolve the pinned versions (needs the package index); commit constraints.txt afterwards.
lock: $(BIN)/python
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o constraints.txt

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
