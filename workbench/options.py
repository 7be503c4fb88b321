"""Keyword options grouped into small dataclasses: a function that takes many settings takes the few that matter
most by name, the rest as keywords that land in the dataclass they belong to, and a name that belongs nowhere is
a clear error (:class:`~workbench.errors.UnknownOption`), never a silent grab-bag.

    settings, = split_options("train_lora", {"lr": 1e-3, "steps": 30}, LoraSettings)
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import fields, replace
from typing import Any

from .errors import UnknownOption


def split_options(where: str, options: Mapping[str, Any], *groups, rest: Collection[str] = ()) -> tuple:
    """Hand each of ``options`` to the group (a dataclass type, or an instance whose values the options override)
    with a field of that name; one instance per group, in order. Names in ``rest`` (e.g. the chat parameters) are
    passed through as a dict, last in the tuple, when ``rest`` is given. Any other name raises
    :class:`~workbench.errors.UnknownOption` naming ``where`` and what it accepts."""
    left = dict(options)
    out: list[Any] = []
    for group in groups:
        mine = {f.name: left.pop(f.name) for f in fields(group) if f.name in left}
        out.append(group(**mine) if isinstance(group, type) else replace(group, **mine))
    passed = {k: left.pop(k) for k in list(left) if k in rest}
    check_options(where, left, [f.name for g in groups for f in fields(g)], also=sorted(rest))
    return (*out, passed) if rest else tuple(out)


def check_options(where: str, options: Collection[str], accepted: Collection[str], also: Collection[str] = ()) -> None:
    """Raise :class:`~workbench.errors.UnknownOption` (exit code 2) when ``options`` (names) holds one that is in
    neither ``accepted`` nor ``also``; the message names ``where``, the unknown names and what it accepts."""
    unknown = sorted(set(options) - set(accepted) - set(also))
    if unknown:
        raise UnknownOption(
            f"{where}() got unknown option(s) {', '.join(map(repr, unknown))}: it accepts "
            f"{', '.join(accepted)}" + (f" and {', '.join(also)}" if also else "")
        )
