"""Latency: per-row latency, time to first token and tokens/s with mean/p50/p95/p99 — always from the
original timings, also when the row came from the cache."""

from __future__ import annotations

from . import metric

STATS = ("mean", "p50", "p95", "p99")


@metric("latency/latency_s", higher_is_better=False, range=(0, None), stats=STATS,
        description="seconds to the complete answer (sum over the row's calls)")
def latency_s(row, answer, env):
    vals = [c.latency_s for c in answer.calls if c.latency_s is not None]
    return float(sum(vals)) if vals and not answer.error else None


@metric("latency/ttft_s", higher_is_better=False, range=(0, None), stats=STATS,
        description="seconds to the first streamed token of the row's (last) generation call")
def ttft_s(row, answer, env):
    vals = [c.ttft_s for c in answer.calls if c.ttft_s is not None]
    return float(vals[-1]) if vals and not answer.error else None


@metric("latency/tokens_per_s", higher_is_better=True, range=(0, None), stats=STATS,
        description="completion tokens per second of generation (after the first token)")
def tokens_per_s(row, answer, env):
    vals = [c.tokens_per_s for c in answer.calls if c.tokens_per_s is not None]
    return float(vals[-1]) if vals and not answer.error else None
