"""Notebook-run overhead and sweep scaling, measured in one process against bare papermill.

1. `wb.run_notebook` vs bare `papermill.execute_notebook` on a trivial notebook (median of N each).
2. An 8-cell sweep of an I/O-bound notebook (each run sleeps --sleep seconds): 1 worker vs 2 and 4 workers
   (quick mode: 4 cells, 1 vs 4 workers).

    .venv/bin/python benchmarks/bench_runs.py [--repeats 5] [--sleep 2]
Uses a throwaway project directory (its own sqlite store).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat as nbf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import quick, save, stats


def make_notebook(path: Path, body: str) -> Path:
    nb = nbf.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbf.v4.new_code_cell("sleep_s: float = 0.0  # seconds to sleep\ncell: int = 0  # grid cell")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbf.v4.new_code_cell(body)]
    nbf.write(nb, str(path))
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=2 if quick() else 5)
    ap.add_argument("--sleep", type=float, default=0.5 if quick() else 2.0)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="wb-bench-"))
    os.environ["WORKBENCH_PROJECT_DIR"] = str(tmp)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    import papermill

    import workbench as wb

    trivial = make_notebook(tmp / "trivial.ipynb", "x = 1")
    wb.run_notebook(trivial, progress=False)  # warm-up (creates and migrates the store)
    bare, ours = [], []
    for i in range(a.repeats):
        t0 = time.perf_counter()
        papermill.execute_notebook(str(trivial), str(tmp / f"bare-{i}.ipynb"), progress_bar=False)
        bare.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        r = wb.run_notebook(trivial, progress=False)
        ours.append(time.perf_counter() - t0)
        assert r.ok
    b, o = statistics.median(bare), statistics.median(ours)
    print(
        f"trivial notebook, median of {a.repeats}: bare papermill {b:.2f}s, workbench run {o:.2f}s "
        f"-> overhead {o - b:+.2f}s, ratio {o / b:.2f}"
    )

    out = {"trivial": {"bare_papermill_s": stats(bare), "workbench_run_s": stats(ours), "ratio": o / b}}
    io = make_notebook(tmp / "io.ipynb", "import time\ntime.sleep(sleep_s)")
    cells = 4 if quick() else 8
    grid = {"cell": [str(i) for i in range(cells)]}
    base = None
    executors = ["local"]
    try:
        import distributed  # noqa: F401

        executors.append("dask")
    except ImportError:
        pass
    local = [("local", 1), ("local", 4)] if quick() else [("local", 1), ("local", 2), ("local", 4)]
    for executor, workers in local + [("dask", 4)] * ("dask" in executors):
        t0 = time.perf_counter()
        res = wb.sweep(
            io,
            grid,
            parameters={"sleep_s": a.sleep},
            workers=workers,
            executor=executor,
            experiment=f"bench-{executor}-{workers}",
            echo=lambda *_: None,
        )
        wall = time.perf_counter() - t0
        assert res.ok
        base = base or wall
        print(
            f"{cells}-cell sweep, {a.sleep:.1f}s I/O per run, {workers} {executor} worker(s): {wall:.1f}s "
            f"(speed-up x{base / wall:.2f})"
        )
        out[f"sweep_{executor}_{workers}"] = {"wall_s": wall, "speedup": base / wall}
    save("runs", out)


if __name__ == "__main__":
    main()
