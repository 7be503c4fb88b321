"""Fine-tuning under load (issue 30): LoRA training steps on the embedded SmolLM2, quiet and with one CPU-bound
neighbour (a busy-loop Python process), interleaved in one run; the busy/quiet throughput ratio (goal >= 0.5).

The steps are :func:`workbench.finetune.local_lora.train_steps` (the loop ``train_lora`` runs) on fixed batches of
the Contoso QA training examples, so every block does the same work. Thread variants:

* ``rule`` — what ``train_lora`` uses: :class:`workbench.llm.threads.AdaptivePool`, threads chosen again before
  every step from what the other processes used over the previous one (or ``[process] threads`` /
  ``WORKBENCH_PROCESS_THREADS`` when set: a fixed number);
* ``half`` — the fixed in-process rule, :func:`workbench.llm.threads.inprocess_rule` (half the cores, no more
  than the running local servers leave);
* ``all`` — every allowed core, what fine-tuning used before (``torch.set_num_threads(os.cpu_count())``);
* ``left`` — every core the running local servers leave (the rule without its cap at half the cores);
* ``N`` — N threads.

Each block also records the cores' worth of CPU that other processes used meanwhile (other people's work on a
shared machine) and the 1-minute load average, so a reader can tell a noisy round.

    .venv/bin/python benchmarks/bench_finetune.py [--steps 20] [--rounds 3] [--threads rule,all,left] [--quick]

``--quick`` (or ``BENCH_QUICK=1``): 2 steps of one short example, 1 round, the rule only (a smoke test). Without
the ``[finetune]`` extra it writes a result that says so.
Writes ``benchmarks/results/finetune.json`` (``finetune-quick.json`` in quick mode).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import background, quick, save
from workbench.llm.threads import cpu_ticks

ROOT = Path(__file__).resolve().parents[1]
GOAL = 0.5  # busy/quiet throughput, issue 30
ADAPTIVE = -1  # the variant whose threads AdaptivePool chooses per step


def variants(spec: str) -> dict[str, int]:
    """``rule,all,left,2`` → {name: torch threads}; variants that come to the same threads are measured once."""
    from workbench.llm.threads import held_threads, inprocess_rule, inprocess_threads, machine

    m = machine()
    cores, held = min(m.physical, m.allowed), held_threads()
    out: dict[str, int] = {}
    for name in (s.strip() for s in spec.split(",") if s.strip()):
        if name == "rule":
            plan = inprocess_threads(m=m, held=held)
            if plan.source == "rule":
                label, n = f"rule: adaptive, 1-{cores} threads chosen before every step ({held} held)", ADAPTIVE
            else:
                label, n = f"rule: {plan.describe()}", plan.threads or cores
        elif name == "half":
            label, n = f"half: fixed {inprocess_rule(m, held)} threads (half the cores)", inprocess_rule(m, held)
        elif name == "all":
            label, n = f"all: {m.allowed} allowed CPUs (before issue 30)", m.allowed
        elif name == "left":
            label, n = f"left: the cores the local servers leave ({held} held)", max(1, cores - held)
        else:
            label, n = f"{int(name)} threads", int(name)
        if n not in out.values():  # a variant with the same threads as an earlier one is the same measurement
            out[label] = n
    return out


def setup(steps: int, batch_size: int, max_len: int, examples: int | None):
    """The model with LoRA (the product's settings), its optimizer, ``steps`` fixed batches, the pad id."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from workbench.finetune.local_lora import TARGET_MODULES, LoraSettings, encode, ensure_hf_base, require_extra
    from workbench.finetune.prepare import examples_from_qa

    require_extra()
    base = ensure_hf_base()
    cfg = LoraSettings(batch_size=batch_size, max_len=max_len)
    tok = AutoTokenizer.from_pretrained(base)
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    train = examples_from_qa(ROOT / "datasets" / "contoso" / "qa.jsonl", split="dev")[:examples]
    enc = [encode(tok, ex["messages"], cfg.max_len) for ex in train]
    rng = random.Random(0)
    batches = [rng.sample(enc, min(cfg.batch_size, len(enc))) for _ in range(steps)]
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    model = get_peft_model(
        model,
        LoraConfig(
            r=cfg.r, lora_alpha=cfg.alpha, lora_dropout=0.0, target_modules=TARGET_MODULES, task_type="CAUSAL_LM"
        ),
    )
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.lr)
    return model, opt, batches, pad_id


