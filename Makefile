# Two commands for a fresh machine: `make run` (set up, open the app) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup run test bench bench-quick clean

setup: $(VENV)/.installed

# torch is installed first and pinned: an unpinned torch would pull the CUDA build. kenlm (built from source)
# checks rnngen's ARPA files in a test; where it cannot be built the test skips, and under CI=true fails.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[test]"
	$(BIN)/python -m pip install -q kenlm || echo "kenlm could not be built: the ARPA comparison test will skip"
	touch $@

run: setup
	$(BIN)/rnngen

test: setup
	$(BIN)/python -m pytest -q -n 2

bench: setup
	$(BIN)/rnngen bench

bench-quick: setup
	$(BIN)/rnngen bench --quick

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
