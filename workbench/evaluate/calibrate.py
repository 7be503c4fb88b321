"""``wb.calibrate(result, labels)``: how far each metric agrees with a person's labels of the same rows.

A label is a person's verdict on a row: **ok** (``good``, ``pass``, ``yes``, ``True``, ``1``, ``grounded``,
``non_toxic``, ``answer``) or **problem** (``bad``, ``fail``, ``no``, ``False``, ``0``, ``ungrounded``, ``toxic``,
``refusal``). A metric *flags* a row as a problem when its value is on its bad side of a threshold: below it for
a metric where higher is better (``honesty/groundedness``), at or above it otherwise (``harm/toxicity``,
``harm/refusal``). The default threshold is 0.5 for 0/1 metrics and 1.0 for ``honesty/groundedness`` (a row with
any unsupported claim is flagged; the workbench's own benchmark reads it the same way), else the middle of the
metric's range; pass ``thresholds={name: t}`` to change it.

Per metric: Cohen's kappa, precision and recall of the *problem* class, accuracy, the 2x2 confusion matrix
(person x metric), the disagreeing rows, and a suggested threshold (the cut over the observed values with the
highest kappa; None when no cut beats the current one). Labels come from:

* a column of ``result.rows`` (its name), a ``pandas.Series`` or a ``{row id: label}`` dict;
* the review widget (a :class:`~workbench.widgets.review.Review`, or the JSONL file it writes: ``id``, ``label``);
* ``"mlflow"``: the HUMAN Feedback named ``label_name`` (default ``review/label``, what the review widget logs) on
  each row's trace.

With ``log`` the figures go to the evaluation's run as metrics ``calibration/<metric>/kappa|precision|recall|
accuracy|n|suggested_threshold`` and two tables (``calibration.json``, ``calibration_disagreements.json``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import WorkbenchError

OK_LABELS = frozenset(
    {"good", "pass", "passed", "ok", "yes", "true", "1", "1.0", "grounded", "non_toxic", "answer", "correct", "safe"}
)
PROBLEM_LABELS = frozenset(
    {
        "bad",
        "fail",
        "failed",
        "no",
        "false",
        "0",
        "0.0",
        "ungrounded",
        "toxic",
        "refusal",
        "wrong",
        "unsafe",
        "incorrect",
    }
)
DEFAULT_LABEL_NAME = "review/label"
THRESHOLD_OVERRIDES = {"honesty/groundedness": 1.0, "honesty/judge_groundedness": 1.0}


def problem_label(value: Any) -> bool | None:
    """True for a *problem* label, False for an *ok* one, None for no label (see the module docstring)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (bool, np.bool_)):
        return not bool(value)
    key = str(value).strip().lower().replace("-", "_").replace(" ", "_")
    if key in OK_LABELS:
        return False
    if key in PROBLEM_LABELS:
        return True
    raise WorkbenchError(
        f"label {value!r} is neither ok ({sorted(OK_LABELS)}) nor a problem ({sorted(PROBLEM_LABELS)})"
    )


def cohen_kappa(a: list[bool], b: list[bool]) -> float | None:
    """Cohen's kappa of two binary raters: (p_o - p_e) / (1 - p_e); None when undefined (p_e = 1)."""
    n = len(a)
    if n == 0:
        return None
    a_, b_ = np.asarray(a, bool), np.asarray(b, bool)
    p_o = float(np.mean(a_ == b_))
    p_e = float(a_.mean() * b_.mean() + (1 - a_.mean()) * (1 - b_.mean()))
    return None if p_e >= 1.0 else (p_o - p_e) / (1 - p_e)


@dataclass
class MetricAgreement:
    """One metric against the person's labels."""

    metric: str
    n: int
    threshold: float
    flags_when: str  # "below" or "at_or_above" the threshold
    kappa: float | None
    precision: float | None
    recall: float | None
    accuracy: float | None
    confusion: pd.DataFrame
    disagreements: pd.DataFrame
    suggested_threshold: float | None = None
    kappa_at_suggested: float | None = None


