"""Helpers for evaluation tests: a small Contoso-style dataset, a junk-replying judge endpoint, one chat through the
fault proxy."""

from __future__ import annotations

import json
from pathlib import Path

from fakes.openai_server import Chat, OpenAIServer

FACTS = [
    (
        "The TrailLite 2 tent weighs 1.6 kg and sleeps two people.",
        "How much does the TrailLite 2 tent weigh?",
        "1.6 kg",
    ),
    (
        "The Summit 45 backpack has a capacity of 45 litres.",
        "What is the capacity of the Summit 45 backpack?",
        "45 litres",
    ),
    ("The Blaze camping stove burns isobutane gas.", "Which gas does the Blaze stove burn?", "isobutane"),
    (
        "The Glacier jacket is rated to minus 20 degrees Celsius.",
        "What is the Glacier jacket rated to?",
        "minus 20 degrees Celsius",
    ),
    ("Contoso Outdoor accepts returns of unused items within 30 days.", "How long is the return window?", "30 days"),
    ("The Ridge GTX boots have Vibram soles.", "What soles do the Ridge GTX boots have?", "Vibram soles"),
    ("The Aurora headlamp gives 400 lumens.", "How bright is the Aurora headlamp?", "400 lumens"),
    (
        "The Drift sleeping bag is rated to minus 5 degrees Celsius.",
        "What is the Drift bag rated to?",
        "minus 5 degrees Celsius",
    ),
    ("The Basecamp 6 tent sleeps six people.", "How many people does the Basecamp 6 sleep?", "six"),
    ("The Trek poles are made of carbon fibre.", "What are the Trek poles made of?", "carbon fibre"),
]


def write_dataset(path: Path, n: int = 30) -> Path:
    rows = []
    for i in range(n):
        ctx, q, ref = FACTS[i % len(FACTS)]
        row = {
            "id": f"q{i:03d}",
            "question": q if i < len(FACTS) else f"{q} (variant {i // len(FACTS)})",
            "reference": ref,
        }
        if i % 3 != 2:
            row["contexts"] = [ctx]
        rows.append(row)
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def ask(client, prompt="Say ok.", **kw):
    """One chat through ``client`` to endpoint ``faulty`` (the ``faulty`` fixture's fault proxy), max 4 tokens."""
    from workbench.llm.client import run_sync

    return run_sync(client.achat(prompt, "faulty", max_tokens=4, **kw))


def junk_judge(text: str = "Well, it is hard to say. Probably fine?") -> OpenAIServer:
    """An OpenAI-compatible endpoint (127.0.0.1) whose every chat completion is prose, never JSON (10 + 5 tokens)."""
    return OpenAIServer(Chat(text, usage=lambda req: (10, 5)))
