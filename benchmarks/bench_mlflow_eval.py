"""Our evaluation harness vs ``mlflow.genai.evaluate``: same rows, same predict function (the workbench client,
cache off), equivalent offline scorers (ours, exposed as MLflow scorers), default settings of each; plus the
cost of our optional per-row MLflow tracing. Interleaved repeats; medians and min–max.

    .venv/bin/python benchmarks/bench_mlflow_eval.py [--rows 60] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from common import fmt, quick, save, stats

METRICS = ["quality/exact_match", "quality/f1", "quality/rouge_l", "harm/pii_leak", "harm/refusal"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=12 if quick() else 60)
    ap.add_argument("--repeats", type=int, default=1 if quick() else 3)
    a = ap.parse_args()
    os.environ["WORKBENCH_PROJECT_DIR"] = tempfile.mkdtemp(prefix="wb-bench-mlf-")
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    import mlflow

    import workbench as wb
    from evalkit import write_dataset
    from workbench.candidates import CallableCandidate

    ds = wb.load_dataset(write_dataset(Path(os.environ["WORKBENCH_PROJECT_DIR"]) / "qa.jsonl", a.rows))
    wb.tracking.configure()
    mlflow.set_experiment("bench-mlflow-eval")

    def predict(question: str) -> str:
        return wb.chat(question, model="local", cache="off", max_tokens=24, temperature=0).text

    data = [
        {"inputs": {"question": r["question"]}, "expectations": {"expected_response": r["reference"]}} for r in ds.rows
    ]
    scorers = wb.evaluate.as_mlflow_scorers(METRICS)
    ours_c = CallableCandidate(lambda row: __import__("asyncio").to_thread(predict, row["question"]), name="predict")
    times = {"mlflow_genai_evaluate": [], "wb_evaluate": [], "wb_evaluate_traced": []}
    predict("warm up")
    for _ in range(a.repeats):
        with mlflow.start_run():
            t0 = time.perf_counter()
            mlflow.genai.evaluate(data=data, predict_fn=predict, scorers=scorers)
            times["mlflow_genai_evaluate"].append(time.perf_counter() - t0)
        for key, trace in (("wb_evaluate", False), ("wb_evaluate_traced", True)):
            with mlflow.start_run() as run:
                t0 = time.perf_counter()
                wb.evaluate(
                    ds,
                    [ours_c],
                    metrics=METRICS,
                    cache="off",
                    progress=False,
                    resume=False,
                    trace=trace,
                    run_id=run.info.run_id,
                )
                times[key].append(time.perf_counter() - t0)
    res = {k: stats(v) for k, v in times.items()}
    base = res["mlflow_genai_evaluate"]["median"]
    print(f"{a.rows} rows, {len(METRICS)} offline scorers, median of {a.repeats}:")
    for k, v in res.items():
        print(f"  {k:<24} {fmt(v)}  ratio vs mlflow {v['median'] / base:.2f}")
    res["ratio_wb_vs_mlflow"] = res["wb_evaluate"]["median"] / base
    res["tracing_overhead"] = res["wb_evaluate_traced"]["median"] / res["wb_evaluate"]["median"]
    save("mlflow_eval", res)


if __name__ == "__main__":
    main()
