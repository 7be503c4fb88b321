"""Statistics that hold at the sizes people use (issue 16, item 3): seeded, bounded simulations of interval
coverage and of the paired test's type-I error, and the verdicts built on them. About 20 s in all."""

import json

import numpy as np
import pandas as pd
import pytest

from workbench.demo import recommend, verdict
from workbench.evaluate import stats as st

NOMINAL = 0.95


def coverage(draw, truth, interval, n, reps, seed):
    rng = np.random.default_rng(seed)
    hits = 0
    for r in range(reps):
        lo, hi = interval(draw(rng, n), r)
        hits += lo <= truth <= hi
    return hits / reps


@pytest.mark.parametrize("n", [20, 40])
def test_mean_ci_coverage_on_skewed_data(n):
    # exponential: skewness 2, the shape of latency and cost per row
    cov = coverage(
        lambda rng, n: rng.exponential(1.0, n),
        1.0,
        lambda x, r: st.mean_ci(x, n_resamples=999, seed=r),
        n,
        reps=1500,
        seed=n,
    )
    assert abs(cov - NOMINAL) <= 0.02, cov


def test_percentile_bootstrap_under_covers_the_same_data():
    # the method used before: the same check fails for it, so the test above can fail
    cov = coverage(
        lambda rng, n: rng.exponential(1.0, n),
        1.0,
        lambda x, r: st.mean_ci(x, method="percentile", n_resamples=999, seed=r),
        20,
        reps=600,
        seed=1,
    )
    assert cov < NOMINAL - 0.02, cov


@pytest.mark.parametrize("p,n", [(0.05, 20), (0.05, 40), (0.05, 200), (0.3, 20)])
def test_rate_ci_coverage_on_binary_data(p, n):
    # binary intervals cannot hit 95% exactly at a fixed p (discreteness); Clopper-Pearson never falls below it
    seen = {}  # the interval depends on the count only

    def interval(x, r):
        k = int(x.sum())
        if k not in seen:
            seen[k] = st.ci(x, binary=True)[:2]
        return seen[k]

    cov = coverage(lambda rng, n: (rng.random(n) < p).astype(float), p, interval, n, reps=2000, seed=int(p * 100) + n)
    assert cov >= NOMINAL - 0.02, cov


def test_no_zero_width_interval_for_a_rare_event():
    lo, hi, method = st.ci(np.zeros(20), binary=True)
    assert method == "clopper-pearson" and lo == 0 and hi == pytest.approx(0.1684, abs=1e-3)
    assert np.isnan(st.mean_ci(np.full(20, 0.3))[0])  # a constant numeric sample claims no interval


def paired_null(rng, n, kind):
    """A and B interchangeable: per-row difficulty shared, each side's noise drawn alike."""
    if kind == "f1":
        u = rng.beta(2, 2, n)
        a, b = (np.clip(u + rng.normal(0, 0.15, n), 0, 1) for _ in range(2))
    else:  # latency-like: row cost x lognormal noise
        base = rng.lognormal(0, 1, n)
        a, b = (base * rng.lognormal(0, 0.5, n) for _ in range(2))
    return b - a


@pytest.mark.parametrize("kind", ["f1", "latency"])
@pytest.mark.parametrize("n", [10, 20, 40])
def test_paired_test_type_one_error(kind, n):
    rng = np.random.default_rng(n)
    reps = 800
    rejected = sum(
        st.paired_permutation(paired_null(rng, n, kind), n_resamples=999, seed=r).p_value < 0.05 for r in range(reps)
    )
    assert rejected / reps <= 0.06, rejected / reps


def test_paired_test_has_power_on_a_real_difference():
    rng = np.random.default_rng(7)
    d = paired_null(rng, 40, "f1") + 0.15
    assert st.paired_permutation(d).p_value < 0.01


def test_bh_adjustment_matches_scipy_and_keeps_nans():
    from scipy.stats import false_discovery_control

    p = [0.01, 0.02, 0.03, 0.2]
    assert st.bh_adjust(p).tolist() == pytest.approx(false_discovery_control(p).tolist())
    assert np.isnan(st.bh_adjust([0.01, np.nan])[1])


def line(**kw):
    base = {
        "metric": "quality/f1",
        "n": 40,
        "diff": 0.05,
        "ci_low": 0.01,
        "ci_high": 0.09,
        "test": st.PAIRED_TEST,
        "p_value": 0.01,
        "p_adjusted": 0.01,
    }
    return pd.Series({**base, **kw})


