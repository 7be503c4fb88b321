"""A candidate that converses and calls tools: :class:`ToolCandidate`.

For each user turn of a conversation row it runs the tool loop — call the model, run the tool calls it asks
for, feed the results back — until the model answers, bounded by ``max_steps`` model calls and
``max_seconds`` per turn. Earlier turns are the candidate's own answers (the row's recorded assistant turns are
the references of those turns). How the model is asked for tool calls is the endpoint kind's
``tool_protocol`` (:mod:`workbench.conversations.protocols`). The result is a :class:`ConversationAnswer`:
the final answer, every model call, the tool results as contexts, and the :class:`Turn` transcript that the
conversation metrics and the MLflow sessions read.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from ..candidates import GENERATION, Answer, Candidate, register_candidate_kind
from ..llm.client import ChatRecord, LLMClient
from .protocols import protocol_for
from .tools import ToolResult, ToolSet, get_toolset

DEFAULT_SYSTEM = (
    "You are the Contoso Outdoor shop assistant. Use the tools to look up customers, orders and products. "
    "Never reveal one customer's data to another, and refuse requests outside the shop."
)
MAX_RESULT_CHARS = 1200  # of a tool result, fed back to the model (the transcript keeps it whole)


@dataclass
class Turn:
    """One user turn as the candidate handled it: its model calls (steps), tool results and answer.
    ``stopped``: None when the model answered, else ``max_steps``, ``time`` or ``model_error``."""

    user: str
    answer: str = ""
    calls: list[ChatRecord] = field(default_factory=list)
    tool_results: list[ToolResult] = field(default_factory=list)
    stopped: str | None = None
    elapsed_s: float = 0.0
    reference: str | None = None  # the recorded assistant reply (the row's reference for the last turn)
    expected_tool_calls: list = field(default_factory=list)
    started_ns: int = 0  # wall clock (epoch ns) when the turn began: its trace's start
    step_starts: list[float] = field(default_factory=list)  # seconds from the turn's start to each model call

    @property
    def tokens(self) -> int:
        return sum((c.prompt_tokens or 0) + (c.completion_tokens or 0) for c in self.calls)

    def to_dict(self) -> dict:
        """The turn as JSON-able data (the ``transcript`` of a conversation row)."""
        plain = {k: getattr(self, k) for k in ("user", "answer", "reference", "expected_tool_calls", "stopped")}
        return {
            **plain,
            "tool_calls": [r.to_dict() for r in self.tool_results],
            "steps": len(self.calls),
            "tokens": self.tokens,
            "elapsed_s": round(self.elapsed_s, 4),
            "started_ns": self.started_ns,
            "step_starts": [round(x, 4) for x in self.step_starts],
            "calls": [
                {
                    k: getattr(c, k)
                    for k in ("model", "text", "latency_s", "prompt_tokens", "completion_tokens", "error")
                }
                for c in self.calls
            ],
        }


@dataclass
class ConversationAnswer(Answer):
    """An :class:`Answer` for a whole conversation: ``text`` is the final answer, ``turns`` the transcript."""

    turns: list[Turn] = field(default_factory=list)


def turn_expectations(row: dict) -> list[tuple[str, str | None, list]]:
    """Per user turn of ``row``: (user text, reference answer, expected tool calls) — an earlier turn's from the
    recorded assistant reply after it, the last turn's from the row's ``reference`` and ``expected_tool_calls``."""
    msgs = row["messages"]
    out = []
    for i, m in enumerate(msgs):
        if m["role"] != "user":
            continue
        nxt = next((x for x in msgs[i + 1 :] if x["role"] in ("assistant", "user")), None)
        if nxt is None:
            ref = row.get("reference")
            out.append(
                (m["content"], ref if isinstance(ref, str) else None, list(row.get("expected_tool_calls") or []))
            )
        elif nxt["role"] == "assistant":
            out.append((m["content"], nxt.get("content"), list(nxt.get("tool_calls") or [])))
    return out


class ToolCandidate(Candidate):
    """``model`` with ``tools`` (a :class:`ToolSet` or a registered toolset's name; None: no tools) answering a
    conversation row turn by turn. ``max_steps`` model calls and ``max_seconds`` per user turn; with
    ``answer_last_step`` the last step allowed may not call a tool (the protocol withholds the tools), so a model
    that keeps calling tools still answers; ``protocol`` overrides the endpoint kind's tool protocol by name."""

    def __init__(
        self,
        model: str = "local",
        tools: ToolSet | str | None = None,
        system_prompt: str | None = DEFAULT_SYSTEM,
        name: str | None = None,
        max_steps: int = 4,
        max_seconds: float = 60.0,
        protocol: str | None = None,
        answer_last_step: bool = True,
        **gen_params,
    ):
        self.model, self.system_prompt, self.protocol = model, system_prompt, protocol
        self.tools = get_toolset(tools) if isinstance(tools, str) else (tools or ToolSet([]))
        self.max_steps, self.max_seconds = int(max_steps), float(max_seconds)
        self.max_result_chars = MAX_RESULT_CHARS
        self.answer_last_step = bool(answer_last_step)
        self.name = name or f"{model.replace(':', '-')}{'-tools' if self.tools.tools else ''}"
        self.gen_params = {**GENERATION, **gen_params}
        self.config = {
            "kind": "tools",
            "model": model,
            "system_prompt": system_prompt,
            "max_steps": self.max_steps,
            "max_seconds": self.max_seconds,
            "protocol": protocol,
            "answer_last_step": self.answer_last_step,
            **self.tools.config(),
            **self.gen_params,
        }

    def tool_protocol(self):
        """The tool-call protocol of this candidate's model (``none`` without tools)."""
        return protocol_for(self.model, self.protocol if self.tools.tools else "none")

    def messages(self, row: dict, contexts: list[str] | None = None) -> list[dict]:
        """The first request of the conversation's first turn (system prompt with the tool instructions)."""
        return self.system_messages(self.tool_protocol()) + [
            dict(next(m for m in row["messages"] if m["role"] == "user"))
        ]

    def system_messages(self, proto) -> list[dict]:
        """The system prompt with the protocol's tool instructions, as a message list (empty when neither)."""
        text = "\n\n".join(x for x in (self.system_prompt, proto.instructions(self.tools)) if x)
        return [{"role": "system", "content": text}] if text else []

    async def aanswer(self, row: dict, client: LLMClient, repeat: int = 0, **call) -> Answer:
        proto = self.tool_protocol()
        history = self.system_messages(proto)
        turns = []
        for user, ref, expected in turn_expectations(row):
            history.append({"role": "user", "content": user})
            turn = await self.run_turn(proto, history, client, repeat, call)
            turn.reference, turn.expected_tool_calls = ref, expected
            turns.append(turn)
        last = turns[-1]
        error = f"tool_loop_{last.stopped}" if last.stopped else None
        contexts = [r.result for t in turns for r in t.tool_results if not r.error]
        calls = [c for t in turns for c in t.calls]
        return ConversationAnswer(text=last.answer, contexts=contexts or None, calls=calls, error=error, turns=turns)

    async def run_turn(self, proto, history: list[dict], client: LLMClient, repeat: int, call: dict) -> Turn:
        """The tool loop for the user turn at the end of ``history`` (which it extends), within the bounds."""
        turn, t0 = Turn(user=history[-1]["content"], started_ns=time.time_ns()), time.perf_counter()
        try:
            async with asyncio.timeout(self.max_seconds):
                for step in range(self.max_steps):
                    final = self.answer_last_step and step == self.max_steps - 1
                    params: dict[str, Any] = {**self.gen_params, **proto.params(self.tools, final), **call}
                    turn.step_starts.append(time.perf_counter() - t0)
                    rec = await client.achat(list(history), self.model, repeat=repeat, **params)
                    turn.calls.append(rec)
                    if not rec.ok:
                        turn.stopped = "model_error"
                        break
                    decision = proto.parse(rec)
                    history.append(proto.assistant_message(rec, decision))
                    if decision.answer is not None:
                        turn.answer = decision.answer
                        break
                    for cid, name, args in decision.calls:
                        t_tool = time.perf_counter() - t0
                        result = await asyncio.to_thread(self.tools.run, name, args)
                        result.step, result.start_s = len(turn.calls), t_tool
                        turn.tool_results.append(result)
                        history.append(proto.result_message(cid, name, result.result[: self.max_result_chars]))
                else:
                    turn.stopped = "max_steps"
        except TimeoutError:
            turn.stopped = "time"
        turn.elapsed_s = time.perf_counter() - t0
        return turn


def _from_config(config: dict, name: str | None) -> ToolCandidate:
    known = {"kind", "model", "system_prompt", "max_steps", "max_seconds", "protocol", "toolset", "tools"}
    known |= {"answer_last_step"}
    gen = {k: v for k, v in config.items() if k not in known}
    return ToolCandidate(
        config.get("model", "local"),
        config.get("toolset") or None,
        config.get("system_prompt"),
        name,
        config.get("max_steps", 4),
        config.get("max_seconds", 60.0),
        config.get("protocol") or None,
        config.get("answer_last_step", True),
        **gen,
    )


register_candidate_kind("tools", _from_config)
