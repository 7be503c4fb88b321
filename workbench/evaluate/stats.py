"""Statistics behind the verdicts: confidence intervals, the paired test, multiple-testing correction.

Chosen by simulation at the sizes people evaluate with (n = 10-200; figures in ``docs/metrics.md``,
reproduced by ``benchmarks/calibrate_stats.py`` and asserted in ``tests/evaluate/test_stats.py``):

* **Rates** (binary metrics: exact match, refusal, PII leak, ...): Clopper-Pearson exact interval
  (``scipy.stats.binomtest(...).proportion_ci(method="exact")``). Its coverage is at least nominal at every
  n and p, and it never collapses to a zero-width ``[0, 0]`` when no event was seen. Wilson is offered by name.
* **Means** of numeric metrics (F1, latency, cost): studentized bootstrap ("bootstrap-t"). scipy's
  ``bootstrap`` has percentile, basic and BCa but not the studentized interval, so it is written here; on
  skewed (latency-like) data BCa and percentile intervals under-cover at n <= 40, bootstrap-t does not.
  ``"bca"`` and ``"percentile"`` (scipy) are offered by name.
* **Paired difference B - A**: one method gives the interval, the test and the gate decision, so they cannot
  disagree (:class:`PairedDifference`). A value delta is *rejected* only when each of three tests of "the mean
  difference is delta" reject it: the paired sign-flip permutation test of ``d - delta`` (exact enumeration up
  to n = 13; with a symmetric null its type-I error is at most alpha at every n; on binary metrics it is
  McNemar's exact test) and the studentized bootstrap test (which keeps its level when the differences are
  skewed) and Student's t (samples with few non-zero differences, e.g. F1 with many ties at 0). The 95% interval is the set of deltas not rejected (test inversion),
  the p-value at 0 is the test of "no difference", and a gate tests its own margin. The interval stays inside
  the range of the difference (``[lo - hi, hi - lo]`` for a metric in ``[lo, hi]``). Wilcoxon's signed-rank
  test tests a different null (symmetry about 0, i.e. the median) and is reported under its own name.
* **Gates** (:func:`gate_test`): non-inferiority / superiority at the gate's margin, decided by the interval's
  bound: ``pass`` when the whole interval is on the right side of the threshold, ``fail`` when it is wholly on
  the wrong side, ``inconclusive`` otherwise (with the minimum detectable effect at this n, :func:`mde`).
* **Many metrics at once**: Benjamini-Hochberg (``scipy.stats.false_discovery_control``) over the *primary*
  metrics of one comparison (quality, honesty and harm by default, constant metrics left out); secondary
  metrics (cost, tokens, latency) are reported unadjusted and labelled so. Verdicts use the adjusted p-values.
* **Planning** (:func:`rows_needed`, :func:`mde`): the t-test's ``mde = (t_(1-alpha/2, n-1) + t_(power, n-1)) *
  sd_d / sqrt(n)`` for the paired difference, with ``sd_d`` from a previous run or from A/A repeats.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np

CONFIDENCE = 0.95
ALPHA = 0.05
MIN_N = 10  # below this, a comparison's verdict is "not shown"
N_RESAMPLES = 1999  # bootstrap resamples for a mean CI
LARGE_N = 5000  # from here on a mean CI is Student's t (the bootstrap-t converges to it)
N_PERMUTATIONS = 9999  # sign flips for the paired test (exact enumeration when 2**n <= this)
PERCENTILE_METHOD: Final = "linear"  # numpy's default for p50/p95/p99 (Hyndman-Fan type 7)

PAIRED_TEST = "sign-flip permutation + bootstrap-t, inverted (mean difference)"
BINARY_TEST = "mcnemar-exact (sign-flip) + bootstrap-t, inverted (difference of rates)"
POWER = 0.8  # the power :func:`mde` and :func:`rows_needed` plan for
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


def rate_ci(
    successes: int, n: int, method: str = "clopper-pearson", confidence: float = CONFIDENCE
) -> tuple[float, float]:
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

        r = stats.bootstrap(
            (x,),
            np.mean,
            method=method,
            n_resamples=n_resamples,
            confidence_level=confidence,
            random_state=rng,
            vectorized=True,
            axis=-1,
        )
        return float(r.confidence_interval.low), float(r.confidence_interval.high)

    return ci


MEAN_CI_METHODS: dict[str, Callable] = {
    "studentized": _studentized,
    "bca": _scipy_bootstrap("BCa"),
    "percentile": _scipy_bootstrap("percentile"),
}


def mean_ci(
    values, method: str = "studentized", confidence: float = CONFIDENCE, n_resamples: int = N_RESAMPLES, seed: int = 0
) -> tuple[float, float]:
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


# ------------------------------------------------------------------ one paired method: interval, test and gate agree


def _flip_moments(d: np.ndarray, n_flips: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """For each sign vector s of the flip test: ``mean(s * d)`` and ``mean(s)``. All ``2**n`` vectors when that is
    at most ``n_flips`` (exact), else random ones with the identity, each together with its negation (so a
    one-sided p-value is half the two-sided one); generated in blocks, so memory stays small at any n."""
    n = len(d)
    if 2**n <= n_flips:
        s = 1.0 - 2.0 * ((np.arange(2**n)[:, None] >> np.arange(n)) & 1)
        return s @ d / n, s.mean(axis=1)
    a, c = [], []
    half, block = max(1, n_flips // 2), max(1, 2_000_000 // n)
    for start in range(0, half, block):
        s = 1.0 - 2.0 * rng.integers(0, 2, size=(min(block, half - start), n), dtype=np.int8)
        if start == 0:
            s[0] = 1.0
        a.append(s @ d / n)
        c.append(s.mean(axis=1))
    a_, c_ = np.concatenate(a), np.concatenate(c)
    return np.concatenate([a_, -a_]), np.concatenate([c_, -c_])


class PairedDifference:
    """The mean of paired differences ``d = B - A`` with one method for its interval, its test and any margin.
    ``value_range``: the range ``d`` can take (:func:`diff_range` of the metric's); the interval stays inside it.

    ``p_greater(delta)`` is the one-sided p-value of "mean <= delta" (small when B - A is surely above delta),
    ``p_less`` the other side, ``p_value(delta)`` the two-sided one; ``interval()`` is the set of deltas whose
    two-sided p-value exceeds alpha. Each p-value is the largest of three tests' — the sign-flip permutation
    test (exact for a symmetric null), the bootstrap-t test (skewed differences) and Student's t (samples with few
    non-zero differences) — so the interval is the union of their intervals and covers at least as often as
    each; the test at 0 rejects no more often than the sign-flip test alone."""

    def __init__(
        self,
        d,
        value_range: tuple[float | None, float | None] | None = (None, None),
        n_flips: int = N_PERMUTATIONS,
        n_resamples: int = N_RESAMPLES,
        seed: int = 0,
    ):
        d = np.asarray(d, float)
        self.d = d[~np.isnan(d)]
        self.n = n = len(self.d)
        self.mean = float(self.d.mean()) if n else float("nan")
        self.sd = float(self.d.std(ddof=1)) if n > 1 else float("nan")
        lo, hi = value_range if value_range else (None, None)
        self.value_range = (lo, hi)
        spread = float(np.ptp(self.d)) + 1e-9 if n else 0.0
        self.bounds = (
            float(lo) if lo is not None else (float(self.d.min()) - 2 * spread if n else -np.inf),
            float(hi) if hi is not None else (float(self.d.max()) + 2 * spread if n else np.inf),
        )
        rng = np.random.default_rng(seed)
        self._a: np.ndarray | None = None  # the flip test's moments (_flip_moments), set together with _c
        self._c: np.ndarray | None = None
        self._t: np.ndarray | None = None  # the bootstrap-t statistics, sorted
        self.se = self.sd / np.sqrt(n) if n >= 2 else float("nan")
        if 2 <= n < LARGE_N:  # from LARGE_N rows on, Student's t alone (the resampling tests converge to it)
            self._a, self._c = _flip_moments(self.d, n_flips + 1, rng)
            if self.se > 1e-12 * max(1.0, float(np.abs(self.d).max())):
                xb = self.d[rng.integers(0, n, (n_resamples, n))]
                seb = xb.std(axis=1, ddof=1) / np.sqrt(n)
                ok = seb > 0
                if ok.sum() >= 10:
                    self._t = np.sort((xb.mean(axis=1)[ok] - self.mean) / seb[ok])

    def _one_sided(self, delta: float, sign: float) -> float:
        if self.n < 2:
            return 1.0
        eps = 1e-12 * max(1.0, abs(self.mean), abs(delta))
        p = 0.0
        if self._a is not None and self._c is not None:
            stat = sign * (self._a - delta * self._c)
            p = float(np.mean(stat >= sign * (self.mean - delta) - eps))
        if self._t is not None:
            t_obs = (self.mean - delta) / self.se
            k = (
                (len(self._t) - np.searchsorted(self._t, t_obs - eps, "left"))
                if sign > 0
                else np.searchsorted(self._t, t_obs + eps, "right")
            )
            p = max(p, float((1 + k) / (len(self._t) + 1)))
        if self.se > 0:  # Student's t: keeps heavily tied samples (few non-zero differences) from looking sure
            from scipy import special

            p = max(p, float(special.stdtr(self.n - 1, -sign * (self.mean - delta) / self.se)))
        elif self._a is None:  # many rows, all differences equal: the data decide outright
            p = 1.0 if sign * (self.mean - delta) <= eps else 0.0
        return min(1.0, p)

    def p_greater(self, delta: float = 0.0) -> float:
        """One-sided p-value of "the mean difference is at most ``delta``"."""
        return self._one_sided(float(delta), 1.0)

    def p_less(self, delta: float = 0.0) -> float:
        """One-sided p-value of "the mean difference is at least ``delta``"."""
        return self._one_sided(float(delta), -1.0)

    def p_value(self, delta: float = 0.0) -> float:
        """Two-sided p-value of "the mean difference is ``delta``"."""
        return min(1.0, 2 * min(self.p_greater(delta), self.p_less(delta)))

    def interval(self, confidence: float = CONFIDENCE) -> tuple[float, float]:
        """The deltas not rejected at ``1 - confidence`` (two-sided), inside the range of the difference."""
        if self.n < 2:
            return float("nan"), float("nan")
        a = (1 - confidence) / 2

        def edge(p, outside: float) -> float:  # p rises towards the mean: bisect where it crosses a
            inside = self.mean
            if p(outside) > a:
                return outside
            for _ in range(60):
                mid = (inside + outside) / 2
                inside, outside = (mid, outside) if p(mid) > a else (inside, mid)
                if abs(inside - outside) <= 1e-9 * max(1.0, abs(self.mean)):
                    break
            snapped = round(inside, 8)  # p is a step function: a step at a round value (0, with ties) is exact
            return snapped if p(snapped) > a else inside

        return float(edge(self.p_greater, self.bounds[0])), float(edge(self.p_less, self.bounds[1]))


def diff_range(value_range) -> tuple[float | None, float | None]:
    """The range ``[lo - hi, hi - lo]`` of a paired difference of a metric in ``[lo, hi]``; unbounded both ways
    when either end of the metric's range is open (latency in ``[0, inf)`` can rise or fall by any amount)."""
    lo, hi = value_range if value_range else (None, None)
    return (None, None) if lo is None or hi is None else (lo - hi, hi - lo)


