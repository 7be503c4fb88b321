"""Scenario 4 — bad notebooks: no `parameters` cell, a parameter of the wrong type, an unreadable notebook, a
kernel that dies (`os._exit`). Clear messages; a run that started ends FAILED with its partial artifacts.
(An unknown parameter is refused unless allowed:
tests/tracking/test_runs.py::test_unknown_parameter_is_refused_unless_allowed.)"""

import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

import workbench as wb
from workbench.errors import WorkbenchError

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
FIGURES = {}


def all_runs(uri):
    c = MlflowClient(uri)
    return c.search_runs([e.experiment_id for e in c.search_experiments()])


def test_wrong_type_names_the_parameter_and_starts_no_run(tracking_store, fixture_notebook):
    """Regression: the message used to be "parameter value 'abc' is not a valid int", naming no parameter."""
    with pytest.raises(WorkbenchError) as e:
        wb.run_notebook(fixture_notebook, parameters={"n": "abc"}, progress=False)
    msg = str(e.value)
    assert "'n'" in msg and "'abc'" in msg and "int" in msg and "params.ipynb" in msg, msg
    assert all_runs(tracking_store) == []  # refused before any run exists
    FIGURES["wrong type"] = msg


def test_unreadable_notebook_is_a_clear_error(tracking_store, tmp_path):
    bad = tmp_path / "broken.ipynb"
    bad.write_text('{"cells": [ {"cell_type": "code", "source": "x = 1"')  # cut in the middle
    with pytest.raises(WorkbenchError, match="cannot read the notebook") as e:
        wb.run_notebook(bad, progress=False)
    assert str(bad) in str(e.value) and all_runs(tracking_store) == []
    FIGURES["unreadable"] = str(e.value)[:120]


@pytest.mark.slow
def test_missing_parameters_cell_warns_that_overrides_may_be_overwritten(tracking_store):
    with pytest.warns(UserWarning, match="no cell tagged 'parameters'") as w:
        r = wb.run_notebook(
            NOTEBOOKS / "no_parameters.ipynb", parameters={"n": 5}, progress=False, allow_unknown_params=True
        )  # without it: a UsageError before any run
    msg = str(w[0].message)
    assert "tag" in msg and "'parameters'" in msg and "n" in msg
    assert r.ok  # papermill injects the override at the top ...
    assert MlflowClient(tracking_store).get_run(r.run_id).data.metrics["n"] == 1.0  # ... and the notebook overwrote it
    FIGURES["no parameters cell"] = msg


@pytest.mark.slow
def test_kernel_death_fails_the_run_with_partial_artifacts(tracking_store, tmp_path):
    t0 = time.monotonic()
    r = wb.run_notebook(NOTEBOOKS / "dies.ipynb", parameters={"steps": 3}, progress=False)
    assert r.status == "FAILED" and "kernel died" in r.error.lower(), r.error
    c = MlflowClient(tracking_store)
    run = c.get_run(r.run_id)
    assert run.info.status == "FAILED" and "kernel died" in run.data.tags["error"].lower()
    assert {f"step/{i}" for i in range(3)} <= set(run.data.metrics)  # logged before it died
    arts = sorted(a.path for a in c.list_artifacts(r.run_id, "notebook"))
    assert arts == ["notebook/dies.html", "notebook/dies.ipynb"]
    local = Path(c.download_artifacts(r.run_id, "notebook/dies.ipynb", str(tmp_path)))
    text = local.read_text()
    assert "logged 3" in text  # partial: the outputs up to the death
    FIGURES["kernel death"] = f"{r.error[:100]} (FAILED in {time.monotonic() - t0:.0f}s, 3/3 metrics, 2 artifacts)"
    print("\nRELIABILITY scenario4: " + "; ".join(f"{k}: {v}" for k, v in FIGURES.items()))
