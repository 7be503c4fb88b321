"""Retrieval over a :class:`VectorIndex`: ``dense`` (FAISS), ``bm25`` (bm25s) or ``hybrid`` (reciprocal rank
fusion of both, k=60), then optionally a second stage over the first ``fetch_k`` candidates: a reranker
(``rerank="overlap"`` or ``"sentence"``, see :mod:`workbench.rag.rerank`) and/or MMR for diversity."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import WorkbenchError
from .chunking import Chunk
from .index import VectorIndex
from .rerank import get_reranker, rerank

RRF_K = 60


@dataclass
class Hit:
    chunk: Chunk
    score: float
    rank: int


class Retriever:
    def __init__(
        self,
        index: VectorIndex,
        kind: str = "hybrid",
        top_k: int = 4,
        mmr: bool = False,
        mmr_lambda: float = 0.7,
        fetch_k: int | None = None,
        rerank: str | None = None,
    ):
        if kind not in SEARCHES:
            raise WorkbenchError(f"unknown retriever '{kind}': one of {tuple(SEARCHES)}")
        if top_k < 1:
            raise WorkbenchError("top_k must be >= 1")
        self.index, self.kind, self.top_k = index, kind, top_k
        self.mmr, self.mmr_lambda = mmr, mmr_lambda
        self.fetch_k = fetch_k or max(20, 4 * top_k)
        self.rerank = None if rerank in (None, "", "none") else rerank
        self._reranker = get_reranker(self.rerank, index) if self.rerank else None

    def _dense(self, qv: np.ndarray, k: int) -> list[tuple[int, float]]:
        scores, idx = self.index.search(qv[None, :], k)
        return [(int(i), float(s)) for i, s in zip(idx[0], scores[0], strict=True) if i >= 0]

    def _bm25(self, query: str, k: int) -> list[tuple[int, float]]:
        scores, idx = self.index.bm25_search([query], k)
        return [(int(i), float(s)) for i, s in zip(idx[0], scores[0], strict=True) if s > 0]

    def _hybrid(self, query: str, qv: np.ndarray, n: int) -> list[tuple[int, float]]:
        """Reciprocal-rank fusion of the dense and bm25 rankings."""
        fused: dict[int, float] = {}
        for lst in (self._dense(qv, n), self._bm25(query, n)):
            for r, (i, _) in enumerate(lst):
                fused[i] = fused.get(i, 0.0) + 1.0 / (RRF_K + r + 1)
        return sorted(fused.items(), key=lambda t: -t[1])[:n]

    def retrieve(self, query: str, top_k: int | None = None) -> list[Hit]:
        k = top_k or self.top_k
        spec = SEARCHES[self.kind]
        n = max(k, self.fetch_k) if (self.mmr or self.rerank or spec.fuses) else k
        qv = self.index.embed_query([query])[0] if spec.dense or self.mmr else None
        ranked = spec.search(self, query, qv, n)
        if self._reranker is not None:
            ranked = rerank(self._reranker, query, ranked)
        if self.mmr and ranked and qv is not None:  # mmr embeds the query
            ranked = self._mmr(qv, ranked, k)
        return [Hit(self.index.chunks[i], s, r + 1) for r, (i, s) in enumerate(ranked[:k])]

    def _mmr(self, qv: np.ndarray, ranked: list[tuple[int, float]], k: int) -> list[tuple[int, float]]:
        cand = [i for i, _ in ranked]
        vecs = self.index.vectors[cand]
        rel = vecs @ qv
        chosen: list[int] = []
        while len(chosen) < min(k, len(cand)):
            best, best_score = None, -1e9
            for j in range(len(cand)):
                if j in chosen:
                    continue
                red = max((float(vecs[j] @ vecs[c]) for c in chosen), default=0.0)
                score = self.mmr_lambda * float(rel[j]) - (1 - self.mmr_lambda) * red
                if score > best_score:
                    best, best_score = j, score
            if best is None:  # no candidate left (the loop bound says there is one)
                break
            chosen.append(best)
        return [(cand[j], float(rel[j])) for j in chosen]


@dataclass(frozen=True)
class Search:
    """A retriever kind: how it ranks, whether it needs the query's embedding, whether it fuses rankings."""

    search: Callable[[Retriever, str, Any, int], list[tuple[int, float]]]
    dense: bool
    fuses: bool = False


SEARCHES: dict[str, Search] = {
    "dense": Search(lambda r, q, qv, n: r._dense(qv, n), dense=True),
    "bm25": Search(lambda r, q, qv, n: r._bm25(q, n), dense=False),
    "hybrid": Search(lambda r, q, qv, n: r._hybrid(q, qv, n), dense=True, fuses=True),
}
RETRIEVERS = tuple(SEARCHES)
