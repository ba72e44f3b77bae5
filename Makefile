# Two entry points for a fresh machine:  `make demo` (the main job) and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e ".[dev]"
	# 600 real .pose files used by tests and benchmarks (data only, no dependencies)
	$(BIN)/pip install -q --no-deps spoken-to-signed
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/signssl demo --quick

test: $(STAMP)
	$(BIN)/ruff check signssl tests benchmarks examples
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check signssl tests benchmarks examples

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
