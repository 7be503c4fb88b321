"""Scenario 6 — secrets: the full demo (`workbench demo --quick`, shared with tests/cli/test_cli.py) runs with a fake
API key in its environment; the key appears nowhere it wrote: mlflow.db, mlartifacts/, the executed notebooks, the
response and embedding caches (all under the project dir), the user cache dir, and the demo's own output."""

import os
from pathlib import Path

import pytest

from workbench.config import cache_dir

CHUNK = 8 << 20


def files_holding(root: Path, needle: bytes) -> tuple[list[Path], int, int]:
    """(files containing ``needle``, files scanned, bytes scanned) — every file, binary ones included."""
    hits, n, size = [], 0, 0
    for dirpath, _, names in os.walk(root):
        for name in names:
            p = Path(dirpath) / name
            if p.is_symlink() or not p.is_file():
                continue
            n += 1
            tail = b""
            with open(p, "rb") as f:
                while chunk := f.read(CHUNK):
                    size += len(chunk)
                    if needle in tail + chunk:
                        hits.append(p)
                        break
                    tail = chunk[-len(needle) :]
    return hits, n, size


def test_scanner_finds_a_planted_key(tmp_path):
    key = b"sk-test-planted"
    (tmp_path / "a.bin").write_bytes(os.urandom(CHUNK - 5) + key + os.urandom(100))  # across a chunk boundary
    (tmp_path / "b.txt").write_text("nothing")
    assert files_holding(tmp_path, key)[0] == [tmp_path / "a.bin"]


@pytest.mark.slow
def test_demo_leaves_no_trace_of_the_api_key(quick_demo):
    out = quick_demo.out
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    key = quick_demo.key.encode()
    project = quick_demo.project
    wrote = {p.name for p in project.iterdir()}
    assert {"mlflow.db", "mlartifacts", ".workbench"} <= wrote, wrote
    assert list(project.glob(".workbench/runs/*/*.ipynb")), "no executed notebooks to scan"
    hits, n, size = files_holding(project, key)
    assert hits == [], hits
    user_hits, un, usize = files_holding(cache_dir(), key)
    assert user_hits == [], user_hits
    assert quick_demo.key not in out.stdout + out.stderr
    print(
        f"\nRELIABILITY scenario6: fake key {quick_demo.key[:10]}... set for the whole demo; scanned {n} files "
        f"({size / 1e6:.0f} MB) in the project (mlflow.db, mlartifacts/, executed notebooks, caches) and {un} "
        f"files ({usize / 1e6:.0f} MB) in the user cache: 0 hits"
    )
