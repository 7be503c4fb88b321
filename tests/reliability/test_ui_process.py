"""`workbench tracking ui` (formerly `workbench ui`) tells the truth about its port and takes its children with it (issue 28 item 4): a second UI on a
busy port is an error (exit 4) that never prints the URL, and SIGTERM to `workbench ui` stops `mlflow server` and
its uvicorn workers (no process left with parent 1). Real `mlflow server`, real processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench.procs import free_port, pid_alive

ROOT = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path) -> dict:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "WORKBENCH_PROJECT_DIR": str(tmp_path),
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
    }


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        kids.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return kids


def _descendants(pid: int) -> set[int]:
    kids, out, todo = _children(), set(), [pid]
    while todo:
        for c in kids.get(todo.pop(), []):
            if c not in out:
                out.add(c)
                todo.append(c)
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _wait_health(url: str, timeout_s: float = 60) -> bool:
    from workbench.procs import health

    deadline = time.monotonic() + timeout_s
    while not health(url):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


@pytest.mark.parametrize("spelling", [["tracking", "ui"], ["ui"]], ids=["tracking-ui", "old-ui"])
def test_second_ui_on_a_busy_port_is_an_error(tmp_path, spelling):
    """Regression: the second `workbench ui` printed the URL (of the first one's port) and exited 0. The same under
    the new spelling `workbench tracking ui` (issue 32); the old one also says the new name."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = subprocess.run(
            [sys.executable, "-m", "workbench", *spelling, "--port", str(port)],
            env=_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert r.returncode == 4, (r.returncode, r.stdout, r.stderr)
    assert f"port {port}" in r.stderr and "already in use" in r.stderr
    assert "http://127.0.0.1" not in r.stdout
    assert ("is now `workbench tracking ui`" in r.stderr) == (spelling == ["ui"])


@pytest.mark.slow
def test_sigterm_to_ui_stops_mlflow_server_and_its_workers(tmp_path):
    """Regression: SIGTERM ended `workbench ui` alone; `mlflow server` and uvicorn kept running with parent 1.
    Run under the new spelling, `workbench tracking ui` (the old one calls the same handler)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "workbench", "tracking", "ui", "--port", str(port)],
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    kids: set[int] = set()
    try:
        deadline = time.monotonic() + 240
        line = ""
        while "MLflow UI:" not in line:
            assert time.monotonic() < deadline and proc.poll() is None, line + (proc.stdout.read() or "")
            line = proc.stdout.readline()
        assert _wait_health(f"http://127.0.0.1:{port}")
        # not the embedded model's supervisor (the UI's AI Gateway starts it): a shared service in its own session
        # that outlives its clients by design and stops when idle (workbench model status|stop)
        kids = _descendants(proc.pid)
        for sup in [k for k in kids if "workbench.procs" in _cmdline(k)]:
            kids -= {sup, *_descendants(sup)}
        names = " ".join(_cmdline(k) for k in kids)
        assert "mlflow" in names and "uvicorn" in names, names  # the server and its worker
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        deadline = time.monotonic() + 30
        while any(pid_alive(k) for k in kids) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [k for k in kids if pid_alive(k)], "children of workbench ui outlived it"
    finally:
        proc.kill()
        for k in kids:  # only our own test's processes
            if pid_alive(k):
                os.kill(k, signal.SIGKILL)
