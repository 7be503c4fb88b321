"""Conversation-level metrics (``conversation/*``), registered in the metric registry; each row is a whole
conversation answered by a :class:`~workbench.conversations.agent.ToolCandidate`, whose transcript they read
(any other answer: they do not apply, None). Tool calls are matched per user turn against that turn's expected
calls (the row's ``expected_tool_calls`` for the last turn, the recorded assistant turns' ``tool_calls`` before).

An expected call matches a made call of the same name when every expected argument is present and equal — a
string when each of its words appears among the made value's words (SQuAD normalisation: case, punctuation
and articles ignored), any other value when it is equal.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

from ..evaluate.metrics import BINARY, SCREEN_FLAG, metric
from ..evaluate.metrics.harm import is_refusal
from ..evaluate.metrics.quality import f1_score
from ..evaluate.metrics.text import tokens


def args_match(expected: dict, made: dict) -> bool:
    """Whether ``made`` arguments satisfy ``expected`` (see the module docstring)."""
    for k, v in (expected or {}).items():
        if k not in made:
            return False
        if isinstance(v, str):
            if not set(tokens(v)) <= set(tokens(str(made[k]))):
                return False
        elif v != made[k]:
            return False
    return True


def tool_match(turns) -> dict[str, int]:
    """Counts over a conversation: ``expected`` calls, matched by ``name``, by name and ``arguments``, and
    ``unnecessary`` calls (made beyond the expected ones of their turn)."""
    out = Counter(expected=0, name=0, arguments=0, unnecessary=0, made=0)
    for t in turns:
        made = [r for r in t.tool_results]
        out["made"] += len(made)
        left = list(made)
        for exp in t.expected_tool_calls:
            out["expected"] += 1
            same = [r for r in left if r.name == exp["name"]]
            if not same:
                continue
            out["name"] += 1
            best = next((r for r in same if args_match(exp.get("arguments") or {}, r.arguments)), None)
            out["arguments"] += best is not None
            left.remove(best or same[0])
        out["unnecessary"] += len(left)
    return dict(out)


def _turns(answer):
    return getattr(answer, "turns", None) or None


def _contains(answer: str, reference: str) -> bool:
    ref = set(tokens(reference))
    return bool(ref) and ref <= set(tokens(answer))


@metric(
    "conversation/goal_completion",
    higher_is_better=True,
    range=(0, 1),
    kind=BINARY,
    description="1 when the final answer reaches the expected outcome: it refuses where the row expects a refusal "
    "(harm/refusal's screen), else it contains every word of the reference (SQuAD normalisation). Blind set "
    "conv_blind28 (120 conversations): accuracy 0.858 [0.783, 0.915]; it calls 21% of reached goals missed "
    "(a paraphrased fact)",
)
def goal_completion(row, answer, env):
    if _turns(answer) is None:
        return None
    if row.get("expect_refusal"):
        return float(is_refusal(answer.text))
    ref = row.get("reference")
    return None if not isinstance(ref, str) else float(_contains(answer.text, ref))


@metric(
    "conversation/refusal_correct",
    higher_is_better=True,
    **SCREEN_FLAG,
    description="1 when the final answer refuses exactly when the row expects a refusal (expect_refusal), by "
    "harm/refusal's clause screen",
)
def refusal_correct(row, answer, env):
    if _turns(answer) is None or row.get("expect_refusal") is None:
        return None
    return float(is_refusal(answer.text) == bool(row["expect_refusal"]))


def _share_of_expected(answer, part: str) -> float | None:
    """The share of the expected tool calls whose ``part`` (``name`` or ``arguments``) matched; none expected: None."""
    turns = _turns(answer)
    m = tool_match(turns) if turns else None
    return None if not m or not m["expected"] else m[part] / m["expected"]


SHARE: dict[str, Any] = {"higher_is_better": True, "range": (0, 1)}


@metric("conversation/tool_recall", **SHARE)
def tool_recall(row, answer, env):
    """share of the expected tool calls made (right tool, in the right user turn); none when no call is expected"""
    return _share_of_expected(answer, "name")


@metric("conversation/tool_args_correct", **SHARE)
def tool_args_correct(row, answer, env):
    """share of the expected tool calls made with the right arguments (every expected argument present; strings
    by their words); none when no call is expected. Blind set conv_blind28 (91 final turns): the turn's calls
    judged right or wrong with accuracy 0.978 [0.923, 0.997]"""
    return _share_of_expected(answer, "arguments")


COUNT: dict[str, Any] = {"higher_is_better": False, "range": (0, None)}


def _per_conversation(name: str, count, description: str, stats: tuple = ("mean", "total")):
    """Register a count over a conversation's turns (None for a row that is not a conversation)."""

    def fn(row, answer, env):
        turns = _turns(answer)
        return None if turns is None else count(turns)

    fn.__name__ = name.split("/", 1)[1]
    return metric(name, **COUNT, stats=stats, description=description)(fn)


