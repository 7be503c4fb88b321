"""Validate chat fine-tuning files against the OpenAI chat fine-tuning format rules, plus duplicates and
contamination against an evaluation set; statistics and a cost estimate.

Rules (each finding names the file and line): ``invalid_json``, ``not_an_object``, ``unknown_key``,
``missing_messages``, ``messages_not_list``, ``message_not_object``, ``missing_role``, ``unknown_role``,
``unknown_message_key``, ``bad_content_type``, ``empty_content``, ``no_assistant``, ``bad_weight``,
``too_many_tokens``. Warnings: ``duplicate`` (same example as an earlier line) and ``contamination`` (a user
message equal or near-equal — token-set Jaccard >= 0.8 after SQuAD normalisation — to a question of the
evaluation test split); contamination makes the report fail loudly.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import NestingError, loads_json

ALLOWED_KEYS = {"messages", "tools", "functions", "parallel_tool_calls"}
ROLES = {"system", "user", "assistant", "tool", "function"}
MESSAGE_KEYS = {"role", "content", "name", "weight", "function_call", "tool_calls", "tool_call_id", "refusal"}
MAX_TOKENS_PER_EXAMPLE = 65_536  # gpt-4o-mini / gpt-4.1 family training context
NEAR_DUP_JACCARD = 0.8


@dataclass
class Finding:
    file: str
    line: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.rule}: {self.message}"


@dataclass
class ValidationReport:
    file: str
    examples: int = 0
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    epochs: int = 3
    model: str = "gpt-4o-mini"

    @property
    def contaminated(self) -> list[Finding]:
        return [w for w in self.warnings if w.rule == "contamination"]

    @property
    def ok(self) -> bool:
        return not self.errors and not self.contaminated

    def stats(self) -> dict:
        from ..llm.pricing import training_price

        t = np.array(self.tokens or [0])
        total = int(t.sum())
        price = training_price(self.model)
        return {
            "examples": self.examples,
            "tokens_min": int(t.min()),
            "tokens_p50": float(np.percentile(t, 50)),
            "tokens_p95": float(np.percentile(t, 95)),
            "tokens_max": int(t.max()),
            "tokens_total": total,
            "epochs": self.epochs,
            "training_tokens": total * self.epochs,
            "openai_model": self.model,
            "openai_cost_usd": (total * self.epochs * price / 1e6) if price is not None else None,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "contaminated": len(self.contaminated),
        }

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([self.stats()])

    def render(self) -> str:
        lines = [str(f) for f in self.errors] + [f"warning: {w}" for w in self.warnings if w.rule != "contamination"]
        if self.contaminated:
            lines.append(
                f"CONTAMINATION: {len(self.contaminated)} training example(s) overlap the evaluation test "
                f"split — remove them or the comparison is invalid:"
            )
            lines += [f"  {w}" for w in self.contaminated]
        s = self.stats()
        lines.append(
            f"{s['examples']} examples; tokens/example min {s['tokens_min']} p50 {s['tokens_p50']:.0f} "
            f"p95 {s['tokens_p95']:.0f} max {s['tokens_max']}; {s['tokens_total']} tokens x {s['epochs']} "
            f"epochs = {s['training_tokens']} training tokens"
        )
        if s["openai_cost_usd"] is not None:
            lines.append(f"same job on OpenAI ({s['openai_model']}): ~${s['openai_cost_usd']:.2f}")
        lines.append("OK" if self.ok else f"FAILED: {len(self.errors)} error(s), {len(self.contaminated)} contaminated")
        return "\n".join(lines)


def _norm_tokens(text: str) -> frozenset:
    from ..evaluate.metrics.text import normalize

    return frozenset(normalize(text).split())


class TestSetMatcher:
    """Finds questions of an evaluation set's ``test`` split (rows without ``split`` count as test) that a text
    equals or near-duplicates (token-set Jaccard >= 0.8 after SQuAD normalisation)."""

    def __init__(self, test_set):
        from ..data import load_dataset

        ds = load_dataset(test_set)
        self.questions = [
            (r["id"], _norm_tokens(r.get("question") or ""), r.get("question") or "")
            for r in ds.rows
            if r.get("split", "test") == "test"
        ]
        self.exact = {" ".join(sorted(t)): qid for qid, t, _ in self.questions}

    def match(self, text: str) -> str | None:
        """A description of the matching test question, or None."""
        toks = _norm_tokens(text)
        key = " ".join(sorted(toks))
        if key in self.exact:
            return f"equals test question {self.exact[key]}"
        for qid, qt, q in self.questions:
            union = len(toks | qt)
            if union and len(toks & qt) / union >= NEAR_DUP_JACCARD:
                return f"near-duplicates test question {qid}: {q!r}"
        return None


def _check_example(obj, add) -> list[dict] | None:
    if not isinstance(obj, dict):
        add("not_an_object", f"expected a JSON object, found {type(obj).__name__}")
        return None
    unknown = set(obj) - ALLOWED_KEYS
    if unknown:
        add("unknown_key", f"unknown key(s) {sorted(unknown)}; allowed {sorted(ALLOWED_KEYS)}")
    if "messages" not in obj:
        add("missing_messages", "expected a 'messages' list")
        return None
    msgs = obj["messages"]
    if not isinstance(msgs, list) or not msgs:
        add("messages_not_list", f"'messages' must be a non-empty list, found {type(msgs).__name__}")
        return None
    good = []
    for i, m in enumerate(msgs):
        where = f"messages[{i}]"
        if not isinstance(m, dict):
            add("message_not_object", f"{where} must be an object")
            continue
        if "role" not in m:
            add("missing_role", f"{where} has no 'role'")
            continue
        if m["role"] not in ROLES:
            add("unknown_role", f"{where} role {m['role']!r}; allowed {sorted(ROLES)}")
        bad_keys = set(m) - MESSAGE_KEYS
        if bad_keys:
            add("unknown_message_key", f"{where} has unknown key(s) {sorted(bad_keys)}")
        content = m.get("content")
        if content is None and not (m.get("tool_calls") or m.get("function_call")):
            add("empty_content", f"{where} has no content")
        elif content is not None and not isinstance(content, (str, list)):
            add(
                "bad_content_type",
                f"{where} content must be a string (or a list of parts), found {type(content).__name__}",
            )
        elif isinstance(content, str) and not content.strip():
            add("empty_content", f"{where} content is empty")
        if "weight" in m and m["weight"] not in (0, 1):
            add("bad_weight", f"{where} weight must be 0 or 1, found {m['weight']!r}")
        good.append(m)
    if not any(m.get("role") == "assistant" for m in good):
        add("no_assistant", "at least one assistant message is required")
    return good


def validate_file(
    path: str | Path,
    test_set=None,
    model: str = "gpt-4o-mini",
    epochs: int = 3,
    max_tokens: int = MAX_TOKENS_PER_EXAMPLE,
) -> ValidationReport:
    """Check every line of ``path``; ``test_set`` (a dataset or path; its ``test`` split if it has one) is what
    the training data must not contain."""
    from ..llm.pricing import count_tokens

    path = Path(path)
    rep = ValidationReport(str(path), epochs=epochs, model=model)
    if not path.is_file():
        rep.errors.append(Finding(str(path), 0, "missing_file", "file not found"))
        return rep
    matcher = TestSetMatcher(test_set) if test_set is not None else None
    seen: dict[str, int] = {}
    raw = path.read_bytes()
    for lineno, bline in enumerate(raw.split(b"\n"), start=1):
        if not bline.strip():
            continue

        def add(rule, msg, _l=lineno):
            rep.errors.append(Finding(str(path), _l, rule, msg))

        try:
            obj = loads_json(bline.decode("utf-8"))
        except UnicodeDecodeError as e:
            add("invalid_json", f"not UTF-8 at byte {e.start}")
            continue
        except NestingError as e:
            add("invalid_json", str(e))
            continue
        except json.JSONDecodeError as e:
            add("invalid_json", f"column {e.colno}: {e.msg}")
            continue
        msgs = _check_example(obj, add)
        rep.examples += 1
        if msgs is None:
            continue
        text = "\n".join(
            m["content"] if isinstance(m.get("content"), str) else json.dumps(m.get("content"))
            for m in msgs
            if m.get("content") is not None
        )
        n = count_tokens(text, model)[0] + 4 * len(msgs)
        rep.tokens.append(n)
        if n > max_tokens:
            add("too_many_tokens", f"{n} tokens, over the {max_tokens}-token limit per example")
        digest = hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()
        if digest in seen:
            rep.warnings.append(Finding(str(path), lineno, "duplicate", f"same example as line {seen[digest]}"))
        else:
            seen[digest] = lineno
        for m in msgs:
            if matcher is None or m.get("role") != "user" or not isinstance(m.get("content"), str):
                continue
            hit = matcher.match(m["content"])
            if hit:
                rep.warnings.append(Finding(str(path), lineno, "contamination", f"user message {hit}"))
    if rep.examples == 0 and not rep.errors:
        rep.errors.append(Finding(str(path), 1, "empty", "no examples"))
    return rep
