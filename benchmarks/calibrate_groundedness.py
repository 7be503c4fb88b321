"""Choose the offline groundedness thresholds on the TUNING set only.

Grid-searches the cosine and word-overlap thresholds of the default verifier of ``honesty/groundedness`` on
``datasets/calibration/groundedness_tune.jsonl`` and prints the accuracy of the current setting and of the
best one (among equally good pairs, the one nearest the current setting). The held-out set is never read here: report it with
``benchmarks/bench_metric_accuracy.py``. Thresholds live in workbench/evaluate/metrics/honesty.py.

    .venv/bin/python benchmarks/calibrate_groundedness.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from workbench.evaluate.metrics import honesty
from workbench.evaluate.runner import MetricEnv

PATH = Path(__file__).resolve().parents[1] / "datasets" / "calibration" / "groundedness_tune.jsonl"


def load(path: Path = PATH) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def accuracy(items: list[dict], cos_t: float, ov_t: float, embed) -> float:
    """Accuracy of 'all claims supported' vs the label, with the given thresholds."""
    old = honesty.COS_THRESHOLD, honesty.OVERLAP_THRESHOLD
    honesty.COS_THRESHOLD, honesty.OVERLAP_THRESHOLD = cos_t, ov_t
    try:
        hits = [
            (honesty.groundedness_score(it["claim"], [it["context"]], embed, it.get("question"))[0] == 1.0)
            == it["supported"]
            for it in items
        ]
    finally:
        honesty.COS_THRESHOLD, honesty.OVERLAP_THRESHOLD = old
    return float(np.mean(hits))


def main() -> None:
    items, env = load(), MetricEnv()  # MetricEnv caches embeddings across the grid
    cur = accuracy(items, honesty.COS_THRESHOLD, honesty.OVERLAP_THRESHOLD, env.embed)
    print(
        f"{len(items)} labelled claims (tuning set); current thresholds cos>={honesty.COS_THRESHOLD} "
        f"overlap>={honesty.OVERLAP_THRESHOLD}: accuracy {cur:.3f}"
    )
    grid = [
        (accuracy(items, c, o, env.embed), c, o)
        for c in np.arange(0.95, 0.45, -0.05)
        for o in np.arange(1.0, 0.45, -0.05)
    ]
    top = max(g[0] for g in grid)
    best = min(
        (g for g in grid if g[0] == top),
        key=lambda g: abs(g[1] - honesty.COS_THRESHOLD) + abs(g[2] - honesty.OVERLAP_THRESHOLD),
    )
    print(f"best on the tuning set: cos>={best[1]:.2f} overlap>={best[2]:.2f}: accuracy {best[0]:.3f}")


if __name__ == "__main__":
    main()
