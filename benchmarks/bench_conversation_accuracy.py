"""Accuracy of the ``conversation/*`` metrics against human labels on whole conversations.

Reads ``labelled_transcripts.jsonl`` from ``--data DIR`` (a labelled set frozen with ``MANIFEST.sha256``). Each line
is a complete conversation that ends with the assistant's final reply:

- ``messages``: user / assistant turns (an assistant turn that looked something up has ``tool_calls``:
  ``[{"name", "arguments"}]``, its results follow as ``{"role": "tool", "name", "content"}`` messages);
- ``reference``, ``expect_refusal``, ``expected_tool_calls`` (the final user turn's calls): as in a conversation set;
- ``labels``: ``goal_completed`` (0/1), ``retention_ok`` (0/1/null), ``tool_calls_correct`` (0/1/null),
  ``unnecessary_calls`` (a count), by the set's own written rules.

The transcript is scored as a :class:`~workbench.conversations.agent.ConversationAnswer` (one
:class:`~workbench.conversations.agent.Turn` per user turn, its tool calls as
:class:`~workbench.conversations.tools.ToolResult`), so the metrics read exactly what they read after a
:class:`~workbench.conversations.agent.ToolCandidate` has run. Compared with the labels:

- ``conversation/goal_completion`` with ``goal_completed``;
- ``conversation/knowledge_retention`` with ``retention_ok`` (where both give a value; the rows where only one
  does are counted as ``scope`` mismatches);
- the final turn's tool match (``conversation/tool_args_correct`` = 1) with ``tool_calls_correct``;
- ``conversation/unnecessary_calls`` > 0 in the final turn with ``unnecessary_calls`` > 0.

Positive class = the problem (goal missed, something forgotten, a wrong call, an unneeded call); accuracy with its
95% Clopper-Pearson interval. Writes ``results/conversation_accuracy_<set>.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_metric_accuracy import Score, check_manifest
from common import save


def turns_of(messages: list[dict], expected_last: list) -> list:
    """The transcript's user turns as :class:`Turn` objects (answer, tool results; the last one's expectations)."""
    from workbench.conversations.agent import Turn
    from workbench.conversations.tools import ToolResult

    turns: list = []
    pending: dict[int, ToolResult] = {}
    for m in messages:
        role = m["role"]
        if role == "user":
            turns.append(Turn(user=m.get("content") or ""))
        elif role == "assistant" and turns:
            t = turns[-1]
            for c in m.get("tool_calls") or []:
                r = ToolResult(name=c["name"], arguments=dict(c.get("arguments") or {}), step=len(t.tool_results) + 1)
                t.tool_results.append(r)
                pending[id(r)] = r
            t.answer = m.get("content") or t.answer
        elif role == "tool" and turns:
            open_ = [r for r in turns[-1].tool_results if id(r) in pending and r.name == m.get("name")]
            if open_:
                open_[0].result = str(m.get("content") or "")
                pending.pop(id(open_[0]))
    if turns:
        turns[-1].expected_tool_calls = list(expected_last or [])
    return turns


def predictions(row: dict) -> dict:
    """Each compared metric's verdict on one labelled conversation (None where the metric gives none)."""
    from workbench.conversations import metrics as M
    from workbench.conversations.agent import ConversationAnswer

    turns = turns_of(row["messages"], row.get("expected_tool_calls") or [])
    answer = ConversationAnswer(text=turns[-1].answer if turns else "", turns=turns)
    spec = {k: row.get(k) for k in ("reference", "expect_refusal", "expected_tool_calls")}
    goal = M.goal_completion(spec, answer, None)
    kept = M.knowledge_retention(spec, answer, None)
    kept = kept[0] if isinstance(kept, tuple) else kept
    last = M.tool_match(turns[-1:])
    return {
        "goal_completed": goal,
        "retention_ok": kept,
        "tool_calls_correct": None if not last["expected"] else float(last["arguments"] == last["expected"]),
        "unnecessary": float(last["unnecessary"] > 0),
    }


def measure(rows: list[dict]) -> dict:
    """Confusion counts per compared metric (positive = the problem) and the rows where a verdict is missing."""
    from workbench.evaluate.stats import rate_ci

    scores = {k: Score() for k in ("goal_completion", "knowledge_retention", "tool_args_correct", "unnecessary_calls")}
    scope = {k: {"metric_only": 0, "label_only": 0} for k in scores}
    for row in rows:
        p, lab = predictions(row), row["labels"]
        pairs = {
            "goal_completion": (p["goal_completed"], lab.get("goal_completed")),
            "knowledge_retention": (p["retention_ok"], lab.get("retention_ok")),
            "tool_args_correct": (p["tool_calls_correct"], lab.get("tool_calls_correct")),
            "unnecessary_calls": (1 - p["unnecessary"], 0 if (lab.get("unnecessary_calls") or 0) > 0 else 1),
        }
        for name, (pred, truth) in pairs.items():
            if pred is None or truth is None:
                if pred is not None:
                    scope[name]["metric_only"] += 1
                elif truth is not None:
                    scope[name]["label_only"] += 1
                continue
            scores[name].add(pred < 0.5, not truth, row.get("domain", ""))
            scores[name].rows += 1
    out = {}
    for name, s in scores.items():
        rec = s.record()
        rec.pop("ms_per_row", None)
        rec.pop("by_class", None)
        if rec["n"]:
            lo, hi = rate_ci(s.tp + s.tn, rec["n"])
            rec["accuracy_ci95"] = [round(lo, 3), round(hi, 3)]
        rec["not_compared"] = scope[name]
        out[name] = rec
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="a directory holding labelled_transcripts.jsonl")
    ap.add_argument("--out", help="results JSON name (default: conversation_accuracy_<directory name>)")
    args = ap.parse_args()
    root = Path(args.data)
    path = root / "labelled_transcripts.jsonl"
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as e:
            raise SystemExit(f"{path}:{n}: not JSON ({e})") from None
        if not isinstance(row.get("messages"), list) or not isinstance(row.get("labels"), dict):
            raise SystemExit(f"{path}:{n}: expected 'messages' (a list) and 'labels' (an object)")
        rows.append(row)
    results = {
        "data": str(root),
        "manifest": check_manifest(root),
        "rows": len(rows),
        "metrics": measure(rows),
    }
    for name, r in results["metrics"].items():
        ci = r.get("accuracy_ci95")
        acc = f"{r['accuracy']:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]" if r.get("accuracy") is not None else "-"
        print(f"{name:22s} n={r['n']:3d} accuracy {acc}  recall {r['recall']}  false alarms {r['false_alarm_rate']}")
    save(args.out or f"conversation_accuracy_{root.name}", results)


if __name__ == "__main__":
    main()