@dataclass
class CalibrationResult:
    """Agreement of each metric with the labels; ``summary()`` gives one line per metric."""

    metrics: dict[str, MetricAgreement]
    labels_source: str
    n_labels: int
    run_id: str | None = None
    unmatched_labels: list = field(default_factory=list)

    def summary(self) -> pd.DataFrame:
        """metric, n, kappa, precision, recall, accuracy, threshold, suggested threshold (and its kappa)."""
        return pd.DataFrame(
            [
                {
                    "metric": a.metric,
                    "n": a.n,
                    "kappa": a.kappa,
                    "precision": a.precision,
                    "recall": a.recall,
                    "accuracy": a.accuracy,
                    "threshold": a.threshold,
                    "flags_when": a.flags_when,
                    "suggested_threshold": a.suggested_threshold,
                    "kappa_at_suggested": a.kappa_at_suggested,
                    "disagreeing_rows": len(a.disagreements),
                }
                for a in self.metrics.values()
            ]
        )

    def disagreements(self) -> pd.DataFrame:
        """Every disagreeing row of every metric, one line each."""
        parts = [a.disagreements.assign(metric=a.metric) for a in self.metrics.values() if len(a.disagreements)]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _flags(values: np.ndarray, threshold: float, below: bool) -> np.ndarray:
    return values < threshold if below else values >= threshold


def _suggest(
    values: np.ndarray, human: np.ndarray, below: bool, current: float | None
) -> tuple[float | None, float | None]:
    """The cut over the observed values (midpoints between neighbours, and the ends) with the highest kappa."""
    uniq = np.unique(values)
    cuts = list((uniq[:-1] + uniq[1:]) / 2) + [float(uniq[0]), float(uniq[-1]) + (1e-9 if below else 0.0)]
    best, best_k = None, current
    for c in cuts:
        k = cohen_kappa(list(human), list(_flags(values, c, below)))
        if k is not None and (best_k is None or k > best_k + 1e-12):
            best, best_k = float(c), k
    return best, (best_k if best is not None else None)


def agreement(
    values: pd.Series, human: pd.Series, mdef, threshold: float | None, rows: pd.DataFrame
) -> MetricAgreement:
    """One metric's :class:`MetricAgreement` on rows that have both a value and a label."""
    keep = values.notna() & human.notna()
    v, h = values[keep].astype(float).to_numpy(), human[keep].astype(bool).to_numpy()
    below = bool(mdef.higher_is_better)
    if threshold is None:
        lo, hi = mdef.range
        threshold = THRESHOLD_OVERRIDES.get(
            mdef.name, 0.5 if mdef.binary or lo is None or hi is None else (lo + hi) / 2
        )
    f = _flags(v, threshold, below)
    tp, fp = int(np.sum(f & h)), int(np.sum(f & ~h))
    fn, tn = int(np.sum(~f & h)), int(np.sum(~f & ~h))
    n = len(v)
    kappa = cohen_kappa(list(h), list(f))
    confusion = pd.DataFrame(
        [[tp, fn], [fp, tn]], index=["person: problem", "person: ok"], columns=["metric: problem", "metric: ok"]
    )
    sub = rows[keep].assign(value=v, person_problem=h, metric_problem=f)
    cols = [
        c
        for c in ("candidate", "id", "repeat", "input", "answer", "value", "person_problem", "metric_problem")
        if c in sub
    ]
    dis = sub.loc[sub["person_problem"] != sub["metric_problem"], cols].reset_index(drop=True)
    sugg, k_s = _suggest(v, h, below, kappa) if n else (None, None)
    return MetricAgreement(
        mdef.name,
        n,
        float(threshold),
        "below" if below else "at_or_above",
        kappa,
        tp / (tp + fp) if tp + fp else None,
        tp / (tp + fn) if tp + fn else None,
        (tp + tn) / n if n else None,
        confusion,
        dis,
        sugg,
        k_s,
    )


def _labels_by_key(rows: pd.DataFrame, labels, label_name: str) -> tuple[pd.Series, str]:
    """The person's problem flags aligned with ``rows`` (index), and where they came from."""
    if isinstance(labels, str) and labels in rows.columns:
        return rows[labels].map(problem_label), f"column {labels}"
    if isinstance(labels, str) and labels == "mlflow":
        return _mlflow_labels(rows, label_name), f"MLflow HUMAN feedback '{label_name}'"
    source = "labels"
    if isinstance(getattr(labels, "labels", None), dict):  # the review widget
        labels, source = {k: v["label"] for k, v in labels.labels.items()}, "review widget"
    elif isinstance(labels, (str, Path)):
        path = Path(labels)
        if not path.is_file():
            raise WorkbenchError(f"labels {labels!r}: not a column of the result, 'mlflow', nor a file")
        recs = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        labels, source = {str(r["id"]): r["label"] for r in recs}, f"file {path.name}"
    if isinstance(labels, pd.Series):
        labels = labels.to_dict()
    if not isinstance(labels, dict):
        raise WorkbenchError(
            "labels must be a column name, 'mlflow', a Review, a labels JSONL file, a Series or a {row id: label} dict"
        )
    mapped = {str(k): problem_label(v) for k, v in labels.items()}
    return rows["id"].astype(str).map(mapped), source


