# Two targets matter: `make demo` (the main job) and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install demo serve test bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

install: $(BIN)/.installed     ## create .venv and install the gateway with test extras

demo: install                  ## build, validate and round-trip every example message
	$(BIN)/gateway demo

serve: install                 ## one gateway with the embedded defaults (./data, 127.0.0.1:8480)
	$(BIN)/gateway serve

test: install                  ## the whole test suite (PostgreSQL tests skip if no server)
	$(BIN)/pytest -q

bench: install                 ## benchmarks, reported as ratios against a same-run baseline
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) data .pytest_cache .hypothesis
