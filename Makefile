# The only commands a newcomer needs. Everything installs into .venv from scratch.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test bench bench-compare bench-ab lint imports schema clean

install: $(STAMP)

$(STAMP): pyproject.toml runners/node/package-lock.json examples/polyglot/package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	npm ci --prefix runners/node --no-audit --no-fund --loglevel=error
	npm ci --prefix examples/polyglot --no-audit --no-fund --loglevel=error
	touch $(STAMP)

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

lint: install imports
	$(BIN)/ruff check motia_core runners/python tests bench examples
	$(BIN)/mypy

# The rooms' import rules (pyproject.toml [tool.importlinter]): layers from cli down to protocol,
# adapters independent, no cycle inside any package. CI runs it too.
imports: install
	$(BIN)/lint-imports

# Generated from the protocol model, each checked by a test that fails when it is stale:
# protocol/schema.json (from motia_core/protocol/messages.py) and the runners' error tables
# (error_codes.py/.mjs/.rb, from motia_core/protocol/errors.py).
schema: install
	$(BIN)/python -m motia_core.protocol > protocol/schema.json
	$(BIN)/python -m motia_core.protocol.runner_tables .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