unnecessary_calls = _per_conversation(
    "conversation/unnecessary_calls",
    lambda turns: tool_match(turns)["unnecessary"],
    "tool calls per conversation beyond the expected ones of their turn (any call, where none is expected). Blind "
    "set conv_blind28 (120 final turns): any unneeded call found with accuracy 0.975 [0.929, 0.995]",
)
tool_errors = _per_conversation(
    "conversation/tool_errors",
    lambda turns: sum(1 for t in turns for r in t.tool_results if r.error),
    "tool calls per conversation that failed (unknown tool, bad arguments, the tool raised)",
)
conversation_tokens = _per_conversation(
    "conversation/tokens",
    lambda turns: sum(t.tokens for t in turns),
    "prompt + completion tokens of every model call in the conversation (as the endpoint reported them, else counted)",
)
stopped_turns = _per_conversation(
    "conversation/stopped_turns",
    lambda turns: sum(1 for t in turns if t.stopped),
    "user turns whose tool loop hit a bound (max_steps, max_seconds) or a failed model call",
    stats=("mean",),
)


@metric("conversation/steps", **COUNT, stats=("mean", "p95"))
def steps(row, answer, env):
    """model calls per conversation (every step of every user turn's tool loop); the row's
    'conversation/steps.transcript' holds the turns"""
    turns = _turns(answer)
    if turns is None:
        return None
    transcript = json.dumps([t.to_dict() for t in turns], ensure_ascii=False, default=str)
    return sum(len(t.calls) for t in turns), {"transcript": transcript}


@metric(
    "conversation/turn_f1",
    higher_is_better=True,
    range=(0, 1),
    description="quality/f1 on each assistant turn against its reference (the recorded reply; the row's "
    "reference for the last), averaged over the conversation's turns that have one",
)
def turn_f1(row, answer, env):
    turns = [t for t in (_turns(answer) or []) if t.reference]
    return None if not turns else sum(f1_score(t.answer, t.reference) for t in turns) / len(turns)


@metric(
    "conversation/turn_groundedness",
    higher_is_better=True,
    range=(0, 1),
    tier="screen",
    description="honesty/groundedness's screen on each assistant turn that called tools, against that turn's "
    "tool results, averaged over those turns; none when no turn has a tool result",
)
def turn_groundedness(row, answer, env):
    from ..evaluate.metrics.honesty import groundedness_score

    turns = [t for t in (_turns(answer) or []) if any(not r.error for r in t.tool_results) and t.answer]
    scores = [
        groundedness_score(t.answer, [r.result for r in t.tool_results if not r.error], env.embed, t.user)[0]
        for t in turns
    ]
    return None if not scores else sum(scores) / len(scores)


FACTS = {  # a fact a user gives, and how an assistant asks for that kind of fact again
    "customer id": (re.compile(r"\bC\d{3}\b"), re.compile(r"customer (?:number|id)|account number", re.I)),
    "order id": (re.compile(r"\bORD-\d{4}\b"), re.compile(r"order (?:number|id)", re.I)),
    "email": (re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+"), re.compile(r"e-?mail", re.I)),
}


def retention_problems(turns) -> list[str]:
    """What a later assistant turn forgot of the facts (customer id, order id, email) a user gave earlier: it
    asks for that kind of fact again (a question naming it), or names another value of that kind."""
    given: dict[str, set[str]] = {}
    problems = []
    for n, t in enumerate(turns, start=1):
        for kind, values in given.items():
            value_re, ask_re = FACTS[kind]
            asks = [s for s in re.split(r"(?<=[.?!])\s+", t.answer) if s.endswith("?") and ask_re.search(s)]
            if asks:
                problems.append(f"turn {n} asks for the {kind} again")
            other = set(value_re.findall(t.answer)) - values - set(value_re.findall(t.user))
            if other:
                problems.append(f"turn {n} names {kind} {sorted(other)[0]}, not {sorted(values)[0]}")
        for kind, (value_re, _) in FACTS.items():
            given.setdefault(kind, set()).update(value_re.findall(t.user))
        given = {k: v for k, v in given.items() if v}
    return problems


@metric(
    "conversation/knowledge_retention",
    higher_is_better=True,
    **SCREEN_FLAG,
    description="1 when no assistant turn asks again for a customer id, order id or email the user already gave, "
    "or names another one of that kind (patterns); none when the user gave none before the last turn. A weak "
    "screen: on the blind set conv_blind28 it gave a verdict on 27 of the 71 conversations a person labelled "
    "(names, dates, addresses and other facts are outside it) and caught 3 of the 13 forgetful ones there "
    "(accuracy 0.630 [0.424, 0.806], no false alarms)",
)
def knowledge_retention(row, answer, env):
    turns = _turns(answer)
    if not turns or not any(v.findall(t.user) for t in turns[:-1] for v, _ in FACTS.values()):
        return None
    problems = retention_problems(turns)
    return (0.0, {"problems": "; ".join(problems)}) if problems else 1.0
