"""Gates and comparisons compare like with like (issue 16, item 2): each case below passed before the fix."""

import warnings

import numpy as np
import pandas as pd
import pytest

import workbench as wb
from workbench.errors import WorkbenchError
from workbench.evaluate import stats as st
from workbench.evaluate.compare import check_gate


def two_candidates(n=20, seed=0):
    """One row table holding A (F1 0.70 on average) and B (0.10 worse on every row)."""
    rng = np.random.default_rng(seed)
    f1_a = np.clip(rng.normal(0.7, 0.1, n), 0, 1)
    ids = [f"q{i}" for i in range(n)]
    a = pd.DataFrame({"id": ids, "candidate": "A", "quality/f1": f1_a, "error": None})
    b = pd.DataFrame({"id": ids, "candidate": "B", "quality/f1": f1_a - 0.10, "error": None})
    return pd.concat([a, b], ignore_index=True)


def test_self_comparison_takes_the_baseline_from_a_not_from_b():
    rows = two_candidates()
    gate = "B/quality/f1/mean >= baseline - 0.02"
    c = wb.compare(rows, rows, candidate_a="A", candidate_b="B", gates=[gate])
    g = c.gates[0]
    assert g["value"] == pytest.approx(rows[rows.candidate == "B"]["quality/f1"].mean())
    assert g["threshold"] == pytest.approx(rows[rows.candidate == "A"]["quality/f1"].mean() - 0.02)
    assert not g["passed"] and not c.passed


def test_same_with_an_eval_result_holding_both_candidates(tmp_path):
    from workbench.evaluate.runner import aggregates

    res = result(tmp_path, two_candidates().assign(repeat=0), {})
    res.metrics = aggregates(res)
    assert "B/quality/f1/mean" in res.metrics  # the prefixed name that used to resolve A's baseline to B
    c = wb.compare(res, res, candidate_a="A", candidate_b="B", gates=["B/quality/f1/mean >= baseline - 0.02"])
    assert not c.passed
    assert c.aggregates_a["quality/f1/mean"] == pytest.approx(0.7, abs=0.05)
    assert c.aggregates_b["quality/f1/mean"] == pytest.approx(c.aggregates_a["quality/f1/mean"] - 0.10)


def test_a_prefix_naming_the_baseline_candidate_is_refused():
    rows = two_candidates()
    with pytest.raises(WorkbenchError, match="names candidate 'A'.*candidate B"):
        wb.compare(rows, rows, candidate_a="A", candidate_b="B", gates=["A/quality/f1/mean >= baseline"])
    with pytest.raises(WorkbenchError, match="no candidate 'C'"):
        wb.compare(rows, rows, candidate_a="A", candidate_b="C")


def test_row_tables_filter_by_candidate_before_pooling():
    rows = two_candidates()
    c = wb.compare(rows, rows, candidate_a="A", candidate_b="B")
    pooled = rows["quality/f1"].mean()
    assert c.aggregates_b["quality/f1/mean"] == pytest.approx(rows[rows.candidate == "B"]["quality/f1"].mean())
    assert c.aggregates_b["quality/f1/mean"] != pytest.approx(pooled)


def test_b_on_an_easier_subset_is_gated_on_the_shared_rows():
    n = 40
    rng = np.random.default_rng(1)
    difficulty = np.linspace(0.95, 0.3, n)  # the first rows are easy
    f1_a = np.clip(difficulty + rng.normal(0, 0.02, n), 0, 1)
    ids = [f"q{i}" for i in range(n)]
    a = pd.DataFrame({"id": ids, "quality/f1": f1_a})
    b = pd.DataFrame({"id": ids[:15], "quality/f1": f1_a[:15] - 0.10})  # B answered only the 15 easiest
    assert b["quality/f1"].mean() > a["quality/f1"].mean()  # what the old gate compared: it passed
    with pytest.warns(UserWarning, match="25 rows only in"):
        c = wb.compare(a, b, gates=["quality/f1/mean >= baseline - 0.02"])
    g = c.gates[0]
    assert g["n"] == 15 and g["only_a"] == 25 and g["paired_diff"] == pytest.approx(-0.10)
    assert not g["passed"]
    assert c.n_shared == 15 and c.only_a == 25 and c.only_b == 0


