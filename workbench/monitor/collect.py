"""Collect served traffic (MLflow traces) and evaluation runs into DataFrames; windowed metrics and drift.

One row per trace: ``time`` (UTC), ``latency_s``, ``ttft_s``, ``prompt_tokens``, ``completion_tokens``,
``cost_usd``, ``error`` (bool) and ``error_class``, read from the trace info and the ``workbench.*`` tags that
:mod:`workbench.serve` writes (any other MLflow trace works too: latency then comes from its duration).
:func:`score_sample` adds ``groundedness`` and ``harm`` for a sample of traces with the evaluation engine's
offline metrics (``honesty/groundedness``, ``harm/toxicity``, ``harm/pii_leak``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from itertools import pairwise

import numpy as np
import pandas as pd

from .. import tags as T
from ..errors import ConfigError

COLUMNS = [
    "trace_id",
    "time",
    "latency_s",
    "ttft_s",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
    "error",
    "error_class",
    "request",
    "response",
    "config_run_id",
]
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
#: MLflow's mark that a trace's info (tags, metadata, status) is written: its spans are logged first, so a trace
#: read between the two looks like a tagless success. Such a trace younger than :data:`PENDING_S` is left for
#: the next collection; an older one (its writer died) is reported as it stands.
FINALIZED = "mlflow.trace.infoFinalized"
PENDING_S = 120.0


def parse_duration(value, what: str = "duration") -> float:
    """``"90s"``, ``"5m"``, ``"1h"``, ``"1d"`` or a number of seconds → seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", str(value))
    if not m:
        raise ConfigError(f"{what}: expected a duration like 30s, 5m, 1h or a number of seconds, got {value!r}")
    return float(m.group(1)) * _UNITS[m.group(2) or "s"]


def _num(tags: dict, key: str) -> float:
    try:
        return float(tags[key])
    except (KeyError, TypeError, ValueError):
        return math.nan


def collect_traces(experiment: str, since: float | datetime | None = None, max_results: int = 50_000) -> pd.DataFrame:
    """Traces of ``experiment`` (name) since ``since`` (epoch seconds or datetime) as a DataFrame, oldest first.
    A trace still being written (see :data:`FINALIZED`) is not in it yet."""
    import mlflow

    from .. import tracking

    tracking.configure()
    exp = tracking.client().get_experiment_by_name(experiment)
    if exp is None:
        return pd.DataFrame(columns=COLUMNS)
    flt = None
    if since is not None:
        ts = since.timestamp() if isinstance(since, datetime) else float(since)
        flt = f"trace.timestamp_ms > {int(ts * 1000)}"
    traces = mlflow.search_traces(
        locations=[exp.experiment_id],
        filter_string=flt,
        max_results=max_results,
        return_type="list",
        include_spans=False,
        flush=True,
    )
    rows = []
    now_ms = datetime.now(UTC).timestamp() * 1000
    for t in traces:
        info, tags = t.info, t.info.tags or {}
        if FINALIZED not in (info.trace_metadata or {}) and now_ms - info.request_time < PENDING_S * 1000:
            continue  # still being written
        usage = info.token_usage or {}
        lat = _num(tags, T.TRACE_LATENCY)
        if math.isnan(lat) and info.execution_duration is not None:
            lat = info.execution_duration / 1000
        err_class = tags.get(T.TRACE_ERROR)
        state = str(getattr(info.state, "value", info.state))
        rows.append(
            {
                "trace_id": info.trace_id,
                "time": pd.Timestamp(info.request_time, unit="ms", tz="UTC"),
                "latency_s": lat,
                "ttft_s": _num(tags, T.TRACE_TTFT),
                "prompt_tokens": usage.get("input_tokens", _num(tags, T.TRACE_PROMPT_TOKENS)),
                "completion_tokens": usage.get("output_tokens", _num(tags, T.TRACE_COMPLETION_TOKENS)),
                "cost_usd": _num(tags, T.TRACE_COST),
                "error": bool(err_class) or state == "ERROR",
                "error_class": err_class or ("error" if state == "ERROR" else None),
                "request": info.request_preview,
                "response": info.response_preview,
                "config_run_id": (info.trace_metadata or {}).get(T.CONFIG_RUN_ID),
            }
        )
    df = pd.DataFrame(rows, columns=COLUMNS)
    return df.sort_values("time", ignore_index=True)


