"""Cost: tokens and USD per row (summed over the answer's calls), with mean and total aggregates.

Cached rows report the original call's usage and cost, so a cached re-run's cost metrics equal the first
run's (the money actually spent again is ``EvalResult.spent_usd``)."""

from __future__ import annotations

from . import metric

STATS = ("mean", "total")


def _sum(answer, field):
    vals = [getattr(c, field) for c in answer.calls]
    if not vals or any(v is None for v in vals):
        return None
    return float(sum(vals))


@metric(
    "cost/prompt_tokens",
    higher_is_better=False,
    range=(0, None),
    stats=STATS,
    description="prompt tokens over the row's calls (endpoint usage, else offline count)",
)
def prompt_tokens(row, answer, env):
    return _sum(answer, "prompt_tokens")


@metric(
    "cost/completion_tokens",
    higher_is_better=False,
    range=(0, None),
    stats=STATS,
    description="completion tokens over the row's calls",
)
def completion_tokens(row, answer, env):
    return _sum(answer, "completion_tokens")


@metric(
    "cost/usd",
    higher_is_better=False,
    range=(0, None),
    stats=STATS,
    description="USD over the row's calls from the price table, every attempt that reported usage (retried "
    "ones too; local endpoint: 0; unknown price: empty)",
)
def usd(row, answer, env):
    return _sum(answer, "cost_usd")
