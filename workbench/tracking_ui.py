"""``workbench tracking ui``: the MLflow UI on the workspace store, on 127.0.0.1, started lean."""

from __future__ import annotations

import os
import signal
import sys
import threading

from .config import settings
from .gateway import SERVER_ENV, configure_gateway
from .procs import require_free_port, run_foreground
from .tracking import configure


def lean_server_command(
    store: str, host: str = "127.0.0.1", port: int = 5000, extra: list[str] | None = None
) -> tuple[list[str], dict[str, str]]:
    """``mlflow server`` started lean (one worker, no job execution, no telemetry): ≈ 5 s instead of 17–32 s.
    Shared by ``workbench tracking ui`` and ``workbench tracking start``. Its AI Gateway may call a model server on
    127.0.0.1 over http (:data:`workbench.gateway.SERVER_ENV`), so the gateway can serve the local model. The store URI travels in the environment
    (``MLFLOW_BACKEND_STORE_URI``, which ``mlflow server`` reads), never on the command line: a database
    password there would be readable by every local user through ``ps``; a process's environment is not."""
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        "1",
        *(extra or []),
    ]
    env = {
        **os.environ,
        "MLFLOW_BACKEND_STORE_URI": store,
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        **SERVER_ENV,
    }
    return cmd, env


def ui_command(port: int = 5000) -> tuple[list[str], dict[str, str]]:
    """The ``mlflow server`` command line and environment for the UI (one worker, no job execution)."""
    uri = configure()
    extra = ["--default-artifact-root", settings().artifact_root.as_uri()] if uri.startswith("sqlite:") else []
    return lean_server_command(uri, "127.0.0.1", port, extra)


def announce(url: str, gateway: bool = True) -> None:
    """Print the UI's URL, then configure MLflow's AI Gateway over the workbench's keyless endpoints in the
    background (:func:`workbench.gateway.configure_gateway`; the embedded model is started and held while this
    process runs) and print one line per endpoint."""
    print(f"MLflow UI: {url}  (store {configure()}; Ctrl-C to stop)", flush=True)
    if gateway:  # on a thread of its own: Ctrl-C and SIGTERM stop the UI at once, even while it runs

        def run() -> None:
            for line in configure_gateway(url).lines():
                print(line, flush=True)

        threading.Thread(target=run, name="workbench-gateway", daemon=True).start()


def serve_ui(port: int = 5000, timeout_s: float = 120.0, gateway: bool = True) -> int:
    """Run the MLflow UI in the foreground until Ctrl-C or SIGTERM, which stop ``mlflow server`` and its uvicorn
    workers with it (one process group). A busy port is a :class:`~workbench.procs.ServiceError` (exit 4), raised
    before anything starts; the URL is printed only once the UI answers, then (with ``gateway``) the AI Gateway
    endpoints it serves (:func:`announce`). Returns 0 when stopped by Ctrl-C or SIGTERM, else the server's own
    exit code."""
    require_free_port(port, what="workbench tracking ui")
    cmd, env = ui_command(port)
    url = f"http://127.0.0.1:{port}"
    rc = run_foreground(
        cmd,
        env=env,
        url=url,
        timeout_s=timeout_s,
        what="mlflow server (workbench tracking ui)",
        on_ready=lambda: announce(url, gateway),
    )
    return 0 if rc - 128 in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP) else rc
