"""Smoke test of the benchmark suite: each benchmark runs in quick mode and writes its results JSON.
(No speed is asserted: benchmarks print ratios, tests do not time anything.)"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

CASES = {
    "bench_server": "server",
    "bench_runs": "runs",
    "bench_eval": "eval",
    "bench_mlflow_eval": "mlflow_eval",
    "bench_retrieval": "retrieval",
    "bench_memory": "memory",
    "bench_serve": "serve",
    "bench_metric_accuracy": "metric_accuracy",
    "bench_record": "record",
    "bench_finetune": "finetune",
}


@pytest.mark.parametrize("script", sorted(CASES))
def test_quick_benchmark_writes_results(local_server, script, tmp_path):
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / f"{script}.py")],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "BENCH_QUICK": "1", "WORKBENCH_PROJECT_DIR": str(tmp_path)},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    data = json.loads((ROOT / "benchmarks" / "results" / f"{CASES[script]}-quick.json").read_text())
    assert data["quick"] and data["machine"]["cpus"] and data["results"]
