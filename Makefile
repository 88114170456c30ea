# Set-up is part of each target: a fresh machine with Python 3.11 needs only `make demo` or `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python

.PHONY: demo test conformance clean

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found; run: make PYTHON=python3 ..."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	@touch $@

demo: $(VENV)/.installed
	$(PY) -m nnex.demo --out demo_out

test: $(VENV)/.installed
	$(PY) -m pytest -n 2 -q tests

conformance: $(VENV)/.installed
	$(PY) -m pytest -n 2 -q tests/conformance

clean:
	rm -rf $(VENV) demo_out .pytest_cache
