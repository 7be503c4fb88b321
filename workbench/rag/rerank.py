"""Second-stage rerankers, registered by name in :data:`RERANKERS`: they re-order the first stage's
``fetch_k`` candidates before the top ``k`` are kept.

No cross-encoder ships its weights in a PyPI package we can install offline, so the two rerankers here use
what we have:

* ``overlap`` (lexical): IDF-weighted coverage of the query's terms in the chunk's context text, plus the
  coverage of its adjacent term pairs (so "Drift 5" prefers the Drift 5 over the Drift -5). Unlike BM25 it
  keeps numbers and signs as terms (``5``, ``-5``, ``0.98``), does not reward repeating a term, and reads
  the title and heading path with the text.
* ``sentence`` (embedding): the best cosine between the query and any one sentence of the chunk, each sentence
  embedded with the chunk's title and heading path in front; a chunk whose single line answers the question
  beats one that is only on topic. Sentence vectors are computed once per index and cached.

Each reranker adds a small share of the first-stage order (``1 / (rank + 1)``, weight
:data:`FIRST_STAGE_WEIGHT`) so ties keep the first stage's order.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from functools import lru_cache
from itertools import pairwise
from typing import Protocol

import numpy as np

from ..errors import WorkbenchError
from .index import VectorIndex

FIRST_STAGE_WEIGHT = 0.05
_TERM = re.compile(r"-?\d+(?:[.,]\d+)?|[^\W\d_]+", re.UNICODE)
QUESTION_WORDS = tuple(
    "how what which who whom where when why does do did much many can could would should i me my".split()
)


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN) | frozenset(QUESTION_WORDS)


def terms(text: str) -> list[str]:
    """Lower-cased words and signed numbers; English stopwords (bm25s' list) and question words dropped."""
    stop = _stopwords()
    return [t for t in (m.group().lower().replace(",", ".") for m in _TERM.finditer(text)) if t not in stop]


class Reranker(Protocol):
    def scores(self, query: str, positions: list[int]) -> np.ndarray:
        """A relevance score per candidate (chunk position in the index), higher is better."""


class OverlapReranker:
    """IDF-weighted term and term-pair coverage (see the module docstring)."""

    def __init__(self, index: VectorIndex, pair_weight: float = 0.5):
        self.index, self.pair_weight = index, pair_weight
        docs = [terms(c.context_text) for c in index.chunks]
        self._sets = [set(d) for d in docs]
        self._pairs = [set(pairwise(d)) for d in docs]
        df = Counter(t for s in self._sets for t in s)
        n = len(docs)
        self._idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
        self._unseen = math.log(1 + (n + 0.5) / 0.5)

    def scores(self, query: str, positions: list[int]) -> np.ndarray:
        q = list(dict.fromkeys(terms(query)))
        if not q:
            return np.zeros(len(positions))
        w = {t: self._idf.get(t, self._unseen) for t in q}
        total = sum(w.values())
        pairs = list(pairwise(q))
        ptotal = sum(w[a] + w[b] for a, b in pairs) or 1.0
        out = []
        for p in positions:
            cover = sum(w[t] for t in q if t in self._sets[p]) / total
            pair = sum(w[a] + w[b] for a, b in pairs if (a, b) in self._pairs[p]) / ptotal if pairs else 0.0
            out.append(cover + self.pair_weight * pair)
        return np.asarray(out)


_SENTENCE = re.compile(r"[^\n.!?]+(?:[.!?](?=\s|$))?")


class SentenceReranker:
    """Best query–sentence cosine (see the module docstring)."""

    def __init__(self, index: VectorIndex):
        self.index = index
        self._vecs: dict[int, np.ndarray] = {}
        self._lock = threading.Lock()

    def _sentences(self, p: int) -> list[str]:
        c = self.index.chunks[p]
        head = c.context_text[: len(c.context_text) - len(c.text)].strip()
        sents = [s.strip(" -#*|") for s in _SENTENCE.findall(c.text)]
        return [f"{head}: {s}" if head else s for s in sents if len(s.strip()) > 2] or [c.context_text]

    def _sentence_vectors(self, positions: list[int]) -> None:
        missing = [p for p in positions if p not in self._vecs]
        if not missing:
            return
        texts = [self._sentences(p) for p in missing]
        flat = [t for ts in texts for t in ts]
        vecs = self.index.embed_query(flat)
        i = 0
        with self._lock:
            for p, ts in zip(missing, texts, strict=True):
                self._vecs[p] = vecs[i : i + len(ts)]
                i += len(ts)

    def warm(self) -> SentenceReranker:
        """Embed every chunk's sentences now (once per index) instead of on first use."""
        self._sentence_vectors(list(range(len(self.index.chunks))))
        return self

    def scores(self, query: str, positions: list[int]) -> np.ndarray:
        self._sentence_vectors(positions)
        qv = self.index.embed_query([query])[0]
        return np.asarray([float((self._vecs[p] @ qv).max()) for p in positions])


RERANKERS: dict[str, type] = {"overlap": OverlapReranker, "sentence": SentenceReranker}
_CACHE: dict[tuple[int, str], Reranker] = {}


def get_reranker(name: str, index: VectorIndex) -> Reranker:
    """The named reranker for ``index`` (built once per index and name: it caches IDF or sentence vectors)."""
    if name not in RERANKERS:
        raise WorkbenchError(f"unknown reranker '{name}': one of {sorted(RERANKERS)} (or none)")
    key = (id(index), name)
    if key not in _CACHE:
        if len(_CACHE) > 16:
            _CACHE.clear()
        _CACHE[key] = RERANKERS[name](index)
    return _CACHE[key]


def rerank(reranker: Reranker, query: str, ranked: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """Re-order first-stage ``(position, score)`` pairs by reranker score plus a share of the first-stage rank."""
    if not ranked:
        return ranked
    positions = [i for i, _ in ranked]
    s = reranker.scores(query, positions) + FIRST_STAGE_WEIGHT / (np.arange(len(positions)) + 1)
    order = np.argsort(-s, kind="stable")
    return [(positions[j], float(s[j])) for j in order]
