# The only commands a newcomer needs. Everything installs into .venv from scratch.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
LOCK := requirements/dev.lock
NODE_PACKAGES := runners/node/node_modules/.package-lock.json \
	examples/polyglot/node_modules/.package-lock.json
# The hand-built contender of bench-compare (Fastify + BullMQ); its smoke test uses it too.
HANDBUILT_PACKAGES := bench/compare/handbuilt/node_modules/.package-lock.json
# What only the tests need: the stream client, the TypeScript compiler and the OpenTelemetry API
# (the Node bridge's test project) fixtures, and the hand-built contender (its smoke test).
TEST_NODE_PACKAGES := tests/fixtures/stream_client/node_modules/.package-lock.json \
	tests/fixtures/tsc/node_modules/.package-lock.json \
	tests/fixtures/otel_api/node_modules/.package-lock.json \
	$(HANDBUILT_PACKAGES)
# The Workbench (web UI): npm ci when its lock file changes, a build when its sources do. The
# build goes into the Python package (motia_core/workbench/static/, gitignored, in the wheel).
WORKBENCH_BUILT := motia_core/workbench/static/index.html
WORKBENCH_SOURCES := $(shell find workbench/src -type f 2>/dev/null) workbench/index.html \
	workbench/vite.config.ts workbench/tsconfig.json

.PHONY: install test-deps run test bench bench-compare bench-ab lint imports lock upgrade schema clean

install: $(STAMP) $(NODE_PACKAGES) $(WORKBENCH_BUILT)

# Python packages come from the lock (exact versions, hashes); pyproject.toml keeps the ranges
# for those who install motia-core as a library. `pip check` fails when the lock misses one.
$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install -q --no-deps -e .
	$(BIN)/python -m pip check
	touch $(STAMP)

# npm packages from each folder's lock file; npm ci writes node_modules/.package-lock.json.
%/node_modules/.package-lock.json: %/package-lock.json
	npm ci --prefix $* --no-audit --no-fund --loglevel=error

$(WORKBENCH_BUILT): workbench/node_modules/.package-lock.json $(WORKBENCH_SOURCES)
	npm run build --prefix workbench

# The main job: the polyglot example (TypeScript + Python) under `motia dev` on :3000.
run: install
	$(BIN)/motia dev --project examples/polyglot

# Everything the tests need besides `install`: test-only npm packages, Ruby and Chromium from
# Debian's packages when missing, and a Redis server on 127.0.0.1:6379 (installed and started
# when none answers there), as root with apt-get; elsewhere their tests skip.
test-deps: install $(TEST_NODE_PACKAGES)
	scripts/system-deps.sh

test: test-deps
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python bench/run.py
	$(BIN)/python bench/streams.py

# motia-core next to the original Motia (installed into bench/.scratch on first use), the
# hand-built Fastify + BullMQ stack and the bare limit; writes bench/results/compare-*.json and a
# PNG. ARGS passes options, e.g. make bench-compare ARGS="--only pipeline,wrk --no-original".
ARGS ?=
bench-compare: install $(HANDBUILT_PACKAGES)
	scripts/bench-deps.sh
	$(BIN)/python -m pip install -q --require-hashes -r requirements/bench.lock
	$(BIN)/python bench/compare.py $(ARGS)

# motia-core at a git ref (BASE, default HEAD) against the working tree, interleaved in one run:
# the before/after of a change to a hot path.
BASE ?= HEAD
bench-ab: install
	$(BIN)/python -m pip install -q --require-hashes -r requirements/bench.lock
	$(BIN)/python bench/ab.py --base $(BASE)

lint: install imports
	$(BIN)/ruff check motia_core runners/python tests bench examples
	$(BIN)/mypy

# The rooms' import rules (pyproject.toml [tool.importlinter]): layers from cli down to protocol,
# adapters independent, no cycle inside any package. CI runs it too (through lint).
imports: install
	$(BIN)/lint-imports

# The locks, resolved with uv for every platform and Python >= 3.10. `make lock` adds what
# pyproject.toml gained and keeps the other pins; `make upgrade` moves every pin to the newest
# version the ranges allow.
UV_COMPILE = $(BIN)/uv pip compile pyproject.toml --universal --generate-hashes \
	--python-version 3.10 -q
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q 'uv>=0.5'
	$(UV_COMPILE) $(UV_FLAGS) --extra dev -o $(LOCK)
	$(UV_COMPILE) $(UV_FLAGS) --extra bench -c $(LOCK) -o requirements/bench.lock

upgrade: UV_FLAGS = --upgrade
upgrade: lock

# Generated from the protocol model, each checked by a test that fails when it is stale:
# protocol/schema.json (from motia_core/protocol/messages.py) and the runners' error tables
# (error_codes.py/.mjs/.rb, from motia_core/protocol/errors.py).
schema: install
	$(BIN)/python -m motia_core.protocol > protocol/schema.json
	$(BIN)/python -m motia_core.protocol.runner_tables .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
