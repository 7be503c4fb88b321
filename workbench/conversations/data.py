"""Conversation datasets: one conversation per row, validated with file:line errors.

A row holds ``messages`` — the conversation so far: ``user`` and ``assistant`` turns (an optional ``system``
first; ``tool`` results only right after an assistant turn that made ``tool_calls``), ending with the ``user``
turn to answer — and what is expected of the final answer: ``reference`` (a short fact it must contain),
``expected_tool_calls`` (``[{"name", "arguments"}]`` the final turn needs; ``[]``: none), ``expect_refusal``
(bool). An assistant turn may carry the ``tool_calls`` it made (``[{"name", "arguments"}]``). Everything else
(``id``, ``split``, ``tags``) is as in :mod:`workbench.data`, which does the reading and the row checks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ..data import Dataset, load_dataset
from ..errors import DatasetError

ROLES = ("system", "user", "assistant", "tool")


def _check_calls(calls: Any, where: str, file: str, line: int | None) -> None:
    ok = isinstance(calls, list) and all(
        isinstance(c, dict) and isinstance(c.get("name"), str) and isinstance(c.get("arguments", {}), dict)
        for c in calls
    )
    if not ok:
        raise DatasetError(
            f"{where}: expected a list of {{name, arguments}} objects, found {str(calls)[:80]!r}", file, line
        )


def check_conversation(row: dict, file: str, line: int | None) -> None:
    """Raise :class:`DatasetError` (file, line) when ``row`` is no valid conversation: roles and their order,
    tool calls and the expectations."""
    msgs = row.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise DatasetError("column 'messages': expected a non-empty list of turns", file, line)
    prev = None
    for i, m in enumerate(msgs):
        role = m.get("role") if isinstance(m, dict) else None
        if role not in ROLES:
            raise DatasetError(f"messages[{i}]: role {role!r}, expected one of {list(ROLES)}", file, line)
        if role == "system" and i != 0:
            raise DatasetError(f"messages[{i}]: a system message must come first", file, line)
        if role == "tool" and not (prev and (prev.get("tool_calls") or prev.get("role") == "tool")):
            raise DatasetError(
                f"messages[{i}]: a tool result must follow an assistant turn with tool_calls", file, line
            )
        if role == "user" and prev is not None and prev.get("role") == "user":
            raise DatasetError(
                f"messages[{i}]: two user turns in a row; expected an assistant turn between", file, line
            )
        if m.get("tool_calls") is not None:
            if role != "assistant":
                raise DatasetError(f"messages[{i}]: only assistant turns make tool_calls", file, line)
            _check_calls(m["tool_calls"], f"messages[{i}].tool_calls", file, line)
        prev = m
    if msgs[-1].get("role") != "user":
        raise DatasetError(
            f"messages: the last turn is {msgs[-1].get('role')!r}; expected the user turn to answer", file, line
        )
    if row.get("expected_tool_calls") is not None:
        _check_calls(row["expected_tool_calls"], "column 'expected_tool_calls'", file, line)
    if row.get("expect_refusal") is not None and not isinstance(row["expect_refusal"], bool):
        raise DatasetError(
            f"column 'expect_refusal': expected true or false, found {row['expect_refusal']!r}", file, line
        )


def load_conversations(source: str | Path | Dataset | pd.DataFrame, name: str | None = None) -> Dataset:
    """Load a conversation set (JSONL, CSV, Parquet): the checks of :func:`workbench.data.load_dataset` plus
    :func:`check_conversation` on every row. Raises :class:`DatasetError` with the file and line."""
    ds = load_dataset(source, name=name)
    lines = _record_lines(Path(ds.source))
    for n, row in enumerate(ds.rows):
        if lines:  # JSONL: the record's line
            check_conversation(row, ds.source, lines[n])
        else:  # CSV (a record may span lines), Parquet, a DataFrame, mlflow:NAME: the row number
            check_conversation(row, f"{ds.source} row {n + 1}", None)
    return ds


def _record_lines(path: Path) -> list[int] | None:
    """The line of each record in a JSONL file (blank lines skipped), as load_dataset numbers them."""
    if path.suffix.lower() not in (".jsonl", ".ndjson"):
        return None
    return [i for i, text in enumerate(path.read_bytes().split(b"\n"), start=1) if text.strip()]


def user_turns(messages: list[dict]) -> list[int]:
    """Indexes of the user turns in ``messages``."""
    return [i for i, m in enumerate(messages) if m.get("role") == "user"]
