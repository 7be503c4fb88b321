"""Many tracked runs: ``wb.sweep(...)`` / ``workbench sweep`` — a parent run and one child per grid cell.

Children run in separate processes through an executor from :mod:`workbench.runs.executors`; a failing
child does not stop the others. The parent gets the grid as a tag and a summary table (params × key
metrics × status). ``resume=True`` reuses the latest parent of the same sweep (same notebook hash, grid and
fixed parameters) and skips cells whose child already FINISHED with identical parameters.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from collections.abc import Mapping
from concurrent.futures import as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .. import recovery, tags as T, tracking
from ..errors import WorkbenchError
from ..lifecycle import tracked_run
from ..options import split_options
from .executors import get_executor
from .notebook import notebook_hash, resolve_parameters


@dataclass
class SweepResult:
    parent_run_id: str
    children: list[dict] = field(default_factory=list)  # one dict per cell: params, run_id, status, metrics
    skipped: int = 0
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        """Every cell ran to the end (gates aside: see :attr:`gates_not_passed`)."""
        return all(c["status"] == "FINISHED" for c in self.children)

    @property
    def gates_not_passed(self) -> int:
        """Cells whose notebook recorded a gate verdict other than pass (fail or inconclusive)."""
        return sum(c.get("verdict") not in (None, "pass") for c in self.children)

    def summary(self, max_metrics: int | None = None) -> pd.DataFrame:
        """params × status × metrics per child; ``max_metrics`` keeps the most telling ones (for printing)."""
        rows = []
        for c in self.children:
            rows.append(
                {
                    **{f"param.{k}": v for k, v in c["grid_params"].items()},
                    "status": c["status"],
                    **({"gate": c["verdict"]} if any(x.get("verdict") for x in self.children) else {}),
                    "run_id": c["run_id"],
                    "resumed": c.get("resumed", False),
                    **{k: round(v, 6) for k, v in c.get("metrics", {}).items()},
                }
            )
        df = pd.DataFrame(rows)
        if max_metrics is not None:
            fixed = [c for c in df.columns if c.startswith("param.") or c in ("status", "gate", "run_id")]
            order = (
                "retrieval/recall_at_k/mean",
                "quality/f1/mean",
                "honesty/groundedness/mean",
                "harm/redteam_pass/mean",
                "latency/latency_s/p95",
                "cost/usd/total",
                "score",
            )
            keep = [c for c in order if c in df.columns]
            keep += [
                c
                for c in df.columns
                if c not in fixed
                and c not in keep
                and c != "resumed"
                and not c.startswith(("workbench/", "eval/", "rag/"))
            ]
            df = df[fixed + keep[:max_metrics]]
        return df


def parse_grid(items: list[str]) -> dict[str, list[str]]:
    """``["top_k=2,4", "model=local"]`` → ``{"top_k": ["2", "4"], "model": ["local"]}`` (typed later)."""
    grid: dict[str, list[str]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or not name.strip() or not values.strip():
            raise WorkbenchError(f"--grid expects NAME=V1,V2,..., got {item!r}")
        grid[name.strip()] = [v.strip() for v in values.split(",")]
    return grid


def expand_grid(grid: Mapping[str, list]) -> list[dict]:
    names = list(grid)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(grid[n] for n in names))]


def _cell_key(params: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:16]


MAX_ATTEMPTS = 2  # a cell whose worker is lost runs once more, then it is FAILED


def _run_cell(
    path: str,
    params: dict,
    experiment: str | None,
    parent: str,
    timeout: float | None,
    run_name: str,
    cell_key: str,
    project_dir: str,
    tracking_uri: str,
    run_id: str | None = None,
) -> dict:
    """Runs in a worker process: one child run (pre-created by the client as SCHEDULED). Returns a picklable
    summary. Each start is counted in the run's ``workbench.attempt`` tag, so a cell re-run after its worker
    died (Dask re-schedules lost tasks; a shared scheduler may allow several) stops after ``MAX_ATTEMPTS``."""
    import os

    os.environ["WORKBENCH_PROJECT_DIR"] = project_dir
    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    from .notebook import run_notebook

    if run_id is not None:
        c = tracking.client()
        run = c.get_run(run_id)
        if run.info.status in ("FINISHED", "FAILED"):  # done already (lost on the way back)
            return {
                "run_id": run_id,
                "status": run.info.status,
                "metrics": dict(run.data.metrics),
                "error": run.data.tags.get(T.ERROR),
            }
        # RUNNING or KILLED here: an earlier attempt's worker died (recovery marks such runs KILLED)
        attempt = int(run.data.tags.get(T.ATTEMPT, "0")) + 1
        if attempt > MAX_ATTEMPTS:
            error = f"worker lost: the cell started {attempt - 1} times and never finished"
            _fail(run_id, error)
            return {"run_id": run_id, "status": "FAILED", "metrics": {}, "error": error}
        # this worker becomes the run's launcher before it is RUNNING, so stale-run recovery leaves it alone
        tracking.set_tags({T.ATTEMPT: attempt, **recovery.launch_tags(c)}, run_id)
        c.update_run(run_id, status="RUNNING")
    # the client checked the parameter names before any run existed (sweep(allow_unknown_params=...))
    r = run_notebook(
        path,
        parameters=params,
        experiment=experiment,
        run_name=run_name,
        parent_run_id=parent,
        timeout=timeout,
        progress=False,
        tags={T.SWEEP_CELL: cell_key},
        run_id=run_id,
        allow_unknown_params=True,
    )
    return {"run_id": r.run_id, "status": r.status, "metrics": r.metrics, "error": r.error, "verdict": r.verdict}


def _fail(run_id: str, error: str) -> None:
    """Mark a child FAILED with an ``error`` tag unless it already finished or failed (a lost one may be KILLED)."""
    c = tracking.client()
    if c.get_run(run_id).info.status not in ("FINISHED", "FAILED"):
        tracking.set_tags({T.ERROR: error[:5000]}, run_id)
        c.set_terminated(run_id, "FAILED")


def _previous(parent_id: str, exp_id: str) -> dict[str, dict]:
    """FINISHED children of ``parent_id`` by cell key."""
    runs = tracking.client().search_runs([exp_id], f"tags.`{T.PARENT_RUN_ID}` = '{parent_id}'", max_results=10000)
    done = {}
    for r in runs:
        key = r.data.tags.get(T.SWEEP_CELL)
        if key and r.info.status == "FINISHED":
            done[key] = {
                "run_id": r.info.run_id,
                "status": "FINISHED",
                "metrics": dict(r.data.metrics),
                "verdict": r.data.tags.get(T.GATE),
            }
    return done


@dataclass(frozen=True)
class SweepOptions:
    """A sweep's guard, resumption and the settings of every cell's run."""

    max_runs: int | None = None  # refuse grids with more cells than this
    resume: bool = False  # reuse the last same sweep's parent; skip its cells that FINISHED with identical params
    timeout: float | None = None  # per notebook cell, seconds, in every grid cell's run
    allow_unknown_params: bool = False  # inject swept/fixed names the notebook does not declare


def sweep(
    path: str | Path,
    grid: Mapping[str, list],
    parameters: Mapping[str, Any] | None = None,
    experiment: str | None = None,
    workers: int = 1,
    executor: str = "local",
    scheduler: str | None = None,
    run_name: str | None = None,
    echo=print,
    **options,
) -> SweepResult:
    """Run ``path`` once per cell of ``grid`` (cartesian product) under one parent run (a child of the active
    run, in MLflow's active experiment unless ``experiment`` is given), ``workers`` at a time on ``executor``
    (``local`` processes, or ``dask`` on ``scheduler``). ``options``: the fields of :class:`SweepOptions`
    (``max_runs``, ``resume``, ``timeout``, ``allow_unknown_params``); any other name is an
    :class:`~workbench.errors.UnknownOption` error. A swept or fixed parameter the notebook does not declare is a
    :class:`~workbench.errors.UsageError` unless ``allow_unknown_params``."""
    (opts,) = split_options("sweep", options, SweepOptions)
    path = Path(path).resolve()
    if not grid:
        raise WorkbenchError("a sweep needs at least one --grid NAME=V1,V2")
    fixed = dict(parameters or {})
    overlap = set(fixed) & set(grid)
    if overlap:
        raise WorkbenchError(f"parameters {sorted(overlap)} are both fixed (-p) and swept (--grid)")
    cells = expand_grid(grid)
    if opts.max_runs is not None and len(cells) > opts.max_runs:
        raise WorkbenchError(f"the grid has {len(cells)} cells, more than --max-runs {opts.max_runs}")
    # type each cell's values now (fails fast on bad values and secret-like names)
    typed = [resolve_parameters(path, {**fixed, **cell}, allow_unknown=opts.allow_unknown_params)[0] for cell in cells]
    nb_hash = notebook_hash(path)
    sweep_key = hashlib.sha256(
        json.dumps(
            [nb_hash, {k: list(map(str, v)) for k, v in grid.items()}, {k: str(v) for k, v in fixed.items()}],
            sort_keys=True,
        ).encode()
    ).hexdigest()[:16]
    tracking.configure()
    c = tracking.client()
    exp_id = tracking.experiment_id(experiment)
    parent_id, done = None, {}
    if opts.resume:
        prev = c.search_runs(
            [exp_id], f"tags.`{T.SWEEP_KEY}` = '{sweep_key}'", max_results=1, order_by=["attributes.start_time DESC"]
        )
        if prev:
            parent_id = prev[0].info.run_id
            done = _previous(parent_id, exp_id)
    tags = {
        T.SWEEP_KEY: sweep_key,
        T.SWEEP_GRID: json.dumps(grid, default=str),
        T.NOTEBOOK: str(path),
        T.NOTEBOOK_HASH: nb_hash,
    }
    params = None if parent_id else {f"grid.{k}": ",".join(map(str, v)) for k, v in grid.items()}
    with tracked_run(
        "sweep", run_name or f"sweep-{path.stem}", experiment, tags=tags, params=params, run_id=parent_id, source=path
    ) as parent:
        parent_id = parent.run_id
        result = SweepResult(parent_run_id=parent_id)
        # cells go where the parent went (an active run or experiment of this process is not the workers')
        exp_name = c.get_experiment(parent.experiment_id).name
        todo = _plan_cells(result, cells, typed, done)
        _run_cells(result, path, todo, exp_name, parent.experiment_id, opts.timeout, workers, executor, scheduler, echo)
        table = result.summary()
        tracking.log_table(table, "sweep_summary.json", run_id=parent_id)
        n_ok = sum(e["status"] == "FINISHED" for e in result.children)
        tracking.log_metrics(
            {
                "sweep/children_finished": n_ok,
                "sweep/children_failed": len(cells) - n_ok,
                "sweep/duration_s": result.duration_s,
            },
            run_id=parent_id,
        )
        if not result.ok:
            parent.fail(f"{len(cells) - n_ok} of {len(cells)} cells failed")
    echo(result.summary(max_metrics=6).to_string(index=False))
    return result


def _plan_cells(result: SweepResult, cells: list[dict], typed: list[dict], done: dict) -> list[dict]:
    """One entry per cell in ``result.children`` (those ``done`` already filled in and counted as skipped); returns
    the entries still to run."""
    todo = []
    for cell, params in zip(cells, typed, strict=True):
        key = _cell_key(params)
        entry: dict[str, Any] = {"grid_params": cell, "params": params, "cell_key": key}
        if key in done:
            entry.update(done[key], resumed=True)
            result.skipped += 1
        else:
            todo.append(entry)
        result.children.append(entry)
    return todo


def _run_cells(
    result: SweepResult,
    path: Path,
    todo: list[dict],
    experiment,
    exp_id: str,
    timeout,
    workers: int,
    executor: str,
    scheduler,
    echo,
) -> None:
    """Pre-create the children of ``result``'s parent for the ``todo`` entries (:func:`_plan_cells`), run them on
    the executor and fill in their outcome."""
    from ..config import settings

    c = tracking.client()
    parent_id = result.parent_run_id
    t0 = time.monotonic()
    echo(
        f"sweep {path.name}: {len(result.children)} cells, {len(todo)} to run, {result.skipped} already finished "
        f"(parent {parent_id}, {workers} {executor} worker(s))"
    )
    if todo:
        from tqdm.auto import tqdm

        if scheduler and not tracking.tracking_uri().startswith(("http://", "https://")):
            echo(
                f"note: {executor} workers log to {tracking.tracking_uri()}; workers on other machines need a "
                f"shared server (`workbench tracking start`, then MLFLOW_TRACKING_URI=http://...)"
            )
        for e in todo:  # children exist before any worker starts: queued cells show as SCHEDULED
            e["run_name"] = "-".join(f"{k}={v}" for k, v in e["grid_params"].items())[:200]
            e["run_id"] = c.create_run(
                exp_id, run_name=e["run_name"], tags={T.PARENT_RUN_ID: parent_id, T.SWEEP_CELL: e["cell_key"]}
            ).info.run_id
            c.update_run(e["run_id"], status="SCHEDULED")
        pool = get_executor(executor, workers, scheduler)
        try:
            futs = {
                pool.submit(
                    _run_cell,
                    str(path),
                    e["params"],
                    experiment,
                    parent_id,
                    timeout,
                    e["run_name"],
                    e["cell_key"],
                    str(settings().project_dir),
                    tracking.tracking_uri(),
                    e["run_id"],
                ): e
                for e in todo
            }
            for fut in tqdm(as_completed(futs), total=len(futs), desc="sweep", unit="run"):
                e = futs[fut]
                try:
                    e.update(fut.result())
                except Exception as exc:  # noqa: BLE001 - a lost worker or crashed process fails its cell only
                    error = f"{type(exc).__name__}: {exc}"
                    e.update(status="FAILED", metrics={}, error=error)
                    _fail(e["run_id"], error)
        finally:
            pool.shutdown(wait=True)
    result.duration_s = time.monotonic() - t0
