"""A real Dask cluster as separate processes: ``dask scheduler`` and N ``dask worker`` (one thread each, with a
nanny that restarts a killed worker) on 127.0.0.1. Used by tests/tracking/test_team.py and benchmarks/bench_dask.py."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DaskProcesses:
    def __init__(self, workers: int = 2, timeout: float = 90.0):
        self.workers, self.timeout = workers, timeout
        self.address = f"tcp://127.0.0.1:{free_port()}"
        self.procs: list[subprocess.Popen] = []

    def _spawn(self, *args: str) -> None:
        self.procs.append(
            subprocess.Popen(
                [str(BIN / "dask"), *args],
                env=dict(os.environ),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )

    def start(self) -> DaskProcesses:
        port = self.address.rsplit(":", 1)[1]
        self._spawn("scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard")
        try:
            for i in range(self.workers):
                self._spawn(
                    "worker",
                    self.address,
                    "--host",
                    "127.0.0.1",
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                    "--name",
                    f"w{i}",
                    "--memory-limit",
                    "0",
                )
            self.wait_for_workers()
        except BaseException:
            self.stop()
            raise
        return self

    def wait_for_workers(self, n: int | None = None) -> None:
        from distributed import Client

        with Client(self.address, timeout=self.timeout) as c:
            c.wait_for_workers(n or self.workers, timeout=self.timeout)

    def stop(self) -> None:
        for p in self.procs[::-1]:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=5)
        self.procs = []