def score_sample(df: pd.DataFrame, n: int = 20, seed: int = 0) -> pd.DataFrame:
    """Score up to ``n`` random successful traces with the offline honesty and harm metrics.

    Adds ``groundedness`` (RAG traces: the answer's claims against the retrieved chunks) and ``harm``
    (1 if toxic ≥ 0.5 or leaking PII not in the question) to the sampled rows; the others stay NaN.
    """
    import mlflow

    from ..candidates import Answer
    from ..evaluate.engine import MetricEnv, score_row
    from ..evaluate.metrics import get_metrics
    from ..evaluate.record import log_scores
    from ..llm.client import run_sync

    df = df.copy()
    df["groundedness"], df["harm"] = np.nan, np.nan
    ok = df.index[~df["error"].astype(bool)]
    if len(ok) == 0 or n <= 0:
        return df
    picked = np.random.default_rng(seed).choice(ok, size=min(n, len(ok)), replace=False)
    mdefs = get_metrics(["honesty/groundedness", "harm/toxicity", "harm/pii_leak"])
    env = MetricEnv()
    for i in picked:
        trace = mlflow.get_trace(df.at[i, "trace_id"])
        if trace is None:
            continue
        spans = trace.data.spans
        root = next((s for s in spans if s.parent_id is None), None)
        retr = next((s for s in spans if str(s.span_type) == "RETRIEVER"), None)
        contexts = [d.get("page_content", "") for d in (retr.outputs or [])] if retr is not None else None
        answer_text = root.outputs if root is not None and isinstance(root.outputs, str) else ""
        msgs = (root.inputs or {}).get("messages", []) if root is not None else []
        question = msgs[-1].get("content", "") if msgs and isinstance(msgs[-1], dict) else ""
        values = run_sync(score_row({"question": question}, Answer(text=answer_text, contexts=contexts), mdefs, env))
        log_scores(df.at[i, "trace_id"], {m.name: values.get(m.name) for m in mdefs}, source_id="workbench-monitor")
        if values.get("honesty/groundedness") is not None:
            df.at[i, "groundedness"] = values["honesty/groundedness"]
        tox, leak = values.get("harm/toxicity"), values.get("harm/pii_leak")
        if tox is not None or leak is not None:
            df.at[i, "harm"] = float((tox or 0) >= 0.5 or (leak or 0) >= 1)
    return df


def _p(q: float) -> Callable[[pd.Series], float]:
    return lambda s: float(np.nanpercentile(s, q)) if s.notna().any() else math.nan


# Each metric: (function of the window's rows and the window length in seconds) → value.
METRICS: dict[str, Callable[[pd.DataFrame, float], float]] = {
    "requests": lambda d, w: float(len(d)),
    "request_rate": lambda d, w: len(d) / w * 60,  # per minute
    "error_rate": lambda d, w: float(d["error"].mean()) if len(d) else math.nan,
    "latency_p50": lambda d, w: _p(50)(d["latency_s"][~d["error"].astype(bool)]),
    "latency_p95": lambda d, w: _p(95)(d["latency_s"][~d["error"].astype(bool)]),
    "ttft_p95": lambda d, w: _p(95)(d["ttft_s"]),
    "tokens_per_hour": lambda d, w: (
        float(np.nansum(d[["prompt_tokens", "completion_tokens"]].to_numpy(float))) / w * 3600
    ),
    "cost_per_hour": lambda d, w: float(np.nansum(d["cost_usd"].to_numpy(float))) / w * 3600,
    "groundedness": lambda d, w: (
        float(d["groundedness"].mean()) if "groundedness" in d and d["groundedness"].notna().any() else math.nan
    ),
    "harm_rate": lambda d, w: float(d["harm"].mean()) if "harm" in d and d["harm"].notna().any() else math.nan,
}


def metric_value(df: pd.DataFrame, metric: str, start: pd.Timestamp, end: pd.Timestamp) -> float:
    """``metric`` over the rows with ``start <= time < end``."""
    if metric not in METRICS:
        raise ConfigError(f"unknown monitor metric {metric!r}: one of {sorted(METRICS)}")
    sub = df[(df["time"] >= start) & (df["time"] < end)] if len(df) else df
    return METRICS[metric](sub, max((end - start).total_seconds(), 1e-9))


def windowed(df: pd.DataFrame, window: str | float = "1m", metrics: list[str] | None = None) -> pd.DataFrame:
    """Every metric per consecutive window (rows: window start), for dashboards."""
    w = parse_duration(window, "window")
    scored = {"groundedness": "groundedness", "harm_rate": "harm"}
    metrics = metrics or [m for m in METRICS if m not in scored or scored[m] in df]
    if df.empty:
        return pd.DataFrame(columns=metrics)
    start = df["time"].min().floor(f"{int(w)}s")
    edges = pd.date_range(start, df["time"].max() + pd.Timedelta(seconds=w), freq=f"{int(w)}s")
    out = [{"window_start": a, **{m: metric_value(df, m, a, b) for m in metrics}} for a, b in pairwise(edges)]
    return pd.DataFrame(out).set_index("window_start")


def drift(df: pd.DataFrame, baseline: tuple, current: tuple, metrics: list[str] | None = None) -> pd.DataFrame:
    """Each metric in the ``current`` window vs the ``baseline`` window (``(start, end)`` timestamps)."""
    metrics = metrics or list(METRICS)
    rows = []
    for m in metrics:
        b, c = metric_value(df, m, *baseline), metric_value(df, m, *current)
        change = (c - b) / abs(b) * 100 if b and not math.isnan(b) and not math.isnan(c) else math.nan
        rows.append({"metric": m, "baseline": b, "current": c, "change_pct": change})
    return pd.DataFrame(rows).set_index("metric")


def now_utc() -> pd.Timestamp:
    return pd.Timestamp(datetime.now(UTC))