def block(model, opt, batches, pad_id: int, threads: int, load: int) -> dict:
    """One block: ``len(batches)`` steps with ``threads`` torch threads and ``load`` busy-loop neighbours."""
    import torch

    from workbench.finetune.local_lora import train_steps
    from workbench.llm.threads import AdaptivePool, load_average

    hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    with background(load) as bg:
        pids = [os.getpid(), *bg]
        b0, o0, t0 = *cpu_ticks(pids), time.perf_counter()
        pool = AdaptivePool() if threads == ADAPTIVE else None  # its first look (0.3 s) is timed too
        if pool is None:
            torch.set_num_threads(threads)
        train_steps(model, opt, iter(batches), len(batches), pad_id, pool=pool)
        b1, o1, t1 = *cpu_ticks(pids), time.perf_counter()
    load1 = load_average()
    return {
        "s": t1 - t0,
        "steps_per_s": len(batches) / (t1 - t0),
        "other_cores": max(0.0, ((b1 - b0) - (o1 - o0)) / hz / (t1 - t0)),
        "loadavg_1m": load1[0] if load1 else None,
        "threads_chosen": [n for n, _ in pool.history] if pool else [threads] * len(batches),
    }


def run(steps: int, rounds: int, spec: str, batch_size: int, max_len: int, examples: int | None) -> dict:
    """Interleaved rounds: quiet and busy alternate which goes first, the thread variants rotate within each."""
    import torch

    threads = variants(spec)
    model, opt, batches, pad_id = setup(steps, batch_size, max_len, examples)
    before = torch.get_num_threads()
    names = list(threads)
    samples: dict[str, dict[str, list[dict]]] = {n: {"quiet": [], "busy": []} for n in names}
    try:
        block(model, opt, batches[:1], pad_id, threads[names[0]], 0)  # warm-up: first-call allocations
        for r in range(rounds):
            for label in ("quiet", "busy") if r % 2 == 0 else ("busy", "quiet"):
                for name in names[r % len(names) :] + names[: r % len(names)]:
                    b = block(model, opt, batches, pad_id, threads[name], 1 if label == "busy" else 0)
                    samples[name][label].append(b)
                    print(
                        f"round {r + 1} {label:<5} {name}: {b['s']:.1f} s ({b['steps_per_s']:.3f} steps/s; "
                        f"others used {b['other_cores']:.2f} cores; load {b['loadavg_1m']}; threads {sorted(set(b['threads_chosen']))})",
                        flush=True,
                    )
    finally:
        torch.set_num_threads(before)
    out: dict = {
        "steps": steps,
        "batch_size": batch_size,
        "max_len": max_len,
        "rounds": rounds,
        "neighbour": "one CPU-bound `while` loop Python process (busy rounds)",
        "goal_busy_over_quiet": GOAL,
        "variants": {},
    }
    for name in names:
        q = statistics.median(s["s"] for s in samples[name]["quiet"])
        b = statistics.median(s["s"] for s in samples[name]["busy"])
        out["variants"][name] = {
            "torch_threads": threads[name],
            "quiet_s": [round(s["s"], 3) for s in samples[name]["quiet"]],
            "busy_s": [round(s["s"], 3) for s in samples[name]["busy"]],
            "quiet_steps_per_s": steps / q,
            "busy_steps_per_s": steps / b,
            "busy_over_quiet": q / b,  # throughput ratio: busy steps/s over quiet steps/s (medians)
            "meets_goal": q / b >= GOAL,
            "rounds_detail": samples[name],
        }
        print(
            f"{name}: quiet {steps / q:.3f} steps/s, busy {steps / b:.3f} steps/s, busy/quiet {q / b:.2f} "
            f"(goal >= {GOAL})"
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke test: 2 steps, 1 round, the rule only")
    ap.add_argument("--steps", type=int, default=None, help="training steps per block (default 20)")
    ap.add_argument("--rounds", type=int, default=None, help="interleaved quiet/busy rounds (default 3)")
    ap.add_argument(
        "--threads", default=None, help="comma-separated variants: rule, all, left, N (default rule,all,left)"
    )
    ap.add_argument("--batch-size", type=int, default=None, help="examples per step (default 8, as train_lora)")
    ap.add_argument("--max-len", type=int, default=None, help="tokens per example (default 256, as train_lora)")
    a = ap.parse_args()
    if a.quick:
        os.environ["BENCH_QUICK"] = "1"
    from workbench.finetune.local_lora import skip_message

    if (why := skip_message("bench_finetune")) is not None:
        print(why)
        save("finetune", {"skipped": why})
        return
    q = quick()
    out = run(
        steps=a.steps or (2 if q else 20),
        rounds=a.rounds or (1 if q else 3),
        spec=a.threads or ("rule" if q else "rule,all,left"),
        batch_size=a.batch_size or (1 if q else 8),
        max_len=a.max_len or (48 if q else 256),
        examples=4 if q else None,
    )
    save("finetune", out)


if __name__ == "__main__":
    main()
