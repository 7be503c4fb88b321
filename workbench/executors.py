"""Where work runs: one registry of executors, shared by sweeps and evaluations.

An executor is registered by name, like papermill's engines: ``register_executor("name", factory)`` where
``factory(workers: int, scheduler: str | None)`` returns a :class:`concurrent.futures.Executor` of worker processes
(Dask's ``distributed`` ``ClientExecutor`` is one, so Dask plugs in without home-made scheduling).

* A **sweep** runs each grid cell as one task on that pool (:mod:`workbench.runs.sweep`).
* An **evaluation** (``wb.evaluate(..., executor=name)``) cuts its pending rows into partitions and runs each
  partition as one task on that pool (:func:`workbench.evaluate.distributed.run_on_pool`), unless the executor
  also registers an ``evaluate`` function, its own way to run an evaluation there: ``local`` does (the rows run
  in this process, on the async job loop, :func:`workbench.evaluate.engine.run_local`).

So a user's executor registered once serves both. Registering a name again replaces the parts given and keeps
the others (the evaluation layer adds ``local``'s ``evaluate`` that way, without this module importing it).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, replace

from .errors import ConfigError

PoolFactory = Callable[[int, "str | None"], Executor]


@dataclass(frozen=True)
class ExecutorDef:
    """One place work can run: ``pool(workers, scheduler)`` gives a ``concurrent.futures`` executor (sweep cells,
    evaluation partitions); ``evaluate(plan, pending, checkpoint, recording)``, when set, runs an evaluation
    there in place of partitions on the pool (see :data:`workbench.evaluate.engine.EvalExecutor`)."""

    name: str
    pool: PoolFactory | None = None
    evaluate: Callable | None = None


EXECUTORS: dict[str, ExecutorDef] = {}


def register_executor(name: str, factory: PoolFactory | None = None, *, evaluate: Callable | None = None) -> None:
    """Register (or extend) executor ``name``: ``factory(workers, scheduler)`` → a ``concurrent.futures.Executor``;
    ``evaluate``: an evaluation's own runner there (optional). Parts not given keep their registered value."""
    entry = EXECUTORS.get(name, ExecutorDef(name))
    if factory is not None:
        entry = replace(entry, pool=factory)
    if evaluate is not None:
        entry = replace(entry, evaluate=evaluate)
    EXECUTORS[name] = entry


def executor_def(name: str) -> ExecutorDef:
    """The executor registered as ``name``; a :class:`ConfigError` naming the registered ones otherwise."""
    if name not in EXECUTORS:
        raise ConfigError(f"unknown executor '{name}': one of {sorted(EXECUTORS)}")
    return EXECUTORS[name]


def get_executor(name: str, workers: int = 1, scheduler: str | None = None) -> Executor:
    """A ``concurrent.futures`` executor of ``workers`` processes (or a Dask ``scheduler``'s) from ``name``."""
    entry = executor_def(name)
    if entry.pool is None:
        raise ConfigError(f"executor '{name}' runs evaluations only (it registered no pool of workers)")
    return entry.pool(max(1, int(workers)), scheduler)


ORPHAN_POLL_S = 0.5


def die_with_launcher(launcher_pid: int) -> None:
    """Pool-worker initializer: end this worker (and the processes it started) as soon as ``launcher_pid`` is no
    longer its parent. A launcher killed alone (an out-of-memory kill) otherwise leaves its workers running cells
    that a resumed sweep runs again, and the orphans never exit. A daemon thread polls the parent pid."""
    import os
    import signal
    import threading
    import time

    def watch():
        while os.getppid() == launcher_pid:
            time.sleep(ORPHAN_POLL_S)
        me = str(os.getpid())
        for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:  # our children (kernels) first
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                        ppid = f.read().rsplit(")", 1)[-1].split()[1]
                    if ppid == me:
                        os.kill(int(entry), signal.SIGKILL)
                except (OSError, IndexError, ValueError):
                    continue
        os._exit(137)

    threading.Thread(target=watch, name="workbench-launcher-watch", daemon=True).start()


def _local(workers: int, scheduler: str | None) -> Executor:
    import os

    # "spawn": a clean interpreter per worker, no inherited MLflow state or event-loop threads; each worker ends
    # when this process does
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=die_with_launcher,
        initargs=(os.getpid(),),
    )


def _dask(workers: int, scheduler: str | None) -> Executor:
    from .server import dask_client

    client, cluster = dask_client(workers, scheduler)  # a clear error when the [dask] extra is missing
    from distributed.cfexecutor import ClientExecutor

    class DaskExecutor(ClientExecutor):
        """Dask's own ``concurrent.futures`` executor; shutdown also closes the client (and local cluster).
        ``retries=1``: a task that raises is run once more; ``pure=False``: equal arguments never merge.
        ``share`` sends an object to every worker once (``scatter``); ``worker_count`` is the cluster's threads."""

        def __init__(self, client, cluster):
            super().__init__(client, retries=1, pure=False)
            self.cluster = cluster

        def share(self, obj):
            return self._client.scatter(obj, broadcast=True)

        def worker_count(self) -> int:
            return max(1, len(self._client.nthreads()))

        def shutdown(self, wait=True, **kw):
            try:
                super().shutdown(wait=wait)
            finally:
                self._client.close()
                if self.cluster is not None:
                    self.cluster.close()

    return DaskExecutor(client, cluster)


register_executor("local", _local)
register_executor("dask", _dask)
