"""Every lifecycle notebook runs headless through `workbench run` with small parameters, and its run has the
expected metrics and artifacts; the widgets work when their buttons are clicked from Python."""

import json
from pathlib import Path

import pytest
from mlflow import MlflowClient

import workbench as wb

ROOT = Path(__file__).resolve().parents[2]
NB = ROOT / "notebooks"
pytestmark = pytest.mark.slow


def run_nb(name, tracking_store, **params):
    r = wb.run_notebook(NB / f"{name}.ipynb", parameters=params, experiment="nb-tests", progress=False)
    assert r.ok, f"{r.error}\n{r.traceback}"
    c = MlflowClient(tracking_store)
    run = c.get_run(r.run_id)
    arts = {a.path for a in c.list_artifacts(r.run_id)}
    for d in ("notebook", "plots"):
        arts |= {a.path for a in c.list_artifacts(r.run_id, d)}
    assert f"notebook/{name}.html" in arts and f"notebook/{name}.ipynb" in arts
    return run, arts


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


def test_01_explore(local_server, tracking_store):
    run, arts = run_nb("01_explore", tracking_store, max_tokens=16)
    assert "playground_grid.json" in arts
    assert any(k.startswith("explore/t1/") for k in run.data.metrics)
    from workbench import prompts

    assert "gear expert" in prompts.load("contoso-assistant", "current")


def test_02_rag(local_server, tracking_store):
    run, arts = run_nb("02_rag", tracking_store, max_rows=4, max_tokens=16)
    assert "retrieval/recall_at_k/mean" in run.data.metrics


def test_03_finetune_and_04_compare(local_server, tracking_store):
    run3, _ = run_nb("03_finetune", tracking_store, steps=4, eval_rows=4, max_tokens=16)
    ft = run3.data.tags["workbench.ft.model"]
    assert ft.startswith("local:ft-") and "finetuned/quality/f1/mean" in run3.data.metrics
    trained = run3.data.tags.get("workbench.ft.reused") != "true"
    assert not trained or {"ft/loss", "ft/torch_threads"} <= set(run3.data.metrics)  # threads chosen per step
    run4, arts = run_nb("04_compare", tracking_store, max_rows=4, redteam_rows=3, max_tokens=16, finetuned_model=ft)
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


def test_06_monitor(local_server, tracking_store):
    run, arts = run_nb("06_monitor", tracking_store, demo_requests=4, sample=2, max_tokens=16)
    assert "plots/monitor_dashboard.png" in arts and "monitor_windows.json" in arts
    # monitor/* are the last window's figures: the 4 requests may straddle a minute boundary (1-minute windows)
    windows = wb.tracking.load_table(run.info.run_id, "monitor_windows.json")
    assert windows["requests"].sum() >= 4 and 1 <= run.data.metrics["monitor/requests"] <= windows["requests"].sum()
    assert "monitor/alerts_fired" in run.data.metrics
    c = MlflowClient(tracking_store)
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
