# Python package targets. Everything lands in target/ (ignored): a venv,
# the wheel maturin builds (via `pip install ./python`, so the same path
# a user takes), pytest and mypy.
PYTHON ?= python3
PY_VENV := target/venv-python
PY_BIN := $(PY_VENV)/bin

.PHONY: test-python bench-python python-install

$(PY_BIN)/python:
	$(PYTHON) -m venv $(PY_VENV)

# Builds the wheel from source (release profile) and installs it with the
# test tools. --force-reinstall: a rebuilt wheel has the same version.
python-install: $(PY_BIN)/python
	$(PY_BIN)/pip install --quiet --disable-pip-version-check pytest mypy
	$(PY_BIN)/pip install --quiet --disable-pip-version-check --force-reinstall ./python

# pytest and mypy run from python/ with the venv's entry points (not
# `python -m`, which would import the source tree's logpond/ without its
# native module); mypy checks the stubs against the tests and typed_usage.py.
test-python: python-install
	cd python && ../$(PY_BIN)/pytest -q
	cd python && ../$(PY_BIN)/mypy logpond tests

bench-python: python-install
	$(PY_BIN)/python python/bench.py
