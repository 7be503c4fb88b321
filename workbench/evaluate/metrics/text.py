"""Text helpers shared by the metrics: SQuAD normalisation, tokens, sentences, numbers."""

from __future__ import annotations

import re
import string

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation)
_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])|\n+")
_NUM = re.compile(r"\d+(?:[.,]\d+)?")
STOPWORDS = frozenset("""a an the and or but if of to in on at by for with from as is are was were be been being
it its this that these those there here i you he she we they me him her us them my your our their do does did
not no yes can could will would should may might must have has had than then so such also just very more most
about into over under up down out what which who whom whose when where why how all any each some""".split())


def normalize(s: str) -> str:
    """SQuAD normalisation: lowercase, drop punctuation, drop articles, collapse whitespace."""
    s = "".join(ch for ch in s.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", s).split())


def tokens(s: str) -> list[str]:
    return normalize(s).split()


def content_tokens(s: str) -> set[str]:
    return {t for t in re.findall(r"[a-z0-9]+(?:\.[0-9]+)?", s.lower()) if t not in STOPWORDS}


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENT.split(text or "") if s and s.strip()]


def numbers(text: str) -> set[str]:
    return {n.replace(",", ".") for n in _NUM.findall(text or "")}


def references(row: dict) -> list[str]:
    ref = row.get("reference")
    if ref is None:
        return []
    return [ref] if isinstance(ref, str) else [r for r in ref if isinstance(r, str)]
