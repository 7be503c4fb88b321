"""Peak memory of a large evaluation: N rows (default 100,000) through ``wb.evaluate`` with a trivial fast
callable candidate and cheap metrics, so the harness (checkpoint streaming, workers, tables) is measured, not a
model. Runs in a child process and reports its peak RSS against an idle interpreter that imported the same.

    .venv/bin/python benchmarks/bench_memory.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import quick, save

CHILD = r"""
import json, os, resource, sys, time
import pandas as pd
import workbench as wb
from workbench.evaluate import evaluate
n = int(sys.argv[1])
if n:
    df = pd.DataFrame({"id": [f"r{i}" for i in range(n)], "question": [f"what is {i}?" for i in range(n)],
                       "reference": [str(i) for i in range(n)]})
    t0 = time.perf_counter()
    res = evaluate(df, [lambda row: row["reference"]], metrics=["quality/exact_match", "quality/f1"], log=False,
                   progress=False, concurrency=64)
    wall = time.perf_counter() - t0
    assert len(res.rows) == n
else:
    wall = 0.0
print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "wall_s": wall}))
"""


def child(n: int, env: dict) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(n)], capture_output=True, text=True, env=env, timeout=3600)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=5_000 if quick() else 100_000)
    a = ap.parse_args()
    env = {**os.environ, "WORKBENCH_PROJECT_DIR": tempfile.mkdtemp(prefix="wb-bench-mem-")}
    idle = child(0, env)
    big = child(a.rows, env)
    print(
        f"{a.rows} rows: peak RSS {big['peak_rss_mb']:.0f} MB (idle interpreter with the same imports "
        f"{idle['peak_rss_mb']:.0f} MB, so {big['peak_rss_mb'] - idle['peak_rss_mb']:.0f} MB for the eval); "
        f"{big['wall_s']:.1f}s, {a.rows / big['wall_s']:.0f} rows/s"
    )
    save(
        "memory",
        {
            "rows": a.rows,
            "idle": idle,
            "eval": big,
            "per_row_kb": (big["peak_rss_mb"] - idle["peak_rss_mb"]) * 1024 / a.rows,
        },
    )


if __name__ == "__main__":
    main()
