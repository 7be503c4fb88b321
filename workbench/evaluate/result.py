"""The result of an evaluation: :class:`EvalResult` (rows, aggregates, run metadata) and its statistics."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data import Dataset
from .metrics import MetricDef

N_BOOT = 1000


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

    @property
    def complete(self) -> bool:
        return self.stopped is None

    def summary(self, ci: bool = True) -> pd.DataFrame:
        """One line per candidate × metric × stat, with a 95% bootstrap CI for means."""
        out = []
        rng = np.random.default_rng(0)
        for cand in self.candidates:
            sub = self.rows[self.rows["candidate"] == cand]
            for m in self.metric_defs:
                if m.name not in sub:
                    continue
                vals = pd.to_numeric(sub[m.name], errors="coerce").dropna().to_numpy(float)
                for stat in m.stats:
                    v = _stat(vals, stat)
                    lo = hi = None
                    if ci and stat == "mean" and len(vals) > 1:
                        idx = rng.integers(0, len(vals), (N_BOOT, len(vals)))
                        boots = vals[idx].mean(axis=1)
                        lo, hi = float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))
                    out.append({"candidate": cand, "metric": f"{m.name}/{stat}", "value": v, "ci_low": lo,
                                "ci_high": hi, "n": len(vals), "family": m.family})
                jcol = f"{m.name}.judge_error"
                if jcol in sub:
                    je = sub[jcol].dropna().astype(float)
                    out.append({"candidate": cand, "metric": f"{m.name}/judge_error_rate",
                                "value": float(je.mean()) if len(je) else None, "ci_low": None, "ci_high": None,
                                "n": len(je), "family": m.family})
            errs = sub["error"].notna().mean() if len(sub) else 0.0
            out.append({"candidate": cand, "metric": "run/error_rate", "value": float(errs), "ci_low": None,
                        "ci_high": None, "n": len(sub), "family": "run"})
        return pd.DataFrame(out)


def _stat(vals: np.ndarray, stat: str) -> float | None:
    if len(vals) == 0:
        return None
    if stat == "mean":
        return float(vals.mean())
    if stat == "total":
        return float(vals.sum())
    if stat.startswith("p"):
        return float(np.percentile(vals, float(stat[1:])))
    raise ValueError(stat)


def aggregates(result: EvalResult) -> dict[str, float]:
    """Flat ``{name: value}`` for MLflow: ``quality/f1/mean``; with several candidates ``<cand>/quality/f1/mean``."""
    s = result.summary(ci=False)
    multi = len(result.candidates) > 1
    return {(f"{r.candidate}/{r.metric}" if multi else r.metric): r.value for r in s.itertuples()
            if r.value is not None and not (isinstance(r.value, float) and np.isnan(r.value))}
