# Two commands on a fresh machine:  `make demo`  and  `make test`.
# Both create .venv, install the pinned stack, obtain the model and llama-server (cached in
# ~/.cache/llmops-workbench, so a fresh clone reuses the build), then run.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: setup demo test test-fast lab ui clean help browser postgres bench bench-quick

help:
	@echo "make demo   - set up and run the lifecycle demo on the embedded model"
	@echo "make test   - set up and run the whole test suite"
	@echo "make lab    - set up and open JupyterLab on notebooks/"
	@echo "make clean  - remove .venv and local run data (keeps the user cache)"

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[dev,finetune,team]"
	@touch $(STAMP)

setup: $(STAMP)
	$(BIN)/workbench setup

demo: setup
	$(BIN)/workbench demo

test: setup browser postgres
	$(BIN)/python -m pytest $(PYTEST_ARGS)

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
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

BENCHES := bench_server bench_runs bench_eval bench_mlflow_eval bench_retrieval bench_memory bench_dask bench_serve

bench: setup
	@for b in $(BENCHES); do echo "== $$b"; $(BIN)/python benchmarks/$$b.py || exit 1; done

bench-quick: setup
	@for b in $(BENCHES); do echo "== $$b (quick)"; BENCH_QUICK=1 $(BIN)/python benchmarks/$$b.py || exit 1; done

lab: setup
	$(BIN)/jupyter lab --KernelManager.transport=ipc notebooks/

ui: setup
	$(BIN)/workbench ui

clean:
	rm -rf $(VENV) .workbench mlflow.db mlartifacts .pytest_cache
