"""Gates that passed on the wrong data (issue 33, "Gates pass on the wrong data"): `workbench compare` paired two
runs of different datasets by row id alone, two runs with 0 answered rows passed their gates, a threshold of
-1e999 always passed, and a gate of 3,000 terms raised RecursionError and exited 1 (the "gate failed" code).
Callable candidates and a real sqlite tracking store; no model needed."""

from __future__ import annotations

import json

import pytest

import workbench as wb
from workbench.cli import EXIT_ERROR, EXIT_FAILED, EXIT_USAGE, main
from workbench.errors import UsageError, WorkbenchError

GATES = ["quality/f1/mean >= baseline - 0.02", "run/error_rate <= baseline"]


def _ds(path, questions):
    path.write_text(
        "".join(
            json.dumps({"id": f"q{i}", "question": q, "reference": f"answer {i}"}) + "\n"
            for i, q in enumerate(questions)
        )
    )
    return wb.load_dataset(path)


def _run(ds, fn, name):
    res = wb.evaluate(ds, wb.candidates.CallableCandidate(fn, name=name), metrics=["quality/f1"], progress=False)
    return res.run_id


def _echo(row):
    return row["reference"]


def _boom(row):
    raise TimeoutError("upstream timed out")


def test_runs_of_different_datasets_are_refused(tracking_store, tmp_path, capsys):
    a = _run(_ds(tmp_path / "a.jsonl", [f"What is item {i}?" for i in range(12)]), _echo, "c")
    b = _run(_ds(tmp_path / "b.jsonl", [f"How heavy is tent {i}?" for i in range(12)]), _echo, "c")
    with pytest.raises(WorkbenchError, match="different datasets"):
        wb.compare(a, b, gates=GATES)
    assert main(["compare", a, b, *sum((["--gate", g] for g in GATES), [])]) == EXIT_ERROR
    assert "evaluated different datasets" in capsys.readouterr().err


def test_runs_with_no_answered_row_or_a_failed_status_pass_no_gate(tracking_store, tmp_path, capsys):
    from workbench import tracking

    ds = _ds(tmp_path / "a.jsonl", [f"What is item {i}?" for i in range(12)])
    a, b = _run(ds, _boom, "x"), _run(ds, _boom, "y")
    with pytest.warns(UserWarning, match="answered none"):
        c = wb.compare(a, b, gates=GATES)
    assert not c.passed and all(g["outcome"] == "fail" and "answered none" in g["reason"] for g in c.gates)
    assert main(["compare", a, b, *sum((["--gate", g] for g in GATES), [])]) == EXIT_FAILED
    # answered rows, but the run ended FAILED
    ok1, ok2 = _run(ds, _echo, "p"), _run(ds, _echo, "q")
    assert wb.compare(ok1, ok2, gates=GATES).passed
    tracking.client().set_terminated(ok2, status="FAILED")
    with pytest.warns(UserWarning, match="ended FAILED"):
        assert not wb.compare(ok1, ok2, gates=GATES).passed


def test_non_finite_and_huge_gates_are_usage_errors(tracking_store, tmp_path, capsys):
    ds = _ds(tmp_path / "a.jsonl", [f"What is item {i}?" for i in range(12)])
    a, b = _run(ds, _echo, "p"), _run(ds, _echo, "q")
    for gate in (
        "quality/f1/mean >= -1e999",
        "quality/f1/mean >= baseline - 1e999 * 0",
        "quality/f1/mean >= baseline" + " - 0.001" * 3000,
    ):
        with pytest.raises(UsageError):
            wb.compare(a, b, gates=[gate])
        assert main(["compare", a, b, "--gate", gate]) == EXIT_USAGE, gate[:60]
        err = capsys.readouterr().err
        assert "usage error" in err and "RecursionError" not in err and "Traceback" not in err