def paired_permutation(d, n_resamples: int = N_PERMUTATIONS, seed: int = 0) -> PairedTest:
    """The paired test of mean(d) = 0 (two-sided): :class:`PairedDifference`'s p-value at 0 (the sign-flip
    permutation test and the bootstrap-t test must both reject)."""
    pd_ = PairedDifference(d, n_flips=n_resamples, seed=seed)
    return PairedTest(PAIRED_TEST, pd_.p_value(0.0) if pd_.n >= 2 and np.any(pd_.d != 0) else 1.0, pd_.n)


def z(q: float) -> float:
    """Standard normal quantile."""
    from scipy import special

    return float(special.ndtri(q))


def mde(sd: float, n: int, power: float = POWER, alpha: float = ALPHA) -> float:
    """Minimum detectable effect: the true mean difference a two-sided t-test at ``alpha`` detects with
    probability ``power`` on ``n`` paired rows whose differences have standard deviation ``sd`` (Student's t
    quantiles with ``n - 1`` degrees of freedom; the normal ones promised 80% where the test reached 59% at 10
    rows). :class:`PairedDifference` rejects no more often than the t-test, so its power there is a little lower:
    71-79% at 10-40 normal rows (200 simulated runs each, 2026-12-05). Infinite below :func:`min_rejectable_n`
    rows: there the sign-flip test cannot reject at ``alpha`` whatever the difference (3 rows of equal
    differences printed "detectable at this n: 0")."""
    if n < min_rejectable_n(alpha):
        return float("inf")
    if not np.isfinite(sd):
        return float("nan")
    from scipy import stats as sst

    return float((sst.t.ppf(1 - alpha / 2, n - 1) + sst.t.ppf(power, n - 1)) * sd / np.sqrt(n))


