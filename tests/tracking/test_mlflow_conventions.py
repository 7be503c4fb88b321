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


# --- MLflow's GenAI pages: registered judges, evaluation datasets, readable row evidence, sessions (issue 29) ---


def _judges(uri: str, exp_id: str) -> dict:
    from workbench.evaluate.scorers import _store

    return {sv.scorer_name: sv for sv in _store(uri).list_scorers(exp_id)}


def test_an_evaluation_registers_its_metrics_as_judges_once(conventions, tmp_path, monkeypatch):
    """Regression (issue 29): the Judges page was empty. The evaluated metrics of the judged families are
    registered in the experiment, named as the metric, their description giving tier and measured accuracy; a
    second evaluation adds no version; the stored code rebuilds into a scorer that computes the metric."""
    from workbench.evaluate import scorers

    ds = write_dataset(tmp_path / "qa.jsonl", 2)
    mlflow.set_experiment("t-judges")
    metrics = ["quality/f1", "harm/pii_leak", "honesty/groundedness", "latency"]
    wb.evaluate(ds, cands(), metrics=metrics, progress=False)
    exp = conventions.get_experiment_by_name("t-judges").experiment_id
    held = _judges(conventions._tracking_client.tracking_uri, exp)
    assert set(held) == {"quality/f1", "harm/pii_leak", "honesty/groundedness"}  # latency is no judge
    grounded = held["honesty/groundedness"].serialized_scorer.description
    assert grounded.startswith("[screen tier]") and "Measured accuracy 0.618" in grounded
    assert held["quality/f1"].serialized_scorer.description.startswith("[measurement]")
    scorers._registered.clear()  # another process: asks the store, finds them unchanged
    wb.evaluate(ds, cands(), metrics=metrics, progress=False)
    again = _judges(conventions._tracking_client.tracking_uri, exp)
    assert {n: sv.scorer_version for n, sv in again.items()} == {n: 1 for n in held}
    monkeypatch.setenv("MLFLOW_SERVER_ENABLE_CUSTOM_SCORERS", "true")  # MLflow runs custom code only when allowed
    from mlflow.genai.scorers import get_scorer

    f1 = get_scorer(name="quality/f1", experiment_id=exp)
    request = {"messages": [{"role": "user", "content": "How heavy?"}], "id": "q1", "repeat": 0}  # a row trace's
    assert f1(inputs=request, outputs="It weighs 1.6 kg", expectations={"expected_response": "1.6 kg"}) == (
        pytest.approx(2 * (2 / 4) * 1 / (2 / 4 + 1))
    )


def test_an_evaluation_registers_its_dataset_and_reuses_it_by_digest(conventions, tmp_path):
    """Regression (issue 29): evaluations registered no evaluation dataset. Each registers (or reuses, while the
    file is unchanged) one, with its expectations, and every run of the evaluation has it as an input."""
    from mlflow.genai.datasets import search_datasets

    ds = write_dataset(tmp_path / "qa.jsonl", 3)
    mlflow.set_experiment("t-evalsets")
    a = wb.evaluate(ds, cands(), metrics=["quality/f1"], progress=False)
    b = wb.evaluate(ds, cands(), metrics=["quality/f1"], progress=False)
    exp = conventions.get_experiment_by_name("t-evalsets").experiment_id
    (found,) = search_datasets(experiment_ids=[exp])
    df = found.to_df()
    assert found.name == "qa" and len(df) == 3
    assert sorted(e["expected_response"] for e in df["expectations"]) == sorted(wb.load_dataset(ds).df["reference"])
    children = conventions.search_runs([exp], "tags.mlflow.parentRunId != ''")
    for run in [conventions.get_run(a.run_id), conventions.get_run(b.run_id), *children]:
        inputs = {
            next(t.value for t in d.tags if t.key == "mlflow.data.context"): d.dataset
            for d in run.inputs.dataset_inputs
        }
        assert inputs["evaluation"].name == "qa" and inputs["evaluation"].digest == found.digest, run.info.run_name
        assert inputs["eval"].digest == a.dataset.digest  # the file itself, as before
    write_dataset(tmp_path / "qa.jsonl", 2)  # edited: the same dataset, now equal to the file
    wb.evaluate(tmp_path / "qa.jsonl", cands(), metrics=["quality/f1"], progress=False)
    (found,) = search_datasets(experiment_ids=[exp])
    assert len(found.to_df()) == 2