def result(tmp_path, rows, metrics):
    from workbench.data import load_dataset
    from workbench.evaluate.metrics import get_metrics
    from workbench.evaluate.runner import EvalResult

    ds_file = tmp_path / "qa.jsonl"
    ds_file.write_text("".join(f'{{"id": "{i}", "question": "q", "reference": "r"}}\n' for i in rows["id"].unique()))
    cands = sorted(rows["candidate"].unique()) if "candidate" in rows else ["candidate"]
    return EvalResult(rows, metrics, cands, get_metrics(["quality/f1"]), load_dataset(ds_file), tmp_path / "ck")


def test_non_row_statistic_on_different_rows_is_refused(tmp_path):
    a = result(
        tmp_path,
        pd.DataFrame({"id": ["1", "2", "3"], "quality/f1": [0.5, 0.6, 0.7]}),
        {"quality/f1/mean": 0.6, "eval/spent_usd": 0.3},
    )
    b = result(
        tmp_path,
        pd.DataFrame({"id": ["1", "2"], "quality/f1": [0.5, 0.6]}),
        {"quality/f1/mean": 0.55, "eval/spent_usd": 0.1},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(WorkbenchError, match="not a per-row statistic.*1 only in A, 0 only in B"):
            wb.compare(a, b, gates=["eval/spent_usd <= baseline"])
        with pytest.raises(WorkbenchError, match="not found in run B"):
            wb.compare(a, b, gates=["eval/nope <= baseline"])
    same = wb.compare(a, a, gates=["eval/spent_usd <= baseline"])  # same rows: the run aggregate is comparable
    assert same.passed and same.gates[0]["n"] == 3


def test_gate_expressions_raise_workbench_errors():
    a, b = {"quality/f1/mean": 0.0}, {"quality/f1/mean": 0.49}
    with pytest.raises(WorkbenchError, match="divides by zero"):
        check_gate("quality/f1/mean >= 1 / baseline", a, b)
    with pytest.raises(WorkbenchError, match="divides by zero"):
        check_gate("quality/f1/mean >= 1 / (2 - 2)", a, b)
    with pytest.raises(WorkbenchError, match="unknown name 'baselin'"):
        check_gate("quality/f1/mean >= baselin - 0.02", a, b)
    with pytest.raises(WorkbenchError):
        check_gate("quality/f1/mean >= True", a, b)


def test_table_names_its_tests_and_the_correction():
    rng = np.random.default_rng(2)
    n = 30
    ids = [f"r{i}" for i in range(n)]
    em_a = rng.integers(0, 2, n).astype(float)
    f1_a = rng.random(n)
    a = pd.DataFrame({"id": ids, "quality/exact_match": em_a, "quality/f1": f1_a})
    b = pd.DataFrame({"id": ids, "quality/exact_match": 1 - em_a, "quality/f1": np.clip(f1_a + 0.2, 0, 1)})
    t = wb.compare(a, b).table.set_index("metric")
    assert t.loc["quality/f1", "test"] == st.PAIRED_TEST and t.loc["quality/exact_match", "test"] == st.BINARY_TEST
    assert "wilcoxon_p" in t and np.isnan(t.loc["quality/exact_match", "wilcoxon_p"])
    assert (t["correction"] == "benjamini-hochberg over 2 primary metrics").all()
    assert (t["p_adjusted"] >= t["p_value"]).all()
    assert t["p_adjusted"].tolist() == pytest.approx(st.bh_adjust(t["p_value"]).tolist())


def test_constant_differences_have_no_effect_size():
    ids = [str(i) for i in range(10)]
    a = pd.DataFrame({"id": ids, "quality/f1": np.linspace(0.1, 0.9, 10)})
    b = a.assign(**{"quality/f1": a["quality/f1"] + 0.1})
    line = wb.compare(a, b).table.set_index("metric").loc["quality/f1"]
    assert np.isnan(line["effect_size_dz"])  # was 1e16 (or 0 for all-equal rows)
    assert line["diff"] == pytest.approx(0.1)


def test_error_rate_gate_on_shared_rows():
    ids = [str(i) for i in range(10)]
    a = pd.DataFrame({"id": ids, "quality/f1": 0.5, "error": [None] * 10})
    b = pd.DataFrame({"id": ids, "quality/f1": 0.5, "error": ["timeout"] * 3 + [None] * 7})
    g = wb.compare(a, b, gates=["run/error_rate <= baseline + 0.1"]).gates[0]
    assert g["value"] == pytest.approx(0.3) and g["threshold"] == pytest.approx(0.1) and not g["passed"]
    with pytest.raises(WorkbenchError, match="not found"):  # no error column: no error rate to compare
        wb.compare(a.drop(columns="error"), b.drop(columns="error"), gates=["run/error_rate <= baseline"])
