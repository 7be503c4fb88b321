"""Fine-tuning through the OpenAI API: upload, create the job, poll with backoff, stream job events and
training metrics into the MLflow run, register the resulting model on the ``openai`` endpoint, cancel on
Ctrl-C when asked. A budget check against the estimate runs *before* the job is created.

The live path needs internet and a key; here it is exercised only against a local fake that follows the
public API shapes (tests/fakes/openai_server.py). Works with any OpenAI-compatible endpoint that implements
``/files`` and ``/fine_tuning/jobs``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import tags as T, tracking
from ..config import register_model, settings
from ..errors import WorkbenchError
from ..options import split_options
from .validate import validate_file

TERMINAL = {"succeeded", "failed", "cancelled"}


class BudgetExceeded(WorkbenchError):
    pass


@dataclass
class JobResult:
    job_id: str
    status: str
    model: str | None  # "openai:ft:gpt-4o-mini:..." when succeeded
    events: list[dict] = field(default_factory=list)
    error: str | None = None
    estimated_usd: float | None = None


def _client(endpoint: str):
    from ..llm.endpoints import kind_of

    ep = settings().endpoints.get(endpoint)
    if ep is None:
        raise WorkbenchError(f"unknown endpoint '{endpoint}'")
    return kind_of(ep).sync_client(ep)


@dataclass(frozen=True)
class JobSettings:
    """The job OpenAI runs: its hyperparameters (``"auto"``: OpenAI chooses), seed and fine-tuned model suffix."""

    epochs: int | str = "auto"
    learning_rate_multiplier: float | str = "auto"
    batch_size: int | str = "auto"
    seed: int | None = 0
    suffix: str | None = None  # part of the fine-tuned model's name


@dataclass(frozen=True)
class Polling:
    """How :func:`run_job` waits for the job: the first delay (it grows ×1.5 up to ``max_poll_s``), the deadline
    (the job keeps running on the server after it), and whether Ctrl-C cancels the job."""

    poll_s: float = 5.0
    max_poll_s: float = 60.0
    timeout_s: float = 6 * 3600
    cancel_on_interrupt: bool = True


def run_job(
    train_file: str | Path,
    validation_file: str | Path | None = None,
    model: str = "gpt-4o-mini-2024-07-18",
    job_settings: JobSettings | None = None,
    *,
    endpoint: str = "openai",
    budget_usd: float | None = None,
    log_mlflow: bool = True,
    run_id: str | None = None,
    echo=print,
    **options,
) -> JobResult:
    """Run one supervised fine-tuning job to completion (or failure/cancel) and return its result.

    ``job_settings`` (:class:`JobSettings`), or its fields as keywords in ``options`` (``epochs``,
    ``learning_rate_multiplier``, ``batch_size``, ``seed``, ``suffix``; they override it), and the fields of
    :class:`Polling` (``poll_s``, ``max_poll_s``, ``timeout_s``, ``cancel_on_interrupt``); any other name is an
    :class:`~workbench.errors.UnknownOption` error. ``budget_usd``: refuse (before any upload) when the estimated
    cost exceeds it. Job events and training metrics go to the MLflow run ``run_id`` (default: the current one)
    when ``log_mlflow``; ``echo`` prints progress."""
    job_cfg, polling = split_options("run_job", options, job_settings or JobSettings(), Polling)
    epochs, learning_rate_multiplier, batch_size = job_cfg.epochs, job_cfg.learning_rate_multiplier, job_cfg.batch_size
    seed = job_cfg.seed
    rep = validate_file(train_file, model=model.split("-20")[0], epochs=epochs if isinstance(epochs, int) else 3)
    if not rep.ok:
        raise WorkbenchError(f"{train_file} failed validation:\n{rep.render()}")
    est = rep.stats()["openai_cost_usd"]
    if budget_usd is not None and (est is None or est > budget_usd):
        raise BudgetExceeded(
            f"estimated cost ${est if est is not None else '?'} exceeds the budget ${budget_usd}; nothing was uploaded"
        )
    client = _client(endpoint)
    if log_mlflow:
        run_id = run_id or tracking.current_run_id()
        tracking.log_params(
            {
                "ft.backend": "openai",
                "ft.base": model,
                "ft.epochs": epochs,
                "ft.lr_multiplier": learning_rate_multiplier,
                "ft.batch_size": batch_size,
                "ft.seed": seed,
                "ft.examples": rep.examples,
                "ft.estimated_usd": est,
            },
            run_id,
        )
    with open(train_file, "rb") as f:
        tf = client.files.create(file=f, purpose="fine-tune")
    vf = None
    if validation_file:
        with open(validation_file, "rb") as f:
            vf = client.files.create(file=f, purpose="fine-tune")
    hp = {"n_epochs": epochs, "learning_rate_multiplier": learning_rate_multiplier, "batch_size": batch_size}
    job = client.fine_tuning.jobs.create(
        training_file=tf.id,
        validation_file=vf.id if vf else None,
        model=model,
        suffix=job_cfg.suffix,
        seed=seed,
        method={"type": "supervised", "supervised": {"hyperparameters": hp}},
    )
    echo(
        f"fine-tuning job {job.id} created ({model}, estimated ${est:.2f})"
        if est is not None
        else f"fine-tuning job {job.id} created ({model})"
    )
    if log_mlflow:
        tracking.set_tags({T.FT_JOB_ID: job.id}, run_id)
    events: list[dict] = []
    seen: set[str] = set()
    delay = polling.poll_s
    deadline = time.monotonic() + polling.timeout_s
    status = job.status
    try:
        while status not in TERMINAL:
            if time.monotonic() > deadline:
                raise WorkbenchError(
                    f"job {job.id} still {status} after {polling.timeout_s:.0f}s; it keeps running "
                    f"on the server — check it later or cancel it"
                )
            time.sleep(delay)
            delay = min(polling.max_poll_s, delay * 1.5)
            job = client.fine_tuning.jobs.retrieve(job.id)
            status = job.status
            new = [e for e in client.fine_tuning.jobs.list_events(job.id, limit=100).data if e.id not in seen]
            for e in sorted(new, key=lambda e: e.created_at):
                seen.add(e.id)
                ev = {
                    "id": e.id,
                    "created_at": e.created_at,
                    "level": e.level,
                    "message": e.message,
                    "type": getattr(e, "type", None),
                    "data": getattr(e, "data", None),
                }
                events.append(ev)
                echo(f"  [{e.level}] {e.message}")
                data = ev["data"] or {}
                if log_mlflow and ev["type"] == "metrics" and isinstance(data, dict) and "step" in data:
                    tracking.log_metrics(
                        {f"ft/{k}": v for k, v in data.items() if k != "step" and isinstance(v, (int, float))},
                        step=int(data["step"]),
                        run_id=run_id,
                    )
    except KeyboardInterrupt:
        if polling.cancel_on_interrupt:
            client.fine_tuning.jobs.cancel(job.id)
            echo(f"cancelled job {job.id}")
            status = "cancelled"
        else:
            raise
    result = JobResult(job_id=job.id, status=status, model=None, events=events, estimated_usd=est)
    if status == "succeeded" and job.fine_tuned_model:
        result.model = f"{endpoint}:{job.fine_tuned_model}"
        register_model(endpoint, job.fine_tuned_model)
    elif status == "failed":
        err = getattr(job, "error", None)
        result.error = getattr(err, "message", None) or str(err)
    if log_mlflow:
        tracking.set_tags({T.FT_STATUS: status, T.FT_MODEL: result.model or ""}, run_id)
        tracking.log_text("\n".join(json.dumps(e, default=str) for e in events), "ft_events.jsonl", run_id)
    return result
