"""Our metrics as MLflow GenAI scorers: objects for ``mlflow.genai.evaluate`` (:func:`as_mlflow_scorers`) and
**registered judges** in an experiment (:func:`register_judges`), which MLflow's Judges page lists.

``inputs`` may be a string or a dict with ``question`` or chat ``messages`` (and ``contexts``) — a row trace's
request is ``{"messages": [...], "id": ..., "repeat": ...}``; ``outputs`` a string or a dict with
``text``/``answer`` (and ``contexts``); ``expectations`` a dict with ``reference`` / ``expected_response`` (and
``expected_behavior``, ``canary``). Each scorer returns the metric's row value (None when it does not apply).

A registered judge is MLflow's "custom code" scorer: its stored code is three lines that call :func:`score` with
the metric's name, and its description gives the metric's tier and its measured accuracy (:data:`ACCURACY`).
MLflow runs such code only where an operator allows it (``MLFLOW_SERVER_ENABLE_CUSTOM_SCORERS=true`` on the
server, and its job runner for scheduled scoring); listing needs neither.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import textwrap

from ..candidates import Answer
from .metrics import METRICS, get_metrics, load_all

log = logging.getLogger(__name__)

# Accuracy of each detector tier on independent data: the blind set blind27 (332 items written from the label
# rules alone before the round-4 detectors were measured, never tuned on), measured once on 2026-12-03 with
# benchmarks/bench_metric_accuracy.py (benchmarks/results/metric_accuracy_blind27.json; docs/metrics.md,
# "Accuracy per tier"). Positive class = the problem. metric: (n, accuracy, CI low, CI high, recall, false alarms)
ACCURACY: dict[str, tuple[int, float, float, float, float, float]] = {
    "honesty/groundedness": (144, 0.618, 0.533, 0.698, 0.792, 0.556),
    "honesty/judge_groundedness": (60, 0.317, 0.203, 0.450, 0.071, 0.469),
    "harm/refusal": (94, 0.798, 0.702, 0.874, 0.596, 0.000),
    "harm/judge_refusal": (60, 0.467, 0.337, 0.600, 1.000, 1.000),
    "harm/toxicity": (94, 0.766, 0.667, 0.847, 0.617, 0.085),
    "harm/classifier_toxicity": (94, 0.777, 0.679, 0.856, 0.660, 0.106),
    "harm/judge_toxicity": (60, 0.483, 0.352, 0.616, 0.933, 0.967),
}
ACCURACY_SOURCE = "independent blind set blind27, measured once on 2026-12-03; docs/metrics.md"
JUDGED_FAMILIES = ("quality", "honesty", "harm")  # what a judge of a response can score (cost, latency: the calls)
SIGNATURE = "(inputs=None, outputs=None, expectations=None)"
_registered: set[tuple] = set()  # (store, experiment, metrics, judge) this process has registered judges for


def _question(inputs) -> str:
    """The question of a request: ``question``, else the last user message of ``messages``."""
    if inputs.get("question"):
        return str(inputs["question"])
    for m in reversed(inputs.get("messages") or []):
        if isinstance(m, dict) and m.get("role") == "user":
            return str(m.get("content") or "")
    return ""


def _row(inputs, expectations) -> dict:
    row = dict(inputs) if isinstance(inputs, dict) else {"question": str(inputs or "")}
    row["question"] = _question(row)
    exp = dict(expectations or {})
    if "expected_response" in exp and "reference" not in exp:
        exp["reference"] = exp.pop("expected_response")
    row.update(exp)
    return row


def _answer(outputs, row) -> Answer:
    if isinstance(outputs, dict):
        return Answer(
            text=str(outputs.get("text") or outputs.get("answer") or ""),
            contexts=outputs.get("contexts") or row.get("contexts"),
        )
    return Answer(text=str(outputs or ""), contexts=row.get("contexts"))


def _value(md, row: dict, answer: Answer, env) -> float | None:
    res = md.fn(row, answer, env)
    if inspect.isawaitable(res):
        res = asyncio.run(res)  # type: ignore[arg-type]  # an async metric returns a coroutine
    value = res[0] if isinstance(res, tuple) else res
    return None if value is None else float(value)


def score(metric: str, inputs=None, outputs=None, expectations=None, judge: str | None = None) -> float | None:
    """Metric ``metric``'s value for one request/response (what a registered judge's code calls); ``judge``
    (``endpoint:model``) for the metrics that need an LLM."""
    from .engine import MetricEnv

    load_all()
    md = METRICS[metric]
    env = MetricEnv()
    if judge:
        from ..llm.client import LLMClient
        from .judge import Judge

        env = MetricEnv(judge=Judge(judge, LLMClient()))
    row = _row(inputs, expectations)
    return _value(md, row, _answer(outputs, row), env)


def as_mlflow_scorers(metrics: list[str] | None = None) -> list:
    """MLflow ``Scorer`` objects (named ``family_metric``) for offline workbench metrics."""
    from mlflow.genai.scorers import scorer

    from .engine import MetricEnv

    env = MetricEnv()
    out = []
    for m in get_metrics(metrics):

        def make(md):
            def fn(inputs=None, outputs=None, expectations=None):
                row = _row(inputs, expectations)
                return _value(md, row, _answer(outputs, row), env)

            return scorer(fn, name=md.name.replace("/", "_"), description=judge_description(md))

        out.append(make(m))
    return out


def judge_description(md) -> str:
    """What a registered judge says about itself: its tier (or that it is a measurement, not a detector), what it
    scores, and its measured accuracy on independent data (or that none was measured)."""
    head = md.scorer_description if md.tier else f"[measurement] {md.description}"
    fig = ACCURACY.get(md.name)
    if fig:
        n, acc, lo, hi, rec, fa = fig
        judge = " with the embedded SmolLM2-135M as judge" if md.tier == "judge" else ""
        tail = (
            f"Measured accuracy {acc:.3f} [95% CI {lo:.3f}, {hi:.3f}], recall of the problem class {rec:.3f}, "
            f"false alarms {fa:.3f}, on {n} items{judge} ({ACCURACY_SOURCE})."
        )
    elif md.tier:
        tail = "Accuracy not yet measured on independent data (docs/metrics.md)."
    else:
        tail = "Computed from the row, not judged: no detection accuracy to measure."
    return f"{head}. {tail}" if not head.endswith(".") else f"{head} {tail}"


def serialized_judge(md, judge: str | None = None) -> dict:
    """The registered form of metric ``md``: MLflow's serialized custom-code scorer, named as the metric (so its
    Feedback lands in the same column as the evaluation's), whose code calls :func:`score`."""
    from dataclasses import asdict

    from mlflow.genai.scorers.base import SerializedScorer

    desc = judge_description(md)
    comment = "\n".join("# " + line for line in textwrap.wrap(desc, 100))
    extra = f", judge={judge!r}" if md.needs_llm and judge else ""
    body = (
        f"{comment}\nfrom workbench.evaluate.scorers import score\n\n"
        f"return score({md.name!r}, inputs, outputs, expectations{extra})"
    )
    fn_name = "workbench_" + "".join(ch if ch.isalnum() else "_" for ch in md.name)
    return asdict(
        SerializedScorer(
            name=md.name, description=desc, call_source=body, call_signature=SIGNATURE, original_func_name=fn_name
        )
    )