def test_verdicts_say_not_shown():
    assert "data support" in verdict(line())
    assert "not shown: fewer than" in verdict(line(n=5, p_value=0.001, p_adjusted=0.001))
    assert "not shown: only the uncorrected test rejects" in verdict(line(p_value=0.03, p_adjusted=0.09))
    assert "not distinguishable" in verdict(line(p_value=0.3, p_adjusted=0.3, ci_low=-0.01))


def cmp_of(table: pd.DataFrame, n: int = 40):
    from workbench.evaluate.compare import Comparison

    return Comparison("A", "B", table, pd.DataFrame(), {}, {}, n_shared=n, answered_a=n, answered_b=n)


def test_recommend_uses_the_corrected_test():
    table = pd.DataFrame({"candidate": ["base", "rag"], "quality_f1": [0.4, 0.45]})
    text = recommend(table, {"rag": cmp_of(pd.DataFrame([line(p_value=0.03, p_adjusted=0.09)]))})
    assert "rag vs base (quality/f1)" in text and "only the uncorrected test rejects" in text
    assert "data support" not in text


def test_the_recommendation_follows_the_verdict():
    """With no supported difference the text opened with "Highest mean token F1: rag" and the tag named rag."""
    from workbench.demo import choose

    table = pd.DataFrame({"candidate": ["base", "rag"], "quality_f1": [0.4, 0.45]})
    unsupported = {"rag": cmp_of(pd.DataFrame([line(p_value=0.3, p_adjusted=0.3, ci_low=-0.02, mde=0.08)]))}
    text = recommend(table, unsupported)
    assert choose(table, unsupported) is None
    assert "Keep the baseline (base)" in text and "Highest mean" not in text
    assert "A answered 40/40, B answered 40/40" in text and "±0.080" in text  # power beside "not distinguishable"
    supported = {"rag": cmp_of(pd.DataFrame([line()]))}
    assert choose(table, supported) == "rag" and "Recommended: **rag**" in recommend(table, supported)
    worse = {"rag": cmp_of(pd.DataFrame([line(diff=-0.05, ci_low=-0.09, ci_high=-0.01)]))}
    assert choose(table, worse) is None  # a supported loss is no reason to switch


def test_serving_an_unsupported_recommendation_is_refused():
    from workbench.errors import ConfigError
    from workbench.serve.config import recommended_candidate

    assert (
        recommended_candidate({"workbench.recommended": "rag", "workbench.recommendation_supported": "true"}, "r1")
        == "rag"
    )
    with pytest.raises(ConfigError, match="supports no candidate.*--candidate"):
        recommended_candidate({"workbench.recommendation_supported": "false"}, "r1")
    with pytest.raises(ConfigError, match="named 'rag' without a supported difference"):
        recommended_candidate({"workbench.recommended": "rag"}, "r1")  # a run tagged before the check
    assert recommended_candidate({}, "r1") is None


def test_aggregate_stats_and_percentile_method():
    v = np.array([1.0, 2.0, 3.0, 4.0])
    assert st.aggregate(v, "mean") == 2.5 and st.aggregate(v, "total") == 10
    assert st.aggregate(v, "p50") == 2.5 and st.aggregate(v, "p95") == pytest.approx(3.85)
    assert st.aggregate([], "mean") is None
    with pytest.raises(ValueError, match="unknown statistic"):
        st.aggregate(v, "median")


