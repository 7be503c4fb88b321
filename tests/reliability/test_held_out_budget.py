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

import workbench as wb
from fakes.openai_server import Chat, OpenAIServer

PRICE = 1234.5678  # USD per 1M tokens, input and output: ~$0.0012 a token (not a round binary fraction)


def _usage(req: dict) -> tuple[int, int]:
    """What the fake bills: about a token per 4 characters of the prompt, 5 for the answer."""
    chars = sum(len(str(m.get("content", ""))) for m in req.get("messages", []))
    return math.ceil(chars / 4) + 7, 5


@pytest.fixture
def priced(workbench_toml):
    up = OpenAIServer(Chat("a short answer"))
    up.chat.usage = _usage
    workbench_toml(
        up.toml(key_env=None) + f'max_concurrency = 32\n[endpoints.fake.prices."m"]\n'
        f"input = {PRICE}\noutput = {PRICE}\n"
    )
    yield up
    up.stop()


def _rows(path: Path, n: int, long_every: int | None = 5, uneven: bool = False) -> Path:
    """``n`` questions; every ``long_every``-th carries a long document (~100x the tokens of the others); ``uneven``:
    each question padded to its own length (row costs that are no round binary fractions apart)."""
    with open(path, "w") as f:
        for i in range(n):
            doc = ("The TrailLite 2 tent weighs 1.6 kg. " * 110) if long_every and i % long_every == 1 else ""
            doc += "Please answer briefly. " * ((i * 7) % 11) if uneven else ""
            f.write(
                json.dumps({"id": f"q{i}", "question": f"{doc}Question {i}: how heavy is it?", "reference": "1.6 kg"})
                + "\n"
            )
    return path


def _bounded(fn, timeout: float = 120.0):
    """``fn()`` in a thread; a test failure (not a hung suite) when it does not return within ``timeout``."""
    import threading

    out: list = []
    t = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        pytest.fail(f"the evaluation never ended ({timeout:.0f} s): the budget waited on nothing")
    assert out, "the evaluation raised (see the thread's traceback above)"
    return out[0]


def test_exact_arithmetic_leaves_no_residue():
    """Float reservations of 0.1 + 0.2 released in another order left ~3e-18 'held' forever."""
    from workbench.llm.budget import Budget, to_nano

    b = Budget(1.0)
    parts = [to_nano(x, up=True) for x in (0.1, 0.2, 0.7e-9, 1 / 3)]
    assert all(b.hold(p) for p in parts)
    for p in reversed(parts):
        b.held -= p
    assert b.held == 0


def test_the_budget_never_waits_on_nothing(priced, tmp_path, project_dir):
    """Regression: with retried rows, 3 of 5 runs never ended (every worker waited for admission with a float
    residue of ~3e-18 reserved and nothing in flight; the run stayed RUNNING, the checkpoint lock held). Eight
    evaluations with retried streams and uneven row costs, in a child process bounded in time: each ends, stopped
    by the budget, within it. (This probe did not hang the old code, which overshot every budget 2-3x instead.)"""
    ds = _rows(tmp_path / "qa.jsonl", 60, long_every=None, uneven=True)
    script = textwrap.dedent(f"""
        import sys, time, urllib.request, json
        import workbench as wb
        for i, budget in enumerate((0.31, 0.47, 0.23, 0.61, 0.39, 0.53, 0.29, 0.71)):
            cand = wb.PromptCandidate("fake:m", name="c", system_prompt=None, max_tokens=20)
            t = time.monotonic()
            r = wb.evaluate({str(ds)!r}, cand, metrics=["cost/usd"], budget_usd=budget, concurrency=8,
                            cache="off", log=False, progress=False, resume=False,
                            checkpoint={str(tmp_path)!r} + f"/ck{{i}}.jsonl")
            print(i, r.stopped, len(r.rows), round(r.spent_usd, 6), round(time.monotonic() - t, 1), flush=True)
            assert r.stopped == "budget" and r.spent_usd <= budget, (budget, r.spent_usd)
        """)
    # every 4th streamed answer is cut after its usage chunk and retried
    real_usage = priced.chat.usage
    calls = [0]

    def usage(req):
        calls[0] += 1
        priced.chat.cut_streams = 1 if calls[0] % 4 == 0 else 0
        return real_usage(req)

    priced.chat.usage = usage
    priced.chat.cut_streams = 0
    env = {**os.environ, "WORKBENCH_PROJECT_DIR": str(project_dir), "PYTHONPATH": os.pathsep.join(sys.path)}
    try:
        p = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=180)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"an evaluation with a budget never ended: {e.stdout!r}")
    assert p.returncode == 0, p.stdout + p.stderr[-3000:]
    assert len(p.stdout.strip().splitlines()) == 8, p.stdout
    print("\nRELIABILITY budget runs (i, stopped, rows, spent, seconds):\n" + p.stdout)


