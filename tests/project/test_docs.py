"""The README is a front page (<= 15 KB) and every relative link in it and in docs/ resolves, anchors included."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {slug(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", page.read_text(), re.M)}


def links(page: Path) -> list[str]:
    """Targets of the page's links and images (code blocks and inline code are not links)."""
    out: list[str] = []

    def walk(tokens):
        for t in tokens:
            if t.type in ("link_open", "image"):
                out.append(t.attrs.get("href") or t.attrs.get("src"))
            if t.children:
                walk(t.children)

    walk(MarkdownIt("commonmark").enable("table").parse(page.read_text()))
    return out


def broken(page: Path) -> list[str]:
    bad = []
    for target in links(page):
        if re.match(r"^[a-z]+:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            bad.append(f"{target} (no file {dest.relative_to(ROOT) if ROOT in dest.parents else dest})")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            bad.append(f"{target} (no heading #{anchor} in {dest.name})")
    return bad


def test_readme_is_a_front_page():
    size = len((ROOT / "README.md").read_bytes())
    assert size <= 15 * 1024, f"README.md is {size} bytes: move reference material into docs/"
    text = (ROOT / "README.md").read_text()
    assert "make demo" in text and "make test" in text


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(page):
    assert broken(page) == []


def test_the_link_check_catches_a_broken_link(tmp_path):
    page = tmp_path / "p.md"
    (tmp_path / "there.md").write_text("# A heading\n")
    page.write_text("[ok](there.md#a-heading) [gone](missing.md) [anchor](there.md#nope) `[code](x.md)`\n")
    assert broken(page) == [
        "missing.md (no file " + str(tmp_path / "missing.md") + ")",
        "there.md#nope (no heading #nope in there.md)",
    ]


@pytest.mark.skipif(
    sys.version_info[:2] != (3, 11),
    reason="argparse's help layout differs between Python versions; the reference is made on 3.11",
)
def test_cli_reference_is_generated_from_the_parser():
    sys.path.insert(0, str(ROOT / "tools"))
    import cli_reference

    assert (ROOT / "docs" / "cli-reference.md").read_text(encoding="utf-8") == cli_reference.render(), (
        "docs/cli-reference.md is stale: run `python tools/cli_reference.py`"
    )


def test_benchmark_figures_are_generated_from_the_result_files(tmp_path, monkeypatch):
    """docs/benchmarks.md's generated table equals what tools/bench_tables.py renders from benchmarks/results; a
    changed result file makes it stale."""
    import json
    import shutil

    sys.path.insert(0, str(ROOT / "tools"))
    import bench_tables

    assert bench_tables.main(["--check"]) == 0, "docs/benchmarks.md is stale: run `python tools/bench_tables.py`"
    results = tmp_path / "results"
    shutil.copytree(ROOT / "benchmarks" / "results", results)
    demo = json.loads((results / "demo.json").read_text())
    demo["results"]["median"]["quiet"]["make_demo_s"] += 1
    (results / "demo.json").write_text(json.dumps(demo))
    monkeypatch.setattr(bench_tables, "RESULTS", results)
    assert bench_tables.main(["--check"]) == 1
