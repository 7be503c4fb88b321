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


def test_bench_demo_records_the_verdict_the_demo_printed(monkeypatch):
    """bench_demo keeps the demo's recommendation and per-candidate verdicts with its timings (issue 30: faster,
    with the verdict still supported); taken from a demo's real output shape (workbench.demo.recommend)."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from bench_demo import verdict_lines

    paragraph = (
        "24 of 24 rows answered by every candidate. Recommended: **rag** (quality/f1 0.270; its gain over base is "
        "supported by the data). rag vs base (quality/f1): +0.187 (95% CI +0.099 to +0.271), supported"
    )
    printed = (
        f"== comparison on the test split\n    candidate  quality_f1\n\n{paragraph}\n\nsteps: 01 14s; total 600s\n"
    )
    assert verdict_lines(printed) == [paragraph]
    assert verdict_lines("**Keep the baseline (base)**: no candidate's difference ...") != []
    assert verdict_lines("rag vs base (quality/f1): +0.1") == []
