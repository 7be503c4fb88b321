"""The evidence in MLflow, read back through MLflow's own client only: a run per candidate (children of the
evaluation's run), a LoggedModel per configuration, a trace per evaluated row linked to its candidate's run with a
Feedback per metric equal to the row table's value and the reference as an Expectation; resumed rows are not traced
twice; interactive calls each get their own run."""

from __future__ import annotations

import math

import mlflow
import pytest
from mlflow import MlflowClient

import workbench as wb
from evalkit import write_dataset
from workbench.candidates import PromptCandidate

METRICS = ["quality/f1", "quality/exact_match", "latency"]


def _traces(exp_id: str, run_id: str | None = None):
    filt = f"metadata.`mlflow.sourceRun` = '{run_id}'" if run_id else None
    return mlflow.search_traces(locations=[exp_id], filter_string=filt, return_type="list", max_results=1000)


@pytest.fixture
def two_candidates():
    return [
        PromptCandidate("local", name="terse", system_prompt="Answer in three words.", max_tokens=12),
        PromptCandidate("local", name="plain", system_prompt=None, max_tokens=12),
    ]


def test_two_candidates_give_child_runs_models_and_assessed_traces(
    local_server, tracking_store, tmp_path, two_candidates
):
    ds = write_dataset(tmp_path / "qa.jsonl", 3)
    mlflow.set_tracking_uri(tracking_store)
    c = MlflowClient(tracking_store)
    exp = c.create_experiment("t-record")
    parent = c.create_run(exp, run_name="parent").info.run_id
    # harm/redteam_pass does not apply to a QA row: no assessment for it, never an error assessment
    metrics = [*METRICS, "harm/redteam_pass"]
    res = wb.evaluate(ds, two_candidates, metrics=metrics, run_id=parent, progress=False)
    assert res.rows["error"].isna().all(), res.rows["error_message"].tolist()
    assert res.rows["harm/redteam_pass"].isna().all()
    children = c.search_runs([exp], f"tags.mlflow.parentRunId = '{parent}'")
    assert sorted(r.info.run_name for r in children) == ["plain", "terse"]
    for child in children:
        name = child.info.run_name
        assert child.info.status == "FINISHED"
        rows = res.rows[res.rows.candidate == name]
        assert child.data.metrics.get("quality/f1/mean") == pytest.approx(rows["quality/f1"].mean()), child.data.metrics
        assert child.data.params["model"] == "local" and child.data.params["kind"] == "prompt"
        assert res.dataset.digest in {d.dataset.digest for d in child.inputs.dataset_inputs}
        traces = _traces(exp, child.info.run_id)
        assert len(traces) == len(rows) == 3
        for t in traces:
            row = rows[rows.trace_id == t.info.trace_id].iloc[0]
            fb = {a.name: a for a in t.info.assessments if a.feedback is not None}
            ex = {a.name: a for a in t.info.assessments if a.expectation is not None}
            assert fb["quality/f1"].value == pytest.approx(row["quality/f1"])
            assert "harm/redteam_pass" not in fb and not [a.name for a in t.info.assessments if a.error]
            assert fb["quality/exact_match"].source.source_type == "CODE"
            assert ex["expected_response"].value == row["reference"]
            assert t.info.trace_metadata["mlflow.modelId"]
            assert any(s.span_type == "CHAT_MODEL" for s in t.data.spans)  # the model call nests inside the row
            assert t.info.request_preview == row["input"]  # the trace list shows the question itself
    models = mlflow.search_logged_models(experiment_ids=[exp], output_format="list")
    # named for what the configuration is; the candidate's own name is a tag
    assert sorted(m.name for m in models) == ["plain-prompt-smollm2", "terse-prompt-smollm2"]
    terse = next(m for m in models if m.tags["workbench.candidate"] == "terse")
    assert terse.params["system_prompt"] == "Answer in three words."
    # the same call again: every row resumes from the checkpoint, nothing is traced twice
    before = len(_traces(exp))
    parent2 = c.create_run(exp, run_name="again").info.run_id
    again = wb.evaluate(ds, two_candidates, metrics=metrics, run_id=parent2, progress=False)
    assert again.computed_rows == 0 and len(_traces(exp)) == before
    # and the same configurations are the same LoggedModels
    assert len(mlflow.search_logged_models(experiment_ids=[exp], output_format="list")) == 2


def test_interactive_calls_each_get_their_own_finished_run(local_server, tracking_store, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "t-interactive")
    monkeypatch.delenv("WORKBENCH_RUN_ID", raising=False)
    ds = write_dataset(tmp_path / "qa.jsonl", 3)
    a = wb.evaluate(
        ds,
        PromptCandidate("local", name="base", system_prompt=None, max_tokens=8),
        metrics=["quality/f1"],
        progress=False,
    )
    b = wb.evaluate(
        ds,
        PromptCandidate("local", name="base", system_prompt="Be terse.", max_tokens=8),
        metrics=["quality/f1"],
        progress=False,
    )
    c2 = wb.evaluate(
        ds,
        PromptCandidate("local", name="base", system_prompt="Be terse.", max_tokens=8),
        metrics=["quality/f1"],
        progress=False,
    )  # the same again: no MlflowException either
    c = MlflowClient(tracking_store)
    runs = {r.info.run_id: r for r in c.search_runs([c.get_experiment_by_name("t-interactive").experiment_id])}
    assert {a.run_id, b.run_id, c2.run_id} <= set(runs) and len({a.run_id, b.run_id, c2.run_id}) == 3
    assert all(runs[x].info.status == "FINISHED" for x in (a.run_id, b.run_id, c2.run_id))
    assert not math.isnan(runs[b.run_id].data.metrics["quality/f1/mean"])
    assert runs[b.run_id].data.params["candidate.base.system_prompt"] == "Be terse."


