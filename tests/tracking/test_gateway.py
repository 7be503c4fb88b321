"""MLflow's AI Gateway over the workbench's endpoints: ``workbench tracking start`` configures one gateway endpoint
per keyless endpoint (the embedded model included) so MLflow answers ``/gateway/mlflow/v1/chat/completions`` from
the local model, offline and with no key; keyed endpoints are left out (their key never enters MLflow's store); a
second configuration changes nothing, a moved upstream is updated; the embedded server is held for the MLflow
server's process."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture
def mlflow_server(local_server, project_dir, tmp_path, monkeypatch):
    from workbench.procs import free_port
    from workbench.server import start_server, stop_server

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'gw.db'}")
    info = start_server(artifacts=str(tmp_path / "art"), port=free_port(), timeout=120)
    yield info
    stop_server()


def test_tracking_start_serves_the_local_model_through_the_gateway(mlflow_server, local_server):
    from workbench.config import settings
    from workbench.gateway import configure_gateway
    from workbench.llm import local
    from workbench.llm.endpoints import kind_of
    from workbench.procs import live_leases

    lines = mlflow_server.gateway
    # the upstream is where the workbench's own calls to ``local`` go now: the session's server, or (after a test
    # registered a LoRA adapter in this session's project) the server that also serves the adapters
    ep = settings().endpoints["local"]
    upstream = kind_of(ep).target(ep, "smollm2").base_url
    # created, or updated / unchanged where an earlier test's server in this session's project registered it
    local_line = f"AI Gateway endpoint local: smollm2 at {upstream} ("
    assert any(x.startswith(local_line) and x.endswith(("(created)", "(updated)", "(unchanged)")) for x in lines), (
        "\n".join(lines)
    )
    assert any(x.startswith("AI Gateway endpoint openai: skipped: needs the key in OPENAI_API_KEY") for x in lines)
    r = httpx.post(
        f"{mlflow_server.url}/gateway/mlflow/v1/chat/completions",
        json={"model": "local", "messages": [{"role": "user", "content": "Say hi"}], "max_tokens": 8},
        timeout=120,
    )
    assert r.status_code == 200, r.text
    assert r.json()["model"] == "smollm2" and r.json()["choices"][0]["message"]["content"]
    # the embedded server the gateway names is held for the MLflow server's process
    # by its exact URL and running: a stopped server for an older adapter set may still record the same port
    held = next(s for s in local.server_status() if s.url == upstream.rstrip("/") and s.status == "ready")
    assert mlflow_server.pid in held.clients and mlflow_server.pid in live_leases(local.run_dir() / "leases" / held.key)
    again = configure_gateway(mlflow_server.url)
    assert [e.status for e in again.endpoints if e.name == "local"] == ["unchanged"]
    assert again.served == ["local"] and "upstream" in again.summary().columns


def test_a_moved_upstream_is_updated(mlflow_server):
    from workbench.gateway import gateway_store, upsert_endpoint

    store = gateway_store(mlflow_server.url)
    assert upsert_endpoint(store, "elsewhere", "m1", "http://127.0.0.1:9/v1") == "created"
    assert upsert_endpoint(store, "elsewhere", "m1", "http://127.0.0.1:9/v1") == "unchanged"
    assert upsert_endpoint(store, "elsewhere", "m1", "http://127.0.0.1:10/v1") == "updated"
    assert upsert_endpoint(store, "elsewhere", "m2", "http://127.0.0.1:10/v1") == "updated"
    secret = next(s for s in store.list_secret_infos() if s.secret_name == "workbench-elsewhere")
    assert secret.auth_config["api_base"] == "http://127.0.0.1:10/v1"
    md = next(m for m in store.list_gateway_model_definitions() if m.name == "workbench-elsewhere")
    assert md.model_name == "m2"
