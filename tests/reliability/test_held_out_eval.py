"""Held-out probes of evaluation data (issue 21): answers and checkpointed rows are keyed on the server that gave
them, LoRA scales go only to a server the workbench started, an evaluation whose rows all failed is a failure,
two identical evaluations at once pay for each row once. Fake endpoints on 127.0.0.1; no model needed."""

from __future__ import annotations

import threading

import pytest

import workbench as wb
from evalkit import write_dataset
from fakes.openai_server import KEY, Chat, OpenAIServer


@pytest.fixture
def two_servers():
    a, b = OpenAIServer(Chat("alpha answer")), OpenAIServer(Chat("beta answer"))
    yield a, b
    a.stop()
    b.stop()


def test_checkpoint_is_keyed_on_the_endpoint_even_with_cache_off(two_servers, tmp_path, monkeypatch):
    """Regression: after pointing WORKBENCH_LOCAL_BASE_URL elsewhere, `--cache off` reused the old server's
    checkpointed rows ("0 computed now")."""
    a, b = two_servers
    ds = write_dataset(tmp_path / "qa.jsonl", n=6)
    monkeypatch.setenv("WORKBENCH_LOCAL_BASE_URL", a.url)
    r1 = wb.evaluate(ds, ["local"], metrics=["quality/f1"], cache="off", log=False, progress=False)
    monkeypatch.setenv("WORKBENCH_LOCAL_BASE_URL", b.url)
    r2 = wb.evaluate(ds, ["local"], metrics=["quality/f1"], cache="off", log=False, progress=False)
    assert set(r1.rows["answer"]) == {"alpha answer"} and set(r2.rows["answer"]) == {"beta answer"}
    assert r2.computed_rows == 6 and b.calls == 6 and r1.checkpoint != r2.checkpoint


def test_response_cache_is_keyed_on_the_server(two_servers, monkeypatch, tmp_path):
    a, b = two_servers
    monkeypatch.setenv("WORKBENCH_RESPONSE_CACHE", str(tmp_path / "cache.db"))
    monkeypatch.setenv("WORKBENCH_LOCAL_BASE_URL", a.url)
    assert wb.chat("Which server?", model="local").text == "alpha answer"
    monkeypatch.setenv("WORKBENCH_LOCAL_BASE_URL", b.url)
    rec = wb.chat("Which server?", model="local")
    assert rec.text == "beta answer" and not rec.cache_hit and b.calls == 1


def test_no_lora_scales_to_a_server_the_workbench_did_not_start(two_servers, monkeypatch, tmp_path):
    from workbench.llm.local import register_adapter

    a, _ = two_servers
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("WORKBENCH_RESPONSE_CACHE", str(tmp_path / "cache.db"))
    adapter = tmp_path / "ft.gguf"
    adapter.write_bytes(b"GGUF not really")
    register_adapter("ft-test", adapter)
    monkeypatch.setenv("WORKBENCH_LOCAL_BASE_URL", a.url)
    wb.chat("hello", model="local", cache="off")
    assert a.bodies and "lora" not in a.bodies[-1], a.bodies[-1]


def test_an_evaluation_whose_rows_all_failed_exits_non_zero(workbench_toml, tracking_store, tmp_path, monkeypatch):
    from mlflow import MlflowClient

    from workbench.evaluate.cli import run_eval_cli

    up = OpenAIServer()
    try:
        up.chat.mode = "auth"
        monkeypatch.setenv("FAKE_UPSTREAM_KEY", KEY)
        workbench_toml(up.toml())
        out = []
        rc = run_eval_cli(
            str(write_dataset(tmp_path / "qa.jsonl", n=4)), "fake:m", metrics=["quality/f1"], echo=out.append
        )
        assert rc != 0 and any("all 4 rows failed" in line for line in out), out
        runs = MlflowClient(tracking_store).search_runs([wb.tracking.experiment_id()])
        assert [r.info.status for r in runs] == ["FAILED"] and "auth" in runs[0].data.tags["error"]
        assert KEY not in "\n".join(out)
    finally:
        up.stop()


def test_two_identical_evaluations_at_once_pay_for_each_row_once(tmp_path, monkeypatch):
    up = OpenAIServer(Chat("same answer", delay_s=0.05))
    try:
        monkeypatch.setenv("WORKBENCH_LOCAL_BASE_URL", up.url)
        ds = write_dataset(tmp_path / "qa.jsonl", n=12)
        results, barrier = [], threading.Barrier(2)

        def one():
            barrier.wait()
            results.append(
                wb.evaluate(
                    ds, ["local"], metrics=["quality/f1"], cache="off", log=False, progress=False, concurrency=2
                )
            )

        threads = [threading.Thread(target=one) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert len(results) == 2 and all(len(r.rows) == 12 for r in results)
        assert up.calls == 12, f"{up.calls} requests for 12 rows"
        assert sorted(r.computed_rows for r in results) == [0, 12]
    finally:
        up.stop()
