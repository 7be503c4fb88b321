"""Process helpers shared by every server the workbench starts (llama-server, MLflow server, served apps):
free ports on 127.0.0.1, pid liveness, stopping a process, HTTP health waits, and an inter-process file lock."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import time
import urllib.error
import urllib.request


class LockTimeout(TimeoutError):
    """:func:`locked` waited ``timeout_s`` for the lock."""


@contextlib.contextmanager
def locked(path: "os.PathLike | str", timeout_s: float = 1800.0, what: str | None = None, on_wait=None):
    """Hold an exclusive inter-process lock (``fcntl.flock``) on ``path`` (created with its directory).
    ``on_wait()`` is called once if another holder makes us wait; :class:`LockTimeout` naming ``what`` after
    ``timeout_s``."""
    from pathlib import Path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout_s
    with open(path, "a") as fh:
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if on_wait is not None:
                    on_wait()
                    on_wait = None
                if time.monotonic() > deadline:
                    raise LockTimeout(f"timed out after {timeout_s:.0f}s waiting for {what or 'lock'} "
                                       f"({path})") from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (a zombie child of ours is reaped and counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return True


def stop_pid(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and pid_alive(pid):
            time.sleep(0.05)
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


def health(root_url: str, timeout: float = 2.0, path: str = "/health") -> bool:
    """Whether ``GET root_url + path`` answers 200."""
    try:
        with urllib.request.urlopen(f"{root_url}{path}", timeout=timeout) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_healthy(root_url: str, timeout_s: float, alive=lambda: True, path: str = "/health",
                 interval_s: float = 0.1) -> bool:
    """Poll :func:`health` until it answers, ``alive()`` turns false, or ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not alive():
            return False
        if health(root_url, timeout=1.0, path=path):
            return True
        time.sleep(interval_s)
    return False
