"""Statistics behind the verdicts: confidence intervals, the paired test, multiple-testing correction.

Chosen by simulation at the sizes people evaluate with (n = 10-200; figures in ``docs/metrics.md``,
reproduced by ``benchmarks/calibrate_stats.py`` and asserted in ``tests/test_stats.py``):

* **Rates** (binary metrics: exact match, refusal, PII leak, ...): Clopper-Pearson exact interval
  (``scipy.stats.binomtest(...).proportion_ci(method="exact")``). Its coverage is at least nominal at every
  n and p, and it never collapses to a zero-width ``[0, 0]`` when no event was seen. Wilson is offered by name.
* **Means** of numeric metrics (F1, latency, cost): studentized bootstrap ("bootstrap-t"). scipy's
  ``bootstrap`` has percentile, basic and BCa but not the studentized interval, so it is written here; on
  skewed (latency-like) data BCa and percentile intervals under-cover at n <= 40, bootstrap-t does not.
  ``"bca"`` and ``"percentile"`` (scipy) are offered by name.
* **Paired difference B - A**: the reported number is the mean difference, so the test is a paired
  permutation (sign-flip) test *of the mean difference* (``scipy.stats.permutation_test``, exact enumeration
  up to n = 13). Under "A and B are interchangeable" its type-I error is at most alpha at every n. Binary
  metrics use McNemar's exact test (the same sign-flip test restricted to discordant pairs). Wilcoxon's
  signed-rank test tests a different null (symmetry of the differences about 0, i.e. the median) and is
  reported under its own name, never as the test of the mean.
* **Many metrics at once**: Benjamini-Hochberg (``scipy.stats.false_discovery_control``) over the metrics of
  one comparison; verdicts use the adjusted p-values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95
ALPHA = 0.05
MIN_N = 10  # below this, a comparison's verdict is "not shown"
N_RESAMPLES = 1999  # bootstrap resamples for a mean CI
LARGE_N = 5000  # from here on a mean CI is Student's t (the bootstrap-t converges to it)
N_PERMUTATIONS = 9999  # sign flips for the paired test (exact enumeration when 2**n <= this)
PERCENTILE_METHOD = "linear"  # numpy's default for p50/p95/p99 (Hyndman-Fan type 7)

PAIRED_TEST = "paired permutation (mean difference)"
BINARY_TEST = "mcnemar-exact"
RANK_TEST = "wilcoxon signed-rank (median/symmetry, not the mean)"
CORRECTION = "benjamini-hochberg"


def aggregate(vals: np.ndarray, stat: str) -> float | None:
    """``mean``, ``total`` or a percentile ``pNN`` (linear interpolation, numpy's default) of ``vals``."""
    vals = np.asarray(vals, float)
    if len(vals) == 0:
        return None
    if stat == "mean":
        return float(vals.mean())
    if stat == "total":
        return float(vals.sum())
    if stat.startswith("p") and stat[1:].replace(".", "", 1).isdigit():
        return float(np.percentile(vals, float(stat[1:]), method=PERCENTILE_METHOD))
    raise ValueError(f"unknown statistic {stat!r}: expected mean, total or pNN")


# ------------------------------------------------------------------ intervals for rates


def _clopper_pearson(k: int, n: int, a: float) -> tuple[float, float]:
    """Exact interval from beta quantiles (Clopper & Pearson 1934)."""
    from scipy import special

    lo = 0.0 if k == 0 else special.betaincinv(k, n - k + 1, a)
    hi = 1.0 if k == n else special.betaincinv(k + 1, n - k, 1 - a)
    return float(lo), float(hi)


def _wilson(k: int, n: int, a: float) -> tuple[float, float]:
    """Wilson score interval, no continuity correction."""
    from scipy import special

    z = special.ndtri(1 - a)
    p, d = k / n, 1 + z * z / n
    centre, half = (p + z * z / (2 * n)) / d, z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


RATE_CI_METHODS: dict[str, Callable] = {"clopper-pearson": _clopper_pearson, "wilson": _wilson}


def rate_ci(successes: int, n: int, method: str = "clopper-pearson",
            confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Interval for a proportion ``successes / n``: ``"clopper-pearson"`` (exact, default) or ``"wilson"``.

    The same intervals as ``scipy.stats.binomtest(k, n).proportion_ci(method="exact" | "wilson")`` (a test checks
    it), from their closed forms in ``scipy.special``: importing ``scipy.stats`` costs ~0.65 s of CPU per process."""
    if method not in RATE_CI_METHODS:
        raise ValueError(f"rate interval method {method!r}: expected one of {sorted(RATE_CI_METHODS)}")
    if n <= 0:
        return float("nan"), float("nan")
    return RATE_CI_METHODS[method](int(successes), int(n), (1 - confidence) / 2)


# ------------------------------------------------------------------ intervals for means


def _studentized(x: np.ndarray, confidence: float, rng: np.random.Generator, n_resamples: int):
    """Bootstrap-t: quantiles of (mean* - mean) / se* turned around the sample mean; Student's t beyond LARGE_N
    rows, where the two agree and resampling would cost memory."""
    from scipy import special

    n = len(x)
    m, se = x.mean(), x.std(ddof=1) / np.sqrt(n)
    a = (1 - confidence) / 2
    if n >= LARGE_N:
        q = special.stdtrit(n - 1, 1 - a)  # Student's t quantile
        return float(m - q * se), float(m + q * se)
    idx = rng.integers(0, n, (n_resamples, n))
    xb = x[idx]
    seb = xb.std(axis=1, ddof=1) / np.sqrt(n)
    ok = seb > 0  # resamples of one repeated value carry no studentized information
    if ok.sum() < 10:
        return float("nan"), float("nan")
    t = (xb.mean(axis=1)[ok] - m) / seb[ok]
    return float(m - np.quantile(t, 1 - a) * se), float(m - np.quantile(t, a) * se)


def _scipy_bootstrap(method: str):
    def ci(x: np.ndarray, confidence: float, rng: np.random.Generator, n_resamples: int):
        from scipy import stats

        r = stats.bootstrap((x,), np.mean, method=method, n_resamples=n_resamples, confidence_level=confidence,
                            random_state=rng, vectorized=True, axis=-1)
        return float(r.confidence_interval.low), float(r.confidence_interval.high)

    return ci


MEAN_CI_METHODS: dict[str, Callable] = {"studentized": _studentized, "bca": _scipy_bootstrap("BCa"),
                                        "percentile": _scipy_bootstrap("percentile")}


def mean_ci(values, method: str = "studentized", confidence: float = CONFIDENCE, n_resamples: int = N_RESAMPLES,
            seed: int = 0) -> tuple[float, float]:
    """Bootstrap interval for the mean of ``values``; ``(nan, nan)`` when it cannot be estimated (n < 3 or all
    values equal: a constant sample says nothing about the spread, so no interval is claimed)."""
    if method not in MEAN_CI_METHODS:
        raise ValueError(f"mean interval method {method!r}: expected one of {sorted(MEAN_CI_METHODS)}")
    x = np.asarray(values, float)
    x = x[~np.isnan(x)]
    if len(x) < 3 or np.ptp(x) == 0:
        return float("nan"), float("nan")
    return MEAN_CI_METHODS[method](x, confidence, np.random.default_rng(seed), n_resamples)


def is_binary(values) -> bool:
    x = np.asarray(values, float)
    return bool(len(x)) and bool(np.isin(x[~np.isnan(x)], (0.0, 1.0)).all())


def ci(values, binary: bool, confidence: float = CONFIDENCE, seed: int = 0) -> tuple[float, float, str]:
    """``(low, high, method)`` for the mean of a metric: Clopper-Pearson for a binary metric, else bootstrap-t."""
    x = np.asarray(values, float)
    x = x[~np.isnan(x)]
    if binary and is_binary(x):
        lo, hi = rate_ci(int(x.sum()), len(x), confidence=confidence)
        return lo, hi, "clopper-pearson"
    lo, hi = mean_ci(x, confidence=confidence, seed=seed)
    return lo, hi, "studentized-bootstrap"


# ------------------------------------------------------------------ paired tests


@dataclass(frozen=True)
class PairedTest:
    """A paired test of B - A: its name, the two-sided p-value, and the quantity its null is about."""

    test: str
    p_value: float
    n: int


def paired_permutation(d, n_resamples: int = N_PERMUTATIONS, seed: int = 0) -> PairedTest:
    """Sign-flip permutation test of mean(d) = 0 for paired differences ``d`` (two-sided)."""
    from scipy import stats

    d = np.asarray(d, float)
    d = d[~np.isnan(d)]
    if len(d) < 2 or not np.any(d != 0):
        return PairedTest(PAIRED_TEST, 1.0, len(d))
    r = stats.permutation_test((d,), np.mean, permutation_type="samples", n_resamples=n_resamples,
                               vectorized=True, alternative="two-sided", rng=np.random.default_rng(seed))
    return PairedTest(PAIRED_TEST, float(min(1.0, r.pvalue)), len(d))


def mcnemar_exact(x, y) -> PairedTest:
    """McNemar's exact test for paired binary outcomes (binomial test on the discordant pairs)."""
    from scipy import stats

    x, y = np.asarray(x, float), np.asarray(y, float)
    b01, b10 = int(((x == 0) & (y == 1)).sum()), int(((x == 1) & (y == 0)).sum())
    p = float(stats.binomtest(b01, b01 + b10, 0.5).pvalue) if b01 + b10 else 1.0
    return PairedTest(BINARY_TEST, p, len(x))


def wilcoxon(d) -> float:
    """Wilcoxon signed-rank p-value (a rank test of symmetry about 0 — not a test of the mean difference)."""
    from scipy import stats

    d = np.asarray(d, float)
    d = d[~np.isnan(d)]
    if len(d) < 2 or not np.any(d != 0):
        return 1.0
    return float(stats.wilcoxon(d).pvalue)


def effect_size_dz(d) -> float:
    """Cohen's d_z = mean(d) / sd(d); NaN when the differences are (numerically) constant or n < 2."""
    d = np.asarray(d, float)
    d = d[~np.isnan(d)]
    if len(d) < 2:
        return float("nan")
    sd = d.std(ddof=1)
    if sd <= 1e-12 * max(1.0, float(np.abs(d).max())):
        return float("nan")
    return float(d.mean() / sd)


def bh_adjust(p_values) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (``scipy.stats.false_discovery_control``); NaNs stay NaN."""
    from scipy import stats

    p = np.asarray(p_values, float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = stats.false_discovery_control(np.clip(p[ok], 0, 1), method="bh")
    return out
