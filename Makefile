# The two set-up commands of the README.  Each creates .venv on first use with
# nothing but Python >= 3.11, then: `make demo` opens the console on the embedded
# demo stack, `make test` runs ruff, mypy --strict, the import contracts and the fast
# tier of the tests; `make test-slow` runs the slow tier (kill loops, whole drills).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test test-slow bench check-demo clean

$(BIN)/rainbow-tui: pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "rainbow-tui needs Python >= 3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/rainbow-tui
	$(BIN)/rainbow-tui demo

check-demo: $(BIN)/rainbow-tui
	$(BIN)/rainbow-tui check --demo

test: $(BIN)/rainbow-tui
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo --no-cache
	$(BIN)/pytest -q -m "not slow" -n 4

test-slow: $(BIN)/rainbow-tui
	$(BIN)/pytest -q -m slow

bench: $(BIN)/rainbow-tui
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis

# The text layer's catalogues: keys extracted from the code into each language's
# .po (new keys arrive untranslated, unused ones leave), then the .mo compiled.
.PHONY: catalogue
catalogue: $(BIN)/rainbow-tui
	$(BIN)/python -m tools.catalogue
