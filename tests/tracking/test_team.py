"""Team scale, for real: a PostgreSQL-backed MLflow server (`workbench server start`), a real `dask scheduler`
with two `dask worker` processes on 127.0.0.1, a sweep and a 2,000-row evaluation through them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import nbformat
import pytest
from mlflow import MlflowClient
from test_record import (  # noqa: F401 - the evidence in MLflow, on the PostgreSQL-backed server
    test_two_candidates_give_child_runs_models_and_assessed_traces as test_pg_evidence,
    two_candidates,
)

# the tracked-run and sweep tests of test_runs.py, run again against the PostgreSQL-backed server
from test_runs import (  # noqa: F401
    test_failing_cell_marks_run_failed_with_partial_artifacts as test_pg_failing_cell,
    test_run_with_overrides_records_everything as test_pg_run_records_everything,
    test_sweep_children_failure_and_resume as test_pg_sweep_failure_and_resume,
    test_sweep_cli_exit_status as test_pg_sweep_cli_exit_status,
)

import workbench as wb
from daskprocs import DaskProcesses
from evalkit import FACTS
from pg import free_port, server_cli as _server_cli

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent


@pytest.fixture
def tracking_store(team_server, monkeypatch) -> str:
    """Overrides conftest's sqlite store: the imported test_runs tests log to the server."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", team_server)
    return team_server


@pytest.fixture(scope="module")
def dask_scheduler(project_dir):
    """A real `dask scheduler` and two `dask worker` processes (one thread each) on 127.0.0.1; its address."""
    pytest.importorskip("distributed")
    cluster = DaskProcesses(workers=2).start()
    yield cluster.address
    cluster.stop()


def _wait_for_workers(addr: str, n: int = 2) -> None:
    from distributed import Client

    with Client(addr, timeout=30) as c:
        c.wait_for_workers(n, timeout=90)


def test_server_lifecycle(pg_database, tmp_path):
    port = free_port()
    out = _server_cli(tmp_path, "start", "--db", pg_database, "--port", str(port))
    assert out.returncode == 0, out.stderr[-3000:]
    state = json.loads((tmp_path / ".workbench" / "server.json").read_text())
    assert state["port"] == port and "postgresql" in state["db"]
    assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
    again = _server_cli(tmp_path, "start", "--db", pg_database, "--port", str(port))
    assert again.returncode == 4 and "already running" in again.stderr
    stop = _server_cli(tmp_path, "stop", timeout=60)
    assert stop.returncode == 0 and "stopped" in stop.stdout
    with pytest.raises(ProcessLookupError):
        os.kill(state["pid"], 0)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
    assert "no tracking server" in _server_cli(tmp_path, "stop").stdout


def test_dask_sweep_cli_through_scheduler_into_postgres(team_server, dask_scheduler, fixture_notebook, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", team_server)
    out = subprocess.run(
        [
            str(BIN / "workbench"),
            "sweep",
            str(fixture_notebook),
            "--grid",
            "n=1,2,3,4",
            "--executor",
            "dask",
            "--scheduler",
            dask_scheduler,
            "--experiment",
            "t-dask",
        ],
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "4/4 finished" in out.stdout
    c = MlflowClient(team_server)
    exp = c.get_experiment_by_name("t-dask")
    runs = c.search_runs([exp.experiment_id])
    parent = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parent) == 1 and parent[0].info.status == "FINISHED" and len(children) == 4
    assert sorted(r.data.metrics["score"] for r in children) == [0.5, 1.0, 1.5, 2.0]
    for r in children:
        assert r.info.status == "FINISHED" and r.data.tags["workbench.attempt"] == "1"
        assert sorted(a.path for a in c.list_artifacts(r.info.run_id, "notebook")) == [
            "notebook/params.html",
            "notebook/params.ipynb",
        ]
    assert "sweep_summary.json" in [a.path for a in c.list_artifacts(parent[0].info.run_id)]


def _killer_notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("die: int = 0  # 1 kills the Dask worker that runs this notebook")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        params,
        nbformat.v4.new_code_cell(
            "import os, signal\nimport workbench as wb\nwb.tracking.log_metrics({'alive': 1.0})\n"
            "if die:\n    os.kill(os.getppid(), signal.SIGKILL)  # the kernel's parent is the worker process"
        ),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))
    return path


