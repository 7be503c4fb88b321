"""Retrieval evaluated on its own, without generating answers: every question of a set through one or more
retriever configurations, document-level recall@k, MRR and nDCG@k per question (the functions of
:mod:`workbench.rag.metrics`), then means with 95% bootstrap CIs overall and per question kind, and paired
differences between configurations.

    ev = evaluate_retrieval(index, rows, {"bm25": {"kind": "bm25"}, "hybrid+rerank": {"rerank": "overlap"}}, k=5)
    ev.summary()                      # config × kind × metric → mean, ci_low, ci_high, n
    ev.compare("bm25", "hybrid+rerank", "mrr")

Questions without gold documents (unanswerable) have no retrieval metrics and are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import WorkbenchError
from .index import VectorIndex
from .metrics import mrr, ndcg_at_k, recall_at_k
from .retrieval import Retriever

METRICS = {"recall_at_k": recall_at_k, "mrr": mrr, "ndcg_at_k": ndcg_at_k}
N_BOOT = 2000

ALL = "all"  # the row of every question kind together


def mean_ci(values, n_boot: int = N_BOOT, seed: int = 0) -> tuple[float, float | None, float | None]:
    """Mean and 95% percentile-bootstrap CI (``scipy.stats.bootstrap``); no CI for fewer than 2 values."""
    from scipy.stats import bootstrap

    v = np.asarray(list(values), dtype=float)
    if len(v) == 0:
        return float("nan"), None, None
    if len(v) < 2 or np.all(v == v[0]):
        return float(v.mean()), (float(v[0]) if len(v) > 1 else None), (float(v[0]) if len(v) > 1 else None)
    r = bootstrap((v,), np.mean, n_resamples=n_boot, confidence_level=0.95, method="percentile",
                  rng=np.random.default_rng(seed))
    return float(v.mean()), float(r.confidence_interval.low), float(r.confidence_interval.high)


@dataclass
class RetrievalEval:
    """Per-question retrieval metrics of several configurations (``rows``: config, id, kind, metrics...)."""

    rows: pd.DataFrame
    k: int
    configs: list[str]

    def summary(self, by_kind: bool = True) -> pd.DataFrame:
        """One line per config × kind (``all`` plus each kind) × metric: mean, 95% CI, n."""
        out = []
        for cfg in self.configs:
            sub = self.rows[self.rows["config"] == cfg]
            groups = [(ALL, sub)] + (sorted(sub.groupby("kind"), key=lambda g: g[0]) if by_kind else [])
            for kind, g in groups:
                for m in METRICS:
                    mean, lo, hi = mean_ci(g[m])
                    out.append({"config": cfg, "kind": kind, "metric": m, "mean": mean, "ci_low": lo, "ci_high": hi,
                                "n": len(g)})
        return pd.DataFrame(out)

    def table(self, metric: str = "recall_at_k") -> pd.DataFrame:
        """config × kind, cells ``mean [low, high]`` (what the README shows)."""
        s = self.summary()
        s = s[s.metric == metric]
        cell = s.apply(lambda r: f"{r['mean']:.2f} [{r.ci_low:.2f}, {r.ci_high:.2f}]" if r.ci_low is not None
                       else f"{r['mean']:.2f}", axis=1)
        t = s.assign(cell=cell).pivot(index="config", columns="kind", values="cell")
        return t.reindex(index=self.configs, columns=[ALL] + [c for c in t.columns if c != ALL])

    def compare(self, a: str, b: str, metric: str = "mrr", kind: str | None = None) -> dict:
        """Paired difference ``b − a`` over the same questions: mean, 95% bootstrap CI, n."""
        rows = self.rows if kind is None else self.rows[self.rows["kind"] == kind]
        pa = rows[rows.config == a].set_index("id")[metric]
        pb = rows[rows.config == b].set_index("id")[metric]
        both = pa.index.intersection(pb.index)
        mean, lo, hi = mean_ci((pb[both] - pa[both]).to_numpy())
        return {"a": a, "b": b, "metric": metric, "kind": kind or ALL, "diff": mean, "ci_low": lo, "ci_high": hi,
                "n": len(both), "supported": lo is not None and (lo > 0 or hi < 0)}

    def metrics(self, prefix: str = "retrieval_eval") -> dict[str, float]:
        """Flat MLflow metrics for a single configuration: ``<prefix>/<metric>/mean`` (with ``ci_low``/``ci_high``)
        and per kind ``<prefix>/<metric>.<kind>/mean``."""
        if len(self.configs) != 1:
            raise WorkbenchError("metrics() flattens one configuration; select it first")
        out = {}
        for r in self.summary().itertuples():
            name = r.metric if r.kind == ALL else f"{r.metric}.{r.kind}"
            out[f"{prefix}/{name}/mean"] = r.mean
            if r.kind == ALL and r.ci_low is not None:
                out[f"{prefix}/{name}/ci_low"], out[f"{prefix}/{name}/ci_high"] = r.ci_low, r.ci_high
        out[f"{prefix}/questions/total"] = float(self.rows["id"].nunique())
        return out

    def log(self, prefix: str = "retrieval_eval", run_id: str | None = None) -> None:
        """Log :meth:`metrics` and the per-kind summary (``retrieval_by_kind.json``) to the current MLflow run."""
        from .. import tracking

        tracking.log_metrics(self.metrics(prefix), run_id=run_id)
        tracking.log_table(self.summary(), "retrieval_by_kind.json", run_id=run_id)


def evaluate_retrieval(index: VectorIndex, rows: Iterable[Mapping], configs: Mapping[str, Mapping] | None = None,
                       k: int = 5, query_rewrite: str | None = None, model: str | None = None) -> RetrievalEval:
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
        for row, query in zip(rows, queries):
            ranked = [h.chunk.doc_id for h in r.retrieve(query)]
            gold = set(row["gold_doc_ids"])
            kind = (row.get("tags") or {}).get("kind") or row.get("kind") or ALL
            out.append({"config": name, "id": row.get("id", row["question"]), "kind": kind,
                        **{m: fn(gold, ranked) for m, fn in METRICS.items()}, "retrieved": ranked})
    return RetrievalEval(pd.DataFrame(out), k, list(configs))
