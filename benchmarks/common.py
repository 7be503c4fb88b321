"""Shared benchmark plumbing: medians with min–max, machine info, and results/<name>.json."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def quick() -> bool:
    """Quick mode (``make bench-quick`` / ``BENCH_QUICK=1``): every benchmark in under a minute."""
    return os.environ.get("BENCH_QUICK") == "1"


def stats(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def fmt(s: dict, unit: str = "s") -> str:
    return f"{s['median']:.3f}{unit} ({s['min']:.3f}–{s['max']:.3f}, n={s['n']})"


def machine() -> dict:
    info = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "loadavg": list(os.getloadavg()),
    }
    for pkg in ("llmops-workbench", "mlflow", "papermill", "openai", "faiss-cpu", "onnxruntime"):
        try:
            info[pkg] = version(pkg)
        except Exception:  # noqa: BLE001 - a missing package is just not reported
            pass
    return info


def save(name: str, results: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}{'-quick' if quick() else ''}.json"
    path.write_text(
        json.dumps(
            {"benchmark": name, "quick": quick(), "machine": machine(), "results": results}, indent=2, default=str
        )
    )
    print(f"-> {path.relative_to(RESULTS.parent.parent)}")
    return path


# ---------------------------------------------------------------- a busy machine (one run, quiet and busy rounds)

SPIN = "import time\nend = time.monotonic() + {s}\nwhile time.monotonic() < end: pass"


@contextlib.contextmanager
def background(n: int, max_s: float = 900.0):
    """``n`` CPU-bound Python processes (each stops by itself after ``max_s``), killed on exit; yields their pids."""
    procs = [subprocess.Popen([sys.executable, "-c", SPIN.format(s=max_s)]) for _ in range(n)]
    try:
        time.sleep(0.3 if n else 0)  # let the scheduler see them
        yield [p.pid for p in procs]
    finally:
        for p in procs:
            p.kill()
            p.wait()
