# Two commands on a fresh machine:  `make demo`  and  `make test`.
# Both create .venv, install the pinned stack, obtain the model and llama-server (cached in
# ~/.cache/llmops-workbench, so a fresh clone reuses the build), then run.
# Python 3.11, 3.12 or 3.13: PY picks the interpreter (default: the oldest supported one found).
# The first of these that runs (a pyenv shim for a version that is not active does not).
first_python = $(shell for p in $(1); do $$p -c '' >/dev/null 2>&1 && { command -v $$p; break; }; done)
PY ?= $(call first_python,python3.11 python3.12 python3.13 python3)
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
# The suite runs on TEST_WORKERS pytest-xdist workers, one test file per worker at a time (tests/conftest.py); 1 = serial.
TEST_WORKERS ?= 2
XDIST = $(if $(filter-out 0 1,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadfile,)
# What each target installs (pip extras of pyproject.toml). The core alone is `EXTRAS=` (the demo then skips
# fine-tuning and says how to add it). On a machine where PyPI's torch is the CUDA build, first
# `$(BIN)/pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu` (README, Install).
DEMO_EXTRAS ?= finetune
TEST_EXTRAS ?= dev,finetune,team
# `make test` also runs the fast subset (-m "not slow") on this Python when it is installed; empty to skip.
# [finetune] is left out there: PyPI's torch for 3.12/3.13 is the CUDA build (its tests skip saying so).
TEST_PY ?= $(call first_python,python3.13 $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13))
PY_EXTRAS ?= dev,team

.PHONY: setup setup-demo assets demo test test-fast test-py check lab ui clean help browser postgres bench bench-quick

help:
	@echo "make demo   - set up (core + [finetune]) and run the lifecycle demo on the embedded model"
	@echo "make test   - set up everything and run the whole test suite (+ the fast subset on Python 3.13)"
	@echo "make test-py PY=python3.13 - the fast subset (-m 'not slow') in .venv-py3.13"
	@echo "make check  - ruff (lint + format check) and mypy on workbench/ (run by make test)"
	@echo "make lab    - set up and open JupyterLab on notebooks/"
	@echo "make clean  - remove the venvs and local run data (keeps the user cache)"

# $(call install,VENV,PYTHON,EXTRAS): create VENV with PYTHON once, install the package with EXTRAS, stamp it.
# A new VENV is linked to a cached environment of the same pins and extras (tools/envcache.py; built once under
# ~/.cache/llmops-workbench/envs), so pip then installs only the project; WORKBENCH_ENV_CACHE=0 turns that off.
define install
	$(2) tools/envcache.py $(1) --extras "$(3)" --install-project
	@touch $@
endef

$(VENV)/.installed-test: pyproject.toml constraints.txt
	$(call install,$(VENV),$(PY),$(TEST_EXTRAS))

$(VENV)/.installed-demo: pyproject.toml constraints.txt
	$(call install,$(VENV),$(PY),$(DEMO_EXTRAS))

# The package's bytecode is compiled once here, as pip does for an installed wheel: with PYTHONDONTWRITEBYTECODE
# set (CI, containers) an editable install otherwise compiles every workbench module at every import.
assets:
	$(BIN)/workbench setup
	$(BIN)/python -m compileall -q workbench

setup: $(VENV)/.installed-test assets

setup-demo: $(VENV)/.installed-demo assets

demo: setup-demo
	$(BIN)/workbench demo

# The guards (CONTRIBUTING.md, "make check"): lint, formatting and types; settings in pyproject.toml, the same
# commands as .pre-commit-config.yaml. `make test` runs them first (before the model download).
LINT_PATHS := workbench tests benchmarks tools
check: $(VENV)/.installed-test
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/mypy workbench

test: check setup browser postgres
	$(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)
	@if [ -n "$(TEST_PY)" ]; then $(MAKE) --no-print-directory test-py PY=$(TEST_PY); \
	  else echo "python3.13 not found: the fast subset on 3.13 is skipped"; fi

# The fast subset on another Python, in its own venv: make test-py PY=python3.13
PYV = $(shell $(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
test-py:
	@$(MAKE) --no-print-directory .venv-py$(PYV)/.installed PY=$(PY)
	.venv-py$(PYV)/bin/workbench setup
	.venv-py$(PYV)/bin/python -m pytest -m "not slow" -q $(XDIST) $(PYTEST_ARGS)

.venv-py%/.installed: pyproject.toml constraints.txt
	$(call install,.venv-py$*,$(PY),$(PY_EXTRAS))

# Headless Chromium for the browser tests (MLflow UI, JupyterLab via Playwright): the Debian package, installed only
# when root with apt-get; else those tests skip. Playwright (pip, [dev]) drives it by path: never `playwright install`.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null) || \
	  echo "chromium not installed: the browser test will be skipped"; }

# PostgreSQL for the team-scale tests (Debian package; tests/pg.py runs a throwaway cluster on 127.0.0.1).
# Installed only when root with apt-get; elsewhere install it yourself, or those tests skip saying so.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || { \
	  [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -q >/dev/null && apt-get install -y -q postgresql >/dev/null) || \
	  echo "PostgreSQL not installed: the team-scale tests will be skipped"; }

test-fast: setup
	$(BIN)/python -m pytest -m "not slow" $(XDIST) $(PYTEST_ARGS)

BENCHES := bench_server bench_runs bench_eval bench_mlflow_eval bench_retrieval bench_memory bench_dask bench_serve bench_record bench_metric_accuracy bench_finetune

bench: setup
	@for b in $(BENCHES); do echo "== $$b"; $(BIN)/python benchmarks/$$b.py || exit 1; done

bench-quick: setup
	@for b in $(BENCHES); do echo "== $$b (quick)"; BENCH_QUICK=1 $(BIN)/python benchmarks/$$b.py || exit 1; done

lab: setup-demo
	$(BIN)/jupyter lab --KernelManager.transport=ipc notebooks/

ui: setup-demo
	$(BIN)/workbench tracking ui

clean:
	rm -rf $(VENV) .venv-py3.* .workbench mlflow.db mlartifacts .pytest_cache
