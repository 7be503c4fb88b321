"""A real JupyterLab on 127.0.0.1 over a throwaway copy of the project, and Playwright driving the Debian
``chromium`` through its executable path (no browser download, never ``playwright install``)."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LAB_ARGS = [
    "--no-browser",
    "--ip",
    "127.0.0.1",
    "--KernelManager.transport=ipc",  # no TCP-without-encryption warning
    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
]


def lab_project(root: Path, local_base_url: str) -> Path:
    """The notebooks and datasets in a fresh project whose ``workbench.toml`` adds a second endpoint (``mirror``,
    the same embedded server) so the playground has two models to run side by side."""
    shutil.copytree(ROOT / "notebooks", root / "notebooks")
    (root / "datasets").symlink_to(ROOT / "datasets")
    (root / "workbench.toml").write_text(
        f'[endpoints.mirror]\nkind = "openai_compatible"\nbase_url = "{local_base_url}"\nmodels = ["smollm2"]\n'
    )
    return root


@pytest.fixture(scope="session")
def lab(local_server, tmp_path_factory):
    """``jupyter lab`` on the project copy; yields (base URL, token, project dir, start time)."""
    from workbench.procs import free_port, health

    root = lab_project(tmp_path_factory.mktemp("lab"), local_server.base_url)
    port, token = free_port(), secrets.token_hex(16)
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "WORKBENCH_PROJECT_DIR",
            "MLFLOW_TRACKING_URI",
            "WORKBENCH_RUN_ID",
            "MLFLOW_RUN_ID",
            "WORKBENCH_RESPONSE_CACHE",
        )
    }  # the kernel must find the project by walking up from notebooks/
    jdir = tmp_path_factory.mktemp("jupyter")
    env.update(
        JUPYTER_CONFIG_DIR=str(jdir / "config"),
        JUPYTER_RUNTIME_DIR=str(jdir / "runtime"),
        JUPYTERLAB_WORKSPACES_DIR=str(jdir / "workspaces"),
    )
    log = open(jdir / "lab.log", "w")
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "jupyter"),
            "lab",
            *LAB_ARGS,
            "--port",
            str(port),
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            *(["--allow-root"] if os.geteuid() == 0 else []),
        ],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while not health(base, path=f"/api/status?token={token}"):
            assert proc.poll() is None and time.monotonic() < deadline, (jdir / "lab.log").read_text()[-3000:]
            time.sleep(0.3)
        yield type("Lab", (), {"url": base, "token": token, "root": root, "t0": t0, "log": jdir / "lab.log"})
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
        log.close()


@pytest.fixture(scope="module")
def browser():
    """Chromium, per module: Playwright's sync API runs an asyncio loop in the main thread while it is
    open, so a session-wide browser made every later ``asyncio.run`` in the test session fail."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]
        )
        yield b
        b.close()


@pytest.fixture
def shots(tmp_path) -> Path:
    """Where screenshots go: ``WORKBENCH_SCREENSHOTS`` (CI artifacts, docs/) or the test's tmp dir."""
    d = Path(os.environ.get("WORKBENCH_SCREENSHOTS", tmp_path))
    d.mkdir(parents=True, exist_ok=True)
    return d
