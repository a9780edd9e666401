# Python package targets. Everything lands in target/ (ignored): a venv,
# the wheel (built by pip from ./python with maturin, the same path a user's
# `pip install ./python` takes), pytest and mypy.
PYTHON ?= python3
PY_VENV := target/venv-python
PY_BIN := $(PY_VENV)/bin
PY_WHEEL_DIR := target/python-wheel
PIP_FLAGS := --quiet --disable-pip-version-check
# The wheel is abi3-py39: when this machine has a CPython 3.9 (pyenv's, or
# python3.9 on PATH), the same wheel also runs the suite there. Empty: skipped.
PYTHON39 ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.9*/bin/python3.9) $(shell command -v python3.9 2>/dev/null))
PY39_VENV := target/venv-python39

.PHONY: test-python test-python39 bench-python python-install

$(PY_BIN)/python:
	$(PYTHON) -m venv $(PY_VENV)

# Builds the wheel from source (release profile) and installs it with the
# test tools. --force-reinstall: a rebuilt wheel has the same version.
python-install: $(PY_BIN)/python
	$(PY_BIN)/pip install $(PIP_FLAGS) pytest mypy
	rm -rf $(PY_WHEEL_DIR)
	$(PY_BIN)/pip wheel $(PIP_FLAGS) --no-deps --wheel-dir $(PY_WHEEL_DIR) ./python
	$(PY_BIN)/pip install $(PIP_FLAGS) --force-reinstall $(PY_WHEEL_DIR)/logpond-*.whl

# pytest and mypy run from python/ with the venv's entry points (not
# `python -m`, which would import the source tree's logpond/ without its
# native module); mypy checks the stubs against the tests and typed_usage.py.
test-python: python-install
	cd python && ../$(PY_BIN)/pytest -q
	cd python && ../$(PY_BIN)/mypy logpond tests
	@$(MAKE) --no-print-directory test-python39

# The wheel test-python built, on CPython 3.9 (the oldest it supports).
test-python39:
	@if [ -z "$(PYTHON39)" ]; then \
		echo "test-python39: no CPython 3.9 on this machine; the abi3-py39 wheel ran on $$($(PY_BIN)/python -V) only"; \
	else \
		set -e; \
		[ -x $(PY39_VENV)/bin/python ] || $(PYTHON39) -m venv $(PY39_VENV); \
		$(PY39_VENV)/bin/pip install $(PIP_FLAGS) pytest; \
		$(PY39_VENV)/bin/pip install $(PIP_FLAGS) --force-reinstall $(PY_WHEEL_DIR)/logpond-*.whl; \
		echo "test-python39: the same wheel on $$($(PY39_VENV)/bin/python -V)"; \
		cd python && ../$(PY39_VENV)/bin/pytest -q; \
	fi

bench-python: python-install
	$(PY_BIN)/python python/bench.py
