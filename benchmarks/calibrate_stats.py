"""Coverage of the 95% intervals and type-I error of the paired tests, before (the percentile bootstrap and
"CI excludes 0" used up to commit 78e9cf4) and after (workbench/evaluate/stats.py), by seeded simulation.

Data: skewed = lognormal(0, 1) (latency/cost-like; the distribution of issue 16's figures) and
exponential(1); binary = Bernoulli(p = 0.05). Null for the paired tests: A and B interchangeable (shared
per-row difficulty, each side's noise drawn alike), and a "lopsided" null (mean difference 0, median not 0).
Prints a markdown table (it goes into docs/metrics.md) and writes results/stats.json. About 2 minutes.

    .venv/bin/python benchmarks/calibrate_stats.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import quick, save
from workbench.evaluate import stats as st

SIZES = (10, 20, 40, 200)


def old_ci(x, rng, n_boot=1000):
    """The method before: percentile bootstrap of the mean, 1000 resamples (any kind of metric)."""
    idx = rng.integers(0, len(x), (n_boot, len(x)))
    boots = x[idx].mean(axis=1)
    return float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))


def new_ci(binary):
    def ci(x, rng):
        return st.ci(x, binary=binary, seed=int(rng.integers(1 << 31)))[:2]

    return ci


DATA = {
    "skewed lognormal(0,1)": (lambda rng, n: rng.lognormal(0, 1, n), float(np.exp(0.5)), False),
    "skewed exponential(1)": (lambda rng, n: rng.exponential(1.0, n), 1.0, False),
    "binary p=0.05": (lambda rng, n: (rng.random(n) < 0.05).astype(float), 0.05, True),
}


def coverage(draw, truth, interval, n, reps, seed):
    rng = np.random.default_rng(seed)
    hits = zero_width = 0
    for _ in range(reps):
        lo, hi = interval(draw(rng, n), rng)
        hits += lo <= truth <= hi
        zero_width += hi - lo == 0
    return hits / reps, zero_width / reps


def null_diffs(rng, n, kind):
    if kind == "interchangeable":
        u = rng.beta(2, 2, n)
        return np.clip(u + rng.normal(0, 0.15, n), 0, 1) - np.clip(u + rng.normal(0, 0.15, n), 0, 1)
    return np.where(rng.random(n) < 0.1, 0.9, -0.1)  # lopsided: mean 0, median -0.1


def type_one(n, kind, reps, seed):
    rng = np.random.default_rng(seed)
    old = new = wil = 0
    for r in range(reps):
        d = null_diffs(rng, n, kind)
        lo, hi = old_ci(d, rng)
        old += lo > 0 or hi < 0
        new += st.paired_permutation(d, n_resamples=999, seed=r).p_value < st.ALPHA
        wil += st.wilcoxon(d) < st.ALPHA
    return old / reps, new / reps, wil / reps


def main():
    reps = 200 if quick() else 1000
    results = {"coverage": [], "type_one": []}
    print("| data | n | before: percentile bootstrap | after | after: method | zero-width before |")
    print("|---|---|---|---|---|---|")
    for name, (draw, truth, binary) in DATA.items():
        for n in SIZES:
            r = reps
            before, zw = coverage(draw, truth, old_ci, n, r, seed=n)
            after, _ = coverage(draw, truth, new_ci(binary), n, r, seed=n)
            method = "clopper-pearson" if binary else "bootstrap-t"
            results["coverage"].append(
                {
                    "data": name,
                    "n": n,
                    "reps": r,
                    "before": before,
                    "after": after,
                    "method": method,
                    "zero_width_before": zw,
                }
            )
            print(f"| {name} | {n} | {before:.3f} | {after:.3f} | {method} | {zw:.0%} |", flush=True)
    print("\n| null | n | before: 'CI excludes 0' | after: paired permutation | Wilcoxon |")
    print("|---|---|---|---|---|")
    for kind in ("interchangeable", "lopsided"):
        for n in (5, 10, 20, 40):
            old, new, wil = type_one(n, kind, reps, seed=100 + n)
            results["type_one"].append(
                {
                    "null": kind,
                    "n": n,
                    "reps": reps,
                    "before_ci_excludes_0": old,
                    "after_permutation": new,
                    "wilcoxon": wil,
                }
            )
            print(f"| {kind} | {n} | {old:.3f} | {new:.3f} | {wil:.3f} |", flush=True)
    save("stats", results)


if __name__ == "__main__":
    main()