def test_rate_ci_equals_scipy_binomtest_intervals():
    """The closed forms (scipy.special) give scipy.stats.binomtest's exact and Wilson intervals."""
    from scipy import stats as ss

    from workbench.evaluate.stats import rate_ci

    for n in (1, 2, 5, 17, 60, 200, 1000):
        for k in sorted({0, 1, n // 3, n // 2, n - 1, n}):
            for conf in (0.9, 0.95, 0.99):
                for ours, theirs in (("clopper-pearson", "exact"), ("wilson", "wilson")):
                    ref = ss.binomtest(k, n).proportion_ci(conf, method=theirs)
                    assert rate_ci(k, n, ours, conf) == pytest.approx((ref.low, ref.high), abs=1e-9), (k, n, ours)


def test_large_n_t_interval_equals_scipy_t():
    from scipy import stats as ss

    from workbench.evaluate.stats import LARGE_N, mean_ci

    x = np.random.default_rng(3).normal(size=LARGE_N + 5)
    m, se = x.mean(), x.std(ddof=1) / np.sqrt(len(x))
    q = ss.t.ppf(0.975, len(x) - 1)
    assert mean_ci(x) == pytest.approx((m - q * se, m + q * se))


# ------------------------------------------------------------------ issue 27: verdicts that mean what they say


def f1_pair(rng, n, delta, noise=0.2):
    """Paired F1-like scores: a shared row difficulty, independent noise, B shifted by ``delta``."""
    u = rng.beta(2, 2, n) * 0.8 + 0.1
    a = np.clip(u + rng.normal(0, noise, n), 0, 1)
    b = np.clip(u + delta + rng.normal(0, noise, n), 0, 1)
    return a, b


def gate_pass_rate(n, delta, reps, seed):
    import warnings

    import workbench as wb

    rng = np.random.default_rng(seed)
    ids = [f"q{i}" for i in range(n)]
    passed = 0
    for _ in range(reps):
        a, b = f1_pair(rng, n, delta)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            c = wb.compare(
                pd.DataFrame({"id": ids, "quality/f1": a}),
                pd.DataFrame({"id": ids, "quality/f1": b}),
                gates=["quality/f1/mean >= baseline - 0.02"],
            )
        passed += c.passed
    return passed / reps


@pytest.mark.parametrize("n", [10, 20, 40, 100])
def test_a_gate_does_not_pass_a_real_regression_beyond_its_margin(n):
    # a true drop of 0.05 against a margin of 0.02 passed 40/38/32/23% of runs at n = 10/20/40/100 (point means)
    assert gate_pass_rate(n, -0.05, reps=150 if n < 100 else 80, seed=n) <= 0.05


def test_a_gate_passes_a_real_gain_with_enough_rows():
    assert gate_pass_rate(200, 0.05, reps=40, seed=3) >= 0.8


def test_a_gate_has_three_outcomes_and_tests_its_margin():
    import workbench as wb

    rng = np.random.default_rng(5)
    ids = [f"q{i}" for i in range(12)]
    a, b = f1_pair(rng, 12, 0.0)
    g = wb.compare(
        pd.DataFrame({"id": ids, "quality/f1": a}),
        pd.DataFrame({"id": ids, "quality/f1": b}),
        gates=["quality/f1/mean >= baseline - 0.02"],
    ).gates[0]
    assert g["outcome"] == "inconclusive" and not g["passed"]  # 12 noisy rows cannot show "no worse than -0.02"
    assert g["mde"] > 0.02 and g["ci_low"] < -0.02 < g["ci_high"] and g["margin"] == pytest.approx(-0.02)
    d = st.PairedDifference(b - a, st.diff_range((0, 1)))
    assert g["p_value"] == pytest.approx(d.p_greater(-0.02))  # the p-value of the margin, not of 0
    c = wb.compare(
        pd.DataFrame({"id": ids, "quality/f1": a}),
        pd.DataFrame({"id": ids, "quality/f1": b}),
        gates=["quality/f1/mean >= baseline - 0.02"],
        allow_inconclusive=True,
    )
    assert c.passed  # opted in
    worse = wb.compare(
        pd.DataFrame({"id": ids, "quality/f1": a}),
        pd.DataFrame({"id": ids, "quality/f1": a - 0.3}),
        gates=["quality/f1/mean >= baseline - 0.02"],
    ).gates[0]
    assert worse["outcome"] == "fail"


def f1_tied(rng, n, shift):
    """F1 with 60% zeros: on hard rows both candidates score 0 (a tie); elsewhere B is ``shift`` better."""
    zero = rng.random(n) < 0.6
    u = rng.beta(2, 2, n)
    a = np.where(zero, 0, np.clip(u + rng.normal(0, 0.15, n), 0, 1))
    b = np.where(zero, 0, np.clip(u + shift + rng.normal(0, 0.15, n), 0, 1))
    return a, b


def test_paired_interval_covers_on_tied_bounded_data():
    """The bootstrap-t interval of the paired differences covered 0.921 here (1,000 runs, 0.89 at n = 10)."""
    truth = np.subtract(*f1_tied(np.random.default_rng(99), 2_000_000, 0.1)[::-1]).mean()
    rng = np.random.default_rng(20)
    reps, hits = 1000, 0
    for r in range(reps):
        a, b = f1_tied(rng, 20, 0.1)
        lo, hi = st.PairedDifference(b - a, st.diff_range((0, 1)), n_flips=1999, n_resamples=999, seed=r).interval()
        hits += lo <= truth <= hi
    assert hits / reps >= 0.93, hits / reps


def test_interval_and_test_agree_and_stay_in_range():
    rng = np.random.default_rng(11)
    for r in range(150):
        n = int(rng.integers(5, 50))
        kind = r % 3
        if kind == 0:
            a, b = f1_pair(rng, n, rng.normal(0, 0.05))
        elif kind == 1:  # binary
            a, b = (rng.random(n) < 0.5).astype(float), (rng.random(n) < 0.6).astype(float)
        else:
            a, b = f1_tied(rng, n, 0.1)
        d = st.PairedDifference(b - a, st.diff_range((0, 1)), seed=r)
        lo, hi = d.interval()
        assert -1 <= lo <= d.mean <= hi <= 1
        assert (d.p_value(0) <= 0.05) == (not lo <= 0 <= hi), (r, lo, hi, d.p_value(0))


def test_plan_gives_rows_needed_and_the_detectable_effect():
    import workbench as wb

    rng = np.random.default_rng(1)
    a, b = f1_pair(rng, 40, 0.0)
    ids = [f"q{i}" for i in range(40)]
    c = wb.compare(pd.DataFrame({"id": ids, "quality/f1": a}), pd.DataFrame({"id": ids, "quality/f1": b}))
    p = wb.plan("quality/f1", c, effect=0.05)
    sd = np.std(b - a, ddof=1)
    assert p.sd == pytest.approx(sd)
    from scipy import stats as sst

    assert p.mde(40) == pytest.approx((sst.t.ppf(0.975, 39) + sst.t.ppf(0.8, 39)) * sd / np.sqrt(40), rel=1e-6)
    assert p.mde(p.rows_needed) <= 0.05 < p.mde(p.rows_needed - 1)
    assert wb.plan("quality/f1", 0.04, effect=0.05).sd == pytest.approx(0.2)  # a variance
    assert "rows" in p.summary().columns
    # A/A: two repeats of one configuration give the run-to-run noise
    noise = rng.normal(0, 0.05, (2, 40))
    rows = pd.DataFrame(
        {
            "id": ids * 2,
            "repeat": [0] * 40 + [1] * 40,
            "candidate": "c",
            "quality/f1": np.concatenate([a + noise[0], a + noise[1]]),
        }
    )
    aa = wb.plan("quality/f1/mean", rows, effect=0.05)
    assert aa.source.startswith("A/A") and aa.sd == pytest.approx(np.std(noise[1] - noise[0], ddof=1))


def test_a_gate_the_metric_range_decides_needs_no_rows():
    """`>= baseline - 1` on F1 holds whatever the rows (05_evaluate's smoke gate at 4 rows); `>= baseline + 1` is
    refuted by one row that did not gain 1."""
    d = st.PairedDifference([0.0, 0.1, -0.2, 0.05], st.diff_range((0, 1)))
    assert st.gate_test(d, ">=", -1).outcome == "pass" and st.gate_test(d, ">=", 1).outcome == "fail"
    assert st.gate_test(d, "<=", 1).outcome == "pass" and st.gate_test(d, ">=", -0.02).outcome == "inconclusive"
    assert st.gate_test(st.PairedDifference([0.0, 0.1, -0.2, 0.05]), ">=", -1).outcome == "inconclusive"  # unbounded


def test_a_metric_open_at_one_end_has_a_difference_open_at_both():
    """Latency, tokens and cost are in [0, inf): their paired differences can be negative. Clamping the difference
    at 0 (the metric's own lower end) gave a tokens/s drop of ~10.8 on every row the interval (0.0, -9.3) and
    passed the gate ``>= baseline - 5`` by the range alone."""
    assert st.diff_range((0, None)) == (None, None) and st.diff_range((None, 1)) == (None, None)
    d = st.PairedDifference(-10 + np.random.default_rng(0).normal(0, 3, 16), st.diff_range((0, None)))
    lo, hi = d.interval()
    assert lo < d.mean < hi < -5
    assert st.gate_test(d, ">=", -5.0).outcome == "fail" and st.gate_test(d, "<=", -5.0).outcome == "pass"


def test_a_latency_gate_and_table_line_see_a_regression(tmp_path):
    import workbench as wb

    rng = np.random.default_rng(1)
    ids = [f"q{i}" for i in range(16)]
    a = rng.uniform(0.5, 1.0, 16)
    b = a + 0.4 + rng.normal(0, 0.05, 16)  # B is ~0.4 s slower on every row
    c = wb.compare(
        pd.DataFrame({"id": ids, "latency/latency_s": a}),
        pd.DataFrame({"id": ids, "latency/latency_s": b}),
        gates=["latency/latency_s/mean <= baseline + 0.1"],
    )
    line = c.table.set_index("metric").loc["latency/latency_s"]
    assert line["ci_low"] < line["diff"] < line["ci_high"] and line["ci_low"] > 0.1
    assert c.gates[0]["outcome"] == "fail"
    c = wb.compare(  # and B faster by ~0.4 s: the interval lies below 0 (it was clamped at 0)
        pd.DataFrame({"id": ids, "latency/latency_s": b}),
        pd.DataFrame({"id": ids, "latency/latency_s": a}),
        gates=["latency/latency_s/mean <= baseline - 0.2"],
    )
    line = c.table.set_index("metric").loc["latency/latency_s"]
    assert line["ci_low"] < line["diff"] < line["ci_high"] < 0 and c.gates[0]["outcome"] == "pass"


def test_a_local_models_cost_axis_is_its_tokens_not_its_summed_latency():
    """04 plotted `compute_s`, the sum of each answer's latency, as "total compute (s)": four candidates summed to
    860 s in a 158 s evaluation, because concurrent requests share the server. The $0 model's work is its tokens."""
    from types import SimpleNamespace

    from workbench.demo import comparison_table
    from workbench.evaluate.report import TOKENS_AXIS, plots, token_totals

    rows = pd.DataFrame(
        {
            "candidate": ["base", "base", "rag", "rag"],
            "cost/prompt_tokens": [10, 20, 300, 310],
            "cost/completion_tokens": [5, 5, 7, None],
            "cost/usd": [0.0, 0.0, 0.0, 0.0],
            "latency/latency_s": [9.0, 9.0, 9.0, 9.0],
            "quality/f1": [0.1, 0.2, 0.3, 0.4],
        }
    )
    assert token_totals(rows).to_dict() == {"base": 40, "rag": 617}
    unknown = rows.assign(**{"cost/prompt_tokens": None, "cost/completion_tokens": None})
    assert token_totals(unknown).isna().all()  # unknown, not free: 0 would put it on the Pareto front
    summary = pd.DataFrame(
        {"candidate": ["base", "rag"], "metric": "quality/f1/mean", "value": [0.15, 0.35], "family": "quality"}
    ).assign(ci_low=[0.1, 0.3], ci_high=[0.2, 0.4])
    result = SimpleNamespace(rows=rows, candidates=["base", "rag"], summary=lambda ci=True: summary)
    table = comparison_table(result)
    assert "compute_s" not in table and table.set_index("candidate")["tokens"].to_dict() == {"base": 40, "rag": 617}
    fig = plots(result)["plots/cost_vs_quality.png"]
    ax = fig.axes[0]
    assert ax.get_xlabel() == TOKENS_AXIS and sorted(c.get_offsets()[0][0] for c in ax.collections) == [40, 617]


def test_no_effect_is_called_detectable_on_too_few_rows():
    """06's served-vs-candidate gate on 3 rows of equal groundedness printed "detectable at this n: 0": on fewer
    than 6 rows the two-sided sign-flip test cannot reject at 5%, whatever the difference."""
    import workbench as wb
    from workbench.evaluate.verdict import gate_line

    assert st.min_rejectable_n() == 6 and st.mde(0.0, 5) == st.mde(0.1, 1) == float("inf") and 0 < st.mde(0.1, 6) < 1
    for n in (3, 5):
        ids = [f"q{i}" for i in range(n)]
        a, b = pd.DataFrame({"id": ids, "quality/f1": 0.0}), pd.DataFrame({"id": ids, "quality/f1": 1.0})
        assert st.PairedDifference(np.ones(n)).p_value(0.0) > 0.05  # the premise: even n gains of 1 are not shown
        g = wb.compare(a, a, gates=["quality/f1/mean >= baseline - 0.05"]).gates[0]
        assert g["mde"] == float("inf") and "no difference is detectable on so few rows" in gate_line(g)
        assert "detectable at this n: 0" not in gate_line(g)
        from workbench.evaluate.verdict import _plain

        stored = json.loads(json.dumps(_plain(g), allow_nan=False))  # the gates artifact is strict JSON
        assert stored["mde"] == "inf" and "no difference is detectable on so few rows" in gate_line(stored)
        assert wb.compare(a, b).table["mde"].iloc[0] == float("inf")
