"""The function behind ``workbench eval`` (importable and tested on its own)."""

from __future__ import annotations

import pandas as pd

from ..candidates import DEFAULT_SYSTEM, PromptCandidate


def run_eval_cli(dataset: str, model: str, system_prompt: str | None = None, metrics: list[str] | None = None,
                 repeats: int = 1, experiment: str | None = None, run_name: str | None = None,
                 dry_run: bool = False, budget_usd: float | None = None, judge: str | None = None,
                 concurrency: int | None = None, cache: str = "use", max_tokens: int = 256, trace: bool = False,
                 echo=print) -> int:
    """Dry-run estimate, or an evaluation in its own MLflow run; prints the summary. Returns an exit code."""
    from ..lifecycle import tracked_run
    from .runner import estimate, evaluate

    cand = PromptCandidate(model=model, system_prompt=system_prompt or DEFAULT_SYSTEM, max_tokens=max_tokens)
    if dry_run:
        est = estimate(dataset, [cand], metrics=metrics, repeats=repeats, judge=judge)
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            echo(est.to_string(index=False))
        echo("(dry run: nothing was sent; completion tokens and USD are upper bounds at max_tokens)")
        return 0
    from ..data import load_dataset

    ds = load_dataset(dataset)  # an invalid dataset fails here, before any run exists
    with tracked_run("eval", run_name or f"eval-{cand.name}", experiment) as run:
        res = evaluate(ds, [cand], metrics=metrics, repeats=repeats, concurrency=concurrency, cache=cache,
                       budget_usd=budget_usd, judge=judge, run_id=run.run_id, trace=trace)
        errors = res.rows["error"].dropna() if "error" in res.rows else pd.Series(dtype=object)
        if len(res.rows) and len(errors) == len(res.rows):  # nothing was evaluated: not a result
            classes = ", ".join(f"{k} {v}" for k, v in errors.value_counts().items())
            run.fail(f"all {len(res.rows)} rows failed ({classes}); first: "
                     f"{res.rows['error_message'].dropna().iloc[0] if 'error_message' in res.rows else '?'}"[:1000])
    rid = run.run_id
    if not run.ok:
        echo(f"run {rid} FAILED: {run.error}")
        return 1
    s = res.summary()
    with pd.option_context("display.width", 200, "display.max_rows", 200):
        echo(s[["metric", "value", "ci_low", "ci_high", "n"]].round(4).to_string(index=False))
    echo(f"\nrun {rid}: {len(res.rows)} rows ({res.computed_rows} computed now), {res.duration_s:.1f}s, "
         f"spent ${res.spent_usd:.4f}")
    if res.stopped == "budget":
        echo(f"stopped at the budget (${budget_usd}); re-run the same command with a larger --budget-usd to resume")
        return 3
    return 0
