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
    from ..config import settings
    from ..data import load_dataset
    from .metrics import get_metrics

    # inputs first, so a bad dataset, model or metric name leaves no run (and no mlflow.db) behind
    dataset = load_dataset(dataset)
    for spec in filter(None, (model, judge)):
        settings().resolve_model(spec)
    get_metrics(metrics, judge=bool(judge))

    from .. import tracking
    from ..monitor.card import audit_tags, govern_run
    from .runner import estimate, evaluate

    cand = PromptCandidate(model=model, system_prompt=system_prompt or DEFAULT_SYSTEM, max_tokens=max_tokens)
    if dry_run:
        est = estimate(dataset, [cand], metrics=metrics, repeats=repeats, judge=judge)
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            echo(est.to_string(index=False))
        echo("(dry run: nothing was sent; completion tokens and USD are upper bounds at max_tokens)")
        return 0
    c = tracking.client()
    exp_id = tracking.experiment_id(experiment)
    run = c.create_run(exp_id, run_name=run_name or f"eval-{cand.name}", tags={"workbench.kind": "eval",
                                                                               **audit_tags()})
    rid = run.info.run_id
    status, gov = "FAILED", None
    try:
        res = evaluate(dataset, [cand], metrics=metrics, repeats=repeats, concurrency=concurrency, cache=cache,
                       budget_usd=budget_usd, judge=judge, run_id=rid, trace=trace)
        status = "FINISHED"
    finally:  # every run gets its card and scan, failed ones too
        gov = govern_run(rid, status=status)
        if gov.error:
            status = "FAILED"
        c.set_terminated(rid, status)
    if gov.error:
        echo(f"run {rid} FAILED: {gov.error}")
        return 1
    s = res.summary()
    with pd.option_context("display.width", 200, "display.max_rows", 200):
        echo(s[["metric", "value", "ci_low", "ci_high", "n"]].round(4).to_string(index=False))
    echo(f"\nrun {rid}: {len(res.rows)} rows ({res.computed_rows} computed now), {res.duration_s:.1f}s, "
         f"spent ${res.spent_usd:.4f}")
    if res.stopped == "budget":
        echo(f"stopped at the budget (${budget_usd}); re-run the same command with a larger --budget-usd to resume")
        return 3  # workbench.cli.EXIT_BUDGET (nothing imports cli)
    return 0
