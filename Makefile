# The two set-up commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The locks pin every package with its hashes; `make lock` regenerates them after a change to
# pyproject.toml. dev.txt holds the runtime, the demo's extra and the test tools.
LOCKS := requirements/build.txt requirements/runtime.txt requirements/dev.txt
UV_VERSION := 0.13.9
LOCK_VENV := .venv-lock
COMPILE = $(LOCK_VENV)/bin/uv pip compile --quiet --universal --python-version 3.11 \
	--generate-hashes --custom-compile-command "make lock"

.PHONY: install lock demo test lint typecheck pytest bench schemas clean

# pip --quiet hides the longest step of a first `make`; the dependencies' install shows each
# package as pip collects it, and a line before each step says what is under way.
$(STAMP): pyproject.toml $(LOCKS)
	@echo "make: creating $(VENV) ..."
	$(PYTHON) -m venv $(VENV)
	@echo "make: installing the build tools (requirements/build.txt) ..."
	$(BIN)/pip install --quiet --require-hashes -r requirements/build.txt
	@echo "make: installing the dependencies (requirements/dev.txt): each download, then all at once ..."
	$(BIN)/pip install --require-hashes -r requirements/dev.txt
	@echo "make: installing realtime-pulse itself, editable ..."
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)
	@echo "make: $(VENV) is ready"

install: $(STAMP)

# runtime.txt is compiled first and constrains dev.txt, so the image and the tests run the same
# versions of every package they share.
lock:
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet uv==$(UV_VERSION)
	$(COMPILE) requirements/build.in -o requirements/build.txt
	$(COMPILE) pyproject.toml -o requirements/runtime.txt
	$(COMPILE) pyproject.toml --extra demo --extra dev \
		-c requirements/runtime.txt -o requirements/dev.txt

demo: $(STAMP)
	$(BIN)/pulse demo $(ARGS)

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check workers schemas tests
	$(BIN)/ruff format --check workers schemas tests

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/pulse bench $(ARGS)

schemas: $(STAMP)
	$(BIN)/python -m schemas.export

clean:
	rm -rf $(VENV) $(LOCK_VENV) .mypy_cache .pytest_cache .ruff_cache
