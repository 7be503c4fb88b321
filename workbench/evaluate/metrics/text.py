"""Text helpers shared by the metrics: SQuAD normalisation, tokens, sentences, numbers, and
:func:`text_metric` (a metric scored from the answer's text alone)."""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Callable

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation)
# a number's sign and decimal point are part of it: "-5" is not "5", "1.6" is not "16"
_NUMBER_SIGN = re.compile(r"(?:(?<=^)|(?<=\s)|(?<=[(\[]))[-+\u2212](?=\d)")
_DECIMAL_POINT = re.compile(r"(?<=\d)\.(?=\d)")
_KEEP_MINUS, _KEEP_PLUS, _KEEP_POINT = "\x00", "\x01", "\x02"  # placeholders that survive punctuation removal
_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])|\n+")
_NUM = re.compile(r"\d+(?:[.,]\d+)?")
STOPWORDS = frozenset(
    """a an the and or but if of to in on at by for with from as is are was were be been being
it its this that these those there here i you he she we they me him her us them my your our their do does did
not no yes can could will would should may might must have has had than then so such also just very more most
about into over under up down out what which who whom whose when where why how all any each some""".split()
)


def _is_punct(ch: str) -> bool:
    return ch in _PUNCT or unicodedata.category(ch).startswith("P")


class _DropPunct(dict):
    """``str.translate`` table dropping punctuation (:func:`_is_punct`): each character is classified once and
    remembered (None: dropped; its own code: kept), so normalising is a C loop, not a Python call per character."""

    def __missing__(self, code: int) -> int | None:
        if len(self) >= 65536:  # bounded: text written in every script does not grow it for good
            self.clear()
        self[code] = None if _is_punct(chr(code)) else code
        return self[code]


_DROP_PUNCT = _DropPunct()


def normalize(s: str) -> str:
    """SQuAD normalisation — lowercase, drop punctuation, drop articles, collapse whitespace — with two changes:
    punctuation is any Unicode punctuation (curly quotes and apostrophes ’ “ ” count like ' and "), and a number
    keeps its sign and decimal point (``"-5 °C"`` is not ``"5 °C"``, ``"1.6 kg"`` is not ``"16 kg"``)."""
    s = _NUMBER_SIGN.sub(lambda m: _KEEP_PLUS if m.group() == "+" else _KEEP_MINUS, s.lower())
    s = _DECIMAL_POINT.sub(_KEEP_POINT, s)
    s = s.translate(_DROP_PUNCT)
    s = s.replace(_KEEP_MINUS, "-").replace(_KEEP_PLUS, "").replace(_KEEP_POINT, ".")
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


def text_metric(name: str, score: Callable[[str], float | bool], **definition) -> Callable:
    """Register ``name`` as a metric of the answer's text alone: ``float(score(answer.text))``, none for a failed
    answer (timeout, 5xx, candidate error). ``definition``: the keywords of
    :func:`workbench.evaluate.metrics.metric` (``higher_is_better``, ``range``, ``description``, ...)."""
    from . import metric

    def row_metric(row, answer, env):
        return None if answer.error else float(score(answer.text))

    row_metric.__name__ = row_metric.__qualname__ = name.replace("/", "_")
    row_metric.__doc__ = definition.get("description")
    return metric(name, **definition)(row_metric)
