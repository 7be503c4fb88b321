"""``wb.evaluate(...)``: rows × candidates × repeats, concurrent, streamed to a checkpoint, resumable,
with a budget stop, logged to MLflow.

* Jobs are pulled lazily by a fixed pool of async workers (memory stays flat for 100k rows); each finished
  row is appended to a JSONL checkpoint (``.workbench/evals/<dataset>-<key>.jsonl``). The key hashes the
  dataset digest, candidate configs, metric names, repeats and judge, so re-running the same call resumes:
  only missing (or failed) rows are computed, and the final table has one row per (candidate, id, repeat).
* ``budget_usd``: a hard cap, held in integer nano-dollars (:mod:`workbench.llm.budget`). A row starts only when
  its own upper bound (prompt tokens counted offline with chat framing, plus ``max_tokens``) fits beside what is
  spent and what calls in flight hold; every attempt (retries and judge calls too) reserves its own bound before
  it is sent and is charged its reported usage afterwards, so abandoned attempts count. When a row does not fit
  and nothing is in flight, no new row starts and the result says ``stopped="budget"`` — re-run (with a larger
  budget) to continue. See docs/reliability.md for what an attempt without usage may cost.
* Row errors (after the client's retries) are rows with an ``error`` class, never exceptions.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd

from .. import heap, tags as T, tracking
from ..candidates import Candidate, as_candidate
from ..config import settings
from ..data import Dataset, load_dataset
from ..errors import WorkbenchError
from ..executors import executor_def
from ..llm.threads import load_tags
from . import record
from .distributed import run_on_pool
from .engine import (
    Checkpoint,
    EvalPlan,
    MetricEnv,  # noqa: F401 - importable from here, as before (tests, benchmarks)
    RunProgress,
    interleaved_jobs,
    read_checkpoint,
    row_key,
)
from .metrics import MetricDef, get_metrics
from .metrics.text import sentences
from .result import EvalResult, aggregates
from .scorers import register_judges


def endpoint_identity(spec: str | None) -> str | None:
    """What determines a model's answers besides the request (:meth:`EndpointKind.identity`: the server's URL
    or the model file), for ``spec``; None for a callable candidate."""
    if not spec:
        return None
    from ..llm.endpoints import kind_of

    ep, model = settings().resolve_model(spec)
    return kind_of(ep).identity(ep, model)


def eval_key(
    ds: Dataset,
    cands: list[Candidate],
    mdefs: list[MetricDef],
    repeats: int,
    judge: str | None,
    store: str | None = None,
) -> str:
    """The checkpoint's key: dataset digest, candidate configs and the identity of the endpoint each talks to
    (rows another server answered are never reused, whatever the cache mode), metrics, repeats, judge, and the
    tracking store the rows are recorded in (a row resumed into another store would arrive there without its
    trace; the response cache still makes the re-run cheap)."""
    blob = json.dumps(
        [
            ds.digest,
            [(c.name, c.config, endpoint_identity(getattr(c, "model", None))) for c in cands],
            [m.name for m in mdefs],
            repeats,
            judge,
            endpoint_identity(judge),
        ]
        + ([store] if store else []),
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def evaluate(
    dataset,
    candidates,
    metrics: list[str] | None = None,
    repeats: int = 1,
    concurrency: int | None = None,
    cache: str = "use",
    budget_usd: float | None = None,
    judge: str | None = None,
    **options,
) -> EvalResult:
    """Evaluate ``candidates`` (model specs, :class:`Candidate`s or callables) on ``dataset``.

    Returns an :class:`EvalResult`. With ``log`` (the default) it is recorded in MLflow
    (:mod:`workbench.evaluate.record`): into ``run_id`` if given, else the launching run inside ``workbench run``,
    else a new run for this call, ended when the call returns, in MLflow's active experiment
    (``mlflow.set_experiment``, ``MLFLOW_EXPERIMENT_NAME``; default ``workbench``) and a child of the active run
    (``mlflow.start_run()``; in a notebook kernel, the notebook's own run); several
    candidates get one child run each; every candidate configuration is a LoggedModel; with ``trace`` (the
    default) every evaluated row is a trace with one Feedback per metric and the reference as an Expectation.

    ``metrics``: names or families (default: every metric that needs no LLM, plus judged ones when ``judge`` is
    set). ``repeats``: answers per (candidate, row). ``concurrency``: rows in flight (default: the endpoints' own
    ``max_concurrency``). ``cache``: the response cache mode. ``budget_usd``: a hard cap on spend. ``judge``:
    ``"endpoint:model"`` of the LLM judge.

    Keyword options (the fields of :class:`~workbench.evaluate.engine.EvalPlan`; any other name is a
    :class:`~workbench.errors.UsageError` naming the valid ones):

    * ``checkpoint`` — the rows' JSONL (default ``.workbench/evals/<dataset>-<key>.jsonl``); ``resume`` (default
      True) reuses its finished rows, False starts it again;
    * ``log`` (default True), ``run_id``, ``trace`` (default True) — recording in MLflow, as above;
    * ``progress`` — a progress bar (default: shown once the rows have taken 2 s, however few; False: none);
    * ``embed_model`` — the embedding model of similarity metrics (default: the offline one);
    * ``executor`` — where the rows run, a name in :mod:`workbench.executors` (default ``"local"``: this
      process). ``executor="dask"`` spreads rows over Dask workers (``scheduler`` address, else a local cluster of
      ``workers``), in partitions of ``partition_rows``; any other registered executor runs partitions on its
      pool the same way. See :mod:`workbench.evaluate.distributed`.
    """
    t0 = time.monotonic()
    plan = make_plan(
        dataset,
        candidates,
        metrics,
        repeats=repeats,
        concurrency=concurrency,
        cache=cache,
        budget_usd=budget_usd,
        judge=judge,
        **options,
    )
    ckpt = Checkpoint(plan.checkpoint_path, resume=plan.resume)  # holds the checkpoint's lock until closed
    try:
        with heap.settled():  # the imported modules out of the garbage collector's passes while this runs
            return _run(plan, ckpt, t0)
    finally:
        ckpt.close()


def make_plan(dataset, candidates, metrics: list[str] | None = None, **options) -> EvalPlan:
    """The :class:`EvalPlan` of ``evaluate(dataset, candidates, metrics, **options)``: the dataset loaded, the
    candidates and metrics resolved, every option checked (unknown names, duplicate candidate names, repeats,
    model specs and their keys, prices under a budget, the executor), the checkpoint key and path and the
    concurrency filled in. Nothing runs."""
    EvalPlan.check_options(options)
    ds = load_dataset(dataset)
    cands = tuple(as_candidate(c) for c in (candidates if isinstance(candidates, (list, tuple)) else [candidates]))
    names = [c.name for c in cands]
    if len(set(names)) != len(names):
        raise WorkbenchError(f"candidate names must be unique, got {names}: pass name=... to tell them apart")
    plan = EvalPlan(ds, cands, tuple(get_metrics(metrics, judge=bool(options.get("judge")))), **options)
    if plan.repeats < 1:
        raise WorkbenchError("repeats must be >= 1")
    executor_def(plan.executor)  # an unknown executor fails before any row runs
    for c in cands:  # fail fast on bad model specs / missing keys, before any row runs
        model = getattr(c, "model", None)
        if model:
            ep, _ = settings().resolve_model(model)
            ep.api_key()
    if plan.budget_usd is not None:  # a budget needs a price for every model that can spend
        from ..llm.pricing import is_priced

        for spec in [getattr(c, "model", None) for c in cands] + [plan.judge]:
            if spec and not is_priced(*settings().resolve_model(spec)):
                raise WorkbenchError(
                    f"budget_usd={plan.budget_usd} cannot be held: model '{spec}' has no price (its "
                    f"cost would show as 'unpriced'); add [prices.\"{settings().resolve_model(spec)[1]}\"] "
                    f"input/output (USD per 1M tokens) to workbench.toml, or drop the budget"
                )
    key = eval_key(
        ds,
        list(cands),
        list(plan.metrics),
        plan.repeats,
        plan.judge,
        store=tracking.tracking_uri() if plan.log else None,
    )
    ckpt_path = (
        Path(plan.checkpoint)
        if plan.checkpoint
        else settings().project_dir / ".workbench" / "evals" / f"{ds.name}-{key}.jsonl"
    )
    return replace(plan, key=key, checkpoint=ckpt_path, concurrency=plan.concurrency or default_workers(cands))


def default_workers(cands) -> int:
    """Workers when none are asked for: the endpoints' own concurrency (each endpoint's ``max_concurrency`` once,
    summed, at most 64). More workers than an endpoint admits only queue in the client, and queued time is
    not latency (it is ``latency/queue_s``)."""
    eps = {}
    for c in cands:
        ep = settings().resolve_model(getattr(c, "model", "local"))[0]
        eps[ep.name] = ep.max_concurrency
    return max(1, min(64, sum(eps.values())))


def run_plan(plan: EvalPlan, pending: list, ckpt: Checkpoint, recording=None) -> tuple[int, float, str | None]:
    """``pending`` jobs run where ``plan.executor`` says: its own evaluation runner (``local``: this process), else
    partitions on its pool (:func:`~workbench.evaluate.distributed.run_on_pool`)."""
    runner = executor_def(plan.executor).evaluate or run_on_pool
    return runner(plan, pending, ckpt, recording)


def _run(plan: EvalPlan, ckpt: Checkpoint, t0: float) -> EvalResult:
    """The jobs not yet in the checkpoint, run and recorded; the result."""
    ds, cands = plan.dataset, list(plan.candidates)
    prior = {k: r for k, r in read_checkpoint(plan.checkpoint_path).items() if not r.get("error")}
    rows = ds.rows
    pending = interleaved_jobs(rows, cands, plan.repeats, set(prior))
    name = f"eval-{ds.name}-{'-'.join(c.name for c in cands)}"[:200]
    with _evaluation_run(plan.log, plan.run_id, name) as parent:
        recording = record.open_recording(cands, parent, ds, traces=plan.trace, judge=plan.judge) if parent else None
        if recording is not None:  # the evaluated metrics as the experiment's judges (MLflow's Judges page)
            register_judges(recording.experiment_id, list(plan.metrics), plan.judge)
        status = "FAILED"
        try:
            wanted = {row_key(c.name, row["id"], r) for row in rows for c in cands for r in range(plan.repeats)}
            for rec in record.trace_resumed_rows(
                recording, [v for k, v in prior.items() if k in wanted], list(plan.metrics)
            ).values():
                ckpt.write(rec)  # its new trace id (later lines win)
            load_start = load_tags(T.LOAD_START)  # so a reader can tell a slow model from a busy machine
            heap.settle()  # and what opening the run and the store imported and built, while the rows run
            try:
                n, spent, stopped = run_plan(plan, pending, ckpt, recording)
                outcome = RunProgress(n=n, spent=spent, stopped=stopped)
            finally:
                ckpt.close()  # the rows are on disk before the result is read back
            result = _result(plan, rows, outcome, t0)
            result.tags = {**load_start, **load_tags(T.LOAD_END)}
            status = "FINISHED"
        finally:
            if recording is not None:  # children end with the call, failed ones too: never left RUNNING
                record.close_recording(recording, result if status == "FINISHED" else None, status)
        if parent:
            from .report import log_result

            result.run_id = log_result(result, parent)
    return result


@contextlib.contextmanager
def _evaluation_run(log: bool, run_id: str | None, name: str):
    """The run an evaluation records into: ``run_id``, else the launching run, else a new one for this call."""
    if not log:
        yield None
        return

    rid = run_id or os.environ.get(tracking.RUN_ENV)
    if rid:
        tracking.configure()
        yield rid
        return
    from ..lifecycle import tracked_run

    # a notebook's evaluation is a child of the notebook's own run, so its artifacts and this evaluation sit in
    # one run tree; elsewhere a child of the active run (mlflow.start_run()), if any
    parent = tracking.current_run_id() if tracking.in_kernel() else None
    with tracked_run("eval", name, parent_run_id=parent) as run:
        yield run.run_id


def _result(plan: EvalPlan, rows: list[dict], outcome: RunProgress, t0: float) -> EvalResult:
    """The evaluation's table (one row per candidate, id and repeat, in order) read back from the checkpoint,
    its parameters and aggregates."""
    cands, mdefs, repeats, stopped = list(plan.candidates), list(plan.metrics), plan.repeats, outcome.stopped
    final = read_checkpoint(plan.checkpoint_path)
    order = {
        (row_key(c.name, row["id"], r)): i
        for i, (row, c, r) in enumerate((row, c, r) for c in cands for row in rows for r in range(repeats))
    }
    recs = sorted((v for k, v in final.items() if k in order), key=lambda v: order[v["key"]])
    df = pd.DataFrame(recs)
    if stopped is None and len(df) < len(order):
        stopped = "incomplete"
    ds = plan.dataset
    # namespaced, so they never clash with a notebook's own parameters (MLflow params are write-once)
    params = {
        "dataset.name": ds.name,
        "dataset.digest": ds.digest,
        "dataset.rows": len(ds),
        "eval.repeats": repeats,
        "eval.metrics": ",".join(m.name for m in mdefs),
        "eval.judge": plan.judge or "none",
        "eval.cache": plan.cache,
        "eval.budget_usd": plan.budget_usd if plan.budget_usd is not None else "none",
        "eval.key": plan.key,
    }
    for c in cands:
        params.update(c.params())
    result = EvalResult(
        rows=df,
        metrics={},
        candidates=[c.name for c in cands],
        metric_defs=mdefs,
        dataset=ds,
        checkpoint=plan.checkpoint_path,
        stopped=stopped,
        spent_usd=outcome.spent,
        duration_s=time.monotonic() - t0,
        computed_rows=outcome.n,
        params=params,
    )
    result.metrics = aggregates(result) if len(df) else {}
    return result


def estimate(
    dataset, candidates, metrics: list[str] | None = None, repeats: int = 1, judge: str | None = None
) -> pd.DataFrame:
    """Dry run: calls, tokens and an upper-bound USD per candidate (prompt tokens counted offline,
    completion tokens = ``max_tokens``; judge calls ~ rubric + answer). Nothing is sent to a model."""
    from ..llm.pricing import cost_usd, count_tokens

    ds = load_dataset(dataset)
    cands = [as_candidate(c) for c in (candidates if isinstance(candidates, (list, tuple)) else [candidates])]
    mdefs = get_metrics(metrics, judge=bool(judge))
    # the claim-level judge asks one question per claim: counted as the reference's sentences (at least 3)
    claims_per_row = max([3] + [len(sentences(str(r.get("reference") or ""))) for r in ds.rows])
    judge_calls_per_row = sum(
        claims_per_row if m.name == "honesty/judge_groundedness" else 1
        for m in mdefs
        if m.needs_llm and m.name != "harm/moderation_flagged"
    )
    out = []
    for c in cands:
        model = getattr(c, "model", None)
        if model is None:
            out.append(
                {
                    "candidate": c.name,
                    "calls": len(ds) * repeats,
                    "prompt_tokens": None,
                    "completion_tokens_max": None,
                    "usd_max": None,
                    "accuracy": "callable: unknown",
                }
            )
            continue
        ep, model_name = settings().resolve_model(model)
        max_tokens = getattr(c, "gen_params", {}).get("max_tokens", 256)
        pt, acc = 0, "exact"
        for row in ds.rows:
            text = "\n".join(m["content"] for m in c.messages(row))
            n, a = count_tokens(text, model_name)
            pt += n
            acc = a if a != "exact" else acc
        pt *= repeats
        ct = len(ds) * repeats * max_tokens
        usd = cost_usd(ep, model_name, pt, ct)
        jusd = None
        jtokens = 0
        if judge:
            jep, jm = settings().resolve_model(judge)
            jcalls = len(ds) * repeats * judge_calls_per_row
            # a judge prompt holds the contexts (or the prompt) and the answer (max_tokens) plus its rubric
            ctx_tokens = sum(
                count_tokens("\n".join(map(str, r.get("contexts") or [r.get("question") or ""])), jm)[0]
                for r in ds.rows
            ) / max(1, len(ds))
            jtokens = int(jcalls * (120 + ctx_tokens + max_tokens))
            jusd = cost_usd(jep, jm, jtokens, jcalls * 512)
        out.append(
            {
                "candidate": c.name,
                "model": model,
                "calls": len(ds) * repeats,
                "prompt_tokens": pt,
                "completion_tokens_max": ct,
                "usd_max": usd,
                "judge_calls": len(ds) * repeats * judge_calls_per_row if judge else 0,
                "judge_prompt_tokens": jtokens,
                "judge_usd_max": jusd,
                "token_count": acc,
            }
        )
    return pd.DataFrame(out)
