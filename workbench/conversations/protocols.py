"""How a candidate asks a model for tool calls, per endpoint kind (``EndpointKind.tool_protocol``).

* ``tools`` — the OpenAI ``tools`` API: the tool schemas in the request, the calls in ``message.tool_calls``,
  each result a ``tool`` message.
* ``json_schema`` — constrained decoding: ``response_format`` holds a JSON schema that admits exactly one of
  ``{"tool": NAME, "arguments": {...}}`` (one per tool, its own argument schema) or ``{"answer": TEXT}``; the
  embedded llama-server enforces it with a grammar, so even the 135M model emits a well-formed call. Results
  go back as a user turn (the small model's chat template has no tool role).

Register another with :func:`register_protocol`; an endpoint kind names its own in ``tool_protocol``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from ..errors import ConfigError
from ..llm.client import ChatRecord
from .tools import ToolSet

CUT_ANSWER = re.compile(r'\s*\{\s*"answer"\s*:\s*"(.*)', re.S)  # an answer object cut off by max_tokens


@dataclass
class Decision:
    """What one model step asked for: tool calls ``[(call id, name, arguments)]``, or a final ``answer``."""

    calls: list[tuple[str, str, object]] = field(default_factory=list)
    answer: str | None = None


def _args(text: object) -> object:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text or "{}")
    except json.JSONDecodeError:
        return text  # the tool run reports arguments that are not an object


class ToolsAPI:
    """The OpenAI ``tools`` API."""

    def params(self, tools: ToolSet, final: bool = False) -> dict:
        """Request params of a step; the ``final`` step of a bounded loop may not call a tool."""
        return {"tools": tools.specs(), "stream": False, **({"tool_choice": "none"} if final else {})}

    def instructions(self, tools: ToolSet) -> str | None:
        return None

    def parse(self, rec: ChatRecord) -> Decision:
        if rec.tool_calls:
            return Decision([(c["id"], c["name"], _args(c["arguments"])) for c in rec.tool_calls])
        return Decision(answer=rec.text)

    def assistant_message(self, rec: ChatRecord, decision: Decision) -> dict:
        calls = [
            {"id": cid, "type": "function", "function": {"name": n, "arguments": json.dumps(a)}}
            for cid, n, a in decision.calls
        ]
        return {"role": "assistant", "content": rec.text or "", **({"tool_calls": calls} if calls else {})}

    def result_message(self, call_id: str, name: str, result: str) -> dict:
        return {"role": "tool", "tool_call_id": call_id, "content": result}


class JsonSchema:
    """Constrained decoding through ``response_format`` (llama-server's JSON-schema grammar)."""

    def schema(self, tools: ToolSet, final: bool = False) -> dict:
        """One of a call per tool or an answer; on the ``final`` step only an answer."""
        calls = [
            {
                "type": "object",
                "properties": {"tool": {"const": t.name}, "arguments": t.parameters},
                "required": ["tool", "arguments"],
                "additionalProperties": False,
            }
            for t in tools.tools
            if not final
        ]
        answer = {
            "type": "object",
            "properties": {"answer": {"type": "string"}},
            "required": ["answer"],
            "additionalProperties": False,
        }
        return {"anyOf": [*calls, answer]}

    def params(self, tools: ToolSet, final: bool = False) -> dict:
        schema = self.schema(tools, final)
        return {"response_format": {"type": "json_schema", "json_schema": {"name": "step", "schema": schema}}}

    def instructions(self, tools: ToolSet) -> str | None:
        lines = [
            f"- {t.name}: {t.description} Arguments: {json.dumps(t.parameters['properties'])}" for t in tools.tools
        ]
        return (
            "You can use these tools:\n" + "\n".join(lines) + '\nReply in JSON: {"tool": NAME, "arguments": {...}} '
            'to call a tool, or {"answer": TEXT} to answer the user.'
        )

    def parse(self, rec: ChatRecord) -> Decision:
        try:
            obj = json.loads(rec.text)
        except json.JSONDecodeError:  # cut off by max_tokens, or not constrained
            cut = CUT_ANSWER.match(rec.text)
            return Decision(answer=cut[1].replace('\\"', '"').replace("\\n", "\n") if cut else rec.text)
        if isinstance(obj, dict) and isinstance(obj.get("tool"), str):
            return Decision([(f"call-{rec.attempts}-{id(rec)}", obj["tool"], obj.get("arguments", {}))])
        if isinstance(obj, dict) and "answer" in obj:
            return Decision(answer=str(obj["answer"]))
        return Decision(answer=rec.text)

    def assistant_message(self, rec: ChatRecord, decision: Decision) -> dict:
        return {"role": "assistant", "content": rec.text}

    def result_message(self, call_id: str, name: str, result: str) -> dict:
        return {
            "role": "user",
            "content": f"Result of {name}: {result}\nAnswer the user now unless you need another tool.",
        }


class Plain(ToolsAPI):
    """No tools: a plain chat call whose text is the answer."""

    def params(self, tools: ToolSet, final: bool = False) -> dict:
        return {}


PROTOCOLS: dict[str, object] = {"tools": ToolsAPI(), "json_schema": JsonSchema(), "none": Plain()}


def register_protocol(name: str, protocol) -> None:
    """Register a tool-call protocol (``params``, ``instructions``, ``parse``, ``assistant_message``,
    ``result_message``) under ``name``, for ``EndpointKind.tool_protocol``."""
    PROTOCOLS[name] = protocol


def protocol_for(model: str, override: str | None = None):
    """The protocol the endpoint kind of ``model`` uses (or ``override``, by name)."""
    from ..llm.endpoints import resolve

    name = override or resolve(model)[2].tool_protocol
    if name not in PROTOCOLS:
        raise ConfigError(f"unknown tool protocol {name!r}; registered are {sorted(PROTOCOLS)}")
    return PROTOCOLS[name]