def test_worker_loss_retries_the_cell_once_then_fails_it(team_server, dask_scheduler, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", team_server)
    nb = _killer_notebook(tmp_path / "killer.ipynb")
    try:
        res = wb.sweep(
            nb,
            {"die": ["0", "1"]},
            executor="dask",
            scheduler=dask_scheduler,
            experiment="t-loss",
            echo=lambda *_: None,
        )
    finally:
        _wait_for_workers(dask_scheduler)  # the nannies restart the killed workers
    by = {ch["grid_params"]["die"]: ch for ch in res.children}
    assert by["0"]["status"] == "FINISHED"
    assert by["1"]["status"] == "FAILED" and "worker" in by["1"]["error"].lower()
    c = MlflowClient(team_server)
    lost = c.get_run(by["1"]["run_id"])
    assert lost.info.status == "FAILED" and lost.data.tags["workbench.attempt"] == "2"  # retried once
    assert "worker" in lost.data.tags["error"].lower()
    assert c.get_run(res.parent_run_id).info.status == "FAILED"


def _dataset(path: Path, n: int, distinct: int) -> Path:
    """``n`` rows (unique ids) over ``distinct`` questions: the first pass asks the real server, repeats hit the
    response cache — the rows still go through partitions, workers, metrics and the merge."""
    rows = []
    for i in range(n):
        ctx, q, ref = FACTS[i % len(FACTS)]
        rows.append(
            {
                "id": f"r{i:05d}",
                "question": f"{q} (#{(i // len(FACTS)) % (distinct // len(FACTS))})",
                "reference": ref,
                "contexts": [ctx],
            }
        )
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


METRICS = ["quality/f1", "quality/exact_match", "latency", "cost"]


def test_dask_evaluation_of_2000_rows_and_partition_resume(local_server, dask_scheduler, tmp_path):
    from workbench.candidates import PromptCandidate
    from workbench.evaluate.distributed import parts_dir

    ds = _dataset(tmp_path / "big.jsonl", 2000, 200)
    cand = PromptCandidate("local", name="terse", system_prompt="Answer in a few words.", max_tokens=8)
    t0 = time.monotonic()
    res = wb.evaluate(
        ds,
        [cand],
        metrics=METRICS,
        executor="dask",
        scheduler=dask_scheduler,
        partition_rows=100,
        log=False,
        progress=False,
    )
    took = time.monotonic() - t0
    assert res.complete and len(res.rows) == 2000 and res.computed_rows == 2000, (res.stopped, len(res.rows))
    assert not res.rows.duplicated(["id"]).any() and res.rows["error"].isna().all()
    assert list(res.rows["id"]) == [f"r{i:05d}" for i in range(2000)]  # merged back in dataset order
    assert res.rows["quality/f1"].notna().all() and res.rows["latency/latency_s"].notna().all()
    assert res.metrics["quality/f1/mean"] > 0
    print(f"2000 rows via dask in {took:.1f}s ({2000 / took:.0f} rows/s)")
    assert not list(parts_dir(res.checkpoint).glob("*.jsonl"))  # every partition was folded in

    # resume: drop 150 rows from the checkpoint and leave 100 more as an interrupted partition's file
    lines = res.checkpoint.read_text().splitlines()
    keep, lost, leftover = lines[:1750], lines[1750:1900], lines[1900:]
    res.checkpoint.write_text("\n".join(keep) + "\n")
    parts_dir(res.checkpoint).mkdir(exist_ok=True)
    (parts_dir(res.checkpoint) / "interrupted.jsonl").write_text("\n".join(leftover) + "\n")
    again = wb.evaluate(
        ds,
        [cand],
        metrics=METRICS,
        executor="dask",
        scheduler=dask_scheduler,
        partition_rows=100,
        log=False,
        progress=False,
    )
    assert again.complete and len(again.rows) == 2000 and again.computed_rows == len(lost)
    cols = ["id", "answer", "quality/f1"]
    assert again.rows[cols].equals(res.rows[cols])


def test_dask_evaluation_on_a_local_cluster_logs_like_local(solo_model, tracking_store, tmp_path):
    """Without a scheduler: a LocalCluster; the result and the MLflow run look like a local evaluation's. On the
    one-slot server, so that the same request gets the same greedy answer whatever else is in flight."""
    from workbench.candidates import PromptCandidate

    ds = _dataset(tmp_path / "small.jsonl", 60, 20)
    cand = PromptCandidate(solo_model, name="terse", system_prompt="Answer in a few words.", max_tokens=8)
    local = wb.evaluate(ds, [cand], metrics=METRICS, log=False, progress=False)
    dist = wb.evaluate(
        ds,
        [cand],
        metrics=METRICS,
        executor="dask",
        workers=2,
        partition_rows=20,
        checkpoint=tmp_path / "dist.jsonl",
        progress=False,
    )
    assert dist.complete and len(dist.rows) == 60 and dist.run_id
    assert list(dist.rows["answer"]) == list(local.rows["answer"])  # temperature 0: the same answers
    assert dist.metrics["quality/f1/mean"] == pytest.approx(local.metrics["quality/f1/mean"])
    run = MlflowClient(tracking_store).get_run(dist.run_id)
    assert run.data.metrics["quality/f1/mean"] == pytest.approx(dist.metrics["quality/f1/mean"])
