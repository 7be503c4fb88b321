"""Executors for sweep cells: the one registry of "where work runs" lives in :mod:`workbench.executors` (shared with
evaluations); these names stay importable from here."""

from __future__ import annotations

from ..executors import EXECUTORS, ORPHAN_POLL_S, ExecutorDef, die_with_launcher, get_executor, register_executor

__all__ = ["EXECUTORS", "ORPHAN_POLL_S", "ExecutorDef", "die_with_launcher", "get_executor", "register_executor"]
