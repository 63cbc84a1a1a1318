# The two commands a newcomer needs: `make run` and `make test`. Each builds the virtual
# environment from the hash-locked requirements on first use (and when they change).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test check lint bench lock clean

run: $(VENV)/.run-installed
	$(BIN)/pulsecrm run

test: $(VENV)/.dev-installed
	$(BIN)/pytest

check: $(VENV)/.dev-installed
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

bench: $(VENV)/.dev-installed
	$(BIN)/python bench/ingest.py

# Re-pin after editing pyproject.toml's dependencies (needs `pip install uv`).
lock:
	uv pip compile pyproject.toml --extra build --generate-hashes --python-version 3.11 -o requirements.txt
	uv pip compile pyproject.toml --extra dev --extra build --generate-hashes --python-version 3.11 -o requirements-dev.txt

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.run-installed: requirements.txt pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.dev-installed: requirements-dev.txt pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@ $(VENV)/.run-installed

clean:
	rm -rf $(VENV) data test-artifacts .mypy_cache .ruff_cache .pytest_cache .hypothesis
