# Two commands on a fresh machine: `make demo` and `make test`. Each creates the virtual
# environment it needs (only python3 and make are required).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

demo: $(BIN)/.installed
	$(BIN)/feature-assets demo

# Three workers on this kind of 2-core machine: the `dagster dev` tests mostly wait for the
# daemon. Tests that share a module's published data are one xdist group, on one worker.
test: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -n 3 --dist loadgroup

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pyright

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/backfill.py

clean:
	rm -rf $(VENV) data .tmp_dagster_home_*
