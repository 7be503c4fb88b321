"""Cost: tokens and USD per row (summed over the answer's calls), with mean and total aggregates.

Cached rows report the original call's usage and cost, so a cached re-run's cost metrics equal the first
run's (the money actually spent again is ``EvalResult.spent_usd``)."""

from __future__ import annotations

from . import metric

STATS = ("mean", "total")


def _sum(name: str, field: str):
    """The row metric ``name``: ``field`` summed over the answer's calls; empty when a call did not report it."""

    def row_metric(row, answer, env):
        vals = [getattr(c, field) for c in answer.calls]
        if not vals or any(v is None for v in vals):
            return None
        return float(sum(vals))

    row_metric.__name__ = row_metric.__qualname__ = name
    return row_metric


# (metric, the field of each call, description)
for _name, _field, _description in (
    ("prompt_tokens", "prompt_tokens", "prompt tokens over the row's calls (endpoint usage, else offline count)"),
    ("completion_tokens", "completion_tokens", "completion tokens over the row's calls"),
    (
        "usd",
        "cost_usd",
        "USD over the row's calls from the price table, every attempt that reported usage (retried ones too; "
        "local endpoint: 0; unknown price: empty)",
    ),
):
    metric(f"cost/{_name}", higher_is_better=False, range=(0, None), stats=STATS, description=_description)(
        _sum(_name, _field)
    )
