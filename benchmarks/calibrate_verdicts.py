"""The decision layer (issue 27), before and after, by seeded simulation: how often a gate passes at its margin,
interval coverage on tied and binary paired data, interval/test disagreement under the null, and how often BH
supports one real difference among 16 metrics.

*Before*: the gate compared two point means; the paired interval was the bootstrap-t of the differences beside a
permutation (or McNemar) p-value; BH ran over every metric of the table. *After*: ``stats.PairedDifference``
(interval = the inverted test), ``stats.gate_test`` (pass / fail / inconclusive at the margin), BH over the
non-constant primary metrics. Resampling sizes are smaller than the defaults (1999 flips, 999 bootstrap
resamples) to keep the run short. Writes results/verdicts.json and prints markdown tables. About 10 minutes.

    .venv/bin/python benchmarks/calibrate_verdicts.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import quick, save
from workbench.evaluate import stats as st

REPS = 100 if quick() else 400
FAST = {"n_flips": 1999, "n_resamples": 999}


def f1_pair(rng, n, delta, noise=0.2):
    """Paired F1-like scores: shared row difficulty, independent noise, B shifted by ``delta``."""
    u = rng.beta(2, 2, n) * 0.8 + 0.1
    return np.clip(u + rng.normal(0, noise, n), 0, 1), np.clip(u + delta + rng.normal(0, noise, n), 0, 1)


def f1_tied(rng, n, shift):
    """F1 with 60% zeros: both score 0 on hard rows; elsewhere B is ``shift`` better."""
    zero = rng.random(n) < 0.6
    u = rng.beta(2, 2, n)
    a = np.where(zero, 0, np.clip(u + rng.normal(0, 0.15, n), 0, 1))
    return a, np.where(zero, 0, np.clip(u + shift + rng.normal(0, 0.15, n), 0, 1))


def gates():
    out = []
    for delta in (-0.05, -0.02, 0.0, 0.05):
        for n in (10, 20, 40, 100, 200):
            rng = np.random.default_rng(int(1000 * delta) + 1000 + n)
            old = new = inconclusive = 0
            for r in range(REPS):
                a, b = f1_pair(rng, n, delta)
                old += b.mean() >= a.mean() - 0.02
                t = st.gate_test(st.PairedDifference(b - a, st.diff_range((0, 1)), seed=r, **FAST), ">=", -0.02)
                new += t.outcome == st.PASS
                inconclusive += t.outcome == st.INCONCLUSIVE
            out.append(
                {
                    "true_diff": delta,
                    "n": n,
                    "pass_before": old / REPS,
                    "pass_after": new / REPS,
                    "inconclusive_after": inconclusive / REPS,
                }
            )
            print(out[-1], flush=True)
    return out


def coverage():
    out = []
    cases = [
        ("F1, 60% ties, B +0.1 on the rest", lambda rng, n: f1_tied(rng, n, 0.1)),
        ("binary, rates 0.3 vs 0.5", lambda rng, n: ((rng.random(n) < 0.3) * 1.0, (rng.random(n) < 0.5) * 1.0)),
        ("binary, rates 0.1 vs 0.2", lambda rng, n: ((rng.random(n) < 0.1) * 1.0, (rng.random(n) < 0.2) * 1.0)),
    ]
    for label, draw in cases:
        a, b = draw(np.random.default_rng(99), 2_000_000)
        truth = float((b - a).mean())
        for n in (10, 20, 40):
            rng = np.random.default_rng(n)
            reps = 1000 if n == 20 and not quick() else REPS
            old = new = 0
            for r in range(reps):
                a, b = draw(rng, n)
                d = b - a
                lo, hi = st.mean_ci(d, n_resamples=999, seed=r)  # before: bootstrap-t of the differences
                old += (lo <= truth <= hi) if not np.isnan(lo) else (d.mean() == truth)
                lo, hi = st.PairedDifference(d, st.diff_range((0, 1)), seed=r, **FAST).interval()
                new += lo <= truth <= hi
            out.append(
                {"data": label, "n": n, "reps": reps, "coverage_before": old / reps, "coverage_after": new / reps}
            )
            print(out[-1], flush=True)
    return out


def disagreement():
    """Null runs (A, B interchangeable): how often the interval excludes 0 and how often the test rejects."""
    out = []
    for n in (10, 20, 40):
        rng = np.random.default_rng(n + 7)
        ci_old = p_old = ci_new = p_new = xor_old = xor_new = 0
        for r in range(REPS):
            a, b = f1_pair(rng, n, 0.0)
            d = b - a
            lo, hi = st.mean_ci(d, n_resamples=999, seed=r)
            from scipy import stats as ss

            excl, rej = (
                not lo <= 0 <= hi,
                ss.permutation_test(
                    (d,), np.mean, permutation_type="samples", n_resamples=999, rng=np.random.default_rng(r)
                ).pvalue
                < 0.05,
            )
            ci_old, p_old, xor_old = ci_old + excl, p_old + rej, xor_old + (excl != rej)
            pdf = st.PairedDifference(d, st.diff_range((0, 1)), seed=r, **FAST)
            lo, hi = pdf.interval()
            excl, rej = not lo <= 0 <= hi, pdf.p_value(0) <= 0.05
            ci_new, p_new, xor_new = ci_new + excl, p_new + rej, xor_new + (excl != rej)
        out.append(
            {
                "n": n,
                "ci_excludes_0_before": ci_old / REPS,
                "test_rejects_before": p_old / REPS,
                "ci_excludes_0_after": ci_new / REPS,
                "test_rejects_after": p_new / REPS,
                "disagree_before": xor_old / REPS,
                "disagree_after": xor_new / REPS,
            }
        )
        print(out[-1], flush=True)
    return out


def families():
    """One real difference (+0.1 F1-like) among 16 metrics: 5 null primary, 4 constant, 6 secondary (null)."""
    out = []
    for n in (40, 100):
        rng = np.random.default_rng(n)
        old = new = 0
        for r in range(REPS):
            real = f1_pair(rng, n, 0.1)
            nulls = [f1_pair(rng, n, 0.0) for _ in range(5 + 6)]
            ps = [st.PairedDifference(b - a, seed=r, **FAST).p_value(0) for a, b in [real, *nulls]]
            p_all = np.array(ps + [1.0] * 4)  # constants: p = 1 in the old family
            old += st.bh_adjust(p_all)[0] < 0.05
            new += st.bh_adjust(np.array(ps[:6]))[0] < 0.05  # the primary, non-constant ones
        out.append({"n": n, "supported_before": old / REPS, "supported_after": new / REPS})
        print(out[-1], flush=True)
    return out


def main():
    parts = {"gates": gates, "coverage": coverage, "null_disagreement": disagreement, "bh_family": families}
    only = sys.argv[1:] or list(parts)  # e.g. `calibrate_verdicts.py gates`
    import json

    from common import RESULTS

    old = RESULTS / f"verdicts{'-quick' if quick() else ''}.json"
    res = json.loads(old.read_text())["results"] if old.exists() and len(only) < len(parts) else {}
    res.update({k: parts[k]() for k in only})
    save("verdicts", res)


if __name__ == "__main__":
    main()
