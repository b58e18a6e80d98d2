# Two commands set up a fresh machine: `make run` and `make test`.
# Each installs into .venv only when pyproject.toml changed since the last install.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: run test bench bench-quick doc clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# One stamp per set of extras: re-installs only when pyproject.toml is newer.
$(VENV)/.run-installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[jax,pandas,bench]"
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[test,jax,dask]"
	touch $@

$(VENV)/.doc-installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[doc,jax,dask]"
	touch $@

run: $(VENV)/.run-installed
	$(PY) -m skfast

test: $(VENV)/.test-installed
	$(PY) -m pytest $(PYTEST_ARGS)

# The benchmark report (benchmarks/, run from the checkout, never installed): every
# engine gated on equivalence before any timing, one
# comparison table per estimator, benchmarks/results/bench[_quick].json and charts.
bench: $(VENV)/.test-installed
	$(PY) -m benchmarks

bench-quick: $(VENV)/.test-installed
	$(PY) -m benchmarks --quick

# The Sphinx site (doc/_build/html), warnings as errors; runs every gallery example.
doc: $(VENV)/.doc-installed
	$(PY) -m sphinx -W --keep-going -b html doc doc/_build/html

clean:
	rm -rf $(VENV) build *.egg-info doc/_build doc/auto_examples doc/generated doc/sg_execution_times.rst