def min_rejectable_n(alpha: float = ALPHA) -> int:
    """The fewest paired rows on which the two-sided sign-flip test can reject at ``alpha``: its smallest
    p-value on ``n`` rows is ``2 / 2**n`` (every difference on one side), so 6 rows at 5%."""
    return int(np.ceil(np.log2(2 / alpha)))


def rows_needed(sd: float, effect: float, power: float = POWER, alpha: float = ALPHA) -> int:
    """Paired rows needed to detect a true mean difference ``effect`` with probability ``power``: the fewest
    (at least ``MIN_N``) whose :func:`mde` is at most ``effect``."""
    if not effect or not np.isfinite(sd):
        raise ValueError("rows_needed: effect must be non-zero and the spread finite")
    n = max(MIN_N, int(np.ceil(((z(1 - alpha / 2) + z(power)) * sd / abs(effect)) ** 2)))  # t needs a few more
    while mde(sd, n, power, alpha) > abs(effect):
        n += 1 if n < 1000 else n // 1000  # t's quantiles approach the normal ones: a few steps, bounded
    return n


# ------------------------------------------------------------------ gates: tests at their margin

PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"
_SIDE = {">=": 1.0, ">": 1.0, "<=": -1.0, "<": -1.0, "==": 0.0}  # which way a gate wants the statistic to lie


