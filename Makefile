# crmkit developer commands. `make run` starts a local API on SQLite; `make test` runs
# the whole test suite (SQLite and, with CRMKIT_TEST_POSTGRES_URL, PostgreSQL).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Written after a successful install; pip runs again only when pyproject.toml changes.
STAMP := $(VENV)/.crmkit-installed

# What `make run` uses (override on the command line: make run PORT=8080).
RUN_DATABASE_URL ?= sqlite:///crmkit.db
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_COUNT ?= 200
# Extra arguments for pytest: make test PYTEST_ARGS="-x tests/core".
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help venv run test lint bench clean

help:
	@echo "make run    set up .venv, migrate crmkit.db, print an API key, serve on http://$(HOST):$(PORT)"
	@echo "make test   set up .venv and run the test suite (pytest)"
	@echo "make lint   ruff check and ruff format --check"
	@echo "make bench  run the benchmarks in bench/ (when there are any)"
	@echo "make clean  remove .venv, build output and caches (crmkit.db is kept)"

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check --no-input -e '.[test]'
	touch $@

# Demo data is a nicety: `run` serves without it when `crmkit demo` is missing or fails.
run: export CRMKIT_DATABASE_URL = $(RUN_DATABASE_URL)
run: venv
	$(BIN)/crmkit init
	$(BIN)/crmkit apikeys create --name dev --role admin
	@if $(BIN)/crmkit demo --help >/dev/null 2>&1; then \
		echo "$(BIN)/crmkit demo --count $(DEMO_COUNT) --if-empty"; \
		$(BIN)/crmkit demo --count $(DEMO_COUNT) --if-empty || echo "(no demo data: crmkit demo failed)"; \
	fi
	$(BIN)/crmkit serve --host $(HOST) --port $(PORT)

test: venv
	$(BIN)/pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: venv
	@if [ -d bench ] && [ -n "$$(ls -A bench 2>/dev/null)" ]; then \
		echo "$(BIN)/python -m bench"; \
		$(BIN)/python -m bench; \
	else \
		echo "bench/ is empty: no benchmarks yet"; \
	fi

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache .hypothesis
	find . -path ./.git -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
