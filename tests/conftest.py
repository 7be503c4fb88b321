"""Shared fixtures for every folder under tests/ (map: tests/README.md): one real embedded llama-server per test
run, an isolated project dir, fake OpenAI-compatible endpoints and fault proxies (tests/fakes/openai_server.py)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))

from pg import pg_database, postgres, team_server  # noqa: E402,F401 - a real PostgreSQL (tests/pg.py)

# No test may reach an external host or see a real key.
for var in (
    "OPENAI_API_KEY",
    "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_ENDPOINT",
    "OPENAI_BASE_URL",
    "MLFLOW_TRACKING_URI",
    "WORKBENCH_LOCAL_BASE_URL",
):
    os.environ.pop(var, None)
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ.setdefault("TQDM_DISABLE", "1")
# One shared llama-server for the suite, not the 2 replicas the rule gives 2 cores: tests that kill, restart or
# count "the" server, and tests that time it, were written for one. The replicas have their own tests
# (tests/llm/test_threads.py, tests/reliability/test_model_service.py); the demo benchmark runs them.
os.environ.setdefault("WORKBENCH_LOCAL_REPLICAS", "1")


# `make test` runs the suite on 2 workers (pytest-xdist, ``-n 2 --dist loadfile``): the tests of one file stay on one
# worker, so a module fixture starts once. Session fixtures start once per worker; the quick demo, which takes
# minutes, is shared by the workers instead (``quick_demo``: the first runs it, the other reads its record).


@pytest.fixture(autouse=True)
def _no_mlflow_state_leaks_between_tests():
    """MLflow's fluent state is process-global and the workbench honours it (an active run is a parent, an active
    experiment is where runs go): a test that leaves either behind would decide where the next test's runs go."""
    env = {k: os.environ.get(k) for k in ("MLFLOW_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_ID", "MLFLOW_RUN_ID")}
    yield
    if "mlflow" in sys.modules:
        import mlflow
        from mlflow.tracking import fluent

        for _ in range(10):  # bounded: nested runs end one at a time
            if mlflow.active_run() is None:
                break
            try:
                mlflow.end_run()
            except Exception:  # noqa: BLE001 - the run's store may be gone with the test's tmp dir
                fluent._active_run_stack.set([])
                break
        fluent._active_experiment_id = None
    for k, v in env.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def project_dir(tmp_path_factory) -> Path:
    """A throwaway project directory (its own response cache and tracking store) for the whole run."""
    d = tmp_path_factory.mktemp("project")
    os.environ["WORKBENCH_PROJECT_DIR"] = str(d)
    return d


@pytest.fixture(scope="session")
def local_server(project_dir):
    """The real embedded llama-server (SmolLM2), started once per test run."""
    from workbench.llm.local import ensure_server

    handle = ensure_server()
    yield handle
    if handle.owned:
        handle.stop()


@pytest.fixture
def workbench_toml(project_dir):
    """Write ``workbench.toml`` in the test project; restored afterwards."""
    path = project_dir / "workbench.toml"
    old = path.read_text() if path.exists() else None

    def write(text: str) -> Path:
        path.write_text(text)
        return path

    yield write
    if old is None:
        path.unlink(missing_ok=True)
    else:
        path.write_text(old)


@pytest.fixture(scope="session")
def solo_server(local_server):
    """A private llama-server with one slot and no prompt cache, started once per test run: llama.cpp's greedy
    output depends on what else shares the batch (other tests use the shared server), so a test that compares
    answers computed at different times bit for bit needs a server that computes every request alone."""
    from workbench.llm.local import ServerOptions, start_server

    h = start_server(ServerOptions(parallel=1, ctx=4096, extra_args=["--no-cache-prompt"]))
    yield h
    h.stop()


@pytest.fixture
def solo_model(solo_server, workbench_toml, monkeypatch):
    """The one-slot server as endpoint ``solo`` in the test project's ``workbench.toml`` (seen by subprocesses
    and dask workers through ``WORKBENCH_PROJECT_DIR``); yields the model spec ``solo:smollm2``."""
    monkeypatch.setenv("MLFLOW_MODEL_CATALOG_URI", "")  # MLflow would fetch a price catalog for "solo" from github
    workbench_toml(f'[endpoints.solo]\nbase_url = "{solo_server.base_url}"\nmodels = ["smollm2"]\n')
    return "solo:smollm2"


