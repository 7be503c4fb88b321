"""Executors run sweep cells in separate processes (MLflow's fluent run stack is process-global).

A registry by name, like papermill's engines: ``register_executor("name", factory)`` where
``factory(workers: int, scheduler: str | None)`` returns a :class:`concurrent.futures.Executor`
(Dask's ``distributed`` ``ClientExecutor`` is one, so Dask plugs in without home-made scheduling).
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Callable

from ..errors import ConfigError

EXECUTORS: dict[str, Callable[[int, str | None], Executor]] = {}


def register_executor(name: str, factory: Callable[[int, str | None], Executor]) -> None:
    EXECUTORS[name] = factory


def get_executor(name: str, workers: int = 1, scheduler: str | None = None) -> Executor:
    if name not in EXECUTORS:
        raise ConfigError(f"unknown executor '{name}': one of {sorted(EXECUTORS)}")
    return EXECUTORS[name](max(1, int(workers)), scheduler)


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
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=die_with_launcher, initargs=(os.getpid(),))


def _dask(workers: int, scheduler: str | None) -> Executor:
    from ..server import dask_client

    client, cluster = dask_client(workers, scheduler)  # a clear error when the [dask] extra is missing
    from distributed.cfexecutor import ClientExecutor

    class DaskExecutor(ClientExecutor):
        """Dask's own ``concurrent.futures`` executor; shutdown also closes the client (and local cluster).
        ``retries=1``: a task that raises is run once more; ``pure=False``: equal arguments never merge."""

        def __init__(self, client, cluster):
            super().__init__(client, retries=1, pure=False)
            self.cluster = cluster

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