def _store(uri: str):
    from mlflow import MlflowClient

    return MlflowClient(uri)._tracking_client.store  # the store's scorer API (MlflowClient has none)


def register_judges(experiment_id: str, metrics: list | None = None, judge: str | None = None) -> list[str]:
    """Register ``metrics`` (MetricDefs or names; default: every offline metric of :data:`JUDGED_FAMILIES`;
    others are skipped: cost and latency come from the calls, retrieval from the retriever) as judges of the experiment,
    so MLflow's Judges page lists them. Idempotent: a judge whose stored definition is the same is left alone,
    a changed one gets a new version; once per experiment and process the store is not asked again. Returns
    the names registered now. A store that refuses (a server without ``MLFLOW_SERVER_ENABLE_CUSTOM_SCORERS``)
    is logged once, never raised: the evaluation does not depend on it."""
    from dataclasses import asdict

    from .. import tracking

    load_all()
    uri = tracking.tracking_uri()
    mdefs = [METRICS[m] if isinstance(m, str) else m for m in metrics] if metrics else get_metrics()
    mdefs = [m for m in mdefs if m.family in JUDGED_FAMILIES]
    if not mdefs:
        return []
    key = (uri, str(experiment_id), tuple(m.name for m in mdefs), judge)
    if key in _registered:
        return []
    done: list[str] = []
    try:
        store = _store(uri)
        held = {}
        for sv in store.list_scorers(str(experiment_id)):
            with contextlib.suppress(Exception):  # a stored form this MLflow cannot read: registered again
                held[sv.scorer_name] = asdict(sv.serialized_scorer)
        for md in mdefs:
            want = serialized_judge(md, judge)
            have = held.get(md.name) or {}
            if all(have.get(k) == want[k] for k in ("call_source", "description", "call_signature")):
                continue
            store.register_scorer(str(experiment_id), md.name, json.dumps(want))
            done.append(md.name)
    except Exception as e:  # noqa: BLE001 - registration is evidence, never a reason to fail an evaluation
        log.warning("could not register the workbench metrics as MLflow judges in experiment %s: %s", experiment_id, e)
    _registered.add(key)  # tried: not again in this process (a refusing server is reported once)
    return done
