"""Conversations and tool-using assistants: conversation datasets, :class:`ToolCandidate` (the bounded tool
loop), tools and toolsets (``contoso``), conversation-level metrics (``conversation/*``) and MLflow sessions
(one trace per turn, grouped by session). See docs/conversations.md."""

from __future__ import annotations

from . import metrics  # noqa: F401 - registers conversation/* metrics
from .agent import ConversationAnswer, ToolCandidate, Turn
from .contoso import contoso_tools
from .data import check_conversation, load_conversations
from .protocols import register_protocol
from .sessions import Sessions, evaluate_conversations, log_sessions, transcript
from .simulate import Persona, Simulation, contoso_personas, simulate
from .tools import Tool, ToolResult, ToolSet, get_toolset, register_toolset, tool

__all__ = [
    "ConversationAnswer",
    "Persona",
    "Simulation",
    "Sessions",
    "Tool",
    "ToolCandidate",
    "ToolResult",
    "ToolSet",
    "Turn",
    "check_conversation",
    "contoso_personas",
    "contoso_tools",
    "evaluate_conversations",
    "get_toolset",
    "load_conversations",
    "log_sessions",
    "register_protocol",
    "register_toolset",
    "simulate",
    "tool",
    "transcript",
]
