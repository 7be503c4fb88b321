"""Scenario 5 — 8 tracked notebook runs in 8 processes and one evaluation, all writing to one tracking store at
once: no metric lost, no "database is locked" reaching the user. Once on a sqlite file, once on the
PostgreSQL-backed MLflow server (`workbench server start`)."""

import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

import workbench as wb
from evalkit import write_dataset
from workbench.candidates import PromptCandidate

BIN = Path(sys.executable).parent / "workbench"
N_RUNS, N_METRICS = 8, 50


def _eight_runs_and_an_evaluation(store: str, label: str, fixture_notebook: Path, tmp_path: Path) -> None:
    c = MlflowClient(store)
    exp = c.create_experiment(f"t-conc-eval-{label}")
    eval_run = c.create_run(exp, run_name="eval").info.run_id
    ds = write_dataset(tmp_path / "qa.jsonl", 24)
    t0 = time.monotonic()
    procs = [
        subprocess.Popen(
            [
                str(BIN),
                "run",
                str(fixture_notebook),
                "-q",
                "-p",
                "n",
                str(i),
                "-p",
                "metrics",
                str(N_METRICS),
                "--experiment",
                f"t-conc-eval-{label}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(N_RUNS)
    ]
    res = wb.evaluate(
        ds,
        [PromptCandidate("local", name="c", max_tokens=16)],
        metrics=["quality", "latency", "cost"],
        run_id=eval_run,
        progress=False,
    )  # logs while the 8 runs log
    outs = [p.communicate(timeout=600) for p in procs]
    wall = time.monotonic() - t0
    c.set_terminated(eval_run, "FINISHED")
    assert all(p.returncode == 0 for p in procs), "\n----\n".join(
        f"exit {p.returncode}: ...{e[-1500:]}" for p, (_, e) in zip(procs, outs, strict=True) if p.returncode
    )
    assert not any("locked" in (o + e).lower() for o, e in outs)
    runs = [r for r in c.search_runs([exp]) if r.info.run_id != eval_run]
    assert len(runs) == N_RUNS and all(r.info.status == "FINISHED" for r in runs)
    lost = sum(N_METRICS - sum(k.startswith("m/") for k in r.data.metrics) for r in runs)
    assert lost == 0 and all("score" in r.data.metrics for r in runs)
    logged = c.get_run(eval_run).data.metrics
    missing = sorted(set(res.metrics) - set(logged))
    assert not missing and len(res.rows) == 24
    assert "eval_rows.json" in {a.path for a in c.list_artifacts(eval_run)}
    print(
        f"\nRELIABILITY scenario5 ({label}): {N_RUNS} runs x {N_METRICS + 2} metrics + 1 evaluation "
        f"({len(res.metrics)} aggregates, 24 rows) on one store in {wall:.0f}s: 0 metrics lost, "
        f"0 'database is locked'"
    )


@pytest.mark.slow
def test_eight_runs_and_an_evaluation_on_one_sqlite_store(local_server, tracking_store, fixture_notebook, tmp_path):
    _eight_runs_and_an_evaluation(tracking_store, "sqlite", fixture_notebook, tmp_path)


@pytest.mark.slow
def test_eight_runs_and_an_evaluation_on_the_postgres_server(
    local_server, team_server, fixture_notebook, tmp_path, monkeypatch
):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", team_server)  # the 8 `workbench run` processes inherit it
    _eight_runs_and_an_evaluation(team_server, "postgresql", fixture_notebook, tmp_path)
