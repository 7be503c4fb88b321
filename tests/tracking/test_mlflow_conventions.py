"""MLflow's own conventions are honoured: the active experiment (``mlflow.set_experiment``,
``MLFLOW_EXPERIMENT_NAME``) and the active run (``mlflow.start_run()``, a notebook kernel's own run, the launcher's run)
decide where ``wb.evaluate``, ``wb.run_notebook`` and sweeps put their runs, child runs and traces — in this process and
in real papermill kernels. Real MLflow on sqlite; callable candidates (no model server needed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

import workbench as wb
from evalkit import write_dataset
from workbench.candidates import CallableCandidate

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
BIN = Path(sys.executable).parent / "workbench"
PARENT = "mlflow.parentRunId"


@pytest.fixture
def conventions(tracking_store, project_dir, monkeypatch):
    """A fresh store with no active experiment or run in this process; whatever the test activates is undone."""
    from mlflow.tracking import fluent

    for var in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_RUN_ID", "WORKBENCH_RUN_ID"):
        monkeypatch.setenv(var, "x")  # recorded, so the teardown restores the variable as it was
        monkeypatch.delenv(var)
    monkeypatch.setattr(fluent, "_active_experiment_id", None)
    mlflow.set_tracking_uri(tracking_store)
    while mlflow.active_run():
        mlflow.end_run()
    yield MlflowClient(tracking_store)
    while mlflow.active_run():
        mlflow.end_run()
    os.environ.pop("MLFLOW_EXPERIMENT_ID", None)  # mlflow.set_experiment exports it for subprocesses


def cands():
    return [
        CallableCandidate(lambda row: row["reference"], name="right"),
        CallableCandidate(lambda row: "no idea", name="wrong"),
    ]


def traces(exp_id: str):
    return mlflow.search_traces(locations=[exp_id], return_type="list", max_results=1000)


def runs_in(c: MlflowClient, name: str) -> list:
    exp = c.get_experiment_by_name(name)
    return c.search_runs([exp.experiment_id]) if exp else []


def test_set_experiment_then_evaluate_puts_runs_children_and_traces_there(conventions, tmp_path):
    c = conventions
    ds = write_dataset(tmp_path / "qa.jsonl", 4)
    exp = mlflow.set_experiment("my-exp").experiment_id
    res = wb.evaluate(ds, cands(), metrics=["quality/f1"], progress=False)
    parent = c.get_run(res.run_id)
    assert parent.info.experiment_id == exp and parent.info.status == "FINISHED"
    children = c.search_runs([exp], f"tags.{PARENT} = '{res.run_id}'")
    assert sorted(r.info.run_name for r in children) == ["right", "wrong"]
    assert len(traces(exp)) == 8  # one per (candidate, row)
    assert runs_in(c, "workbench") == []  # the default experiment stays empty


def test_environment_experiment_and_active_run_are_honoured(conventions, tmp_path, monkeypatch):
    c = conventions
    ds = write_dataset(tmp_path / "qa.jsonl", 3)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "env-exp")
    alone = wb.evaluate(ds, cands()[:1], metrics=["quality/f1"], progress=False)
    exp = c.get_experiment_by_name("env-exp").experiment_id
    assert c.get_run(alone.run_id).info.experiment_id == exp
    # inside mlflow.start_run(): the evaluation is a child of the user's run, in its experiment
    other = c.create_experiment("user-exp")
    with mlflow.start_run(experiment_id=other) as outer:
        nested = wb.evaluate(ds, cands(), metrics=["quality/f1"], progress=False)
    run = c.get_run(nested.run_id)
    assert run.data.tags[PARENT] == outer.info.run_id and run.info.experiment_id == other
    assert len(traces(other)) == 6 and len(c.search_runs([other])) == 4  # user's run, evaluation, 2 candidates


def test_a_stale_active_experiment_is_a_clear_error(conventions, monkeypatch):
    from workbench import tracking
    from workbench.errors import ConfigError

    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", "424242")
    with pytest.raises(ConfigError, match="MLFLOW_EXPERIMENT_ID"):
        tracking.experiment_id()


@pytest.mark.slow
def test_in_a_papermill_kernel_the_evaluation_is_a_child_of_the_notebooks_run(conventions, tmp_path):
    """As in JupyterLab: the notebook sets its experiment, evaluates first, then logs its own artifact; the
    evaluation (and its candidates and traces) nest under the notebook's run, in the notebook's experiment."""
    import papermill

    c = conventions
    ds = write_dataset(tmp_path / "qa.jsonl", 3)
    papermill.execute_notebook(
        str(NOTEBOOKS / "conventions.ipynb"),
        str(tmp_path / "out.ipynb"),
        progress_bar=False,
        parameters={"experiment": "kernel-exp", "dataset": str(ds)},
        kernel_name="python3",
    )
    exp = c.get_experiment_by_name("kernel-exp").experiment_id
    runs = {r.info.run_id: r for r in c.search_runs([exp])}
    own = [r for r in runs.values() if r.data.tags.get("workbench.kind") == "interactive"]
    assert len(own) == 1 and "comparison.json" in [a.path for a in c.list_artifacts(own[0].info.run_id)]
    ev = [r for r in runs.values() if r.data.tags.get("workbench.kind") == "eval"]
    assert len(ev) == 1 and ev[0].data.tags[PARENT] == own[0].info.run_id
    kids = [r for r in runs.values() if r.data.tags.get(PARENT) == ev[0].info.run_id]
    assert sorted(r.info.run_name for r in kids) == ["right", "wrong"] and len(runs) == 4
    assert len(traces(exp)) == 6 and runs_in(c, "workbench") == []


@pytest.mark.slow
def test_run_notebook_and_sweep_follow_the_active_experiment(conventions, tmp_path, fixture_notebook):
    c = conventions
    ds = write_dataset(tmp_path / "qa.jsonl", 3)
    exp = mlflow.set_experiment("launch-exp").experiment_id
    r = wb.run_notebook(NOTEBOOKS / "conventions.ipynb", parameters={"dataset": str(ds)}, progress=False)
    assert r.ok, r.error
    assert r.experiment_id == exp
    kids = c.search_runs([exp], f"tags.{PARENT} = '{r.run_id}'")
    assert sorted(k.info.run_name for k in kids) == ["right", "wrong"] and len(traces(exp)) == 6
    s = wb.sweep(fixture_notebook, {"n": ["1"]}, workers=1, echo=lambda *_: None)
    assert c.get_run(s.parent_run_id).info.experiment_id == exp
    assert [c.get_run(ch["run_id"]).info.experiment_id for ch in s.children] == [exp]
    assert runs_in(c, "workbench") == []


@pytest.mark.slow
def test_workbench_run_honours_mlflow_experiment_name(conventions, fixture_notebook):
    out = subprocess.run(
        [str(BIN), "run", str(fixture_notebook), "-q"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "MLFLOW_EXPERIMENT_NAME": "cli-exp"},
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert len(runs_in(conventions, "cli-exp")) == 1 and runs_in(conventions, "workbench") == []


def test_newest_model_looks_in_the_store_then_the_registry_and_says_where(
    conventions, tracking_store, tmp_path, monkeypatch
):
    from workbench.finetune import newest_model
    from workbench.llm.local import register_adapter

    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.warns(UserWarning, match="looked in the runs of") as w:
        assert newest_model("local:") == ""
    msg = str(w[0].message)
    assert tracking_store in msg and str(tmp_path / "cache" / "adapters") in msg
    gguf = tmp_path / "ft-other.gguf"
    gguf.write_bytes(b"GGUF")
    register_adapter("ft-other", gguf)  # trained against another store: only the registry knows it
    assert newest_model("local:") == "local:ft-other"
