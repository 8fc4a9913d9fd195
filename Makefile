# Two commands for a new machine: `make demo` and `make test`. Each sets up .venv itself.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SPICE_DIR := ../shared/models/spice_1

# Use the shared SPICE model when it exists here and the user has not named another.
ifneq ($(wildcard $(SPICE_DIR)/saved_model.pb),)
export MATCHER_SPICE_MODEL ?= $(abspath $(SPICE_DIR))
endif
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: setup demo test test-fast lint format clean

setup: $(STAMP)

$(STAMP): pyproject.toml tools/setup_system.sh
	PYTHON=$(PYTHON) bash tools/setup_system.sh
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) tools/demo.py

lint: $(STAMP)
	$(VENV)/bin/ruff check matcher tests tools
	$(VENV)/bin/ruff format --check matcher tests tools

format: $(STAMP)
	$(VENV)/bin/ruff format matcher tests tools
	$(VENV)/bin/ruff check --fix matcher tests tools

test: lint
	bash tools/setup_system.sh --test
	$(PY) -m pytest -q || { s=$$?; [ $$s -ne 5 ] || echo "pytest collected no tests" >&2; exit $$s; }

test-fast: lint
	$(PY) -m pytest -q -m "not slow"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache out
