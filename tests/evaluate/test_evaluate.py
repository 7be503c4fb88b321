"""The evaluation runner end to end on the real embedded model, resume after a kill, budget stop,
judge failures counted apart, paired comparison and gates."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

import workbench as wb
from evalkit import junk_judge, write_dataset
from workbench.candidates import PromptCandidate
from workbench.evaluate import stats as st

BIN = Path(sys.executable).parent / "workbench"
FAMILIES = ("quality", "honesty", "harm", "cost", "latency")


def cands():
    return [
        PromptCandidate("local", name="terse", system_prompt="Answer in a few words.", max_tokens=40),
        PromptCandidate("local", name="plain", system_prompt=None, max_tokens=40),
    ]


@pytest.mark.slow
def test_two_candidates_end_to_end_logged_to_mlflow(local_server, tracking_store, tmp_path):
    ds = write_dataset(tmp_path / "qa.jsonl", 30)
    res = wb.evaluate(ds, cands(), progress=False)
    assert len(res.rows) == 60 and res.complete and res.rows["error"].isna().all()
    assert not res.rows.duplicated(["candidate", "id", "repeat"]).any()
    summ = res.summary()
    assert set(summ["family"]) >= set(FAMILIES)
    assert set(summ["candidate"]) == {"terse", "plain"}
    f1 = summ[(summ.metric == "quality/f1/mean")].iloc[0]
    assert f1.ci_low <= f1.value <= f1.ci_high
    g = res.rows.loc[res.rows["contexts"].notna(), "honesty/groundedness"]
    assert g.notna().all() and res.rows.loc[res.rows["contexts"].isna(), "honesty/groundedness"].isna().all()
    c = MlflowClient(tracking_store)
    run = c.get_run(res.run_id)
    for key in (
        "terse/quality/f1/mean",
        "plain/latency/ttft_s/p95",
        "terse/cost/usd/total",
        "plain/honesty/groundedness/mean",
        "terse/harm/toxicity/mean",
    ):
        assert key in run.data.metrics, key
    assert run.data.params["candidate.terse.system_prompt"] == "Answer in a few words."
    arts = {a.path for a in c.list_artifacts(res.run_id)} | {a.path for a in c.list_artifacts(res.run_id, "plots")}
    assert {
        "eval_rows.json",
        "eval_summary.json",
        "plots/latency_hist.png",
        "plots/metrics_by_candidate.png",
        "plots/cost_vs_quality.png",
    } <= arts
    # the file (context eval) and its registered evaluation dataset (context evaluation)
    assert wb.load_dataset(ds).digest in {d.dataset.digest for d in run.inputs.dataset_inputs}


RUNNER = """
import sys, workbench as wb
from workbench.candidates import PromptCandidate
wb.evaluate(sys.argv[1], [PromptCandidate(sys.argv[3], name="slow", max_tokens=120)], concurrency=2,
            checkpoint=sys.argv[2], log=False, progress=False)
