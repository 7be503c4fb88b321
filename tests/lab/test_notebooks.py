"""Every lifecycle notebook runs headless with small parameters, and its run has the expected metrics and
artifacts. 00 and 05 run here through :func:`workbench.run_notebook`; 01, 02, 03, 04 and 06 are the runs of the
one ``workbench demo --quick`` of the test run (the ``quick_demo`` fixture, tests/conftest.py), which executes them
the same way, so each is executed once per test run rather than twice."""

import json
import os
import re
from pathlib import Path

import pytest
from mlflow import MlflowClient

import workbench as wb
from workbench.demo import QUICK

ROOT = Path(__file__).resolve().parents[2]
NB = ROOT / "notebooks"
pytestmark = pytest.mark.slow


def check_artifacts(client: MlflowClient, run_id: str, name: str) -> set[str]:
    """The run's artifact paths (top level, notebook/ and plots/); the executed notebook and its HTML are there."""
    arts = {a.path for a in client.list_artifacts(run_id)}
    for d in ("notebook", "plots"):
        arts |= {a.path for a in client.list_artifacts(run_id, d)}
    assert f"notebook/{name}.html" in arts and f"notebook/{name}.ipynb" in arts
    return arts


def run_nb(name, tracking_store, **params):
    r = wb.run_notebook(NB / f"{name}.ipynb", parameters=params, experiment="nb-tests", progress=False)
    assert r.ok, f"{r.error}\n{r.traceback}"
    c = MlflowClient(tracking_store)
    return c.get_run(r.run_id), check_artifacts(c, r.run_id, name)


@pytest.fixture
def demo(quick_demo, monkeypatch):
    """The quick demo's store as this test's tracking store; ``demo(name)`` → (run, artifact paths) of its step."""
    out = quick_demo.out
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    # `workbench demo` prints "== <step> (<parameters>)" then "   FINISHED in <s>s  run <id>" per step
    ids = dict(re.findall(r"^== (\w+) \(.*\)\n +FINISHED in \d+s +run ([0-9a-f]{32})$", out.stdout, re.M))
    uri = f"sqlite:///{quick_demo.project / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    c = MlflowClient(uri)

    def step(name: str):
        assert name in ids, f"no finished run of {name} in the demo's output: {sorted(ids)}"
        return c.get_run(ids[name]), check_artifacts(c, ids[name], name)

    return step


def test_every_notebook_has_title_and_typed_parameters():
    import papermill

    for nb in sorted(NB.glob("*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        assert cells[0]["cell_type"] == "markdown" and "".join(cells[0]["source"]).startswith("# "), nb.name
        params = papermill.inspect_notebook(str(nb))
        assert params, f"{nb.name} has no parameters cell"
        for name, p in params.items():
            assert p["inferred_type_name"] != "None" and p["help"], f"{nb.name}: {name} lacks a type or a comment"


def test_00_quickstart(local_server, tracking_store):
    run, arts = run_nb("00_quickstart", tracking_store, rows=3, max_tokens=16)
    assert "quickstart/latency_s" in run.data.metrics and "quality/f1/mean" in run.data.metrics
    assert "eval_rows.json" in arts


def test_01_explore(demo):
    run, arts = demo("01_explore")
    assert "playground_grid.json" in arts
    assert any(k.startswith("explore/t1/") for k in run.data.metrics)
    from workbench import prompts

    assert "gear expert" in prompts.load("contoso-assistant", "current")


def test_02_rag(demo):
    run, arts = demo("02_rag")
    assert "retrieval/recall_at_k/mean" in run.data.metrics


def test_03_finetune_and_04_compare(demo):
    run3, _ = demo("03_finetune")
    ft = run3.data.tags["workbench.ft.model"]
    assert ft.startswith("local:ft-") and "finetuned/quality/f1/mean" in run3.data.metrics
    trained = run3.data.tags.get("workbench.ft.reused") != "true"
    assert not trained or {"ft/loss", "ft/torch_threads"} <= set(run3.data.metrics)  # threads chosen per step
    run4, arts = demo("04_compare")
    assert run4.data.params["finetuned_model"] == ft  # the demo passes 03's model on
    for cand in ("base", "rag", "finetuned", "rag_finetuned"):
        assert f"{cand}/quality/f1/mean" in run4.data.metrics, cand
    assert {"comparison.json", "recommendation.md", "plots/pareto_and_latency.png"} <= arts
    assert any(a.startswith("paired_") for a in arts)


def test_05_evaluate_with_gate(local_server, tracking_store):
    first, _ = run_nb("05_evaluate", tracking_store, max_rows=4, max_tokens=16)
    second, _ = run_nb(
        "05_evaluate",
        tracking_store,
        max_rows=4,
        max_tokens=16,
        baseline_run_id=first.info.run_id,
        gates="quality/f1/mean >= baseline - 1",
    )
    assert second.data.metrics["gate/passed"] == 1.0


def test_06_monitor(demo):
    run, arts = demo("06_monitor")
    requests = QUICK["06_monitor"]["demo_requests"]
    assert "plots/monitor_dashboard.png" in arts and "monitor_windows.json" in arts
    # monitor/* are the last window's figures: the requests may straddle a minute boundary (1-minute windows)
    windows = wb.tracking.load_table(run.info.run_id, "monitor_windows.json")
    assert windows["requests"].sum() >= requests
    assert 1 <= run.data.metrics["monitor/requests"] <= windows["requests"].sum()
    assert "monitor/alerts_fired" in run.data.metrics
    c = MlflowClient(os.environ["MLFLOW_TRACKING_URI"])  # the demo's store
    children = {
        r.data.tags.get("workbench.kind"): r
        for r in c.search_runs([run.info.experiment_id], f"tags.mlflow.parentRunId = '{run.info.run_id}'")
    }
    # the loop: bad answers → mlflow:contoso-rag-failures (harvest) → challenger vs served (challenge) → promote
    assert children["harvest"].data.tags["workbench.lineage.dataset"] == "mlflow:contoso-rag-failures"
    assert children["harvest"].data.metrics["harvest/rows"] >= 1
    ch = children["challenge"]
    assert ch.data.tags["workbench.lineage.served_model_id"] and ch.data.tags["workbench.challenge.passed"]
    traces = wb.monitor.collect_traces("app-contoso-rag")
    # lineage: the first traffic points at this run (it promoted the first model), any after a promotion at the
    # challenger's run inside the challenge run
    assert run.info.run_id in set(traces["config_run_id"])
    for rid in set(traces["config_run_id"]) - {run.info.run_id}:
        assert c.get_run(rid).data.tags["mlflow.parentRunId"] == ch.info.run_id
    if ch.data.tags["workbench.challenge.passed"] == "true":
        assert wb.serve.aliased_model_id("contoso-rag") == ch.data.tags["workbench.lineage.model_id"]
