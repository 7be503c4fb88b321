"""Retrieval evaluated on its own, without generating answers: every question of a set through one or more
retriever configurations, document-level recall@k, MRR and nDCG@k per question (the functions of
:mod:`workbench.rag.metrics`), then means with 95% intervals overall and per question kind, and paired
differences between configurations. The statistics are :mod:`workbench.evaluate.stats`' (the ones evaluation
verdicts use): a mean's interval is Clopper-Pearson when the values are 0/1 (recall@k with one gold document)
and the studentized bootstrap otherwise; a paired difference is :class:`~workbench.evaluate.stats.PairedDifference`
(interval and test from one method, kept inside [-1, 1]).

    ev = evaluate_retrieval(index, rows, {"bm25": {"kind": "bm25"}, "hybrid+rerank": {"rerank": "overlap"}}, k=5)
    ev.summary()                      # config × kind × metric → mean, ci_low, ci_high, ci_method, n
    ev.compare("bm25", "hybrid+rerank", "mrr")

Questions without gold documents (unanswerable) have no retrieval metrics and are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import WorkbenchError
from ..evaluate import stats
from .index import VectorIndex
from .metrics import mrr, ndcg_at_k, recall_at_k
from .retrieval import Retriever

METRICS = {"recall_at_k": recall_at_k, "mrr": mrr, "ndcg_at_k": ndcg_at_k}
METRIC_RANGE = (0.0, 1.0)  # every retrieval metric is a fraction

ALL = "all"  # the row of every question kind together


def mean_interval(values) -> tuple[float, float | None, float | None, str | None]:
    """Mean, 95% interval and its method (:func:`workbench.evaluate.stats.ci`: Clopper-Pearson for 0/1 values,
    else the studentized bootstrap); no interval (None) when it cannot be estimated: fewer than 3 numeric values,
    or all equal and not 0/1."""
    v = np.asarray(list(values), dtype=float)
    v = v[~np.isnan(v)]
    if len(v) == 0:
        return float("nan"), None, None, None
    lo, hi, method = stats.ci(v, binary=True)
    if np.isnan(lo) or np.isnan(hi):
        return float(v.mean()), None, None, None
    return float(v.mean()), lo, hi, method


@dataclass
class RetrievalEval:
    """Per-question retrieval metrics of several configurations (``rows``: config, id, kind, metrics...)."""

    rows: pd.DataFrame
    k: int
    configs: list[str]

    def summary(self, by_kind: bool = True) -> pd.DataFrame:
        """One line per config × kind (``all`` plus each kind) × metric: mean, 95% interval (:func:`mean_interval`;
        ``ci_low``/``ci_high`` None where there is none), its method, n."""
        out = []
        for cfg in self.configs:
            sub = self.rows[self.rows["config"] == cfg]
            groups = [(ALL, sub)] + (sorted(sub.groupby("kind"), key=lambda g: g[0]) if by_kind else [])
            for kind, g in groups:
                for m in METRICS:
                    mean, lo, hi, method = mean_interval(g[m])
                    out.append(
                        {
                            "config": cfg,
                            "kind": kind,
                            "metric": m,
                            "mean": mean,
                            "ci_low": lo,
                            "ci_high": hi,
                            "ci_method": method,
                            "n": len(g),
                        }
                    )
        return pd.DataFrame(out)

    def table(self, metric: str = "recall_at_k") -> pd.DataFrame:
        """config × kind, cells ``mean [low, high]`` (what the README shows)."""
        s = self.summary()
        s = s[s.metric == metric]
        cell = s.apply(
            lambda r: (
                f"{r['mean']:.2f} [{r.ci_low:.2f}, {r.ci_high:.2f}]" if pd.notna(r.ci_low) else f"{r['mean']:.2f}"
            ),
            axis=1,
        )
        t = s.assign(cell=cell).pivot(index="config", columns="kind", values="cell")
        return t.reindex(index=self.configs, columns=[ALL] + [c for c in t.columns if c != ALL])

    def compare(self, a: str, b: str, metric: str = "mrr", kind: str | None = None) -> dict:
        """Paired difference ``b − a`` over the same questions: mean, 95% interval and the p-value of "no
        difference" from one method (:class:`~workbench.evaluate.stats.PairedDifference`), n; ``supported`` when
        the interval excludes 0."""
        rows = self.rows if kind is None else self.rows[self.rows["kind"] == kind]
        pa = rows[rows.config == a].set_index("id")[metric]
        pb = rows[rows.config == b].set_index("id")[metric]
        both = pa.index.intersection(pb.index)
        d = stats.PairedDifference((pb[both] - pa[both]).to_numpy(), stats.diff_range(METRIC_RANGE))
        lo, hi = d.interval() if d.n >= 2 else (None, None)
        return {
            "a": a,
            "b": b,
            "metric": metric,
            "kind": kind or ALL,
            "diff": d.mean,
            "ci_low": lo,
            "ci_high": hi,
            "p_value": d.p_value() if d.n >= 2 else None,
            "n": d.n,
            "supported": lo is not None and hi is not None and (lo > 0 or hi < 0),
            "method": stats.PAIRED_TEST,
        }

    def metrics(self, prefix: str = "retrieval_eval") -> dict[str, float]:
        """Flat MLflow metrics for a single configuration: ``<prefix>/<metric>/mean`` (with ``ci_low``/``ci_high``)
        and per kind ``<prefix>/<metric>.<kind>/mean``."""
        if len(self.configs) != 1:
            raise WorkbenchError("metrics() flattens one configuration; select it first")
        out = {}
        for r in self.summary().itertuples():
            name = r.metric if r.kind == ALL else f"{r.metric}.{r.kind}"
            out[f"{prefix}/{name}/mean"] = r.mean
            if r.kind == ALL and pd.notna(r.ci_low):  # no interval, no metric (never a NaN)
                out[f"{prefix}/{name}/ci_low"], out[f"{prefix}/{name}/ci_high"] = r.ci_low, r.ci_high
        out[f"{prefix}/questions/total"] = float(self.rows["id"].nunique())
        return out

    def log(self, prefix: str = "retrieval_eval", run_id: str | None = None) -> None:
        """Log :meth:`metrics` and the per-kind summary (``retrieval_by_kind.json``) to the current MLflow run."""
        from .. import tracking

        tracking.log_metrics(self.metrics(prefix), run_id=run_id)
        tracking.log_table(self.summary(), "retrieval_by_kind.json", run_id=run_id)


def evaluate_retrieval(
    index: VectorIndex,
    rows: Iterable[Mapping],
    configs: Mapping[str, Mapping] | None = None,
    k: int = 5,
    query_rewrite: str | None = None,
    model: str | None = None,
) -> RetrievalEval:
    """Run each question with gold documents through each configuration (``name → Retriever`` keyword
    arguments; default one hybrid retriever) and score its top ``k`` chunks at document level.
    ``query_rewrite`` (:mod:`workbench.rag.rewrite`) rewrites each question first (``llm`` calls ``model``)."""
    from ..llm.client import default_client, run_sync
    from .rewrite import get_rewrite

    configs = dict(configs or {"hybrid": {}})
    rows = [r for r in rows if r.get("gold_doc_ids")]
    if not rows:
        raise WorkbenchError("no questions with gold_doc_ids to evaluate retrieval on")
    rewrite = get_rewrite(query_rewrite)
    client = default_client() if query_rewrite == "llm" else None
    queries = [run_sync(rewrite(r["question"], client, model))[0] if rewrite else r["question"] for r in rows]
    out = []
    for name, kw in configs.items():
        r = Retriever(index, top_k=k, **kw)
        for row, query in zip(rows, queries, strict=True):
            ranked = [h.chunk.doc_id for h in r.retrieve(query)]
            gold = set(row["gold_doc_ids"])
            kind = (row.get("tags") or {}).get("kind") or row.get("kind") or ALL
            out.append(
                {
                    "config": name,
                    "id": row.get("id", row["question"]),
                    "kind": kind,
                    **{m: fn(gold, ranked) for m, fn in METRICS.items()},
                    "retrieved": ranked,
                }
            )
    return RetrievalEval(pd.DataFrame(out), k, list(configs))
