# Two commands on a fresh machine: `make run` and `make test` (see README).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup run test lint typecheck unit bench fuzz clean

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# The dashboard's GOV.UK Frontend assets and axe-core for the browser tests (never committed).
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: setup  ## set up and run the gateway on its embedded default (SQLite, no servers)
	$(BIN)/gateway run

test: setup  ## set up and run the whole test suite, with lint and type checks
	./scripts/system-deps.sh
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check .

typecheck: setup
	$(BIN)/mypy

unit: setup  ## only the pure unit tests (no servers)
	$(BIN)/pytest tests/unit

bench: setup  ## benchmarks print their figures; they are not part of the test run
	@for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

fuzz: setup  ## the longer fuzz run over the police adapters
	$(BIN)/python bench/fuzz_police.py 20000

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
