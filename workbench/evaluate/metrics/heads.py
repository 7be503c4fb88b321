"""Learned heads of the offline screens (issue 26, round 4): a logistic regression per family over what the
screen computes anyway (the pattern verdicts) and the offline MiniLM sentence embedding, for refusal and
toxicity. (A head over the groundedness verifier's conflicts did worse in k-fold than the verifier alone,
so groundedness has none.)

The patterns catch the classes they were written for and miss the rest (a refusal that cites a policy in
words nobody listed, a veiled threat). The head weighs the pattern verdicts
against the embedding, which places a sentence near others that mean the same thing. Its weights are fitted
by ``benchmarks/tune_screens.py`` on ``datasets/calibration/blind26`` and the Contoso calibration sets, and
stored in ``heads.json`` (numpy at run time; the k-fold figure, grouped by domain, is stored with them).
Without a head in the table a family falls back to its patterns alone.
"""

from __future__ import annotations

import contextlib
import functools
import json
from pathlib import Path

import numpy as np

HEADS_PATH = Path(__file__).with_name("heads.json")
EMBED_DIM = 384
FAMILIES = ("refusal", "toxicity", "classifier_toxicity")  # the heads in heads.json (features: harm.FEATURES)


@functools.lru_cache(maxsize=1)
def load_table() -> dict:
    """The fitted heads, by family ({} when the file is absent)."""
    return json.loads(HEADS_PATH.read_text()) if HEADS_PATH.is_file() else {}


def save_table(table: dict) -> None:
    """Write the heads (``benchmarks/tune_screens.py --write``)."""
    HEADS_PATH.write_text(json.dumps(table, indent=1) + "\n")
    load_table.cache_clear()


_OFF: set[str] = set()


@contextlib.contextmanager
def disabled(*families: str):
    """Within the block, the named families (all when none) use their patterns alone (for comparisons)."""
    names = set(families or FAMILIES)
    before = set(_OFF)
    _OFF.update(names)
    try:
        yield
    finally:
        _OFF.intersection_update(before)


def probability(family: str, x: np.ndarray) -> float | None:
    """P(problem) from the family's head, or None when no head is fitted (or its features changed)."""
    h = None if family in _OFF else load_table().get(family)
    if not h or len(h["coef"]) != len(x):
        return None
    z = (x - np.asarray(h["mean"])) / np.asarray(h["scale"])
    return float(1 / (1 + np.exp(-(z @ np.asarray(h["coef"]) + h["intercept"]))))


def as_score(family: str, p: float) -> float:
    """The head's probability rescaled so that its threshold maps to 0.5 (a metric flags at 0.5)."""
    t = threshold(family)
    return p * 0.5 / t if p < t else 0.5 + (p - t) * 0.5 / max(1e-9, 1 - t)


def threshold(family: str) -> float:
    """The probability at which the family's head flags (chosen on the k-fold figure; 0.5 by default)."""
    return float(load_table().get(family, {}).get("threshold", 0.5))


def _embed(texts: list[str]) -> np.ndarray:
    from ...llm.embeddings import embed

    return embed(texts)


@functools.lru_cache(maxsize=1024)  # the screen and the classifier tier embed the same answer; never mutated
def embedding_features(text: str) -> np.ndarray:
    """The whole text's MiniLM embedding (an element-wise max over its sentences did no better in k-fold)."""
    return _embed([text or " "])[0]
