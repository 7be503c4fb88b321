"""What recording the evidence in MLflow costs: rows/s of `wb.evaluate` with row traces + assessments on vs off.

Two candidates on the embedded model, every evaluation logged into its own run (child runs, LoggedModels, the
tables) — the only difference is `trace=True` (one trace per row with a Feedback per metric and an
Expectation, exported asynchronously by MLflow) or `trace=False`. Rounds alternate on/off; medians.

* warm: the response cache holds every answer, so the harness (scoring, checkpoint, recording) is all that runs —
  the worst case for the ratio;
* cold (not in quick mode): the cache is off, so the model's time is included — what a user sees.

    .venv/bin/python benchmarks/bench_record.py [--rows 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import fmt, quick, save, stats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10 if quick() else 200)
    ap.add_argument("--rounds", type=int, default=2 if quick() else 3)
    ap.add_argument("--max-tokens", type=int, default=16)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="wb-bench-record-"))
    os.environ["WORKBENCH_PROJECT_DIR"] = str(tmp)
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp / 'mlflow.db'}"
    import mlflow

    import workbench as wb
    from evalkit import write_dataset
    from workbench.candidates import PromptCandidate

    ds = wb.load_dataset(write_dataset(tmp / "qa.jsonl", a.rows))
    cands = [
        PromptCandidate("local", name="terse", system_prompt="Answer in three words.", max_tokens=a.max_tokens),
        PromptCandidate("local", name="plain", system_prompt=None, max_tokens=a.max_tokens),
    ]
    metrics = ["quality", "latency", "cost"]
    c = mlflow.MlflowClient()
    exp = c.create_experiment("bench-record")

    def timed(trace: bool, cache: str, i: int) -> float:
        rid = c.create_run(exp, run_name=f"{'on' if trace else 'off'}-{cache}-{i}").info.run_id
        t0 = time.perf_counter()
        wb.evaluate(
            ds,
            cands,
            metrics=metrics,
            cache=cache,
            run_id=rid,
            trace=trace,
            resume=False,
            progress=False,
            checkpoint=tmp / f"ck-{trace}-{cache}-{i}.jsonl",
        )
        dt = time.perf_counter() - t0
        c.set_terminated(rid)
        return dt

    out = {}
    modes = ["use"] if quick() else ["use", "off"]
    wb.evaluate(ds, cands, metrics=metrics, cache="use", log=False, progress=False)  # warms the response cache
    for cache in modes:
        times = {True: [], False: []}
        for i in range(a.rounds):
            for trace in (True, False) if i % 2 == 0 else (False, True):
                times[trace].append(timed(trace, cache, i))
        on, off = stats(times[True]), stats(times[False])
        rows = 2 * a.rows
        ratio = (rows / on["median"]) / (rows / off["median"])
        label = "warm cache (harness only)" if cache == "use" else "cache off (model included)"
        print(f"{label}: recording on {fmt(on)}, off {fmt(off)}; rows/s on/off = {ratio:.2f}")
        out[cache] = {"on_s": on, "off_s": off, "rows": rows, "rows_s_ratio_on_off": ratio}
    traces = mlflow.search_traces(locations=[exp], return_type="list", max_results=100000)
    print(f"traces recorded: {len(traces)} (expected {2 * a.rows * a.rounds * len(modes)})")
    out["traces"] = len(traces)
    save("record", out)


if __name__ == "__main__":
    main()
