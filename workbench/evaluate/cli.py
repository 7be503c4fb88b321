"""The function behind ``workbench eval`` (importable and tested on its own)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from .. import tags as T
from ..candidates import PromptCandidate
from ..config import settings
from ..llm.pricing import UNPRICED, format_usd, is_priced
from .engine import EvalPlan

if TYPE_CHECKING:
    from ..data import Dataset

CLI_OPTIONS = ("model_id", "system_prompt", "max_tokens", "experiment", "run_name", "dry_run")


def run_eval_cli(
    dataset: str | Dataset, model: str | None = None, *, metrics: list[str] | None = None, echo=print, **options
) -> int:
    """Dry-run estimate, or an evaluation in its own MLflow run; prints the summary. Returns an exit code.

    Options of the command: ``model_id`` instead of ``model``: the candidate recorded as that LoggedModel,
    rebuilt with all its settings (``candidates.from_config``; a RAG one needs :mod:`workbench.rag` imported);
    ``system_prompt`` (default none) and ``max_tokens`` (default 256) of the candidate built from ``model``;
    ``experiment`` and ``run_name`` of the run; ``dry_run``: the estimate only. Every other option is passed to
    :func:`~workbench.evaluate.evaluate` (``repeats``, ``budget_usd``, ``judge``, ``concurrency``, ``cache``,
    ``trace``, ...: the fields of :class:`~workbench.evaluate.engine.EvalPlan`); an unknown name is a
    :class:`~workbench.errors.UsageError` (exit code 2). A dataset ``mlflow:NAME`` and the model id are tagged on
    the run as its lineage."""
    EvalPlan.check_options(options, "workbench eval", extra=CLI_OPTIONS)
    model_id, system_prompt = options.pop("model_id", None), options.pop("system_prompt", None)
    max_tokens, experiment = options.pop("max_tokens", 256), options.pop("experiment", None)
    run_name, dry_run = options.pop("run_name", None), options.pop("dry_run", False)
    judge, budget_usd = options.get("judge"), options.get("budget_usd")
    from ..data import load_dataset
    from ..lifecycle import tracked_run
    from .metrics import get_metrics

    # inputs first, so a bad dataset, model or metric name leaves no run (and no mlflow.db) behind
    lineage = {T.LINEAGE_DATASET: dataset} if str(dataset).startswith("mlflow:") else {}
    dataset = load_dataset(dataset)
    if model_id:
        cand = candidate_from_model(model_id)
        model = cand.config.get("model", "local")
        lineage[T.LINEAGE_MODEL_ID] = model_id
    else:  # no default persona: the candidate sends exactly the system prompt given (none if none)
        model = model or "local"
        cand = PromptCandidate(model=model, system_prompt=system_prompt or None, max_tokens=max_tokens)
    for spec in filter(None, (model, judge)):
        settings().resolve_model(spec)
    get_metrics(metrics, judge=bool(judge))

    from .runner import estimate, evaluate

    if dry_run:
        est = estimate(dataset, [cand], metrics=metrics, repeats=options.get("repeats", 1), judge=judge)
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            echo(est.to_string(index=False))
        echo("(dry run: nothing was sent; completion tokens and USD are upper bounds at max_tokens)")
        return 0
    ds = dataset
    with tracked_run(
        "eval",
        run_name or f"eval-{cand.name}",
        experiment,
        tags=lineage,
        params={"eval.system_prompt": getattr(cand, "system_prompt", None) or "(none)"},
    ) as run:
        res = evaluate(ds, [cand], metrics=metrics, run_id=run.run_id, **options)
        errors = res.rows["error"].dropna() if "error" in res.rows else pd.Series(dtype=object)
        if len(res.rows) and len(errors) == len(res.rows):  # nothing was evaluated: not a result
            classes = ", ".join(f"{k} {v}" for k, v in errors.value_counts().items())
            run.fail(
                f"all {len(res.rows)} rows failed ({classes}); first: "
                f"{res.rows['error_message'].dropna().iloc[0] if 'error_message' in res.rows else '?'}"[:1000]
            )
    rid = run.run_id
    if not run.ok and len(errors) == len(res.rows) and set(errors) == {"connection"}:
        from ..errors import EndpointUnreachable  # exit 4, as README's table says for an endpoint that is down

        raise EndpointUnreachable(f"run {rid} FAILED: model '{model}' is unreachable: {run.error}")
    if not run.ok:
        echo(f"run {rid} FAILED: {run.error}")
        return 1
    echo(res.headline())
    s = res.summary()[["metric", "value", "ci_low", "ci_high", "n"]].round(4)
    ep, model_name = settings().resolve_model(model)
    priced = is_priced(ep, model_name)
    if not priced:  # an unknown cost is shown as such, never as 0
        s["value"] = s["value"].astype(object).where(~s["metric"].str.startswith("cost/usd/"), UNPRICED)
    with pd.option_context("display.width", 200, "display.max_rows", 200):
        echo(s.to_string(index=False))
    echo(
        f"\nrun {rid}: {len(res.rows)} rows ({res.computed_rows} computed now), {res.duration_s:.1f}s, "
        f"spent {format_usd(res.spent_usd if priced else None)}"
    )
    if res.stopped == "budget":
        echo(f"stopped at the budget (${budget_usd}); re-run the same command with a larger --budget-usd to resume")
        return 3  # workbench.cli.EXIT_BUDGET (nothing imports cli)
    return 0


def candidate_from_model(model_id: str):
    """The candidate recorded as LoggedModel ``model_id`` (its params are its configuration), rebuilt."""
    from ..candidates import from_config
    from .record import candidate_name, logged_candidate

    model, config = logged_candidate(model_id)
    return from_config(config, candidate_name(model))
