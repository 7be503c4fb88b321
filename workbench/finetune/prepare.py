"""Build chat-format training data (``{"messages": [system, user, assistant]}``) from a QA dataset and/or
from a corpus of Markdown manuals (one question–answer pair per specification line, several phrasings per
fact), and split it into train/validation with a seed."""

from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path

from ..data import load_dataset

FT_SYSTEM = "You are the Contoso Outdoor product assistant. Answer briefly with exact figures."
_SPEC = re.compile(r"^\s*[-*]\s+([^:\n]{2,40}):\s*(.+?)\s*$", re.M)
PHRASINGS = (
    "What is the {key} of the {title}?",
    "{title}: what is the {key}?",
    "Tell me the {key} of the {title}.",
    "Do you know the {key} of the {title}?",
)


def examples_from_qa(
    dataset, system: str | None = FT_SYSTEM, split: str | None = None, answerable_only: bool = True
) -> list[dict]:
    """One example per row: the question and its (first) reference as the assistant's answer."""
    ds = load_dataset(dataset)
    out = []
    for row in ds.rows:
        if split and row.get("split") != split:
            continue
        if answerable_only and not row.get("gold_doc_ids") and row.get("gold_doc_ids") is not None:
            continue
        ref = row.get("reference")
        ref = ref[0] if isinstance(ref, list) else ref
        if not row.get("question") or not ref:
            continue
        msgs = [{"role": "user", "content": row["question"]}, {"role": "assistant", "content": str(ref)}]
        if system:
            msgs.insert(0, {"role": "system", "content": system})
        out.append({"messages": msgs})
    return out


def examples_from_corpus(
    path: str | Path, system: str | None = FT_SYSTEM, phrasings: int = 3, seed: int = 0
) -> list[dict]:
    """Per document, per ``- Key: value`` line: ``phrasings`` questions answered with the fact in a sentence."""
    from ..rag.loaders import load_documents

    rng = random.Random(seed)
    out = []
    for doc in load_documents(path, extensions=(".md", ".markdown")):
        title = re.sub(r"^#\s*", "", doc.title).strip()
        for key, value in _SPEC.findall(doc.text):
            key_l = key.strip().lower()
            answer = f"The {key_l} of the {title} is {value.rstrip('.')}."
            for template in rng.sample(PHRASINGS, k=min(phrasings, len(PHRASINGS))):
                msgs = [
                    {"role": "user", "content": template.format(key=key_l, title=title)},
                    {"role": "assistant", "content": answer},
                ]
                if system:
                    msgs.insert(0, {"role": "system", "content": system})
                out.append({"messages": msgs})
    return out


def remove_contaminated(examples: list[dict], test_set) -> tuple[list[dict], int]:
    """Drop examples whose user message equals or near-duplicates a test-split question; (kept, dropped)."""
    from .validate import TestSetMatcher

    matcher = TestSetMatcher(test_set)
    kept = [
        ex
        for ex in examples
        if not any(m.get("role") == "user" and matcher.match(str(m.get("content", ""))) for m in ex["messages"])
    ]
    return kept, len(examples) - len(kept)


def split_examples(examples: list[dict], val_fraction: float = 0.1, seed: int = 0) -> tuple[list[dict], list[dict]]:
    idx = list(range(len(examples)))
    random.Random(seed).shuffle(idx)
    n_val = int(round(len(idx) * val_fraction))
    val = [examples[i] for i in sorted(idx[:n_val])]
    train = [examples[i] for i in sorted(idx[n_val:])]
    return train, val


def write_jsonl(examples: list[dict], path: str | Path) -> Path:
    """Write atomically (temp file + rename): a crash never leaves half a training file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for ex in examples:
            f.write(json.dumps(ex, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    return path