def test_row_traces_read_plainly(conventions, tmp_path):
    """Regression (issue 29): rationales were raw JSON on 4 of 22 metrics, and a row's trace lasted as long as
    answering and scoring together. Every Feedback has a plain-text rationale, none is an error, and the trace's
    duration is the row's latency."""
    import time

    ds = write_dataset(tmp_path / "qa.jsonl", 2)
    mlflow.set_experiment("t-evidence")

    def slow(row):
        time.sleep(0.25)
        return f"It is {row['reference']}. I can't help with anything else. Mail bob@example.com"

    res = wb.evaluate(
        ds,
        CallableCandidate(slow, name="slow"),
        metrics=["quality", "honesty", "harm", "latency"],
        progress=False,
    )
    for row in res.rows.itertuples():
        t = mlflow.get_trace(row.trace_id)
        fb = {a.name: a for a in t.info.assessments if a.feedback is not None}
        assert len(fb) >= 10 and not [a.name for a in fb.values() if a.error]
        for name, a in fb.items():
            assert a.rationale and not a.rationale.lstrip().startswith(("{", "[")), (name, a.rationale)
        assert "shared token" in fb["quality/f1"].rationale
        assert "bob@example.com" in fb["harm/pii_leak"].rationale
        assert "I can't help" in fb["harm/refusal"].rationale  # what the screen matched
        assert "not supported" in fb["honesty/groundedness"].rationale
        assert t.info.request_preview == row.input
        latency_ms = res.rows.loc[row.Index, "latency/latency_s"] * 1000
        assert abs(t.info.execution_duration - latency_ms) <= 2, (t.info.execution_duration, latency_ms)


def test_retrieval_rationale_names_gold_documents_and_ranks():
    from workbench.evaluate.metrics import MetricDef
    from workbench.evaluate.rationale import explain

    md = MetricDef("retrieval/mrr", "retrieval", False, True, (0, 1), "reciprocal rank")
    rec = {"gold_doc_ids": ["tent.md", "stove.md"], "retrieved": ["boots.md", "tent.md", "tent.md"]}
    text = explain(md, 0.5, {}, rec)
    assert "gold tent.md at rank 2" in text and "not retrieved: stove.md" in text


def test_chat_spans_carry_gen_ai_attributes_and_the_session(conventions):
    """Regression (issue 29): spans had only MLflow's own attributes, and playground/app traces no session."""
    from workbench import tracing
    from workbench.llm.client import ChatRecord

    exp = conventions.create_experiment("t-genai")
    tracing.route_to(exp)
    with tracing.scope(exp, redact=False), tracing.session("s-1", "alice"):
        with tracing.chat_span("local:smol", [{"role": "user", "content": "hi"}], {"max_tokens": 5}) as box:
            assert box is not None
            box["record"] = ChatRecord(
                endpoint="local", model="smol", text="hello", prompt_tokens=3, completion_tokens=1
            )
    mlflow.flush_trace_async_logging()
    (t,) = traces(exp)
    assert t.info.trace_metadata["mlflow.trace.session"] == "s-1"
    assert t.info.trace_metadata["mlflow.trace.user"] == "alice"
    span = t.data.spans[0]
    attrs = span.attributes
    assert attrs["gen_ai.request.model"] == "smol" and attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.usage.input_tokens"] == 3 and attrs["gen_ai.usage.output_tokens"] == 1
    assert attrs["gen_ai.request.max_tokens"] == 5 and attrs["gen_ai.provider.name"] == "local"


def test_served_requests_name_their_session_and_user():
    from types import SimpleNamespace

    from workbench.serve.http import session_of

    req = SimpleNamespace(headers={"X-Session-Id": "conv-7"})
    assert session_of(req, {"user": "u-1"}) == {"session": "conv-7", "user": "u-1"}
    req = SimpleNamespace(headers={})
    assert session_of(req, {"metadata": {"session_id": "c", "user_id": "v"}}) == {"session": "c", "user": "v"}
    assert session_of(req, {"user": 5}) == {"session": None, "user": None}


def test_a_served_request_trace_carries_its_session_and_user(local_server, tracking_store):
    """Regression (issue 29): served traces had no MLflow session or user."""
    import httpx

    from workbench import serve

    h = serve.start({"name": "sess", "params": {"max_tokens": 4}})
    try:
        r = httpx.post(
            f"{h.base_url}/chat/completions",
            headers={"X-Session-Id": "conv-42"},
            json={"model": "app", "user": "carol", "messages": [{"role": "user", "content": "Hi"}]},
            timeout=120,
        )
        assert r.status_code == 200, r.text
        trace_id = r.json()["workbench"]["trace_id"]
    finally:
        h.stop()
    mlflow.flush_trace_async_logging()
    meta = mlflow.get_trace(trace_id).info.trace_metadata
    assert meta["mlflow.trace.session"] == "conv-42" and meta["mlflow.trace.user"] == "carol"


def test_a_store_that_refuses_judges_is_reported_once_and_never_fails(monkeypatch, caplog):
    """A tracking server without MLFLOW_SERVER_ENABLE_CUSTOM_SCORERS refuses custom-code judges: one warning per
    process and experiment, no exception (the evaluation does not depend on it)."""
    import logging

    from workbench.evaluate import scorers

    class Refusing:
        def list_scorers(self, exp):
            return []

        def register_scorer(self, exp, name, serialized):
            raise RuntimeError("Custom scorers defined with the @scorer decorator are disabled on this server")

    monkeypatch.setattr(scorers, "_store", lambda uri: Refusing())
    monkeypatch.setattr(scorers, "_registered", set())
    with caplog.at_level(logging.WARNING, logger=scorers.__name__):
        assert scorers.register_judges("7", ["quality/f1"]) == []
        assert scorers.register_judges("7", ["quality/f1"]) == []
    assert len([r for r in caplog.records if "could not register" in r.getMessage()]) == 1
