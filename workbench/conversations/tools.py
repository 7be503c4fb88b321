"""Tools: Python functions with a JSON schema, run so that a tool that raises is a recorded error, not a crash.

    @tool({"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]})
    def order_status(order_id: str) -> dict:
        "The status, carrier and items of an order."

A :class:`ToolSet` is what a candidate holds; toolsets register by name (:func:`register_toolset`) so a
candidate's configuration (a LoggedModel's params) names its tools and :func:`workbench.candidates.from_config`
rebuilds it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import ConfigError


@dataclass
class Tool:
    """A function the model may call: ``name``, ``description`` and the JSON schema of its arguments."""

    fn: Callable[..., Any]
    name: str
    description: str
    parameters: dict

    def spec(self) -> dict:
        """The OpenAI ``tools`` entry of this tool."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


def tool(parameters: dict, name: str | None = None, description: str | None = None):
    """Decorator: ``fn`` as a :class:`Tool` with the JSON schema ``parameters`` (description: its docstring)."""

    def deco(fn):
        return Tool(fn, name or fn.__name__, description or (fn.__doc__ or "").strip(), parameters)

    return deco


@dataclass
class ToolResult:
    """One tool call as run: its arguments, the result as text (what the model reads), or the error."""

    name: str
    arguments: dict
    result: str = ""
    error: str | None = None
    elapsed_s: float = 0.0
    step: int = 0  # the model call (1-based, within its user turn) that asked for it
    start_s: float = 0.0  # seconds from its user turn's start to the call

    def to_dict(self) -> dict:
        """The call as JSON-able data (its elapsed time rounded to 0.1 ms)."""
        return {**asdict(self), "elapsed_s": round(self.elapsed_s, 4), "start_s": round(self.start_s, 4)}


@dataclass
class ToolSet:
    """Named tools; ``name`` is the registered toolset they come from (None for an ad-hoc set)."""

    tools: list[Tool] = field(default_factory=list)
    name: str | None = None

    def __post_init__(self):
        self.by_name = {t.name: t for t in self.tools}

    def specs(self) -> list[dict]:
        return [t.spec() for t in self.tools]

    def run(self, name: str, arguments: Any) -> ToolResult:
        """Call tool ``name``: an unknown tool, arguments that are not an object, or an exception in the tool
        becomes ``ToolResult.error`` (the model reads it as the result)."""
        t0 = time.perf_counter()
        out = ToolResult(name, arguments if isinstance(arguments, dict) else {"_raw": arguments})
        t = self.by_name.get(name)
        try:
            if t is None:
                raise LookupError(f"no tool named {name!r}; tools are {sorted(self.by_name)}")
            if not isinstance(arguments, dict):
                raise TypeError(f"arguments must be a JSON object, got {type(arguments).__name__}")
            value = t.fn(**arguments)
            out.result = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        except Exception as e:  # noqa: BLE001 - a failing tool is a recorded tool error, never a crash
            out.error = f"{type(e).__name__}: {str(e)[:300]}"
            out.result = f"error: {out.error}"
        out.elapsed_s = time.perf_counter() - t0
        return out

    def config(self) -> dict:
        """What a LoggedModel records: the toolset's name and every tool's schema."""
        return {"toolset": self.name, "tools": json.dumps(self.specs(), sort_keys=True)}


TOOLSETS: dict[str, Callable[..., ToolSet]] = {}


def register_toolset(name: str, factory: Callable[..., ToolSet]) -> None:
    """Register ``factory(**options) -> ToolSet`` under ``name`` (a candidate configuration's ``toolset``)."""
    TOOLSETS[name] = factory


def get_toolset(name: str, **options) -> ToolSet:
    """The toolset registered as ``name``, built with ``options``."""
    if name not in TOOLSETS:
        raise ConfigError(f"unknown toolset {name!r}; registered are {sorted(TOOLSETS)}")
    ts = TOOLSETS[name](**options)
    ts.name = name
    return ts
