"""Executors run sweep cells in separate processes (MLflow's fluent run stack is process-global).

A registry by name, like papermill's engines: ``register_executor("name", factory)`` where
``factory(workers: int, scheduler: str | None)`` returns a :class:`concurrent.futures.Executor`
(Dask's ``distributed.Client.get_executor()`` is one, so Dask plugs in without home-made scheduling).
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
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError("the dask executor needs the [dask] extra: pip install 'llmops-workbench[dask]'") from None
    if scheduler:
        client = Client(scheduler)
    else:
        client = Client(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                     dashboard_address=None))
    return client.get_executor()


register_executor("local", _local)
register_executor("dask", _dask)
