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


def _local(workers: int, scheduler: str | None) -> Executor:
    # "spawn": a clean interpreter per worker, no inherited MLflow state or event-loop threads
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


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
