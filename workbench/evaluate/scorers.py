"""Our offline metrics as MLflow GenAI scorers, for users of ``mlflow.genai.evaluate``.

``inputs`` may be a string or a dict with ``question`` (and ``contexts``); ``outputs`` a string or a dict
with ``text``/``answer`` (and ``contexts``); ``expectations`` a dict with ``reference`` / ``expected_response``
(and ``expected_behavior``, ``canary``). Each scorer returns the metric's row value (None when it does not apply).
"""

from __future__ import annotations

import asyncio
import inspect

from ..candidates import Answer
from .metrics import get_metrics


def _row(inputs, expectations) -> dict:
    row = dict(inputs) if isinstance(inputs, dict) else {"question": str(inputs or "")}
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
                res = md.fn(row, _answer(outputs, row), env)
                if inspect.isawaitable(res):
                    res = asyncio.run(res)  # type: ignore[arg-type]  # an async metric returns a coroutine
                value = res[0] if isinstance(res, tuple) else res
                return None if value is None else float(value)

            return scorer(fn, name=md.name.replace("/", "_"), description=md.scorer_description)

        out.append(make(m))
    return out
