# Every target installs what it needs first: `make test` works on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Exact versions and hashes of everything installed, runtime, dev and build backend alike:
# a fresh machine gets what was tested, not whatever was released this morning.
LOCK   := requirements/lock.txt
UV_VERSION := 0.13.9
TOOLS  := .venv-tools

.PHONY: install test lint typecheck layers unit sandbox bench clean lock test-latest

install: $(STAMP)

# Only python3 and pip are needed: the lock is installed with pip's hash checking, then the
# package itself without resolving anything (its build backend comes from the lock too).
$(STAMP): $(LOCK) pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Refreshes the lock from pyproject.toml's ranges (and requirements/build.in), against PyPI
# alone and for every platform, so that the file is the same whoever runs it.
lock: $(TOOLS)/bin/uv
	$(TOOLS)/bin/uv pip compile --no-config --universal --python-version 3.11 \
	    --generate-hashes --index-url https://pypi.org/simple \
	    --custom-compile-command "make lock" \
	    pyproject.toml requirements/build.in --extra dev -o $(LOCK)

$(TOOLS)/bin/uv:
	test -d $(TOOLS) || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

# The same checks against the newest versions pyproject.toml allows, in a separate venv:
# tells whether a `make lock` would break anything before the lock moves.
LATEST := .venv-latest
test-latest:
	rm -rf $(LATEST)
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/pip install --quiet --upgrade --upgrade-strategy eager -e '.[dev]'
	$(LATEST)/bin/ruff check controller tests
	$(LATEST)/bin/ruff format --check controller tests
	$(LATEST)/bin/mypy
	$(LATEST)/bin/lint-imports
	$(LATEST)/bin/pytest

lint: install
	$(BIN)/ruff check controller tests
	$(BIN)/ruff format --check controller tests

typecheck: install
	$(BIN)/mypy

layers: install
	$(BIN)/lint-imports

unit: install
	$(BIN)/pytest

test: lint typecheck layers unit

# The whole flow on loopback GitHub and Kubernetes servers, with a real `sealgate run`.
sandbox: install
	$(BIN)/sealgate sandbox

bench: install
	$(BIN)/python -m tests.bench.run

clean:
	rm -rf $(VENV) $(LATEST) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache .hypothesis bench-results.json
