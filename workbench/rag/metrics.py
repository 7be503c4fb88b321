"""Retrieval metrics (family ``retrieval``), registered in the evaluation registry, computed at document
level from the candidate's retrieved chunks (``Answer.retrieved``: doc ids in rank order) against the row's
``gold_doc_ids``. k is the number of chunks the candidate retrieved (its ``top_k``). Rows without gold ids
(unanswerable questions) are left out.

* recall@k = gold docs found / gold docs; precision@k = retrieved chunks from a gold doc / k
* MRR = 1 / rank of the first chunk from a gold doc
* nDCG@k with binary relevance per chunk (ideal: all gold docs first)
* context precision (RAGAS-style, rank-aware) = mean over relevant positions i of precision@i
"""

from __future__ import annotations

import math

from ..evaluate.metrics import metric


def _inputs(row, answer):
    gold = row.get("gold_doc_ids")
    if not gold or answer.retrieved is None or answer.error:
        return None, None
    return set(gold), list(answer.retrieved)


def recall_at_k(gold: set, ranked: list[str]) -> float:
    return len(gold & set(ranked)) / len(gold)


def precision_at_k(gold: set, ranked: list[str]) -> float:
    return sum(d in gold for d in ranked) / len(ranked) if ranked else 0.0


def mrr(gold: set, ranked: list[str]) -> float:
    return next((1.0 / (i + 1) for i, d in enumerate(ranked) if d in gold), 0.0)


def ndcg_at_k(gold: set, ranked: list[str]) -> float:
    seen, dcg = set(), 0.0
    for i, d in enumerate(ranked):
        if d in gold and d not in seen:  # a document counts once
            dcg += 1.0 / math.log2(i + 2)
            seen.add(d)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(gold), len(ranked))))
    return dcg / ideal if ideal else 0.0


def context_precision(gold: set, ranked: list[str]) -> float:
    hits, total = 0, 0.0
    for i, d in enumerate(ranked):
        if d in gold:
            hits += 1
            total += hits / (i + 1)
    return total / hits if hits else 0.0


def _register(name, fn, desc):
    @metric(f"retrieval/{name}", higher_is_better=True, range=(0, 1), requires=("gold_doc_ids",), description=desc)
    def _m(row, answer, env):
        gold, ranked = _inputs(row, answer)
        return None if gold is None else fn(gold, ranked)

    return _m


_register("recall_at_k", recall_at_k, "fraction of gold documents among the retrieved chunks' documents")
_register("precision_at_k", precision_at_k, "fraction of retrieved chunks that come from a gold document")
_register("mrr", mrr, "reciprocal rank of the first chunk from a gold document")
_register("ndcg_at_k", ndcg_at_k, "nDCG@k with binary relevance, each gold document counted once")
_register("context_precision", context_precision, "RAGAS-style rank-aware context precision")
