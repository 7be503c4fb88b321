"""``workbench ui``: the MLflow UI on the workspace store, on 127.0.0.1, started lean."""

from __future__ import annotations

import os
import subprocess
import sys

from .config import settings
from .tracking import configure


def ui_command(port: int = 5000) -> tuple[list[str], dict[str, str]]:
    """The ``mlflow server`` command line and environment for the UI (one worker, no job execution)."""
    uri = configure()
    cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri, "--host", "127.0.0.1",
           "--port", str(port), "--workers", "1"]
    if uri.startswith("sqlite:"):
        cmd += ["--default-artifact-root", settings().artifact_root.as_uri()]
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "MLFLOW_DISABLE_TELEMETRY": "true"}
    return cmd, env


def serve_ui(port: int = 5000) -> int:
    cmd, env = ui_command(port)
    print(f"MLflow UI: http://127.0.0.1:{port}  (store {configure()}; Ctrl-C to stop)", flush=True)
    proc = subprocess.Popen(cmd, env=env)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait(timeout=20)
        return 0
