"""Candidates: a named configuration that turns one dataset row into an :class:`Answer`.

Built-ins: :class:`PromptCandidate` (system prompt + user template + model + generation params); any
Python callable wraps as a :class:`CallableCandidate`. RAG and fine-tuned candidates are
subclasses that fill ``Answer.contexts`` and ``Answer.calls`` the same way, so evaluation treats them alike.

A candidate's ``config`` is its whole configuration (logged as the params of its MLflow LoggedModel):
:func:`from_config` rebuilds the same candidate from it, through the registry of candidate kinds
(:func:`register_candidate_kind`; ``prompt`` here, ``rag`` by :mod:`workbench.rag`, others by the entry-point
group ``workbench.candidate_kinds``), so what was evaluated is what is served.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import WorkbenchError
from .llm.client import ChatRecord, LLMClient
from .secrets import mask_secret_fields

# A candidate's generation settings unless it gives its own: greedy, short answers.
GENERATION: dict[str, Any] = {"temperature": 0.0, "max_tokens": 256}

# No system prompt unless the user gives one: an evaluation measures the prompt the user wrote (the demo and the
# notebooks pass their own persona explicitly).
DEFAULT_SYSTEM: str | None = None
CONTEXT_TEMPLATE = (
    "Answer the question using only the context below. If the context does not contain the answer, "
    'say "I don\'t know".\n\nContext:\n{contexts}\n\nQuestion: {question}'
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
    def from_record(cls, rec: ChatRecord, contexts: list[str] | None = None) -> Answer:
        return cls(text=rec.text, contexts=contexts, calls=[rec], error=rec.error)


class Candidate:
    """Base class. Subclasses set ``name`` and ``config`` and implement :meth:`aanswer`."""

    name: str = "candidate"
    config: dict[str, Any] = {}

    async def aanswer(self, row: dict, client: LLMClient, repeat: int = 0, **call) -> Answer:
        """Answer one row. ``call`` reaches the answering model call: generation overrides (``temperature``...)
        and ``on_delta`` (streamed pieces), which a served app passes per request. A row may carry ``history``
        (earlier chat turns), which go between the system prompt and the question."""
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


def with_history(msgs: list[dict], row: dict) -> list[dict]:
    """``msgs`` with the row's earlier turns (``history``) between the system prompt and the rest."""
    history = row.get("history") or []
    if not history:
        return msgs
    system = [m for m in msgs if m["role"] == "system"]
    return system + [dict(m) for m in history] + [m for m in msgs if m["role"] != "system"]


class PromptCandidate(Candidate):
    """Prompt-only: ``system`` + ``template`` (``{question}``, ``{contexts}``, any row column) on ``model``.

    Rows with ``contexts`` use :data:`CONTEXT_TEMPLATE` unless a template is given, so they are answered from
    their contexts (which then feed the honesty metrics). Rows with ``messages`` are sent as they are.
    """

    def __init__(
        self,
        model: str = "local",
        system_prompt: str | None = DEFAULT_SYSTEM,
        template: str | None = None,
        name: str | None = None,
        **gen_params,
    ):
        self.model = model
        self.system_prompt = system_prompt
        self.template = template
        self.gen_params = {**GENERATION, **gen_params}
        self.name = name or model.replace(":", "-")
        self.config = {
            "kind": "prompt",
            "model": model,
            "system_prompt": system_prompt,
            "template": template or "default",
            **self.gen_params,
        }

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
            raise WorkbenchError(
                f"candidate '{self.name}': template needs column {e} which row {row.get('id')!r} does not have"
            ) from None
        msgs = [{"role": "user", "content": user}]
        if self.system_prompt:
            msgs.insert(0, {"role": "system", "content": self.system_prompt})
        return with_history(msgs, row)

    async def aanswer(self, row: dict, client: LLMClient, repeat: int = 0, **call) -> Answer:
        rec = await client.achat(self.messages(row), self.model, repeat=repeat, **{**self.gen_params, **call})
        return Answer.from_record(rec, row.get("contexts") or None)


class CallableCandidate(Candidate):
    """Wrap ``fn(row) -> str | Answer | dict`` (sync or async). Sync functions run in a worker thread."""

    def __init__(self, fn: Callable, name: str | None = None, config: dict | None = None):
        self.fn = fn
        self.name = name or str(getattr(fn, "__name__", "callable"))
        self.config = {"kind": "callable", "function": getattr(fn, "__qualname__", repr(fn)), **(config or {})}

    async def aanswer(self, row: dict, client: LLMClient, repeat: int = 0, **call) -> Answer:
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
    raise WorkbenchError(
        f"cannot make a candidate from {type(x).__name__}: pass a model name, a Candidate or a callable"
    )


# ------------------------------------------------------------------ rebuilding a candidate from its configuration

CandidateBuilder = Callable[[dict, "str | None"], Candidate]
CANDIDATE_KINDS: dict[str, CandidateBuilder] = {}


def register_candidate_kind(kind: str, builder: CandidateBuilder) -> CandidateBuilder:
    """Register ``builder(config, name) -> Candidate`` for configurations whose ``kind`` is ``kind``."""
    CANDIDATE_KINDS[kind] = builder
    return builder


def _load_plugins() -> None:
    from importlib.metadata import entry_points

    for ep in entry_points(group="workbench.candidate_kinds"):
        try:
            ep.load()
        except Exception as e:  # noqa: BLE001 - a broken plugin must not break the built-in kinds
            import warnings

            warnings.warn(f"candidate kind plugin {ep.name!r} failed to load: {type(e).__name__}: {e}", stacklevel=2)


def from_config(config: Mapping[str, Any], name: str | None = None) -> Candidate:
    """The candidate whose ``config`` is ``config`` (a ``Candidate.config``, or a LoggedModel's params read back
    with :func:`config_from_params`): ``from_config(c.config, c.name).config == c.config``."""
    kind = config.get("kind")
    if kind not in CANDIDATE_KINDS:
        _load_plugins()
    if kind not in CANDIDATE_KINDS:
        raise WorkbenchError(
            f"cannot rebuild a candidate of kind {kind!r} from its configuration: known kinds are "
            f"{sorted(CANDIDATE_KINDS)} (a 'callable' candidate is Python code, not configuration; "
            f"'rag' is registered by importing workbench.rag)"
        )
    return CANDIDATE_KINDS[kind](dict(config), name)


def parse_param(value: Any) -> Any:
    """A param string back to its value (MLflow stores params as strings; ``""`` was ``None``)."""
    if not isinstance(value, str):
        return value
    special = {"None": None, "True": True, "False": False, "": None}
    if value in special:
        return special[value]
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def config_from_params(params: Mapping[str, str]) -> dict[str, Any]:
    """A candidate configuration from its logged params (strings)."""
    return {k: parse_param(v) for k, v in params.items()}


def _default(value: Any) -> Any:
    return None if value in (None, "default") else value


def _prompt_from_config(config: dict, name: str | None) -> PromptCandidate:
    c = {k: v for k, v in config.items() if k != "kind"}
    return PromptCandidate(
        model=c.pop("model", "local"),
        system_prompt=c.pop("system_prompt", DEFAULT_SYSTEM),
        template=_default(c.pop("template", None)),
        name=name,
        **c,
    )


register_candidate_kind("prompt", _prompt_from_config)
