"""Held-out probes of the budget (issue 33): it never waits on nothing, it reserves each row's own upper bound, and
it counts every attempt that reported usage (retried streams included). A fake OpenAI-compatible upstream on
127.0.0.1 scripts the usage, the prices and mid-stream aborts; what it would bill is the ground truth."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fake_upstream import Upstream

import workbench as wb
from workbench.llm.budget import Budget, to_nano

PRICE = 1000.0  # USD per 1M tokens, input and output: $0.001 a token


def _usage(req: dict) -> tuple[int, int]:
    """What the fake bills: about a token per 4 characters of the prompt, 5 for the answer."""
    chars = sum(len(str(m.get("content", ""))) for m in req.get("messages", []))
    return math.ceil(chars / 4) + 7, 5


@pytest.fixture
def priced(workbench_toml):
    up = Upstream("a short answer")
    up.usage = _usage
    workbench_toml(up.toml(key_env=None) + f'max_concurrency = 32\n[endpoints.fake.prices."m"]\n'
                   f'input = {PRICE}\noutput = {PRICE}\n')
    yield up
    up.stop()


def _rows(path: Path, n: int, long_every: int | None = 5) -> Path:
    """``n`` questions; every ``long_every``-th carries a long document (~100x the tokens of the others)."""
    with open(path, "w") as f:
        for i in range(n):
            doc = ("The TrailLite 2 tent weighs 1.6 kg. " * 110) if long_every and i % long_every == 1 else ""
            f.write(json.dumps({"id": f"q{i}", "question": f"{doc}Question {i}: how heavy is it?",
                                "reference": "1.6 kg"}) + "\n")
    return path


def test_exact_arithmetic_leaves_no_residue():
    """Float reservations of 0.1 + 0.2 released in another order left ~3e-18 'held' forever."""
    b = Budget(1.0)
    parts = [to_nano(x, up=True) for x in (0.1, 0.2, 0.7e-9, 1 / 3)]
    assert all(b.hold(p) for p in parts)
    for p in reversed(parts):
        b.held -= p
    assert b.held == 0


def test_the_budget_never_waits_on_nothing(priced, tmp_path, project_dir):
    """Regression: with retried rows, 3 of 5 runs never ended (every worker waited for admission with a float
    residue of ~3e-18 reserved and nothing in flight; the run stayed RUNNING, the checkpoint lock held). Five
    evaluations with retried streams and uneven row costs, in a child process bounded in time."""
    ds = _rows(tmp_path / "qa.jsonl", 60, long_every=7)
    script = textwrap.dedent(f"""
        import sys, time, urllib.request, json
        import workbench as wb
        for i, budget in enumerate((0.31, 0.47, 0.23, 0.61, 0.39)):
            cand = wb.PromptCandidate("fake:m", name="c", system_prompt=None, max_tokens=20)
            t = time.monotonic()
            r = wb.evaluate({str(ds)!r}, cand, metrics=["cost/usd"], budget_usd=budget, concurrency=8,
                            cache="off", log=False, progress=False, resume=False,
                            checkpoint={str(tmp_path)!r} + f"/ck{{i}}.jsonl")
            print(i, r.stopped, len(r.rows), round(r.spent_usd, 6), round(time.monotonic() - t, 1), flush=True)
            assert r.spent_usd <= budget + 1e-12, (budget, r.spent_usd)
        """)
    # every 4th streamed answer is cut after its usage chunk and retried
    real_usage = priced.usage
    calls = [0]

    def usage(req):
        calls[0] += 1
        priced.cut_streams = 1 if calls[0] % 4 == 0 else 0
        return real_usage(req)

    priced.usage = usage
    priced.cut_streams = 0
    env = {**os.environ, "WORKBENCH_PROJECT_DIR": str(project_dir), "PYTHONPATH": os.pathsep.join(sys.path)}
    try:
        p = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=240)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"an evaluation with a budget never ended: {e.stdout!r}")
    assert p.returncode == 0, p.stdout + p.stderr[-3000:]
    assert len(p.stdout.strip().splitlines()) == 5, p.stdout


def test_long_rows_do_not_overshoot_the_budget(priced, tmp_path, project_dir):
    """Regression: admission reserved a candidate's *mean* row cost, so with one row in five carrying a long
    document a $5 budget spent $19.96 at concurrency 16. Now each row reserves its own upper bound."""
    ds = _rows(tmp_path / "qa.jsonl", 100)
    cand = wb.PromptCandidate("fake:m", name="c", system_prompt=None, max_tokens=20)
    r = wb.evaluate(ds, cand, metrics=["cost/usd"], budget_usd=5.0, concurrency=16, cache="off", log=False,
                    progress=False)
    billed = priced.billed_usd(PRICE, PRICE)
    print(f"\nRELIABILITY budget $5, concurrency 16, 1 row in 5 long: {len(r.rows)} rows, billed ${billed:.3f}, "
          f"reported ${r.spent_usd:.3f}")
    assert r.stopped == "budget" and 0 < len(r.rows) < 100
    assert billed <= 5.0 + 1e-9, f"the upstream billed ${billed:.3f} against a $5 budget"
    assert r.spent_usd == pytest.approx(billed, abs=1e-9)


def test_abandoned_attempts_are_counted(priced, tmp_path, project_dir):
    """Regression: attempts abandoned mid-stream and retried were never counted (the upstream billed $1.485 against
    a reported $0.495 for a $0.50 budget). Every other streamed answer is cut after its usage chunk."""
    ds = _rows(tmp_path / "qa.jsonl", 40, long_every=None)
    real_usage, calls = priced.usage, [0]

    def usage(req):  # decides, as each answer is sent, whether the next one is cut
        calls[0] += 1
        priced.cut_streams = calls[0] % 2
        return real_usage(req)

    priced.usage = usage
    priced.cut_streams = 1
    cand = wb.PromptCandidate("fake:m", name="c", system_prompt=None, max_tokens=20)
    r = wb.evaluate(ds, cand, metrics=["cost/usd"], budget_usd=0.5, concurrency=4, cache="off", log=False,
                    progress=False)
    billed = priced.billed_usd(PRICE, PRICE)
    print(f"\nRELIABILITY budget $0.50, every other stream cut after its usage: {len(r.rows)} rows, "
          f"{int(r.rows['attempts'].sum())} attempts, billed ${billed:.3f}, reported ${r.spent_usd:.3f}")
    assert len(r.rows) and (r.rows["attempts"] > 1).any(), (r.stopped, r.spent_usd, priced.billed, priced.calls)
    assert r.spent_usd == pytest.approx(billed, abs=1e-9), (r.spent_usd, billed)
    assert billed <= 0.5 + 1e-9
    assert r.rows["cost/usd"].sum() == pytest.approx(billed, abs=1e-9)
