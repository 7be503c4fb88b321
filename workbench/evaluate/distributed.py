"""Evaluation rows on an executor's pool: ``wb.evaluate(..., executor="dask", scheduler="tcp://HOST:8786")``, or
any executor registered in :mod:`workbench.executors` without an evaluation runner of its own.

The pending (candidate, row, repeat) jobs are cut into partitions; each partition is one task on the executor's
``concurrent.futures`` pool (Dask's ``ClientExecutor`` for ``dask``) that runs the ordinary async runner
(:func:`workbench.evaluate.engine.run_jobs`: same client, cache, retries, metrics) on its rows against the
endpoint, and returns its records. The plan is sent to every worker once when the pool can (Dask's ``scatter``).
The launcher keeps a bounded window of partitions in flight (memory stays flat), appends each returned partition
to the evaluation's checkpoint as it arrives (results stream back partition by partition) and stops submitting
once a budget is spent.

Checkpoint per partition: a worker writes its rows to ``<checkpoint>.parts/<partition>.jsonl`` when it can
reach that folder (same machine or a shared filesystem; else a temporary file), and resumes from it when the
task is re-run after a lost worker. The client folds a partition file into the checkpoint once the partition
is back; files left by an interrupted evaluation are folded in on the next call, so re-running resumes with
only the missing rows, as the local runner does.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..progress import bar as progress_bar


def parts_dir(checkpoint: Path) -> Path:
    return checkpoint.with_suffix(checkpoint.suffix + ".parts")


def _partition_key(jobs: list[tuple[dict, int, int]], cands) -> str:
    from .engine import row_key

    keys = "\n".join(row_key(cands[c].name, row["id"], r) for row, c, r in jobs)
    return hashlib.sha256(keys.encode()).hexdigest()[:16]


def eval_partition(
    jobs: list[tuple[dict, int, int]], plan, part_file: str, budget_usd: float | None, project_dir: str
) -> dict:
    """Runs on a worker: the async runner over one partition, under the ``budget_usd`` left when it was
    submitted. ``plan`` is the evaluation's :class:`~workbench.evaluate.engine.EvalPlan` (rows travel in
    ``jobs``, candidates by index into ``plan.candidates``)."""
    from ..llm.client import LLMClient, run_sync
    from .engine import Checkpoint, read_checkpoint, row_key, run_jobs

    os.environ.setdefault("WORKBENCH_PROJECT_DIR", project_dir)  # the response cache lives in the project
    path = Path(part_file)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError:  # the client's folder is not reachable from this machine
        path = Path(tempfile.gettempdir()) / "workbench-eval-parts" / path.name
        path.parent.mkdir(parents=True, exist_ok=True)
    cands = plan.candidates
    done = {k for k, r in read_checkpoint(path).items() if not r.get("error")}  # a re-run after a lost worker
    todo = [(row, cands[c], r) for row, c, r in jobs if row_key(cands[c].name, row["id"], r) not in done]
    here = replace(plan, budget_usd=budget_usd, progress=False)
    ckpt = Checkpoint(path)
    try:
        n, spent, stopped = run_sync(run_jobs(here, iter(todo), len(todo), ckpt, LLMClient(cache=plan.cache)))
    finally:
        ckpt.close()
    records = list(read_checkpoint(path).values())
    return {"records": records, "computed": n, "spent": spent, "stopped": stopped, "part_file": str(path)}


def _fold_leftovers(pdir: Path, ckpt) -> set[str]:
    """Fold the partition files an interrupted evaluation left behind into ``ckpt``; the keys of their rows."""
    from .engine import read_checkpoint

    folded = set()
    for leftover in sorted(pdir.glob("*.jsonl")) if pdir.exists() else []:
        for key, rec in read_checkpoint(leftover).items():
            if not rec.get("error"):
                ckpt.write(rec)
                folded.add(key)
        leftover.unlink()
    return folded


def run_on_pool(plan, pending: list[tuple[dict, Any, int]], ckpt, recording=None) -> tuple[int, float, str | None]:
    """Compute ``pending`` in partitions on the pool of ``plan.executor`` (``plan.workers``, ``plan.scheduler``),
    appending every returned partition to ``ckpt``. Returns ``(rows computed, new spend, stopped)`` like the
    local runner."""
    from ..config import settings
    from ..executors import get_executor
    from .engine import RunProgress, row_key
    from .record import record_finished_row

    pdir = parts_dir(ckpt.path)
    folded = _fold_leftovers(pdir, ckpt)  # their rows are not pending any more
    cands = list(plan.candidates)
    index = {id(c): i for i, c in enumerate(cands)}
    jobs = [(row, index[id(c)], r) for row, c, r in pending if row_key(c.name, row["id"], r) not in folded]
    if not jobs:
        return 0, 0.0, None

    pool = get_executor(plan.executor, plan.workers or 2, plan.scheduler)
    budget_usd, mdefs = plan.budget_usd, list(plan.metrics)
    bar = None
    try:
        count = getattr(pool, "worker_count", None)  # Dask: the cluster's threads
        n_workers = count() if count else max(1, plan.workers or 2)
        size = plan.partition_rows or max(25, min(500, math.ceil(len(jobs) / (4 * n_workers))))
        parts = [jobs[i : i + size] for i in range(0, len(jobs), size)]
        worker_plan = replace(plan, dataset=None)  # the rows travel in the partitions
        share = getattr(pool, "share", None)  # Dask: scattered to every worker once
        shared = share(worker_plan) if share else worker_plan
        bar = progress_bar(len(jobs), f"eval ({plan.executor})", "row", enabled=plan.progress)
        state = RunProgress()
        todo = iter(parts)

        def submit():
            part = next(todo, None)
            if part is None:
                return None
            remaining = None if budget_usd is None else max(0.0, budget_usd - state.spent)
            f = str(pdir / f"{_partition_key(part, cands)}.jsonl")
            return pool.submit(eval_partition, part, shared, f, remaining, str(settings().project_dir))

        inflight = {f for f in (submit() for _ in range(2 * n_workers)) if f is not None}
        while inflight:
            finished, inflight = wait(inflight, return_when=FIRST_COMPLETED)
            for fut in finished:
                try:
                    out = fut.result()
                except Exception as e:  # noqa: BLE001 - a partition lost twice: its rows stay missing (resumable)
                    state.failed.append(f"{type(e).__name__}: {e}")
                    out = None
                if out is not None:
                    for rec in out["records"]:
                        ckpt.write(rec)
                        record_finished_row(recording, rec, mdefs)
                    Path(out["part_file"]).unlink(missing_ok=True)
                    state.n += out["computed"]
                    state.spent += out["spent"]
                    if bar is not None:
                        bar.update(len(out["records"]))
                    if out["stopped"] or (budget_usd is not None and state.spent >= budget_usd):
                        state.stopped = "budget"
                if state.stopped is None:
                    nxt = submit()
                    if nxt is not None:
                        inflight.add(nxt)
        if state.failed and state.stopped is None:
            state.stopped = "incomplete"
            import warnings

            warnings.warn(
                f"{len(state.failed)} partition(s) failed on {plan.executor} (re-run to resume): {state.failed[0]}",
                stacklevel=3,
            )
        return state.outcome()
    finally:
        if bar is not None:
            bar.close()
        pool.shutdown(wait=False, cancel_futures=True)
