"""The lifecycle loop: served traces that fired an alert or got a bad label → an MLflow evaluation dataset →
an evaluation of a candidate on it → a comparison against the served model → a promoted alias → the app serving
the promoted configuration. Each step is a tracked run with lineage tags."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
import pandas as pd
import pytest

import workbench as wb
from workbench import serve, tags as T
from workbench.errors import ConfigError, DatasetError

ROOT = Path(__file__).resolve().parents[2]


def _served_trace(exp_id: str, question: str, answer: str, latency_s: float, error: str | None = None) -> str:
    """One trace shaped like a served request's (root CHAIN span with the messages in, the answer out, the
    app's tags), written with MLflow tracing into ``exp_id`` from a thread of its own (as the app's is)."""
    import mlflow
    from mlflow.entities import SpanType

    from workbench import tracing

    out = []

    def write():
        tracing.route_to(exp_id)
        with tracing.scope(exp_id, True), mlflow.start_span(name="app t", span_type=SpanType.CHAIN) as root:
            root.set_inputs({"messages": [{"role": "user", "content": question}]})
            root.set_outputs(answer)
            tags = {T.TRACE_APP: "t", T.TRACE_LATENCY: str(latency_s)}
            if error:
                tags[T.TRACE_ERROR] = error
            mlflow.update_current_trace(tags=tags)
            out.append(root.trace_id)

    t = threading.Thread(target=write)
    t.start()
    t.join(60)
    mlflow.flush_trace_async_logging()
    return out[0]


def _prompt_model(name: str, template: str) -> str:
    from workbench.evaluate.record import logged_model

    cand = wb.PromptCandidate("local", template=template, max_tokens=8, name=name)
    return logged_model(cand, wb.tracking.experiment_id("evals"))


def test_flagged_served_traces_become_mlflow_dataset_rows(tracking_store):
    """A trace in a fired latency alert's window that is itself slow, and a trace a reviewer labelled bad,
    become records (question, served answer, source trace, label); a fast unlabelled one does not."""
    from workbench.evaluate.record import log_human_label
    from workbench.monitor import harvest

    exp = wb.tracking.experiment_id("app-t")
    slow = _served_trace(exp, "How much does the TrailLite 2 weigh?", "About 9 kg.", 7.5)
    fast = _served_trace(exp, "What is the Summit 45 capacity?", "45 litres.", 0.2)
    bad = _served_trace(exp, "Which gas does the Blaze burn?", "Diesel.", 0.3)
    log_human_label(bad, "review/label", "bad", user="qa")
    log_human_label(fast, "review/label", "good", user="qa")
    now = pd.Timestamp.now(tz="UTC") + pd.Timedelta(seconds=1)
    history = pd.DataFrame(
        [
            {
                "event": "fired",
                "rule": "latency",
                "metric": "latency_p95",
                "op": ">",
                "limit": 5.0,
                "window_s": 600.0,
                "fired_at": now.isoformat(),
            }
        ]
    )

    class _Mon:  # the part of Monitor that harvest reads
        def history(self):
            return history

    h = harvest("app-t", "served-failures", monitor=_Mon())
    assert sorted(h.rows["source_trace_id"]) == sorted([slow, bad]) and h.traces_read == 3
    run = wb.tracking.client().get_run(h.run_id)
    assert run.info.status == "FINISHED" and run.data.tags[T.KIND] == "harvest"
    assert run.data.tags[T.LINEAGE_DATASET] == "mlflow:served-failures"
    assert set(run.data.tags[T.LINEAGE_TRACES].split(",")) == {slow, bad}

    ds = wb.load_dataset("mlflow:served-failures")
    rows = {r["source_trace_id"]: r for r in ds.df.to_dict(orient="records")}
    assert rows[bad]["question"] == "Which gas does the Blaze burn?" and rows[bad]["served_answer"] == "Diesel."
    assert rows[bad]["label"] == "bad" and "review/label" in rows[bad]["reason"]
    assert "alert latency" in rows[slow]["reason"] and rows[slow]["label"] == ""
    import mlflow

    records = mlflow.genai.datasets.get_dataset(name="served-failures").to_df()
    assert {s.source_data["trace_id"] for s in records["source"]} == {slow, bad}


def test_unknown_mlflow_dataset_is_a_clear_error(tracking_store):
    with pytest.raises(DatasetError, match="no MLflow evaluation dataset named 'nope'"):
        wb.load_dataset("mlflow:nope")


def test_promote_moves_the_alias_and_app_serve_alias_follows(tracking_store):
    """``promote`` registers the LoggedModel as a version and moves the alias; the config the app serves under
    ``--alias`` is that model's, named after the registered model; each promotion is a run with lineage."""
    first = _prompt_model("brief", "Answer briefly: {question}")
    second = _prompt_model("terse", "One word: {question}")
    with pytest.raises(ConfigError, match="no model version contoso@production"):
        serve.config_from_alias("contoso")
    p1 = serve.promote(first, "contoso")
    p2 = serve.promote(second, "contoso", evidence_run="run-123")
    assert (p1.previous_model_id, p2.previous_model_id, p2.version) == (None, first, "2")
    cfg = serve.config_from_alias("contoso", "production")
    assert (cfg.model_id, cfg.name, cfg.template) == (second, "contoso", "One word: {question}")
    run = wb.tracking.client().get_run(p2.run_id)
    assert run.data.tags[T.KIND] == "promote" and run.data.tags[T.LINEAGE_MODEL_ID] == second
    assert run.data.tags[T.LINEAGE_SERVED_MODEL_ID] == first and run.data.tags[T.LINEAGE_EVIDENCE] == "run-123"
    import mlflow

    assert mlflow.get_logged_model(second).tags[T.PROMOTED] == "contoso@production v2"


