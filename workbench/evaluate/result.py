"""The result of an evaluation: :class:`EvalResult` (rows, aggregates, run metadata) and its statistics."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data import Dataset
from . import stats
from .metrics import MetricDef


@dataclass
class EvalResult:
    """Rows, aggregates and run metadata of one evaluation. ``summary()`` → candidate × metric DataFrame."""

    rows: pd.DataFrame
    metrics: dict[str, float]
    candidates: list[str]
    metric_defs: list[MetricDef]
    dataset: Dataset
    checkpoint: Path
    run_id: str | None = None
    stopped: str | None = None
    spent_usd: float = 0.0
    duration_s: float = 0.0
    computed_rows: int = 0
    params: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)  # run tags (machine load at start and end)

    @property
    def complete(self) -> bool:
        return self.stopped is None

    def summary(self, ci: bool = True) -> pd.DataFrame:
        """One line per candidate × metric × stat, with a 95% CI for means (Clopper-Pearson for rates,
        studentized bootstrap otherwise; see :mod:`workbench.evaluate.stats`) and ``n_answered`` / ``n_total``.
        Failed rows count: quality and honesty score them as failures (so their means include them), and
        ``<metric>/mean_answered`` gives the mean over the answered rows alone when some failed."""
        out = []
        for cand in self.candidates:
            sub = self.rows[self.rows["candidate"] == cand]
            answered = sub["error"].isna() if "error" in sub else pd.Series(True, index=sub.index)
            counts = {"n_answered": int(answered.sum()), "n_total": len(sub)}
            for m in self.metric_defs:
                if m.name not in sub:
                    continue
                vals = pd.to_numeric(sub[m.name], errors="coerce").dropna().to_numpy(float)
                for stat in m.stats:
                    v = stats.aggregate(vals, stat)
                    lo = hi = None
                    if ci and stat == "mean" and len(vals):  # method per kind: evaluate/stats.py
                        lo, hi, _ = stats.ci(vals, binary=m.binary)
                        lo, hi = (None, None) if np.isnan(lo) else _in_range(lo, hi, m.range)
                    out.append(
                        {
                            "candidate": cand,
                            "metric": f"{m.name}/{stat}",
                            "value": v,
                            "ci_low": lo,
                            "ci_high": hi,
                            "n": len(vals),
                            "family": m.family,
                            **counts,
                        }
                    )
                if m.on_error == "fail" and "mean" in m.stats and counts["n_answered"] < counts["n_total"]:
                    ans = pd.to_numeric(sub.loc[answered, m.name], errors="coerce").dropna().to_numpy(float)
                    out.append(
                        {
                            "candidate": cand,
                            "metric": f"{m.name}/mean_answered",
                            "value": stats.aggregate(ans, "mean"),
                            "ci_low": None,
                            "ci_high": None,
                            "n": len(ans),
                            "family": m.family,
                            **counts,
                        }
                    )
                jcol = f"{m.name}.judge_error"
                if jcol in sub:
                    je = sub[jcol].dropna().astype(float)
                    out.append(
                        {
                            "candidate": cand,
                            "metric": f"{m.name}/judge_error_rate",
                            "value": float(je.mean()) if len(je) else None,
                            "ci_low": None,
                            "ci_high": None,
                            "n": len(je),
                            "family": m.family,
                            **counts,
                        }
                    )
            errs = sub["error"].notna().mean() if len(sub) else 0.0
            out.append(
                {
                    "candidate": cand,
                    "metric": "run/error_rate",
                    "value": float(errs),
                    "ci_low": None,
                    "ci_high": None,
                    "n": len(sub),
                    "family": "run",
                    **counts,
                }
            )
        return pd.DataFrame(out)

    def headline(self) -> str:
        """The first line of any summary: rows answered of rows evaluated per candidate, and a warning with
        the error classes when rows failed (they score as failures in quality and honesty)."""
        parts, failed = [], []
        for cand in self.candidates:
            sub = self.rows[self.rows["candidate"] == cand] if "candidate" in self.rows else self.rows
            errs = sub["error"].dropna() if "error" in sub else pd.Series(dtype=object)
            parts.append(f"{cand}: {len(sub) - len(errs)}/{len(sub)} answered")
            if len(errs):
                failed.append(f"{cand} {len(errs)} ({', '.join(f'{k} x{v}' for k, v in errs.value_counts().items())})")
        out = "; ".join(parts)
        if failed:
            out += " — WARNING: rows failed: " + "; ".join(failed) + "; they count as failures in quality and honesty"
        return out


def _in_range(lo: float, hi: float, value_range) -> tuple[float, float]:
    """An interval clipped to the metric's range (a mean cannot leave it)."""
    a, b = value_range
    return (max(lo, a) if a is not None else lo), (min(hi, b) if b is not None else hi)


def aggregates(result: EvalResult) -> dict[str, float]:
    """Flat ``{name: value}`` for MLflow: ``quality/f1/mean``; with several candidates ``<cand>/quality/f1/mean``."""
    s = result.summary(ci=False)
    multi = len(result.candidates) > 1
    return {
        (f"{r.candidate}/{r.metric}" if multi else r.metric): r.value
        for r in s.itertuples()
        if r.value is not None and not (isinstance(r.value, float) and np.isnan(r.value))
    }
