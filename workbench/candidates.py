"""Candidates: a named configuration that turns one dataset row into an :class:`Answer`.

Built-ins: :class:`PromptCandidate` (system prompt + user template + model + generation params); any
Python callable wraps as a :class:`CallableCandidate`. RAG and fine-tuned candidates (later issues) are
subclasses that fill ``Answer.contexts`` and ``Answer.calls`` the same way, so evaluation treats them alike.
"""

from __future__ import annotations

import asyncio
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import WorkbenchError
from .llm.client import ChatRecord, LLMClient
from .secrets import mask_secret_fields

# No system prompt unless the user gives one: an evaluation measures the prompt the user wrote (the demo and the
# notebooks pass their own persona explicitly).
DEFAULT_SYSTEM: str | None = None
CONTEXT_TEMPLATE = (
    "Answer the question using only the context below. If the context does not contain the answer, "
    "say \"I don't know\".\n\nContext:\n{contexts}\n\nQuestion: {question}"
)
PLAIN_TEMPLATE = "{question}"


@dataclass
class Answer:
    """What a candidate produced for one row: text, the contexts it used, and every model call it made."""

    text: str
    contexts: list[str] | None = None
    calls: list[ChatRecord] = field(default_factory=list)
    error: str | None = None  # error class if the answer could not be produced
    retrieved: list[str] | None = None  # doc ids of the retrieved chunks, in rank order (RAG candidates)
    chunk_ids: list[str] | None = None
    elapsed_s: float | None = None  # wall time to the complete answer (set by the evaluation engine)

    @classmethod
    def from_record(cls, rec: ChatRecord, contexts: list[str] | None = None) -> "Answer":
        return cls(text=rec.text, contexts=contexts, calls=[rec], error=rec.error)


class Candidate:
    """Base class. Subclasses set ``name`` and ``config`` and implement :meth:`aanswer`."""

    name: str = "candidate"
    config: dict[str, Any] = {}

    async def aanswer(self, row: dict, client: LLMClient, repeat: int = 0) -> Answer:
        raise NotImplementedError

    def messages(self, row: dict, contexts: list[str] | None = None) -> list[dict]:
        """The chat messages this candidate sends for ``row`` (``contexts``: retrieved or given passages; None
        means the candidate's own, e.g. the row's ``contexts`` or a RAG candidate's retrieval). Every candidate
        has this one signature, so dry-run estimates and served apps treat them alike."""
        raise WorkbenchError(f"candidate '{self.name}' ({type(self).__name__}) builds no chat messages")

    def params(self) -> dict[str, Any]:
        """Flat params to log (``candidate.<name>.<key>``)."""
        return {f"candidate.{self.name}.{k}": v for k, v in mask_secret_fields(self.config).items()}


def format_contexts(contexts: list[str]) -> str:
    return "\n\n".join(f"[{i + 1}] {c}" for i, c in enumerate(contexts))


class PromptCandidate(Candidate):
    """Prompt-only: ``system`` + ``template`` (``{question}``, ``{contexts}``, any row column) on ``model``.

    Rows with ``contexts`` use :data:`CONTEXT_TEMPLATE` unless a template is given, so they are answered from
    their contexts (which then feed the honesty metrics). Rows with ``messages`` are sent as they are.
    """

    def __init__(self, model: str = "local", system_prompt: str | None = DEFAULT_SYSTEM, template: str | None = None,
                 name: str | None = None, **gen_params):
        self.model = model
        self.system_prompt = system_prompt
        self.template = template
        self.gen_params = {"temperature": 0.0, "max_tokens": 256, **gen_params}
        self.name = name or model.replace(":", "-")
        self.config = {"kind": "prompt", "model": model, "system_prompt": system_prompt,
                       "template": template or "default", **self.gen_params}

    def messages(self, row: dict, contexts: list[str] | None = None) -> list[dict]:
        if row.get("messages"):
            msgs = [dict(m) for m in row["messages"]]
            if self.system_prompt and not any(m["role"] == "system" for m in msgs):
                msgs.insert(0, {"role": "system", "content": self.system_prompt})
            return msgs
        ctx = row.get("contexts") if contexts is None else contexts
        template = self.template or (CONTEXT_TEMPLATE if ctx else PLAIN_TEMPLATE)
        values = {k: v for k, v in row.items() if isinstance(v, (str, int, float))}
        values["contexts"] = format_contexts(ctx) if ctx else ""
        try:
            user = template.format(**values)
        except KeyError as e:
            raise WorkbenchError(f"candidate '{self.name}': template needs column {e} which row "
                                 f"{row.get('id')!r} does not have") from None
        msgs = [{"role": "user", "content": user}]
        if self.system_prompt:
            msgs.insert(0, {"role": "system", "content": self.system_prompt})
        return msgs

    async def aanswer(self, row: dict, client: LLMClient, repeat: int = 0) -> Answer:
        rec = await client.achat(self.messages(row), self.model, repeat=repeat, **self.gen_params)
        return Answer.from_record(rec, row.get("contexts") or None)


class CallableCandidate(Candidate):
    """Wrap ``fn(row) -> str | Answer | dict`` (sync or async). Sync functions run in a worker thread."""

    def __init__(self, fn: Callable, name: str | None = None, config: dict | None = None):
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "callable")
        self.config = {"kind": "callable", "function": getattr(fn, "__qualname__", repr(fn)), **(config or {})}

    async def aanswer(self, row: dict, client: LLMClient, repeat: int = 0) -> Answer:
        try:
            out = self.fn(row)
            if inspect.isawaitable(out):
                out = await out
        except Exception as e:  # noqa: BLE001 - a failing row is an error answer, not a crashed run
            return Answer(text="", error=f"candidate_error: {type(e).__name__}: {e}")
        if isinstance(out, Answer):
            return out
        if isinstance(out, dict):
            return Answer(text=str(out.get("text", "")), contexts=out.get("contexts"))
        return Answer(text="" if out is None else str(out), contexts=row.get("contexts") or None)


def as_candidate(x: Any) -> Candidate:
    """A Candidate from a Candidate, a model spec string (prompt-only, default prompt) or a callable."""
    if isinstance(x, Candidate):
        return x
    if isinstance(x, str):
        return PromptCandidate(model=x)
    if callable(x):
        if not inspect.iscoroutinefunction(x):
            fn = x

            async def run_in_thread(row):
                return await asyncio.to_thread(fn, row)

            run_in_thread.__name__ = getattr(fn, "__name__", "callable")
            run_in_thread.__qualname__ = getattr(fn, "__qualname__", "callable")
            return CallableCandidate(run_in_thread)
        return CallableCandidate(x)
    raise WorkbenchError(f"cannot make a candidate from {type(x).__name__}: pass a model name, a Candidate or a callable")