def _spend(priced, ds, budget_usd: float, concurrency: int):
    """Evaluate ``ds`` on the priced fake with a budget (cache off): the result and what the upstream billed."""
    cand = wb.PromptCandidate("fake:m", name="c", system_prompt=None, max_tokens=20)
    r = _bounded(
        lambda: wb.evaluate(
            ds,
            cand,
            metrics=["cost/usd"],
            budget_usd=budget_usd,
            concurrency=concurrency,
            cache="off",
            log=False,
            progress=False,
        )
    )
    return r, priced.billed_usd(PRICE, PRICE)


def test_long_rows_do_not_overshoot_the_budget(priced, tmp_path, project_dir):
    """Regression: admission reserved a candidate's *mean* row cost, so with one row in five carrying a long
    document a $5 budget spent $19.96 at concurrency 16. Now each row reserves its own upper bound."""
    ds = _rows(tmp_path / "qa.jsonl", 100)
    r, billed = _spend(priced, ds, budget_usd=5.0, concurrency=16)
    print(
        f"\nRELIABILITY budget $5, concurrency 16, 1 row in 5 long: {len(r.rows)} rows, billed ${billed:.3f}, "
        f"reported ${r.spent_usd:.3f}"
    )
    assert r.stopped == "budget" and 0 < len(r.rows) < 100
    assert billed <= 5.0 + 1e-9, f"the upstream billed ${billed:.3f} against a $5 budget"
    assert r.spent_usd == pytest.approx(billed, abs=1e-6)


def test_abandoned_attempts_are_counted(priced, tmp_path, project_dir):
    """Regression: attempts abandoned mid-stream and retried were never counted (the upstream billed $1.485 against
    a reported $0.495 for a $0.50 budget). Every other streamed answer is cut after its usage chunk. (The old code
    never ended here: every worker waited for admission with nothing in flight.)"""
    ds = _rows(tmp_path / "qa.jsonl", 40, long_every=None)
    real_usage, calls = priced.chat.usage, [0]

    def usage(req):  # decides, as each answer is sent, whether the next one is cut
        calls[0] += 1
        priced.chat.cut_streams = calls[0] % 2
        return real_usage(req)

    priced.chat.usage = usage
    priced.chat.cut_streams = 1
    r, billed = _spend(priced, ds, budget_usd=0.5, concurrency=4)
    print(
        f"\nRELIABILITY budget $0.50, every other stream cut after its usage: {len(r.rows)} rows, "
        f"{int(r.rows['attempts'].sum())} attempts, billed ${billed:.3f}, reported ${r.spent_usd:.3f}"
    )
    assert len(r.rows) and (r.rows["attempts"] > 1).any(), (r.stopped, r.spent_usd, priced.billed, priced.calls)
    assert r.spent_usd == pytest.approx(billed, abs=1e-6), (r.spent_usd, billed)
    assert billed <= 0.5 + 1e-9
    assert r.rows["cost/usd"].sum() == pytest.approx(billed, abs=1e-6)
