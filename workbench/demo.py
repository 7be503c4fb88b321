"""The main job on the embedded defaults (``workbench demo``). Grows with the lifecycle notebooks.

Today: a chat round-trip with its measurements, then a tiny context-grounded evaluation (5 questions,
answers checked against references) run concurrently, with latency percentiles and throughput.
"""

from __future__ import annotations

import re
import time

import numpy as np

from .llm.client import chat, chat_many

TINY_EVAL = [
    ("The TrailLite 2 tent weighs 1.6 kg and sleeps two people.", "How much does the TrailLite 2 tent weigh?", "1.6 kg"),
    ("The Summit 45 backpack has a capacity of 45 litres.", "What is the capacity of the Summit 45 backpack?", "45"),
    ("Contoso Outdoor offers a 30-day return window on unused items.", "How many days is the return window?", "30"),
    ("The Blaze camping stove burns isobutane gas.", "Which gas does the Blaze camping stove burn?", "isobutane"),
    ("The Glacier jacket is rated to minus 20 degrees Celsius.", "What temperature is the Glacier jacket rated to?", "20"),
]
SYSTEM = "Answer the question using only the context. Reply with a short phrase."


def _norm(s: str) -> str:
    return re.sub(r"[^a-z0-9.]+", " ", s.lower()).strip()


def run_demo(model: str = "local", echo=print) -> dict:
    """Run the demo and return its figures (also printed through ``echo``)."""
    t0 = time.monotonic()
    r = chat("In one sentence, what is a sleeping bag for?", model=model, max_tokens=60, temperature=0, cache="off")
    echo(f"model   : {r.endpoint}:{r.model}")
    echo(f"answer  : {r.text.strip()}")
    echo(f"tokens  : {r.prompt_tokens} in / {r.completion_tokens} out   latency {r.latency_s:.2f}s   "
         f"TTFT {r.ttft_s or 0:.3f}s   {r.tokens_per_s or 0:.0f} tok/s   cost ${r.cost_usd or 0:.4f}")
    prompts = [f"Context: {ctx}\nQuestion: {q}" for ctx, q, _ in TINY_EVAL]
    recs = chat_many(prompts, model=model, system=SYSTEM, max_tokens=40, temperature=0, cache="off")
    hits = [_norm(ref) in _norm(rec.text) for rec, (_, _, ref) in zip(recs, TINY_EVAL)]
    lat = np.array([x.latency_s for x in recs if x.ok])
    echo("\ntiny eval (answer contains the reference):")
    for (_, q, ref), rec, hit in zip(TINY_EVAL, recs, hits):
        echo(f"  [{'x' if hit else ' '}] {q}  -> {rec.text.strip()[:70]!r}  (ref: {ref})")
    figures = {
        "accuracy": float(np.mean(hits)),
        "latency_p50_s": float(np.percentile(lat, 50)) if len(lat) else None,
        "latency_p95_s": float(np.percentile(lat, 95)) if len(lat) else None,
        "errors": sum(not x.ok for x in recs),
        "wall_s": time.monotonic() - t0,
    }
    echo(f"\naccuracy {figures['accuracy']:.0%}   latency p50 {figures['latency_p50_s']:.2f}s "
         f"p95 {figures['latency_p95_s']:.2f}s   errors {figures['errors']}   total {figures['wall_s']:.1f}s")
    return figures
