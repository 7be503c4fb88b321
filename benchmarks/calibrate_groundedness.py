"""Calibrate the offline groundedness thresholds on datasets/calibration/groundedness.jsonl.

Grid-searches the cosine and word-overlap thresholds of ``honesty/groundedness`` and prints the accuracy of
the current setting and of the best one. Thresholds live in workbench/evaluate/metrics/honesty.py.

    .venv/bin/python benchmarks/calibrate_groundedness.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from workbench.evaluate.metrics import honesty
from workbench.llm.embeddings import embed

PATH = Path(__file__).resolve().parents[1] / "datasets" / "calibration" / "groundedness.jsonl"


def accuracy(items, cos_t: float, ov_t: float) -> float:
    old = honesty.COS_THRESHOLD, honesty.OVERLAP_THRESHOLD
    honesty.COS_THRESHOLD, honesty.OVERLAP_THRESHOLD = cos_t, ov_t
    try:
        hits = [honesty.claim_support([it["claim"]], [it["context"]], embed)[0]["supported"] == it["supported"]
                for it in items]
    finally:
        honesty.COS_THRESHOLD, honesty.OVERLAP_THRESHOLD = old
    return float(np.mean(hits))


def main() -> None:
    items = [json.loads(l) for l in PATH.read_text().splitlines() if l.strip()]
    cur = accuracy(items, honesty.COS_THRESHOLD, honesty.OVERLAP_THRESHOLD)
    print(f"{len(items)} labelled claims; current thresholds cos>={honesty.COS_THRESHOLD} "
          f"overlap>={honesty.OVERLAP_THRESHOLD}: accuracy {cur:.3f}")
    best = max(((accuracy(items, c, o), c, o) for c in np.arange(0.5, 0.95, 0.05) for o in np.arange(0.5, 1.01, 0.05)),
               key=lambda t: t[0])
    print(f"best on this set: cos>={best[1]:.2f} overlap>={best[2]:.2f}: accuracy {best[0]:.3f}")


if __name__ == "__main__":
    main()
