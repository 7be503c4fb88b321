"""Simulated users: a persona with a goal talks to a candidate for up to N turns, so a conversation set can be
generated (and re-run as a dataset). The user is played by any configured model (the local one by default),
seeded per turn; the result records the persona, goal, seed and user model with every conversation.

    sim = simulate(contoso_personas()[:4], ToolCandidate("local", "contoso"), turns=3, seed=0)
    sim.save("datasets/simulated.jsonl")            # a conversation set: load_conversations reads it
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..llm.client import LLMClient, default_client, run_sync
from .agent import ToolCandidate
from .contoso import data_dir

USER_PROMPT = (
    "You are {name}, a customer of the Contoso Outdoor shop, chatting with its assistant. Your goal: {goal}. "
    "What you know: {facts}. Write only your next message to the assistant, in one or two sentences. "
    "When your goal is met, write DONE."
)
START = "Hello! How can I help you today?"
DONE = "DONE"


@dataclass
class Persona:
    """Who the simulated user is, what they want, what they know, and what a good final answer holds."""

    name: str
    goal: str
    facts: dict = field(default_factory=dict)
    reference: str | None = None  # a fact the final answer should contain
    expected_tool_calls: list = field(default_factory=list)
    expect_refusal: bool = False


@dataclass
class Simulation:
    """The simulated conversations as conversation-set rows (each ends with the last user turn; the candidate's
    last answer is kept as ``simulated_answer``), with persona, goal, seed and user model in ``tags``."""

    rows: list[dict]
    user_model: str
    seed: int

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame(
            [{"id": r["id"], "persona": r["tags"]["persona"], "user_turns": r["tags"]["user_turns"]} for r in self.rows]
        )

    def save(self, path: str | Path) -> Path:
        """Write the rows as JSONL (a conversation set :func:`~.data.load_conversations` reads)."""
        p = Path(path)
        p.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in self.rows))
        return p


def _user_view(persona: Persona, messages: list[dict]) -> list[dict]:
    """The conversation as the simulated user sees it: the assistant's turns are the other side's."""
    system = USER_PROMPT.format(name=persona.name, goal=persona.goal, facts=json.dumps(persona.facts))
    flipped = [{"role": "assistant" if m["role"] == "user" else "user", "content": m["content"]} for m in messages]
    return [{"role": "system", "content": system}, {"role": "user", "content": START}, *flipped]


async def asimulate_one(
    persona: Persona, candidate: ToolCandidate, client: LLMClient, user_model: str, turns: int, seed: int
) -> dict:
    """One conversation: up to ``turns`` user turns (the user stops early by writing DONE after the first)."""
    proto = candidate.tool_protocol()
    history, messages = candidate.system_messages(proto), list[dict[str, Any]]()
    last = ""
    for t in range(turns):
        rec = await client.achat(
            _user_view(persona, messages), user_model, temperature=0.7, max_tokens=80, seed=seed * 1000 + t
        )
        text = rec.text.strip()
        if t > 0 and (not text or DONE in text):
            break
        text = text.replace(DONE, "").strip() or persona.goal
        messages.append({"role": "user", "content": text})
        history.append({"role": "user", "content": text})
        turn = await candidate.run_turn(proto, history, client, 0, {})
        calls = [{"name": r.name, "arguments": r.arguments} for r in turn.tool_results]
        messages.append({"role": "assistant", "content": turn.answer, **({"tool_calls": calls} if calls else {})})
        last = turn.answer
    convo = messages[:-1]  # ends with the last user turn: the row to answer
    return {
        "id": f"sim-{persona.name.lower().replace(' ', '-')}-{seed}",
        "messages": convo,
        "reference": persona.reference,
        "expected_tool_calls": persona.expected_tool_calls,
        "expect_refusal": persona.expect_refusal,
        "simulated_answer": last,
        "tags": {
            "kind": "simulated",
            "persona": persona.name,
            "goal": persona.goal,
            "seed": seed,
            "user_model": user_model,
            "candidate": candidate.name,
            "user_turns": sum(m["role"] == "user" for m in convo),
        },
    }


def simulate(
    personas: list[Persona],
    candidate: ToolCandidate,
    user_model: str = "local",
    turns: int = 3,
    seed: int = 0,
    cache: str = "use",
) -> Simulation:
    """Each persona against ``candidate`` for up to ``turns`` user turns, the user played by ``user_model``
    (sampling seeded per turn from ``seed``). Synchronous; returns a :class:`Simulation`."""

    async def all_rows():
        import asyncio

        client = default_client(cache)
        return await asyncio.gather(*(asimulate_one(p, candidate, client, user_model, turns, seed) for p in personas))

    return Simulation(list(run_sync(all_rows())), user_model, seed)


def contoso_personas(root: str | Path | None = None) -> list[Persona]:
    """Contoso customers with a goal each: an order's status (expects ``order_status``) or their loyalty tier
    (expects ``customer_lookup``), from ``customers.json`` and ``orders.json``."""
    base = Path(root) if root else data_dir()
    customers = json.loads((base / "customers.json").read_text())
    orders = json.loads((base / "orders.json").read_text())
    out = []
    for i, c in enumerate(customers):
        order = next(o for o in orders if o["customer_id"] == c["customer_id"])
        if i % 2 == 0:
            out.append(
                Persona(
                    c["name"],
                    f"find out the status of your order {order['order_id']}",
                    {"customer_id": c["customer_id"], "order_id": order["order_id"]},
                    order["status"],
                    [{"name": "order_status", "arguments": {"order_id": order["order_id"]}}],
                )
            )
        else:
            out.append(
                Persona(
                    c["name"],
                    "find out which loyalty tier you are in",
                    {"customer_id": c["customer_id"]},
                    c["tier"],
                    [{"name": "customer_lookup", "arguments": {"customer_id": c["customer_id"]}}],
                )
            )
    return out


def persona_record(p: Persona) -> dict:
    """A persona as plain data (to log or save beside a simulation)."""
    return asdict(p)
