"""Query rewriting before retrieval, registered by name in :data:`QUERY_REWRITES`; off by default.

* ``keywords``: the question's content terms only (stopwords and punctuation dropped; numbers and signs kept),
  which sharpens dense retrieval of chatty questions.
* ``llm``: the generator rewrites the question as a short search query (one extra call, cached like any other,
  counted in the row's cost and latency); on an error or an empty reply the question is used as it is.

A rewrite returns ``(query, call record or None)``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ..errors import WorkbenchError
from ..llm.client import ChatRecord, LLMClient
from .rerank import terms

REWRITE_PROMPT = (
    "Rewrite the customer question as a short search query for the product manuals: name the product "
    "or the kind of product and the property asked about. Reply with the query only.\n\n"
    "Question: {question}"
)


async def _keywords(question: str, client: LLMClient | None, model: str | None) -> tuple[str, ChatRecord | None]:
    return " ".join(terms(question)) or question, None


async def _llm(question: str, client: LLMClient | None, model: str | None) -> tuple[str, ChatRecord | None]:
    if client is None or model is None:
        raise WorkbenchError("query_rewrite='llm' needs a client and a model")
    rec = await client.achat(
        [{"role": "user", "content": REWRITE_PROMPT.format(question=question)}], model, temperature=0.0, max_tokens=48
    )
    text = (rec.text or "").strip().strip('"').splitlines()
    return (text[0].strip() if rec.error is None and text and text[0].strip() else question), rec


QUERY_REWRITES: dict[str, Callable[[str, LLMClient | None, str | None], Awaitable[tuple[str, ChatRecord | None]]]] = {
    "keywords": _keywords,
    "llm": _llm,
}


def get_rewrite(name: str | None):
    """The named rewrite (``None``/``"none"``: no rewriting)."""
    if name in (None, "", "none"):
        return None
    if name not in QUERY_REWRITES:
        raise WorkbenchError(f"unknown query_rewrite '{name}': one of {sorted(QUERY_REWRITES)} (or none)")
    return QUERY_REWRITES[name]