@dataclass(frozen=True)
class GateTest:
    """A gate decided as a test at its margin: ``outcome`` is pass (the interval lies wholly on the gate's side
    of ``margin``), fail (wholly on the other side) or inconclusive; ``p_value`` is the one-sided p-value of
    "the gate does not hold" (two-sided for ``==``); ``mde`` the effect detectable at this n with 80% power."""

    outcome: str
    p_value: float
    ci_low: float
    ci_high: float
    margin: float
    mde: float
    test: str


def decide(op: str, margin: float, p_good: float, p_bad: float, alpha: float = ALPHA) -> str:
    """pass / fail / inconclusive from the one-sided p-values of "not on the good side" and "not on the bad
    side" of ``margin`` (each at ``alpha / 2``: the two ends of the 95% interval)."""
    if op == "==":  # equality can only be refuted
        return FAIL if min(p_good, p_bad) <= alpha / 2 else INCONCLUSIVE
    if p_good <= alpha / 2:
        return PASS
    return FAIL if p_bad <= alpha / 2 else INCONCLUSIVE


def gate_test(diff: PairedDifference, op: str, margin: float, test: str = PAIRED_TEST) -> GateTest:
    """Test ``mean(d) <op> margin`` with :class:`PairedDifference` (d = B - k * A, or B alone)."""
    side = _SIDE[op]
    up, down = diff.p_greater(margin), diff.p_less(margin)
    p_good, p_bad = (up, down) if side >= 0 else (down, up)
    lo, hi = diff.interval()
    p = min(1.0, 2 * min(up, down)) if side == 0 else p_good
    outcome = _by_range(diff, op, margin) or decide(op, margin, p_good, p_bad)
    if diff.n >= MIN_N and diff.sd == 0:  # every row differs by the same amount (often 0: identical): no noise
        import operator

        ops = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt, "==": operator.eq}
        outcome = PASS if ops[op](diff.mean, margin) else FAIL
    return GateTest(outcome, p, lo, hi, margin, mde(diff.sd, diff.n), test)


def _by_range(diff: PairedDifference, op: str, margin: float) -> str | None:
    """A gate the metric's range decides whatever the data: ``>= baseline - 1`` on F1 always holds; ``>= baseline +
    1`` holds only if every row gains 1, so one row that does not refutes it. None when the range does not decide."""
    side = _SIDE[op]
    if side == 0:
        return None
    lo, hi = (
        diff.value_range
        if side > 0
        else (
            -diff.value_range[1] if diff.value_range[1] is not None else None,
            -diff.value_range[0] if diff.value_range[0] is not None else None,
        )
    )
    m, d = side * margin, side * diff.d
    strict = op in (">", "<")
    if lo is not None and (m < lo or (m == lo and not strict)):
        return PASS
    if hi is not None and (m > hi or (m == hi and (strict or np.any(d < hi)))):
        return FAIL
    return None


def stat_gate_test(
    x, y, stat: str, k: float, op: str, margin: float, n_resamples: int = N_RESAMPLES, seed: int = 0
) -> GateTest:
    """A gate on a statistic that is not a mean (``p95``, ``total``): the paired bootstrap (rows resampled
    together) of ``stat(B) - k * stat(A)``; its percentile interval decides as in :func:`gate_test`."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    n = len(x)
    idx = np.random.default_rng(seed).integers(0, n, (n_resamples, n))
    if stat == "total":
        est = y[idx].sum(axis=1) - k * x[idx].sum(axis=1)
    else:
        q = float(stat[1:])
        est = np.percentile(y[idx], q, axis=1, method=PERCENTILE_METHOD) - k * np.percentile(
            x[idx], q, axis=1, method=PERCENTILE_METHOD
        )
    up = float((1 + np.sum(est <= margin)) / (n_resamples + 1))  # p of "not above the margin"
    down = float((1 + np.sum(est >= margin)) / (n_resamples + 1))
    side = _SIDE[op]
    p_good, p_bad = (up, down) if side >= 0 else (down, up)
    lo, hi = np.quantile(est, [(1 - CONFIDENCE) / 2, (1 + CONFIDENCE) / 2])
    p = min(1.0, 2 * min(up, down)) if side == 0 else p_good
    return GateTest(
        decide(op, margin, p_good, p_bad),
        p,
        float(lo),
        float(hi),
        margin,
        float("nan"),
        f"paired bootstrap percentile ({stat})",
    )
