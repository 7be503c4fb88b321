"""Close the loop: served answers that went wrong become rows of an MLflow GenAI evaluation dataset.

A served trace is *flagged* when

* it lies in the window of an alert the monitor fired (its history: ``fired`` or ``suppressed`` events) and its own
  value of the rule's metric breaches the alert's limit (an error for ``error_rate``, its latency for
  ``latency_p95``, its groundedness Feedback for ``groundedness``...: :data:`TRACE_VALUES`), or
* a reviewer labelled it bad (a HUMAN Feedback named ``review/label`` whose value is in :data:`BAD_LABELS`).

Each flagged trace becomes one record of the dataset (``mlflow.genai.datasets``): inputs ``{question}``, outputs
``{served_answer}``, the source trace (``source_type: TRACE``) and tags ``source_trace_id``, ``label``,
``reason`` and ``app``. ``wb.load_dataset("mlflow:NAME")`` and ``workbench eval --dataset mlflow:NAME`` read it
back, so the next candidate is evaluated on what production got wrong.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .. import tags as T
from .collect import collect_traces
from .rules import OPS

LABEL = "review/label"  # the review widget's HUMAN Feedback name
BAD_LABELS = frozenset({"bad", "no", "false", "incorrect", "wrong", "0"})  # str(value).lower()


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _harm(v: dict) -> float | None:
    tox, leak = _num(v.get("harm/toxicity")), _num(v.get("harm/pii_leak"))
    return None if tox is None and leak is None else float((tox or 0) >= 0.5 or (leak or 0) >= 1)


# a windowed monitor metric → one served trace's own value of it (its collected columns and its Feedback)
TRACE_VALUES: dict[str, Callable[[dict], float | None]] = {
    "error_rate": lambda v: float(bool(v.get("error"))),
    "latency_p50": lambda v: _num(v.get("latency_s")),
    "latency_p95": lambda v: _num(v.get("latency_s")),
    "ttft_p95": lambda v: _num(v.get("ttft_s")),
    "groundedness": lambda v: _num(v.get("honesty/groundedness")),
    "harm_rate": _harm,
}


@dataclass
class Harvest:
    """What :func:`harvest` turned into dataset rows."""

    dataset: str
    dataset_id: str | None
    rows: pd.DataFrame  # question, served_answer, source_trace_id, label, reason
    traces_read: int
    run_id: str | None = None

    def summary(self) -> pd.DataFrame:
        """Rows per reason, and the totals."""
        by = (
            self.rows.groupby("reason").size().rename("rows").reset_index()
            if len(self.rows)
            else pd.DataFrame(columns=["reason", "rows"])
        )
        return pd.concat(
            [by, pd.DataFrame([{"reason": f"total (of {self.traces_read} traces read)", "rows": len(self.rows)}])],
            ignore_index=True,
        )


def _trace_view(trace_id: str) -> dict:
    """Question, served answer and Feedback values (latest per name) of one served trace."""
    import mlflow

    t = mlflow.get_trace(trace_id)
    root = next((s for s in t.data.spans if s.parent_id is None), None) if t is not None else None
    msgs = (root.inputs or {}).get("messages", []) if root is not None and isinstance(root.inputs, dict) else []
    question = msgs[-1].get("content", "") if msgs and isinstance(msgs[-1], dict) else ""
    if isinstance(question, list):
        question = "".join(p.get("text", "") for p in question if isinstance(p, dict))
    out: dict[str, Any] = {
        "question": question,
        "served_answer": root.outputs if root is not None and isinstance(root.outputs, str) else "",
        "feedback": {},
        "human": {},
    }
    for a in (t.info.assessments or []) if t is not None else []:
        value = getattr(getattr(a, "feedback", None), "value", None)
        if value is None:
            continue
        out["feedback"][a.name] = value
        if str(getattr(a.source, "source_type", "")).upper().endswith("HUMAN"):
            out["human"][a.name] = value
    return out


def flagged_traces(
    experiment: str,
    history: pd.DataFrame | None = None,
    since: float | None = None,
    label: str = LABEL,
    bad_labels: frozenset = BAD_LABELS,
    max_traces: int = 500,
) -> pd.DataFrame:
    """The served traces of ``experiment`` (the app's, ``app-NAME``) that a fired alert in ``history`` (a
    :meth:`Monitor.history`) or a bad ``label`` flags: one row per trace (question, served_answer,
    source_trace_id, label, reason), newest ``max_traces`` traces read."""
    df = collect_traces(experiment, since=since).tail(max_traces)
    alerts = []
    if history is not None and len(history) and "event" in history:
        for a in history[history["event"].isin(["fired", "suppressed"])].to_dict(orient="records"):
            if a.get("metric") in TRACE_VALUES and _num(a.get("limit")) is not None:
                end = pd.Timestamp(a["fired_at"])
                alerts.append((end - pd.Timedelta(seconds=float(a["window_s"])), end, a))
    rows = []
    for tr in df.to_dict(orient="records"):
        view = _trace_view(tr["trace_id"])
        values = {**tr, **view["feedback"]}
        human = view["human"].get(label)
        reasons = [f"{label} = {human}"] if human is not None and str(human).lower() in bad_labels else []
        for start, end, a in alerts:
            v = TRACE_VALUES[a["metric"]](values)
            if start <= tr["time"] <= end and v is not None and OPS[a["op"]](v, float(a["limit"])):
                reasons.append(f"alert {a['rule']}: {a['metric']} {v:.4g} {a['op']} {float(a['limit']):.4g}")
        if reasons and view["question"]:
            rows.append(
                {
                    "question": view["question"],
                    "served_answer": view["served_answer"],
                    "source_trace_id": tr["trace_id"],
                    "label": "" if human is None else str(human),
                    "reason": "; ".join(dict.fromkeys(reasons)),
                }
            )
    out = pd.DataFrame(rows, columns=["question", "served_answer", "source_trace_id", "label", "reason"])
    out.attrs["traces_read"] = len(df)
    return out


def to_dataset(rows: pd.DataFrame, name: str, experiment_ids: list[str], app: str = ""):
    """Merge ``rows`` (from :func:`flagged_traces`) into the MLflow GenAI evaluation dataset ``name`` (created
    in ``experiment_ids`` when new); records with the same question are merged by MLflow. Returns the dataset."""
    from mlflow.genai.datasets import create_dataset, search_datasets

    found = [d for d in search_datasets(experiment_ids=experiment_ids, max_results=1000) if d.name == name]
    ds = (
        found[0]
        if found
        else create_dataset(name=name, experiment_id=experiment_ids, tags={T.KIND: "harvest", T.TRACE_APP: app})
    )
    if len(rows):
        ds.merge_records(
            [
                {
                    "inputs": {"question": r["question"]},
                    "outputs": {"served_answer": r["served_answer"]},
                    "source": {"source_type": "TRACE", "source_data": {"trace_id": r["source_trace_id"]}},
                    "tags": {
                        "id": r["source_trace_id"],
                        "source_trace_id": r["source_trace_id"],
                        "label": r["label"],
                        "reason": r["reason"][:500],
                        "app": app,
                    },
                }
                for r in rows.to_dict(orient="records")
            ]
        )
    return ds


def harvest(
    experiment: str,
    dataset: str,
    monitor=None,
    since: float | None = None,
    label: str = LABEL,
    bad_labels: frozenset = BAD_LABELS,
    max_traces: int = 500,
    run_experiment: str | None = None,
) -> Harvest:
    """Flagged served traces of ``experiment`` → records of the MLflow evaluation dataset ``dataset``, in a
    tracked ``harvest`` run (a child of the current run, if any) tagged with its lineage: the app experiment,
    the dataset and the traces it took. ``monitor``: the :class:`Monitor` whose fired alerts count."""
    from .. import tracking
    from ..lifecycle import nest_under_ambient, tracked_run

    run_experiment, parent = nest_under_ambient(run_experiment)
    with tracked_run(
        "harvest",
        f"harvest-{dataset}",
        run_experiment,
        parent_run_id=parent,
        params={
            "harvest.experiment": experiment,
            "harvest.dataset": dataset,
            "harvest.label": label,
            "harvest.max_traces": max_traces,
        },
    ) as run:
        history = monitor.history() if monitor is not None else None
        rows = flagged_traces(experiment, history, since, label, bad_labels, max_traces)
        exp = tracking.client().get_experiment_by_name(experiment)
        ids = list(
            dict.fromkeys(filter(None, [tracking.experiment_id(run_experiment), exp.experiment_id if exp else None]))
        )
        ds = to_dataset(rows, dataset, ids, app=experiment)
        tracking.set_tags(
            {
                T.LINEAGE_DATASET: f"mlflow:{dataset}",
                T.LINEAGE_DATASET_ID: ds.dataset_id,
                T.LINEAGE_APP: experiment,
                T.LINEAGE_TRACES: ",".join(rows["source_trace_id"])[:5000],
            },
            run.run_id,
        )
        tracking.log_metrics(
            {"harvest/rows": float(len(rows)), "harvest/traces_read": float(rows.attrs["traces_read"])},
            run_id=run.run_id,
        )
        if len(rows):
            tracking.log_table(rows, "harvested_rows.json", run_id=run.run_id)
    return Harvest(dataset, ds.dataset_id, rows, traces_read=rows.attrs["traces_read"], run_id=run.run_id)