def test_tracing_off_records_no_row_traces(local_server, tracking_store, tmp_path):
    ds = write_dataset(tmp_path / "qa.jsonl", 2)
    c = MlflowClient(tracking_store)
    exp = c.create_experiment("t-notrace")
    rid = c.create_run(exp).info.run_id
    wb.evaluate(
        ds,
        PromptCandidate("local", name="x", system_prompt=None, max_tokens=8),
        metrics=["quality/f1"],
        run_id=rid,
        trace=False,
        progress=False,
    )
    assert _traces(exp) == []


def test_dataset_registers_as_an_mlflow_evaluation_dataset(tracking_store, tmp_path, project_dir):
    from mlflow.genai.datasets import search_datasets

    from workbench.evaluate.record import register_dataset

    ds = write_dataset(tmp_path / "qa.jsonl", 4)
    exp = MlflowClient(tracking_store).create_experiment("t-datasets")
    register_dataset(ds, experiment_id=exp, name="contoso-mini")
    register_dataset(ds, experiment_id=exp, name="contoso-mini")  # again: merged, not duplicated
    (found,) = [d for d in search_datasets(experiment_ids=[exp]) if d.name == "contoso-mini"]
    df = found.to_df()
    assert len(df) == 4
    assert sorted(e["expected_response"] for e in df["expectations"]) == sorted(wb.load_dataset(ds).df["reference"])


def test_review_labels_become_human_feedback_on_the_row_traces(tracking_store, tmp_path, project_dir):
    pytest.importorskip("ipywidgets")
    from workbench.candidates import CallableCandidate
    from workbench.widgets.review import Review

    ds = write_dataset(tmp_path / "qa.jsonl", 3)
    c = MlflowClient(tracking_store)
    exp = c.create_experiment("t-review")
    rid = c.create_run(exp).info.run_id
    res = wb.evaluate(
        ds,
        [CallableCandidate(lambda r: r["reference"], name="good"), CallableCandidate(lambda r: "no idea", name="bad")],
        metrics=["quality/f1"],
        run_id=rid,
        progress=False,
    )
    review = Review(res, candidate_a="good", candidate_b="bad", labels_path=tmp_path / "labels.jsonl")
    review.label("bad")
    review.label("good")
    review.save_labels(log=True)
    labelled = res.rows[(res.rows.candidate == "bad")].set_index("id").loc[list(review.labels), "trace_id"]
    for trace_id, verdict in zip(labelled, [lab["label"] for lab in review.labels.values()], strict=True):
        human = [a for a in mlflow.get_trace(trace_id).info.assessments if a.source.source_type == "HUMAN"]
        assert [(a.name, a.value) for a in human] == [("review/label", verdict)]


def test_a_checkpoint_belongs_to_its_tracking_store(tmp_path):
    """The same evaluation recorded into another store is computed (from the cache) and traced there, not
    resumed from a checkpoint whose traces live in the first store."""
    from workbench.data import load_dataset
    from workbench.evaluate.metrics import get_metrics
    from workbench.evaluate.runner import eval_key

    ds = load_dataset(write_dataset(tmp_path / "qa.jsonl", 2))
    args = (ds, [PromptCandidate("local", name="x", system_prompt=None)], get_metrics(["quality/f1"]), 1, None)
    keys = {eval_key(*args, store=s) for s in ("sqlite:///a.db", "sqlite:///b.db", None)}
    assert len(keys) == 3 and eval_key(*args, store="sqlite:///a.db") == eval_key(*args, store="sqlite:///a.db")


def test_logged_models_are_named_for_their_configuration_and_old_names_are_reused(tracking_store):
    """Regression (issue 29): LoggedModels were named `candidate`, `base`, `local`. A configuration's model is
    named for what it is; one logged under the candidate's bare name before that is still reused."""
    from workbench import tags as T
    from workbench.evaluate import record

    c = MlflowClient(tracking_store)
    exp = c.create_experiment("t-model-names")
    base = PromptCandidate("local", name="base", system_prompt=None)
    mid = record.logged_model(base, exp)
    model = c.get_logged_model(mid)
    assert model.name == "base-prompt-smollm2" and record.candidate_name(model) == "base"
    old = PromptCandidate("local", name="old", system_prompt="Be brief.")
    legacy = c.create_logged_model(exp, name="old", tags={T.CONFIG_HASH: record.config_hash(old.config)})
    assert record.logged_model(old, exp) == legacy.model_id