def test_promote_and_alias_usage_errors(tracking_store, capsys):
    from workbench.cli import main

    assert main(["app", "serve", "--alias", "production"]) == 2
    assert "--alias and --name go together" in capsys.readouterr().err
    assert main(["promote", "m-doesnotexist", "--name", "x"]) == 4
    assert "no logged model" in capsys.readouterr().err
    assert main(["eval", "--dataset", "mlflow:x"]) == 2


@pytest.mark.slow
def test_the_loop_end_to_end(local_server, tracking_store, tmp_path):
    """Serve the promoted model, label a served answer bad, harvest it into mlflow:NAME, evaluate a challenger
    on it with `workbench eval --model-id` and against the served model, promote it, and serve the new alias."""
    import openai

    from workbench.evaluate.cli import run_eval_cli
    from workbench.evaluate.record import log_human_label
    from workbench.monitor import harvest

    served_id = _prompt_model("plain", "{question}")
    serve.promote(served_id, "shop")
    q = json.loads((ROOT / "datasets/contoso/qa.jsonl").read_text().splitlines()[0])["question"]
    cfg = serve.config_from_alias("shop")
    cfg.params["max_tokens"] = 16
    with serve.start(cfg) as h:
        out = openai.OpenAI(base_url=h.base_url, api_key="x", max_retries=0).chat.completions.create(
            model="shop", messages=[{"role": "user", "content": q}]
        )
    import mlflow

    mlflow.flush_trace_async_logging()
    trace_id = out.model_extra["workbench"]["trace_id"]
    log_human_label(trace_id, "review/label", "bad", user="qa")
    h = harvest("app-shop", "shop-failures")
    assert list(h.rows["source_trace_id"]) == [trace_id]
    assert h.rows["served_answer"].iloc[0] == out.choices[0].message.content

    challenger = wb.PromptCandidate(
        "local", template="Answer in one short sentence: {question}", max_tokens=16, name="short"
    )
    lines = []
    assert (
        run_eval_cli(
            "mlflow:shop-failures", model_id=served_id, metrics=["harm/pii_leak"], echo=lines.append, cache="off"
        )
        == 0
    )
    eval_run = next(x.split()[1].rstrip(":") for x in lines if x.strip().startswith("run "))
    tags = wb.tracking.client().get_run(eval_run).data.tags
    assert (tags[T.LINEAGE_DATASET], tags[T.LINEAGE_MODEL_ID]) == ("mlflow:shop-failures", served_id)
    ch = serve.challenge(
        "mlflow:shop-failures", challenger, "shop", metrics=["harm/pii_leak"], cache="off", progress=False
    )
    run = wb.tracking.client().get_run(ch.run_id)
    assert run.data.tags[T.LINEAGE_DATASET] == "mlflow:shop-failures"
    assert run.data.tags[T.LINEAGE_SERVED_MODEL_ID] == served_id and ch.served_model_id == served_id
    p = serve.promote(ch.model_id, "shop", evidence_run=ch.run_id)
    assert p.previous_model_id == served_id
    cfg = serve.config_from_alias("shop")
    assert cfg.model_id == ch.model_id and cfg.template == challenger.template
    with serve.start(cfg) as h:
        health = httpx.get(h.base_url.removesuffix("/v1") + "/health", timeout=30).json()
    assert health["model_id"] == ch.model_id


def test_loop_steps_nest_under_the_current_run(tracking_store):
    """Inside a run (a notebook's, or the user's mlflow.start_run), a step's run is its child, in its experiment,
    so the MLflow UI shows the loop in one run tree."""
    import mlflow

    model = _prompt_model("brief", "Answer briefly: {question}")
    mlflow.set_tracking_uri(tracking_store)
    with mlflow.start_run(experiment_id=wb.tracking.experiment_id("my-notebooks")) as outer:
        p = serve.promote(model, "contoso")
    run = wb.tracking.client().get_run(p.run_id)
    assert run.data.tags[T.PARENT_RUN_ID] == outer.info.run_id
    assert run.info.experiment_id == outer.info.experiment_id