"""


@pytest.mark.slow
def test_kill_and_resume_gives_the_uninterrupted_rows(solo_model, tmp_path):
    """A run killed with SIGKILL and resumed gives the rows an uninterrupted run gives. On the one-slot server:
    a row redone after the kill is computed alone, as it was the first time (on the shared server its greedy
    answer could change with its batch neighbours)."""
    ds = write_dataset(tmp_path / "qa.jsonl", 24)
    ckpt = tmp_path / "ckpt.jsonl"
    proc = subprocess.Popen([sys.executable, "-c", RUNNER, str(ds), str(ckpt), solo_model], env=os.environ.copy())
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if ckpt.exists() and len(ckpt.read_text().splitlines()) >= 5:
            break
        assert proc.poll() is None, "runner ended before it could be killed"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = len(ckpt.read_text().splitlines())
    assert 5 <= partial < 24
    cand = [PromptCandidate(solo_model, name="slow", max_tokens=120)]
    resumed = wb.evaluate(ds, cand, concurrency=2, checkpoint=ckpt, log=False, progress=False)
    assert resumed.computed_rows <= 24 - partial + 2  # only the missing rows (a row in flight may be redone)
    fresh = wb.evaluate(ds, cand, concurrency=2, checkpoint=tmp_path / "fresh.jsonl", log=False, progress=False)
    # what the rows say about the answers (latency is the run's own measurement: equal only on a cache hit)
    cols = ["id", "answer", "quality/f1", "cost/completion_tokens", "honesty/groundedness"]
    assert len(resumed.rows) == 24 and not resumed.rows.duplicated(["id", "repeat"]).any()
    pd.testing.assert_frame_equal(resumed.rows[cols].reset_index(drop=True), fresh.rows[cols].reset_index(drop=True))


@pytest.mark.slow
def test_budget_stop_then_resume(local_server, workbench_toml, tmp_path):
    workbench_toml(
        f'[endpoints.priced]\nbase_url = "{local_server.base_url}"\nmodels = ["smollm2"]\n'
        f'[endpoints.priced.prices."smollm2"]\ninput = 100.0\noutput = 100.0\n'
    )
    ds = write_dataset(tmp_path / "qa.jsonl", 20)
    cand = [PromptCandidate("priced", name="priced", max_tokens=20)]
    est = wb.evaluate.estimate(ds, cand)
    assert est.loc[0, "calls"] == 20 and est.loc[0, "usd_max"] > 0
    first = wb.evaluate(ds, cand, budget_usd=0.05, concurrency=2, cache="off", log=False, progress=False)
    assert first.stopped == "budget" and 1 <= len(first.rows) < 20 and 0 < first.spent_usd <= 0.05  # a hard cap
    second = wb.evaluate(ds, cand, concurrency=2, cache="off", log=False, progress=False)
    assert second.complete and len(second.rows) == 20 and second.computed_rows == 20 - len(first.rows)
    assert not second.rows.duplicated(["id"]).any()


@pytest.mark.slow
def test_judge_failures_are_counted_not_scored(local_server, workbench_toml, tmp_path):
    junk = junk_judge()
    try:
        workbench_toml(f'[endpoints.junk]\nbase_url = "{junk.base_url}"\nmodels = ["j"]\n')
        ds = write_dataset(tmp_path / "qa.jsonl", 6)
        res = wb.evaluate(
            ds,
            [PromptCandidate("local", name="c", max_tokens=20)],
            metrics=["quality/f1", "quality/judge_correctness", "honesty/judge_groundedness"],
            judge="junk",
            log=False,
            progress=False,
        )
    finally:
        junk.stop()
    s = res.summary().set_index("metric")["value"]
    assert s["quality/judge_correctness/judge_error_rate"] == 1.0
    assert s["honesty/judge_groundedness/judge_error_rate"] == 1.0
    assert np.isnan(s["quality/judge_correctness/mean"]) or s["quality/judge_correctness/mean"] is None
    assert s["run/error_rate"] == 0.0 and res.rows["quality/f1"].notna().all()
    assert junk.calls >= 6


@pytest.mark.slow
def test_structured_judge_on_real_server(local_server, tmp_path):
    ds = write_dataset(tmp_path / "qa.jsonl", 4)
    res = wb.evaluate(
        ds,
        [PromptCandidate("local", name="c", max_tokens=20)],
        metrics=["quality/judge_correctness"],
        judge="local",
        log=False,
        progress=False,
    )
    vals = res.rows["quality/judge_correctness"].dropna()
    assert len(vals) >= 3 and vals.between(1, 5).all()  # JSON-schema output parses


def synthetic(n=300, effect=0.0, seed=0):
    rng = np.random.default_rng(seed)
    a_em = rng.integers(0, 2, n).astype(float)
    b_em = a_em.copy()
    if effect:
        flip = (a_em == 0) & (rng.random(n) < effect)
        b_em[flip] = 1.0
    else:  # symmetric noise: as many 0->1 as 1->0 on average
        flip = rng.random(n) < 0.1
        b_em[flip] = 1 - b_em[flip]
    a_f1 = rng.random(n)
    b_f1 = np.clip(a_f1 + (0.1 if effect else 0.0) + rng.normal(0, 0.05, n), 0, 1)
    ids = [f"r{i}" for i in range(n)]
    a = pd.DataFrame({"id": ids, "quality/exact_match": a_em, "quality/f1": a_f1})
    b = pd.DataFrame({"id": ids, "quality/exact_match": b_em, "quality/f1": b_f1})
    return a, b


def test_compare_detects_a_known_effect():
    a, b = synthetic(effect=0.4)
    c = wb.compare(a, b).table.set_index("metric")
    for m in ("quality/exact_match", "quality/f1"):
        assert c.loc[m, "ci_low"] > 0 and c.loc[m, "p_value"] < 0.01
    assert c.loc["quality/exact_match", "test"] == st.BINARY_TEST and "mcnemar-exact" in st.BINARY_TEST
    assert c.loc["quality/f1", "test"] == st.PAIRED_TEST


def test_compare_without_effect_covers_zero():
    a, b = synthetic(effect=0.0, seed=3)
    c = wb.compare(a, b)
    t = c.table.set_index("metric")
    for m in ("quality/exact_match", "quality/f1"):
        assert t.loc[m, "ci_low"] <= 0 <= t.loc[m, "ci_high"]
    assert len(c.flipped) == int((a["quality/exact_match"] != b["quality/exact_match"]).sum())


def test_gates():
    from workbench.errors import WorkbenchError
    from workbench.evaluate.compare import check_gate

    a, b = {"quality/f1/mean": 0.50}, {"quality/f1/mean": 0.49}
    assert check_gate("quality/f1/mean >= baseline - 0.02", a, b)["passed"]
    assert not check_gate("quality/f1/mean >= baseline", a, b)["passed"]
    assert check_gate("quality/f1/mean > 0.4", a, b)["passed"]
    with pytest.raises(WorkbenchError):
        check_gate("quality/f1/mean >= __import__('os')", a, b)
    with pytest.raises(WorkbenchError, match="not found"):
        check_gate("quality/nope/mean >= 1", a, b)


@pytest.mark.slow
def test_cli_eval_dry_run_compare_and_gate_exit_codes(local_server, tracking_store, tmp_path):
    ds = write_dataset(tmp_path / "qa.jsonl", 10)
    dry = subprocess.run(
        [str(BIN), "eval", "--dataset", str(ds), "--model", "local", "--dry-run"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dry.returncode == 0 and "dry run" in dry.stdout

    def ev(prompt):
        out = subprocess.run(
            [
                str(BIN),
                "eval",
                "--dataset",
                str(ds),
                "--model",
                "local",
                "--system-prompt",
                prompt,
                "--max-tokens",
                "30",
                "--experiment",
                "cli",
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert out.returncode == 0, out.stderr[-2000:]
        assert "quality/f1/mean" in out.stdout and "latency/ttft_s/p95" in out.stdout
        return re.search(r"^run ([0-9a-f]{32}):", out.stdout, re.M).group(1)

    a, b = ev("Answer briefly."), ev("Answer in one word.")
    ok = subprocess.run(
        [str(BIN), "compare", a, b, "--gate", "quality/f1/mean >= baseline - 1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0 and "gate PASS" in ok.stdout and "quality/f1" in ok.stdout
    bad = subprocess.run(
        [str(BIN), "compare", a, b, "--gate", "quality/f1/mean >= baseline + 1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1 and "gate FAIL" in bad.stdout
