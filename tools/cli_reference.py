"""Write docs/cli-reference.md from the argparse parser of ``workbench`` (``python tools/cli_reference.py``).

``tests/project/test_docs.py`` fails when the file differs from what this prints, so the reference cannot drift from the code.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "cli-reference.md"
HEADER = (
    "# CLI reference\n\nGenerated from the argparse parser by `python tools/cli_reference.py`; "
    "do not edit by hand (a test compares it with the parser). The overview and exit codes are in "
    "[commands.md](commands.md).\n"
)


def _subparsers(parser: argparse.ArgumentParser):
    """(name, subparser) pairs of ``parser``'s sub-commands, in the order they were added (aliases once)."""
    for action in parser._actions:  # argparse keeps sub-commands only here
        if isinstance(action, argparse._SubParsersAction):
            seen = set()
            for name, sub in action.choices.items():
                if id(sub) not in seen:
                    seen.add(id(sub))
                    yield name, sub


def _sections(parser: argparse.ArgumentParser, path: str):
    yield path, parser.format_help()
    for name, sub in _subparsers(parser):
        yield from _sections(sub, f"{path} {name}")


def render() -> str:
    """The whole reference as Markdown: one section per command, its ``--help`` text verbatim."""
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal: fix it so the file is the same everywhere
    sys.path.insert(0, str(ROOT))
    from workbench.cli import build_parser

    parts = [HEADER]
    for path, text in _sections(build_parser(), "workbench"):
        parts.append(f"\n## `{path}`\n\n```text\n{text.rstrip()}\n```\n")
    return "".join(parts)


if __name__ == "__main__":
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")
