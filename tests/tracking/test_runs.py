"""Tracked notebook runs and sweeps: real papermill kernels, real MLflow on sqlite."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

import workbench as wb
from workbench.errors import WorkbenchError

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent / "workbench"


def artifacts(client, run_id, path="notebook"):
    return sorted(a.path for a in client.list_artifacts(run_id, path))


def test_run_with_overrides_records_everything(tracking_store, fixture_notebook):
    r = wb.run_notebook(
        fixture_notebook, parameters={"alpha": "0.25", "n": 4}, experiment="t-run", run_name="overrides", progress=False
    )
    assert r.ok, r.error
    c = MlflowClient(tracking_store)
    run = c.get_run(r.run_id)
    p = run.data.params
    assert (p["alpha"], p["n"], p["name"], p["label"]) == ("0.25", "4", "demo", "demo")
    assert r.parameters["alpha"] == 0.25 and isinstance(r.parameters["n"], int)
    assert run.data.metrics["score"] == pytest.approx(1.0)
    assert run.data.metrics["workbench/duration_s"] > 0
    t = run.data.tags
    assert t["workbench.notebook_hash"] and t["workbench.notebook"].endswith("params.ipynb")
    for k in ("workbench.version", "workbench.papermill_version", "workbench.mlflow_version", "workbench.host"):
        assert t[k]
    assert "mlflow.source.git.commit" in t and t["workbench.git.dirty"] in ("true", "false")
    assert artifacts(c, r.run_id) == ["notebook/params.html", "notebook/params.ipynb"]
    assert run.info.status == "FINISHED" and run.info.run_name == "overrides"
    # the run id travelled in the environment, never as a parameter
    assert "run_id" not in " ".join(p).lower()


def test_failing_cell_marks_run_failed_with_partial_artifacts(tracking_store, fixture_notebook, monkeypatch):
    monkeypatch.setenv("WB_TEST_FAIL", "1")
    r = wb.run_notebook(fixture_notebook, parameters={"n": 2, "fail_on": 2}, progress=False)
    assert r.status == "FAILED" and "ValueError" in r.error and "boom" in r.error
    assert "boom at n=2" in r.traceback
    c = MlflowClient(tracking_store)
    run = c.get_run(r.run_id)
    assert run.info.status == "FAILED" and "ValueError" in run.data.tags["error"]
    assert run.data.metrics["score"] == 1.0  # cells before the failure were logged
    assert artifacts(c, r.run_id) == ["notebook/params.html", "notebook/params.ipynb"]


def test_cli_failure_prints_traceback_and_exits_nonzero(tracking_store, fixture_notebook):
    out = subprocess.run(
        [str(BIN), "run", str(fixture_notebook), "-p", "n", "5", "-p", "fail_on", "5", "-q"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "WB_TEST_FAIL": "1"},
    )
    assert out.returncode == 1
    assert "FAILED" in out.stderr and "boom at n=5" in out.stderr


def test_timeout_marks_run_failed(tracking_store, fixture_notebook):
    r = wb.run_notebook(fixture_notebook, parameters={"sleep_s": 30}, timeout=3, progress=False)
    assert r.status == "FAILED" and "timeout" in r.error
    c = MlflowClient(tracking_store)
    assert c.get_run(r.run_id).info.status == "FAILED"
    assert "notebook/params.ipynb" in artifacts(c, r.run_id)


def test_secret_parameter_refused(tracking_store, fixture_notebook):
    with pytest.raises(WorkbenchError, match="environment variable"):
        wb.run_notebook(fixture_notebook, parameters={"openai_api_key": "sk-abc"})
    out = subprocess.run(
        [str(BIN), "run", str(fixture_notebook), "-p", "db_password", "x"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 4 and "credential" in out.stderr


def test_no_secret_in_any_artifact_param_or_tag(tracking_store, fixture_notebook, monkeypatch, tmp_path):
    secret = "sk-live-0123456789abcdefSECRET"
    monkeypatch.setenv("WB_TEST_API_KEY", secret)
    r = wb.run_notebook(fixture_notebook, progress=False)
    assert r.ok
    c = MlflowClient(tracking_store)
    run = c.get_run(r.run_id)
    assert secret not in str(run.data.params) + str(run.data.tags)
    local = c.download_artifacts(r.run_id, "notebook", str(tmp_path))
    for f in Path(local).iterdir():
        text = f.read_text()
        assert secret not in text and "***" in text  # the cell printed it; it was scrubbed
    assert secret not in r.output_notebook.read_text()


def test_unknown_parameter_is_refused_unless_allowed(tracking_store, fixture_notebook):
    from workbench.errors import UsageError

    with pytest.raises(UsageError, match=r"unknown parameter\(s\) \['nope'\]"):
        wb.run_notebook(fixture_notebook, parameters={"nope": 1}, progress=False)
    with pytest.warns(UserWarning, match="unknown parameter"):
        r = wb.run_notebook(fixture_notebook, parameters={"nope": 1}, progress=False, allow_unknown_params=True)
    assert r.ok


def test_sweep_children_failure_and_resume(tracking_store, fixture_notebook, monkeypatch):
    monkeypatch.setenv("WB_TEST_FAIL", "1")
    grid = {"n": ["1", "2"], "alpha": ["0.5", "1.0"]}
    res = wb.sweep(
        fixture_notebook, grid, parameters={"fail_on": 2}, workers=2, experiment="t-sweep", echo=lambda *_: None
    )
    statuses = sorted(ch["status"] for ch in res.children)
    assert statuses == ["FAILED", "FAILED", "FINISHED", "FINISHED"]  # n=2 fails for both alphas
    c = MlflowClient(tracking_store)
    children = c.search_runs(
        [c.get_run(res.parent_run_id).info.experiment_id], f"tags.mlflow.parentRunId = '{res.parent_run_id}'"
    )
    assert len(children) == 4
    parent = c.get_run(res.parent_run_id)
    assert parent.info.status == "FAILED" and parent.data.metrics["sweep/children_failed"] == 2
    assert "sweep_summary.json" in [a.path for a in c.list_artifacts(res.parent_run_id)]
    # resume without the failure switch: only the 2 failed cells run again
    monkeypatch.setenv("WB_TEST_FAIL", "0")
    again = wb.sweep(
        fixture_notebook,
        grid,
        parameters={"fail_on": 2},
        workers=2,
        experiment="t-sweep",
        resume=True,
        echo=lambda *_: None,
    )
    assert again.parent_run_id == res.parent_run_id and again.skipped == 2 and again.ok
    children = c.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{res.parent_run_id}'")
    assert len(children) == 6 and c.get_run(res.parent_run_id).info.status == "FINISHED"


def test_sweep_cli_exit_status(tracking_store, fixture_notebook):
    out = subprocess.run(
        [str(BIN), "sweep", str(fixture_notebook), "--grid", "n=1,2", "-p", "fail_on", "2", "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "WB_TEST_FAIL": "1"},
    )
    assert out.returncode == 1 and "1/2 finished" in out.stdout
