"""Exit codes and lines that tell the truth: a notebook's gate verdict reaches `workbench run` (printed, exit 1
unless it passed), an unknown `-p` name is a usage error (2) unless --allow-unknown-params, an endpoint that is down
exits 4, and `--help` says what the code does. Real papermill kernels, real MLflow on sqlite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from workbench import errors
from workbench.cli import EPILOG, main
from workbench.procs import free_port

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
BIN = Path(sys.executable).parent / "workbench"
GATE_NB = NOTEBOOKS / "gate.ipynb"


def run(*args, env=None, timeout=300):
    return subprocess.run(
        [str(BIN), *map(str, args)], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )


def only_run(store: str):
    c = MlflowClient(store)
    runs = c.search_runs([e.experiment_id for e in c.search_experiments()])
    assert len(runs) == 1, [r.info.run_name for r in runs]
    return runs[0]


@pytest.mark.slow
@pytest.mark.parametrize("outcome,code", [("fail", 1), ("inconclusive", 1), ("pass", 0)])
def test_run_prints_the_notebooks_gate_lines_and_exits_1_unless_they_pass(tracking_store, outcome, code):
    out = run("run", GATE_NB, "-p", "outcome", outcome, "-q")
    assert out.returncode == code, out.stdout + out.stderr
    assert (
        f"gate {outcome.upper()}: quality/f1/mean >= baseline - 0.02  (value 0.41, threshold 0.5, on 12 "
        f"shared rows)" in out.stdout
    )
    r = only_run(tracking_store)
    assert r.info.status == "FINISHED" and r.data.tags["workbench.gate"] == outcome  # executed; the verdict is a tag
    assert r.data.metrics["gate/passed"] == float(outcome == "pass")
    if code:
        assert f"gate verdict: {outcome.upper()}" in out.stderr


@pytest.mark.slow
def test_05_evaluate_with_a_failing_gate_exits_1_and_prints_the_gate(local_server, tracking_store, tmp_path):
    """The issue's case: `workbench run notebooks/05_evaluate.ipynb` gated against a baseline it cannot meet."""
    from evalkit import write_dataset

    nb = Path(__file__).resolve().parents[2] / "notebooks" / "05_evaluate.ipynb"
    common = [
        "-p",
        "dataset",
        write_dataset(tmp_path / "qa.jsonl", 3),
        "-p",
        "max_rows",
        "3",
        "-p",
        "max_tokens",
        "8",
        "-q",
    ]
    base = run("run", nb, *common)
    assert base.returncode == 0, base.stdout + base.stderr
    assert "gate " not in base.stdout  # no baseline: no gate, no verdict
    baseline = only_run(tracking_store).info.run_id
    out = run("run", nb, *common, "-p", "baseline_run_id", baseline, "-p", "gates", "quality/f1/mean >= baseline + 2")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "gate FAIL: quality/f1/mean >= baseline + 2" in out.stdout and "gate verdict: FAIL" in out.stderr
    c = MlflowClient(tracking_store)
    gated = c.search_runs([c.get_run(baseline).info.experiment_id], "tags.`workbench.gate` = 'fail'")
    assert len(gated) == 1 and gated[0].info.status == "FINISHED"


@pytest.mark.slow
def test_sweep_exits_1_when_a_cells_gate_did_not_pass(tracking_store):
    out = run("sweep", GATE_NB, "--grid", "outcome=pass,fail", "--workers", "2")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "2/2 finished" in out.stdout and "gates passed in 1/2 cells" in out.stdout
    ok = run("sweep", GATE_NB, "--grid", "outcome=pass")
    assert ok.returncode == 0 and "gates passed in 1/1 cells" in ok.stdout, ok.stdout + ok.stderr


def test_gate_verdict_is_the_worst_outcome():
    from workbench.evaluate.verdict import verdict

    assert verdict([]) is None
    assert verdict([{"passed": True}, {"outcome": "inconclusive"}]) == "inconclusive"
    assert verdict([{"passed": True}, {"outcome": "inconclusive"}, {"passed": False}]) == "fail"
    assert verdict([{"passed": True, "outcome": "pass"}]) == "pass"
    assert verdict([{"passed": False, "outcome": "INCONCLUSIVE"}]) == "inconclusive"  # the outcome wins the flag


@pytest.mark.slow
def test_unknown_parameter_is_a_usage_error_unless_allowed(tracking_store, fixture_notebook):
    out = run("run", fixture_notebook, "-p", "alhpa", "0.3", "-q")
    assert out.returncode == 2, out.stdout + out.stderr
    assert "usage error" in out.stderr and "unknown parameter(s) ['alhpa']" in out.stderr and "'alpha'" in out.stderr
    assert (
        not Path(tracking_store.removeprefix("sqlite:///")).exists()
        or MlflowClient(tracking_store).search_runs(
            [e.experiment_id for e in MlflowClient(tracking_store).search_experiments()]
        )
        == []
    )  # refused before any run
    sweep = run("sweep", fixture_notebook, "--grid", "alhpa=1,2")
    assert sweep.returncode == 2 and "alhpa" in sweep.stderr
    allowed = run("run", fixture_notebook, "-p", "alhpa", "0.3", "-q", "--allow-unknown-params")
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert "unknown parameter(s) ['alhpa']" in allowed.stderr  # still said, as a warning


def test_an_endpoint_that_is_down_exits_4(project_dir, tracking_store, workbench_toml, tmp_path, capsys):
    from evalkit import write_dataset

    workbench_toml(f'[endpoints.down]\nbase_url = "http://127.0.0.1:{free_port()}/v1"\nmodels = ["m"]\n')
    ds = write_dataset(tmp_path / "qa.jsonl", 2)
    code = main(["eval", "--dataset", str(ds), "--model", "down:m", "--metrics", "quality/f1", "--cache", "off"])
    err = capsys.readouterr().err
    assert code == errors.EXIT_ERROR == 4, err
    assert "unreachable" in err and "connection" in err
    assert only_run(tracking_store).info.status == "FAILED"  # the run that started is not left RUNNING


def test_help_states_the_codes_the_errors_carry():
    assert errors.WorkbenchError.exit_code == errors.EXIT_ERROR == 4
    assert errors.EndpointUnreachable.exit_code == 4 and errors.UsageError.exit_code == errors.EXIT_USAGE == 2
    for phrase in (
        "1  failed",
        "a gate did not pass",
        "2  usage error",
        "unknown `-p NAME` unless --allow-unknown-params",
        "4  workbench error",
        "endpoint unreachable",
    ):
        assert phrase in EPILOG, phrase
