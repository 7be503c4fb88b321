"""Quality: exact match, token F1 (SQuAD), ROUGE-L F-measure, semantic similarity, LLM-judge correctness."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from . import BINARY, metric
from .honesty import contradictions
from .text import normalize, references, tokens

EMPTY_ANSWER_RULE = "SQuAD v2.0"  # F1 when either side normalises to nothing: 1 if both do, else 0


def em_score(pred: str, ref: str) -> float:
    """1.0 when ``pred`` and ``ref`` are equal after :func:`~.text.normalize`."""
    return float(normalize(pred) == normalize(ref))


def f1_score(pred: str, ref: str) -> float:
    """SQuAD token F1 after :func:`~.text.normalize`. Empty answers follow :data:`EMPTY_ANSWER_RULE`: two empty
    answers agree (1.0), one empty answer scores 0.0 (SQuAD v1.1's script would give 0 to both)."""
    p, r = tokens(pred), tokens(ref)
    if not p or not r:
        return float(p == r)
    common = sum((Counter(p) & Counter(r)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(r)
    return 2 * precision * recall / (precision + recall)


def _rouge_tokens(s: str) -> list[str]:
    # as rouge-score's default tokenizer: lowercase, non-alphanumerics to spaces
    return re.sub(r"[^a-z0-9]+", " ", s.lower()).split()


def _lcs(a: list[str], b: list[str]) -> int:
    if not a or not b:
        return 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(pred: str, ref: str) -> float:
    p, r = _rouge_tokens(pred), _rouge_tokens(ref)
    lcs = _lcs(r, p)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(p), lcs / len(r)
    return 2 * precision * recall / (precision + recall)


def _best(fn, row, answer):
    refs = references(row)
    if not refs or answer.error:
        return None
    return max(fn(answer.text, r) for r in refs)


REFERENCED: dict[str, Any] = {
    "higher_is_better": True,
    "requires": ("reference",),
}  # scored against the row's references


@metric("quality/exact_match", range=(0, 1), kind=BINARY, **REFERENCED)
def exact_match(row, answer, env):
    """1 if the answer equals a reference after SQuAD normalisation (max over references)"""
    return _best(em_score, row, answer)


@metric("quality/f1", range=(0, 1), **REFERENCED)
def f1(row, answer, env):
    """token F1 between answer and reference, SQuAD normalisation, max over references"""
    return _best(f1_score, row, answer)


@metric("quality/rouge_l", range=(0, 1), **REFERENCED)
def rouge_l_metric(row, answer, env):
    """ROUGE-L F-measure (longest common subsequence of tokens), max over references"""
    return _best(rouge_l, row, answer)


@metric("quality/semantic_similarity", range=(-1, 1), failed=0.0, prefetch=references, **REFERENCED)
def semantic_similarity(row, answer, env):
    """cosine of the offline all-MiniLM-L6-v2 embeddings of answer and reference, max over references; capped at 0
    when the answer contradicts that reference (negation, a different colour/material/fuel, another value for the
    same kind of quantity)"""
    refs = references(row)
    if not refs or answer.error:
        return None
    vecs = env.embed([answer.text or " ", *refs])
    scored = []
    for ref, cos in zip(refs, vecs[1:] @ vecs[0], strict=True):
        why = contradictions(answer.text or "", ref)
        scored.append((min(float(cos), 0.0) if why else float(cos), why))
    best, why = max(scored, key=lambda t: t[0])
    return best, {"contradiction": "; ".join(why)}


CORRECTNESS_SCHEMA = {
    "type": "object",
    "properties": {"score": {"type": "integer", "minimum": 1, "maximum": 5}, "reason": {"type": "string"}},
    "required": ["score", "reason"],
}
CORRECTNESS_PROMPT = """You grade answers for correctness against a reference answer.
Rubric: 5 = fully correct and complete; 4 = correct with minor omissions; 3 = partly correct;
2 = mostly incorrect; 1 = incorrect or unrelated.
Question: {question}
Reference answer: {reference}
Answer to grade: {answer}
Reply with JSON: {{"score": <1-5>, "reason": "<one sentence>"}}"""


@metric("quality/judge_correctness", range=(1, 5), needs_llm=True, **REFERENCED)
async def judge_correctness(row, answer, env):
    """LLM judge's 1-5 correctness against the reference (rubric in quality.py); judge failures are counted in
    judge_error_rate, never scored"""
    refs = references(row)
    if not refs or answer.error:
        return None
    prompt = CORRECTNESS_PROMPT.format(
        question=row.get("question") or row.get("messages"), reference=" | ".join(refs), answer=answer.text
    )
    data, err = await env.judge.ajson(prompt, CORRECTNESS_SCHEMA, "correctness")
    score = data.get("score") if data else None
    if err or not isinstance(score, (int, float)) or not 1 <= score <= 5:
        return None, {"judge_error": True}
    return float(score), {"judge_error": False, "reason": data.get("reason", "")}
