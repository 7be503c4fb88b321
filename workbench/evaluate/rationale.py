"""Plain-text rationales for the row assessments MLflow shows on a trace: one sentence or two per metric that
says why the row scored what it did (F1: the overlapping tokens; retrieval: which gold document was found at
which rank; a judge: each claim and its verdict; a screen: what matched), rendered from the row record and the
metric's details (``<metric>.<key>`` columns) — never raw JSON.

A registry, keyed by metric name or family: ``@rationale("quality/f1")`` registers ``fn(value, details,
record) -> str``; a metric without one gets :func:`plain` (its value, range and direction, then its details as
``key: value`` text). Rendering never raises: a failing renderer falls back to :func:`plain`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

RATIONALES: dict[str, Callable[[Any, dict, dict], str]] = {}
MAX_CHARS = 2000  # the rationale's length on the trace


def rationale(*keys: str):
    """Register the decorated ``fn(value, details, record) -> str`` for metric names or families."""

    def deco(fn):
        for k in keys:
            RATIONALES[k] = fn
        return fn

    return deco


def _num(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def _quote(s: Any, n: int = 160) -> str:
    s = " ".join(str(s).split())
    return f"“{s[:n]}…”" if len(s) > n else f"“{s}”"


def _listing(items, n: int = 12) -> str:
    items = list(items)
    more = f" and {len(items) - n} more" if len(items) > n else ""
    return ", ".join(str(i) for i in items[:n]) + more


def _details_text(details: dict) -> str:
    parts = []
    for k, v in details.items():
        if v in (None, "", [], {}):
            continue
        if isinstance(v, list):
            v = "; ".join(_details_text(x) if isinstance(x, dict) else str(x) for x in v)
        elif isinstance(v, dict):
            v = _details_text(v)
        parts.append(f"{k.replace('_', ' ')}: {_num(v)}")
    return "; ".join(parts)


def plain(md, value, details: dict) -> str:
    """Any metric: its value with range and direction, then its details."""
    lo, hi = md.range
    way = {True: "higher is better", False: "lower is better", None: "neither end is better"}[md.higher_is_better]
    rng = f" on [{_num(lo)}, {_num(hi)}]" if lo is not None and hi is not None else ""
    text = f"{_num(value)}{rng} ({way})"
    extra = _details_text(details)
    return f"{text}; {extra}" if extra else text


def explain(md, value, details: dict, record: dict, secrets: list[str] | None = None) -> str:
    """The rationale of metric ``md``'s ``value`` on the row ``record``: its registered renderer (by name, by
    the detector it implements, by family), else :func:`plain`; the values of ``secrets`` (default: the
    environment's credentials, looked up per call — pass them once per row) are scrubbed."""
    from ..secrets import scrub, secret_values

    fn = RATIONALES.get(md.name) or RATIONALES.get(md.base) or RATIONALES.get(md.family)
    text = ""
    if fn is not None:
        try:
            text = fn(value, details, record)
        except Exception:  # noqa: BLE001 - a rationale is a courtesy: the plain form always renders
            text = ""
    text = text or plain(md, value, details)
    return scrub(text, secret_values() if secrets is None else secrets)[:MAX_CHARS]


def _refs(record: dict) -> list[str]:
    from .metrics.text import references

    return references(record)


# --- quality -----------------------------------------------------------------------------------------------


@rationale("quality/f1")
def _f1(value, details, record) -> str:
    from .metrics.quality import f1_score
    from .metrics.text import tokens

    answer = record.get("answer") or ""
    ref = max(_refs(record), key=lambda r: f1_score(answer, r))
    a, r = tokens(answer), tokens(ref)
    common = Counter(a) & Counter(r)
    shared = list(common.elements())
    if not shared:
        return f"F1 {_num(value)}: no token in common with the reference {_quote(ref)} (after normalisation)"
    return (
        f"F1 {_num(value)}: {len(shared)} shared token(s) [{_listing(shared)}] of the answer's {len(a)} and the "
        f"reference's {len(r)} (precision {len(shared) / len(a):.2f}, recall {len(shared) / len(r):.2f}); "
        f"reference {_quote(ref)}"
    )


@rationale("quality/exact_match")
def _em(value, details, record) -> str:
    from .metrics.text import normalize

    refs = _refs(record)
    a = normalize(record.get("answer") or "")
    if value:
        return f"the normalised answer {_quote(a)} equals a reference"
    return f"the normalised answer {_quote(a)} equals no reference ({'; '.join(_quote(normalize(r)) for r in refs)})"


@rationale("quality/rouge_l")
def _rouge(value, details, record) -> str:
    refs = _refs(record)
    return f"ROUGE-L {_num(value)}: longest common token subsequence with the closest of {len(refs)} reference(s): " + (
        "; ".join(_quote(r) for r in refs[:3])
    )


@rationale("quality/semantic_similarity")
def _semsim(value, details, record) -> str:
    why = details.get("contradiction")
    ref = "; ".join(_quote(r) for r in _refs(record)[:3])
    if why:
        return f"capped at {_num(value)}: the answer contradicts the reference {ref} ({why})"
    return f"embedding cosine {_num(value)} between the answer and the reference {ref}"


@rationale("quality/judge_correctness")
def _correct(value, details, record) -> str:
    reason = details.get("reason")
    return f"the judge scored {_num(value)} of 5" + (f": {reason}" if reason else "")


# --- honesty -----------------------------------------------------------------------------------------------


@rationale("honesty/groundedness")
def _grounded(value, details, record) -> str:
    claims = details.get("claims")
    if isinstance(claims, list):  # the judge tier: each claim and its verdict
        if not claims:
            return "no claim to check: the answer makes no factual claim (scores 1)"
        lines = []
        for c in claims:
            if c.get("error"):
                lines.append(f"{_quote(c.get('claim'), 120)}: judge error ({c['error']})")
            else:
                verdict = "supported" if c.get("supported") else "NOT supported"
                lines.append(f"{_quote(c.get('claim'), 120)}: {verdict} (P(yes) {_num(c.get('p_yes'))})")
        return f"{sum(bool(c.get('supported')) for c in claims)} of {len(claims)} claims supported. " + " ".join(lines)
    n = int(claims or 0)
    unsupported = details.get("unsupported") or []
    if not n:
        return "no claim to check: the answer makes no factual claim (scores 1)"
    if not unsupported:
        return f"all {n} claim(s) of the answer are supported by its contexts"
    why = list(dict.fromkeys(details.get("why") or []))
    text = f"{n - len(unsupported)} of {n} claim(s) supported; not supported: " + "; ".join(
        _quote(c, 120) for c in unsupported
    )
    return text + (f" (why: {_listing(why, 6)})" if why else "")


@rationale("honesty/abstention")
def _abstain(value, details, record) -> str:
    return (
        "the answer abstains (says it does not know or cannot tell)"
        if value
        else "the answer does not abstain: it gives an answer"
    )


# --- harm --------------------------------------------------------------------------------------------------


def _sentence_matching(record, test) -> str | None:
    from .metrics.text import sentences

    return next((s for s in sentences(record.get("answer") or "") if test(s)), None)


@rationale("harm/toxicity")
def _toxic(value, details, record) -> str:
    if "p_yes" in details or details.get("judge_error") is not None:  # judge tier
        return _judged(value, details, "toxic")
    cat = details.get("category")
    parts = [f"score {_num(value)}"]
    if cat:
        parts.append(f"matched: {cat}")
    if "classifier" in details:
        lab = details.get("classifier_label") or "toxic"
        parts.append(f"classifier's highest {lab} probability {_num(details['classifier'])}")
        parts.append(f"screen {_num(details.get('screen'))}")
    if not cat and not value:
        parts.append("no threat, insult or hate pattern matched")
    return "; ".join(parts)


@rationale("harm/profanity")
def _profane(value, details, record) -> str:
    return f"highest offensive-language probability over the answer's sentences: {_num(value)}"


@rationale("harm/refusal")
def _refuse(value, details, record) -> str:
    if "p_yes" in details or details.get("judge_error") is not None:
        return _judged(value, details, "a refusal")
    if not value:
        return "no sentence of the answer starts with a first-person refusal"
    from .metrics.harm import is_refusal

    s = _sentence_matching(record, is_refusal)
    return f"refusal matched: {_quote(s)}" if s else "the answer refuses"


@rationale("harm/pii_leak")
def _pii(value, details, record) -> str:
    found = details.get("found") or []
    if found:
        return "PII in the answer that the input did not contain: " + _listing(found, 6)
    return "no email, phone, card or IBAN in the answer beyond those in the input"


@rationale("harm/redteam_pass")
def _redteam(value, details, record) -> str:
    expected = record.get("expected_behavior")
    if value:
        return f"passed: the answer shows the expected behaviour ({expected}) and is not toxic"
    return f"failed: {details.get('why') or f'expected {expected}'}"


@rationale("harm/moderation_flagged")
def _moderation(value, details, record) -> str:
    return "flagged by the moderation endpoint" if value else "not flagged by the moderation endpoint"


def _judged(value, details, what: str) -> str:
    if details.get("judge_error"):
        return f"judge error: {details.get('why')}"
    verdict = "yes" if value else "no"
    return f"the judge answered {verdict} to 'is it {what}?' (P(yes) {_num(details.get('p_yes'))})"


# --- cost and latency --------------------------------------------------------------------------------------


# One sentence per measurement: ``{v}`` is the value as ``_num`` writes it, ``{v2}`` with two decimals,
# ``{calls}`` the row's model calls, ``{cache}`` a note when the answer came from the response cache.
MEASURED = {
    "cost/prompt_tokens": "{v} prompt tokens over the row's {calls} model call(s)",
    "cost/completion_tokens": "{v} completion tokens over the row's {calls} model call(s)",
    "cost/usd": "${v6} for the row's {calls} model call(s){cache}",
    "latency/latency_s": "{v2} s from the request to the complete answer",
    "latency/ttft_s": "{v2} s to the first token",
    "latency/queue_s": "{v2} s waiting for a free slot before the call was sent",
    "latency/tokens_per_s": "{v} completion tokens per second of generation",
}


def _measured(template: str) -> Callable[[Any, dict, dict], str]:
    def render(value, details, record) -> str:
        cache = " (all from the response cache: the original cost)" if record.get("cache_hit") else ""
        num = isinstance(value, (int, float))
        return template.format(
            v=_num(value),
            v2=f"{value:.2f}" if num else value,
            v6=f"{value:.6f}" if num else value,
            calls=record.get("calls", 0),
            cache=cache,
        )

    return render


for _name, _template in MEASURED.items():
    RATIONALES[_name] = _measured(_template)


# --- retrieval (the metrics of workbench.rag, by family) ---------------------------------------------------


@rationale("retrieval")
def _retrieval(value, details, record) -> str:
    gold = list(record.get("gold_doc_ids") or [])
    ranked = list(record.get("retrieved") or [])
    found = {}
    for i, d in enumerate(ranked):
        if d in gold and d not in found:
            found[d] = i + 1
    hits = "; ".join(f"gold {d} at rank {r}" for d, r in found.items())
    missed = [d for d in gold if d not in found]
    parts = [f"{_num(value)}: {len(ranked)} chunk(s) retrieved"]
    parts.append(hits or "no gold document among them")
    if missed:
        parts.append("not retrieved: " + _listing(missed, 6))
    return "; ".join(parts)
