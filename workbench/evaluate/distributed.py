"""Evaluation rows on Dask: ``wb.evaluate(..., executor="dask", scheduler="tcp://HOST:8786")``.

The pending (candidate, row, repeat) jobs are cut into partitions; each partition is one Dask task that runs
the ordinary async runner (:func:`workbench.evaluate.engine.run_jobs`: same client, cache, retries, metrics)
on its rows against the endpoint, and returns its records. The client keeps a bounded window of partitions in
flight (memory stays flat), appends each returned partition to the evaluation's checkpoint as it arrives
(results stream back partition by partition) and stops submitting once a budget is spent.

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
from pathlib import Path
from typing import Any



def parts_dir(checkpoint: Path) -> Path:
    return checkpoint.with_suffix(checkpoint.suffix + ".parts")


def _partition_key(jobs: list[tuple[dict, int, int]], cands) -> str:
    from .engine import row_key

    keys = "\n".join(row_key(cands[c].name, row["id"], r) for row, c, r in jobs)
    return hashlib.sha256(keys.encode()).hexdigest()[:16]


def eval_partition(jobs: list[tuple[dict, int, int]], shared: dict, part_file: str, budget_usd: float | None,
                   project_dir: str) -> dict:
    """Runs on a Dask worker: the async runner over one partition. ``shared`` holds candidates, metric
    definitions and client settings (scattered once to every worker)."""
    from ..llm.client import LLMClient, run_sync
    from .judge import Judge
    from .engine import Checkpoint, MetricEnv, read_checkpoint, row_key, run_jobs

    os.environ.setdefault("WORKBENCH_PROJECT_DIR", project_dir)  # the response cache lives in the project
    path = Path(part_file)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError:  # the client's folder is not reachable from this machine
        path = Path(tempfile.gettempdir()) / "workbench-eval-parts" / path.name
        path.parent.mkdir(parents=True, exist_ok=True)
    cands, mdefs = shared["candidates"], shared["metrics"]
    done = {k for k, r in read_checkpoint(path).items() if not r.get("error")}  # a re-run after a lost worker
    todo = [(row, cands[c], r) for row, c, r in jobs if row_key(cands[c].name, row["id"], r) not in done]
    client = LLMClient(cache=shared["cache"])
    env = MetricEnv(judge=Judge(shared["judge"], client) if shared["judge"] else None,
                    embed_model=shared["embed_model"])
    ckpt = Checkpoint(path)
    try:
        n, spent, stopped = run_sync(run_jobs(iter(todo), len(todo), client, mdefs, env, ckpt,
                                               shared["concurrency"], budget_usd, False, None))
    finally:
        ckpt.close()
    records = list(read_checkpoint(path).values())
    return {"records": records, "computed": n, "spent": spent, "stopped": stopped, "part_file": str(path)}


def run_dask(pending: list[tuple[dict, Any, int]], cands: list, mdefs: list, ckpt, *, scheduler: str | None,
             workers: int | None, partition_rows: int | None, concurrency: int, cache: str, judge: str | None,
             embed_model: str | None, budget_usd: float | None, progress: bool, recording=None, **_local
             ) -> tuple[int, float, str | None]:
    """Compute ``pending`` on Dask, appending every returned partition to ``ckpt``. Returns
    ``(rows computed, new spend, stopped)`` like the local runner."""
    from distributed import as_completed

    from ..config import settings
    from ..server import dask_client
    from .engine import read_checkpoint, row_key
    from .record import record_finished_row

    pdir = parts_dir(ckpt.path)
    # fold partitions an interrupted evaluation left behind; their rows are not pending any more
    folded = set()
    for leftover in sorted(pdir.glob("*.jsonl")) if pdir.exists() else []:
        for key, rec in read_checkpoint(leftover).items():
            if not rec.get("error"):
                ckpt.write(rec)
                folded.add(key)
        leftover.unlink()
    index = {id(c): i for i, c in enumerate(cands)}
    jobs = [(row, index[id(c)], r) for row, c, r in pending if row_key(c.name, row["id"], r) not in folded]
    if not jobs:
        return 0, 0.0, None

    client, cluster = dask_client(workers or 2, scheduler)
    bar = None
    try:
        n_workers = max(1, len(client.nthreads()))
        size = partition_rows or max(25, min(500, math.ceil(len(jobs) / (4 * n_workers))))
        parts = [jobs[i:i + size] for i in range(0, len(jobs), size)]
        shared = client.scatter({"candidates": cands, "metrics": mdefs, "cache": cache, "judge": judge,
                                 "embed_model": embed_model, "concurrency": concurrency}, broadcast=True)
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(jobs), desc="eval (dask)", unit="row")
        state = {"n": 0, "spent": 0.0, "stopped": None, "failed": []}
        window = 2 * n_workers
        todo = iter(parts)

        def submit():
            part = next(todo, None)
            if part is None:
                return None
            remaining = None if budget_usd is None else max(0.0, budget_usd - state["spent"])
            f = str(pdir / f"{_partition_key(part, cands)}.jsonl")
            return client.submit(eval_partition, part, shared, f, remaining, str(settings().project_dir),
                                 pure=False, retries=1)

        ac = as_completed([f for f in (submit() for _ in range(window)) if f is not None])
        for fut in ac:
            try:
                out = fut.result()
            except Exception as e:  # noqa: BLE001 - a partition lost twice: its rows stay missing (resumable)
                state["failed"].append(f"{type(e).__name__}: {e}")
                out = None
            if out is not None:
                for rec in out["records"]:
                    ckpt.write(rec)
                    record_finished_row(recording, rec, mdefs)
                Path(out["part_file"]).unlink(missing_ok=True)
                state["n"] += out["computed"]
                state["spent"] += out["spent"]
                if bar is not None:
                    bar.update(len(out["records"]))
                if out["stopped"] or (budget_usd is not None and state["spent"] >= budget_usd):
                    state["stopped"] = "budget"
            if state["stopped"] is None:
                nxt = submit()
                if nxt is not None:
                    ac.add(nxt)
        if state["failed"] and state["stopped"] is None:
            state["stopped"] = "incomplete"
            import warnings

            warnings.warn(f"{len(state['failed'])} partition(s) failed on Dask (re-run to resume): "
                          f"{state['failed'][0]}", stacklevel=3)
        return state["n"], state["spent"], state["stopped"]
    finally:
        if bar is not None:
            bar.close()
        client.close()
        if cluster is not None:
            cluster.close()


from .engine import register_eval_executor  # noqa: E402

register_eval_executor("dask", run_dask)
