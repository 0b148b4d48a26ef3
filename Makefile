# The only commands a newcomer needs. Everything installs into .venv from scratch.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The Workbench (web UI): npm ci when its lock file changes, a build when its sources do. The
# build goes into the Python package (motia_core/workbench/static/, gitignored, in the wheel).
WORKBENCH_MODULES := workbench/node_modules/.package-lock.json
WORKBENCH_BUILT := motia_core/workbench/static/index.html
WORKBENCH_SOURCES := $(shell find workbench/src -type f 2>/dev/null) workbench/index.html \
	workbench/vite.config.ts workbench/tsconfig.json

.PHONY: install run test bench bench-compare bench-ab lint schema clean

install: $(STAMP) $(WORKBENCH_BUILT)

$(STAMP): pyproject.toml runners/node/package-lock.json examples/polyglot/package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	npm ci --prefix runners/node --no-audit --no-fund --loglevel=error
	npm ci --prefix examples/polyglot --no-audit --no-fund --loglevel=error
	touch $(STAMP)

$(WORKBENCH_MODULES): workbench/package-lock.json
	npm ci --prefix workbench --no-audit --no-fund --loglevel=error
	touch $(WORKBENCH_MODULES)

$(WORKBENCH_BUILT): $(WORKBENCH_MODULES) $(WORKBENCH_SOURCES)
	npm run build --prefix workbench

# The main job: the polyglot example (TypeScript + Python) under `motia dev` on :3000.
run: install
	$(BIN)/motia dev --project examples/polyglot

test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python bench/run.py
	$(BIN)/python bench/streams.py

# motia-core next to the original Motia (installed into bench/.scratch on first use) and the
# bare limit; writes bench/results/compare-*.json and a PNG.
bench-compare: install
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python bench/compare.py

# motia-core at a git ref (BASE, default HEAD) against the working tree, interleaved in one run:
# the before/after of a change to a hot path.
BASE ?= HEAD
bench-ab: install
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python bench/ab.py --base $(BASE)

lint: install
	$(BIN)/ruff check motia_core runners/python tests bench examples
	$(BIN)/mypy

# protocol/schema.json is generated from motia_core/protocol.py; a test fails when it is stale.
schema: install
	$(BIN)/python -m motia_core.protocol > protocol/schema.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
