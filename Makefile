# coopflow: the commands of the README. `make` alone lists them.
# Tools run from the virtualenv by path (.venv/bin/...): no activation needed.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON      ?= python3
VENV        := .venv
BIN         := $(VENV)/bin
STAMP       := $(VENV)/.installed
COOPFLOW    := $(BIN)/coopflow

HOST        ?= 127.0.0.1
PORT        ?= 5000
PYTEST_ARGS ?=
BENCH_ARGS  ?=

# Debian packages: the native libraries WeasyPrint 70 loads (glib, pango, harfbuzz,
# fontconfig; harfbuzz-subset makes font subsetting fast), a font with accents, Graphviz
# (`dot` draws the process diagrams of the back-office), and the chromium the browser
# tests drive through Playwright (/usr/bin/chromium).
APT_PACKAGES := libglib2.0-0 libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b \
                libharfbuzz-subset0 libfontconfig1 fonts-dejavu-core graphviz chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: help install system-packages run test check format bench worker scheduler migrate \
        clean clean-data

help: ## List the targets
	@echo "Usage: make <target>   (variables: PYTEST_ARGS, HOST, PORT, BENCH_ARGS, PYTHON)"
	@echo
	@awk 'BEGIN { FS = ":.*## " } /^[a-zA-Z_-]+:.*## / { printf "  %-16s %s\n", $$1, $$2 }' \
		$(MAKEFILE_LIST)

install: system-packages $(STAMP) ## Install the Debian packages and the virtualenv (fast when up to date)

# Debian's own python3 can only create a virtualenv once python3-venv is installed.
system-packages: ## Install the missing Debian packages (WeasyPrint libraries, chromium)
	@if ! command -v dpkg >/dev/null; then \
		echo "Not a Debian system: install by hand the equivalents of: $(APT_PACKAGES)"; \
		exit 0; \
	fi; \
	packages="$(APT_PACKAGES)"; \
	if [ ! -x $(BIN)/python ] && ! $(PYTHON) -c 'import ensurepip' 2>/dev/null; then \
		packages="$$packages python3-venv"; \
	fi; \
	missing=""; \
	for p in $$packages; do \
		dpkg -s "$$p" 2>/dev/null | grep -q '^Status: install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:$$missing"; \
		$(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive \
			apt-get install -y --no-install-recommends $$missing; \
	fi

$(BIN)/python: | system-packages
	$(PYTHON) -m venv $(VENV)

# Reinstalled only when pyproject.toml changes (the stamp is newer otherwise).
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --disable-pip-version-check -e ".[dev]"
	@touch $@

run: install ## Start everything in one process (web, back-office, worker, scheduler) with demo data
	$(COOPFLOW) db upgrade
	COOPFLOW_BASE_URL="$${COOPFLOW_BASE_URL:-http://$(HOST):$(PORT)}" $(COOPFLOW) demo-data
	COOPFLOW_BASE_URL="$${COOPFLOW_BASE_URL:-http://$(HOST):$(PORT)}" $(COOPFLOW) serve --host $(HOST) --port $(PORT)

test: check ## Run the checks, then the test suite (extra pytest arguments: PYTEST_ARGS="-k x")
	$(BIN)/pytest $(PYTEST_ARGS)

check: install ## Lint, format check and type check (ruff, mypy)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: install ## Format the code and apply ruff's automatic fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install ## Run the benchmarks (python -m bench; arguments: BENCH_ARGS)
	@if [ ! -f bench/__main__.py ]; then \
		echo "bench/__main__.py is missing: the benchmark module is not written yet." >&2; \
		exit 1; \
	fi
	$(BIN)/python -m bench $(BENCH_ARGS)

worker: install ## Run the Dramatiq worker processes (distributed mode: needs COOPFLOW_BROKER_URL)
	$(COOPFLOW) worker

scheduler: install ## Run the scheduler alone (distributed mode)
	$(COOPFLOW) scheduler

migrate: install ## Apply the database migrations
	$(COOPFLOW) db upgrade

clean: ## Remove the virtualenv and the caches (keeps instance/ data)
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .mypy_cache .hypothesis test-results
	find . -path ./.git -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +

clean-data: clean ## Same as clean, and also delete instance/ (SQLite database, secret key, files)
	rm -rf instance
