"""Latency: per-row latency, time to first token and decode rate, with mean/p50/p95/p99 (numpy's linear
percentile, type 7) — from the original timings, also when the row came from the cache.

Definitions (docs/metrics.md):

* ``latency/latency_s`` — seconds to the complete answer: the sum of the row's model calls, each measured from
  the moment it is sent (a concurrency slot of its endpoint acquired) to its last token with its retries and backoff included (a cached row reports the original calls'
  times, so a re-run from the cache gives the same figures). A failed row, or a callable candidate without
  calls, counts at its elapsed wall time, so timeouts raise p95 instead of vanishing from it. RAG retrieval time
  is in the row trace's RETRIEVER span.
* ``latency/ttft_s`` — from the sending of the row's last generation call to its first streamed token
  (retries of that call included); empty for failed rows and non-streamed calls.
* ``latency/queue_s`` — the wait for a concurrency slot before the first send, summed over the row's calls:
  the workbench's own queue, reported apart so that latency is the endpoint's.
* ``latency/tokens_per_s`` — decode rate after the first token: ``(completion tokens - 1) / (end - first token)``,
  only for streamed answers of at least 2 tokens."""

from __future__ import annotations

from typing import Any

from . import metric

STATS = ("mean", "p50", "p95", "p99")
SECONDS: dict[str, Any] = {"range": (0, None), "stats": STATS}  # what every latency metric states


@metric("latency/latency_s", higher_is_better=False, **SECONDS)
def latency_s(row, answer, env):
    """seconds to the complete answer: the row's calls with their retries (failed rows and callables: elapsed wall
    time)"""
    vals = [c.latency_s for c in answer.calls if c.latency_s is not None]
    if vals and not answer.error:  # each call's time covers its retries and backoff; the same from the cache
        return float(sum(vals))
    if answer.elapsed_s is not None:  # a failed row: its wall time, less any wait for a concurrency slot
        return max(0.0, float(answer.elapsed_s) - sum(c.queue_s or 0.0 for c in answer.calls))
    return float(sum(vals)) if vals else None


@metric("latency/queue_s", higher_is_better=False, **SECONDS)
def queue_s(row, answer, env):
    """seconds the row's calls waited for a concurrency slot of their endpoint before being sent (not part of
    latency_s or ttft_s)"""
    vals = [c.queue_s for c in answer.calls if c.queue_s is not None and not c.cache_hit]
    return float(sum(vals)) if vals else None


def _last(answer, field: str) -> float | None:
    """``field`` of the answer's last call that reports it; empty for a failed row."""
    vals = [getattr(c, field) for c in answer.calls if getattr(c, field) is not None]
    return float(vals[-1]) if vals and not answer.error else None


@metric("latency/ttft_s", higher_is_better=False, **SECONDS)
def ttft_s(row, answer, env):
    """seconds to the first streamed token of the row's (last) generation call"""
    return _last(answer, "ttft_s")


@metric("latency/tokens_per_s", higher_is_better=True, **SECONDS)
def tokens_per_s(row, answer, env):
    """decode rate: (completion tokens - 1) per second after the first token (streamed, >= 2 tokens)"""
    return _last(answer, "tokens_per_s")
