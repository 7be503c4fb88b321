"""Team scale on Dask: sweep speed-up with 1 vs 2 workers, and evaluation throughput via Dask vs local.

A real `dask scheduler` + `dask worker` processes on 127.0.0.1 (tests/daskprocs.py). Runs log to a
PostgreSQL-backed `workbench server` when PostgreSQL is installed (tests/pg.py), else to a sqlite store.

1. An 8-cell sweep of an I/O-bound notebook (each run sleeps --sleep s) on 1 worker, then on 2 workers.
2. --rows evaluation rows (distinct questions, cache off, short answers, cheap metrics) against the embedded
   llama-server: local async runner vs `executor="dask"` on 2 workers, interleaved --repeats times.

    .venv/bin/python benchmarks/bench_dask.py [--sleep 2] [--rows 400] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
from bench_runs import make_notebook  # noqa: E402
from common import quick, save, stats  # noqa: E402
from daskprocs import DaskProcesses, free_port  # noqa: E402

METRICS = ["quality/f1", "latency", "cost"]


def tracking_backend(tmp: Path):
    """(description, stop function): a PostgreSQL-backed `workbench server` if PostgreSQL is installed."""
    from pg import PgCluster, find_bindir

    bindir = find_bindir()
    if bindir is None:
        return "sqlite", lambda: None
    from workbench.server import start_server, stop_server

    pg = PgCluster(bindir).start()
    info = start_server(db=pg.url(pg.create_database("bench")), artifacts=str(tmp / "artifacts"), port=free_port())
    os.environ["MLFLOW_TRACKING_URI"] = info.url

    def stop():
        stop_server()
        pg.stop()

    return f"mlflow server {info.url} on PostgreSQL", stop


def write_rows(path: Path, n: int) -> Path:
    from evalkit import FACTS

    with open(path, "w") as f:
        for i in range(n):
            ctx, q, ref = FACTS[i % len(FACTS)]
            f.write(
                json.dumps({"id": f"r{i:05d}", "question": f"{q} (case {i})", "reference": ref, "contexts": [ctx]})
                + "\n"
            )
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sleep", type=float, default=0.5 if quick() else 2.0)
    ap.add_argument("--cells", type=int, default=4 if quick() else 8)
    ap.add_argument("--rows", type=int, default=60 if quick() else 400)
    ap.add_argument("--repeats", type=int, default=1 if quick() else 2)
    ap.add_argument("--max-tokens", type=int, default=16)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="wb-bench-dask-"))
    os.environ["WORKBENCH_PROJECT_DIR"] = str(tmp)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    os.environ.setdefault("TQDM_DISABLE", "1")
    import workbench as wb
    from workbench.candidates import PromptCandidate
    from workbench.llm.local import ensure_server

    server = ensure_server()  # before the workers start: they find it through its state file
    backend, stop_backend = tracking_backend(tmp)
    print(f"tracking: {backend}")
    out: dict = {"tracking": backend}
    try:
        # 1. sweep: 1 worker, then 2 (a fresh cluster each, so both pay the same start-up)
        nb = make_notebook(tmp / "io.ipynb", "import time\ntime.sleep(sleep_s)")
        grid = {"cell": [str(i) for i in range(a.cells)]}
        walls = {}
        for workers in (1, 2):
            cluster = DaskProcesses(workers=workers).start()
            try:
                t0 = time.perf_counter()
                res = wb.sweep(
                    nb,
                    grid,
                    parameters={"sleep_s": a.sleep},
                    executor="dask",
                    scheduler=cluster.address,
                    experiment=f"bench-dask-{workers}",
                    echo=lambda *_: None,
                )
                walls[workers] = time.perf_counter() - t0
                assert res.ok, res.summary()
            finally:
                cluster.stop()
            print(f"{a.cells}-cell sweep, {a.sleep:.1f}s I/O per run, {workers} dask worker(s): {walls[workers]:.1f}s")
        out["sweep"] = {
            "cells": a.cells,
            "sleep_s": a.sleep,
            "wall_1_worker_s": walls[1],
            "wall_2_workers_s": walls[2],
            "speedup_2_vs_1": walls[1] / walls[2],
        }
        print(f"  speed-up 2 vs 1 worker: x{walls[1] / walls[2]:.2f}")

        # 2. evaluation throughput on the same endpoint, local vs dask (2 workers), interleaved
        ds = write_rows(tmp / "rows.jsonl", a.rows)
        cand = PromptCandidate("local", name="short", system_prompt="Answer in a few words.", max_tokens=a.max_tokens)
        cluster = DaskProcesses(workers=2).start()
        times: dict[str, list[float]] = {"local": [], "dask": []}
        try:
            for i in range(a.repeats):
                for executor in ("local", "dask"):
                    kw = {"executor": "dask", "scheduler": cluster.address} if executor == "dask" else {}
                    t0 = time.perf_counter()
                    r = wb.evaluate(
                        ds,
                        [cand],
                        metrics=METRICS,
                        cache="off",
                        log=False,
                        progress=False,
                        checkpoint=tmp / f"{executor}-{i}.jsonl",
                        **kw,
                    )
                    times[executor].append(time.perf_counter() - t0)
                    assert r.complete and len(r.rows) == a.rows and r.rows["error"].isna().all()
        finally:
            cluster.stop()
        rate = {k: a.rows / statistics.median(v) for k, v in times.items()}
        print(
            f"{a.rows}-row evaluation (cache off, max_tokens {a.max_tokens}, {server.base_url}), "
            f"median of {a.repeats}: local {rate['local']:.1f} rows/s, dask (2 workers) {rate['dask']:.1f} rows/s "
            f"(ratio {rate['dask'] / rate['local']:.2f})"
        )
        out["eval"] = {
            "rows": a.rows,
            "max_tokens": a.max_tokens,
            "metrics": METRICS,
            "local_s": stats(times["local"]),
            "dask_s": stats(times["dask"]),
            "local_rows_per_s": rate["local"],
            "dask_rows_per_s": rate["dask"],
            "ratio_dask_vs_local": rate["dask"] / rate["local"],
        }
    finally:
        stop_backend()
        if server.owned:
            server.stop()
    save("dask", out)


if __name__ == "__main__":
    main()