@pytest.fixture
def fake_endpoint(workbench_toml, monkeypatch):
    """Factory: a fake OpenAI-compatible server (:class:`fakes.openai_server.OpenAIServer`, scripted replies) declared
    as endpoint ``fake`` (model ``m``) in the test project's ``workbench.toml``; ``keyed`` sets its key in the
    environment, as a real key would be; ``max_concurrency`` is declared for the endpoint. All stopped at the end."""
    from fakes.openai_server import KEY, Chat, OpenAIServer

    made = []

    def make(text: str = "ok", delay_s: float = 0.0, keyed: bool = False, max_concurrency: int | None = None):
        up = OpenAIServer(Chat(text, delay_s=delay_s))
        made.append(up)
        if keyed:
            monkeypatch.setenv("FAKE_UPSTREAM_KEY", KEY)
        limit = f"max_concurrency = {max_concurrency}\n" if max_concurrency else ""
        workbench_toml(up.toml(key_env="FAKE_UPSTREAM_KEY" if keyed else None) + limit)
        return up

    yield make
    for up in made:
        up.stop()


@pytest.fixture
def fault_server(local_server):
    """Factory for fault-injecting proxies (:class:`fakes.openai_server.OpenAIServer` with ``upstream``) in front of
    the real server; keywords are :class:`fakes.openai_server.Faults` fields; all stopped at the end. The upstream is
    resolved when the proxy starts (``ensure_server`` also renews this process's lease): a server the supervisor
    stopped or moved since the session began is found or started again. ``upstream`` (a server handle, e.g.
    ``solo_server``) puts the proxy in front of another real server instead."""
    from fakes.openai_server import Faults, OpenAIServer
    from workbench.llm.local import ensure_server

    servers = []

    def make(upstream=None, **kw) -> OpenAIServer:
        s = OpenAIServer(faults=Faults(**kw), upstream=(upstream or ensure_server()).base_url.removesuffix("/v1"))
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.stop()


@pytest.fixture
def faulty(fault_server, workbench_toml):
    """``make(script=..., rates=...)`` → (proxy, client): a fault proxy declared as endpoint ``faulty`` (model
    ``smollm2``) and an uncached :class:`LLMClient` with fast backoff (ask it with ``evalkit.ask``). The call
    timeout is 30 s unless a test about stalls sets a short one: the real server behind the proxy is shared with the
    other pytest worker, and under its load a 4-token call waited over 1.5 s for a slot (CI, 2026-12-05: three
    retry tests failed on their last, fault-free attempt with ``timeout``)."""
    from workbench.llm.client import LLMClient

    def make(timeout_s=30.0, max_retries=3, max_concurrency=8, **kw):
        proxy = fault_server(**kw)
        workbench_toml(
            f'[endpoints.faulty]\nbase_url = "{proxy.base_url}"\nmodels = ["smollm2"]\n'
            f"max_concurrency = {max_concurrency}\ntimeout_s = {timeout_s}\n"
        )
        return proxy, LLMClient(cache="off", max_retries=max_retries, backoff_base_s=0.05)

    return make


@pytest.fixture(scope="session")
def _migrated_db(tmp_path_factory) -> Path:
    """An MLflow sqlite DB migrated once per test run (a fresh one takes seconds to migrate)."""
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def tracking_store(_migrated_db, tmp_path, monkeypatch) -> str:
    """A fresh tracking store (a copy of the migrated template) for one test; returns its URI."""
    db = tmp_path / "mlflow.db"
    shutil.copy(_migrated_db, db)
    uri = f"sqlite:///{db}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


@pytest.fixture
def fixture_notebook() -> Path:
    return Path(__file__).parent / "notebooks" / "params.ipynb"


@pytest.fixture(scope="session")
def quick_demo(local_server, tmp_path_factory):
    """One ``workbench demo --quick`` per test run (minutes), shared by the demo test, the headless notebook tests
    and the secrets scan, on every pytest-xdist worker: the first worker to need it runs it under a lock in the
    run's shared temp dir and records the result; the others wait for the lock and read the record. It runs with a
    fake API key in its environment (``OPENAI_BASE_URL`` on a closed local port, so nothing can leave)."""
    import json
    import secrets
    import subprocess
    from types import SimpleNamespace

    from workbench.procs import locked

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the workers' base temp dirs are siblings in the run's own dir
    record, project = root / "quick-demo.json", root / "quick-demo"
    with locked(root / "quick-demo.lock", 1200.0, "the quick demo of another pytest worker"):
        if not record.exists():
            project.mkdir()
            key = f"sk-test-{secrets.token_hex(20)}"
            env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "WORKBENCH_RESPONSE_CACHE")}
            env.update(WORKBENCH_PROJECT_DIR=str(project), OPENAI_API_KEY=key, OPENAI_BASE_URL="http://127.0.0.1:9/v1")
            cmd = [str(Path(sys.executable).parent / "workbench"), "demo", "--quick", "--experiment", "demo-test"]
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
            fields = {"args": cmd, "returncode": out.returncode, "stdout": out.stdout, "stderr": out.stderr}
            tmp = record.with_suffix(".tmp")
            tmp.write_text(json.dumps({"out": fields, "key": key}))
            tmp.replace(record)
        data = json.loads(record.read_text())
    return SimpleNamespace(out=subprocess.CompletedProcess(**data["out"]), project=project, key=data["key"])