def _mlflow_labels(rows: pd.DataFrame, label_name: str) -> pd.Series:
    """The latest HUMAN Feedback named ``label_name`` on each row's trace (None where there is none)."""
    from mlflow.entities import AssessmentSourceType

    from .. import tracking

    if "trace_id" not in rows:
        raise WorkbenchError("the result has no traces (evaluate with trace=True) to read HUMAN labels from")
    tracking.configure()
    client = tracking.client()
    out = []
    for tid in rows["trace_id"]:
        value = None
        if isinstance(tid, str) and tid:
            trace = client.get_trace(tid)
            human = [
                a
                for a in trace.info.assessments or []
                if a.name == label_name
                and a.source.source_type == AssessmentSourceType.HUMAN
                and getattr(a, "valid", True) is not False
            ]
            if human:
                latest = max(human, key=lambda a: a.last_update_time_ms or a.create_time_ms or 0)
                value = problem_label(latest.feedback.value if latest.feedback else None)
        out.append(value)
    return pd.Series(out, index=rows.index, dtype=object)


def calibrate(
    result,
    labels,
    metrics: list[str] | None = None,
    thresholds: dict[str, float] | None = None,
    candidate: str | None = None,
    label_name: str = DEFAULT_LABEL_NAME,
    log: bool = True,
    run_id: str | None = None,
) -> CalibrationResult:
    """Agreement of ``result``'s metrics with a person's ``labels`` (see the module docstring).

    ``metrics``: names (default: every metric of the result with values); ``thresholds``: per metric;
    ``candidate``: which candidate's rows, when the result has several (labels keyed by row id); ``log``: into
    ``run_id``, else the result's run (nothing is logged when there is neither)."""
    rows = result.rows
    if (
        candidate is None
        and "candidate" in rows
        and rows["candidate"].nunique() > 1
        and not (isinstance(labels, str) and labels in ("mlflow", *rows.columns))
    ):
        raise WorkbenchError(f"the result has candidates {sorted(rows['candidate'].unique())}: pass candidate=...")
    if candidate is not None:
        rows = rows[rows["candidate"] == candidate]
    rows = rows.reset_index(drop=True)
    human, source = _labels_by_key(rows, labels, label_name)
    if human.notna().sum() == 0:
        raise WorkbenchError(f"no label from {source} matches a row of the result (matched on row id)")
    wanted = {m.name: m for m in result.metric_defs}
    names = metrics or [n for n in wanted if n in rows and pd.to_numeric(rows[n], errors="coerce").notna().any()]
    out = {}
    for name in names:
        if name not in wanted or name not in rows:
            raise WorkbenchError(f"metric {name!r} is not in the result: {sorted(wanted)}")
        values = pd.to_numeric(rows[name], errors="coerce")
        out[name] = agreement(values, human, wanted[name], (thresholds or {}).get(name), rows)
    res = CalibrationResult(out, source, int(human.notna().sum()), run_id or getattr(result, "run_id", None))
    if log and res.run_id:
        log_calibration(res)
    return res


def log_calibration(res: CalibrationResult) -> None:
    """Metrics ``calibration/<metric>/<stat>`` and the tables ``calibration.json``, ``calibration_disagreements.json``."""
    from .. import tracking

    flat = {}
    for a in res.metrics.values():
        for stat in ("kappa", "precision", "recall", "accuracy", "n", "suggested_threshold"):
            v = getattr(a, stat)
            if v is not None:
                flat[f"calibration/{a.metric}/{stat}"] = float(v)
    tracking.log_metrics(flat, run_id=res.run_id)
    tracking.log_table(res.summary(), "calibration.json", run_id=res.run_id)
    dis = res.disagreements()
    if len(dis):
        tracking.log_table(
            dis.astype({c: str for c in dis.columns if dis[c].dtype == object}),
            "calibration_disagreements.json",
            run_id=res.run_id,
        )
