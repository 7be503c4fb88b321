"""The install is lean: the core closure holds no fine-tuning, team or dev package, and each extra adds what it says.

Run as a script to print what the core and each extra weigh in this environment (installed files, MB), the
figures quoted in the README:  python tests/project/test_install.py
"""

from __future__ import annotations

import re
import sys
from importlib.metadata import PackageNotFoundError, distribution, distributions

from packaging.requirements import Requirement

try:
    import pytest
except ImportError:  # run as a script in a core-only venv: measure, no tests
    pytest = None

PROJECT = "llmops-workbench"
HEAVY = {
    "finetune": {"torch", "transformers", "peft", "accelerate"},
    "team": {"dask", "distributed", "psycopg2-binary"},
    "dev": {"pytest", "pytest-timeout", "hypothesis", "rouge-score"},
}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _installed() -> dict:
    return {_norm(d.metadata["Name"]): d for d in distributions()}


def closure(extras: set[str] = frozenset(), installed: dict | None = None) -> set[str]:
    """Installed distributions that ``pip install llmops-workbench[extras]`` needs (markers evaluated here)."""
    installed = installed if installed is not None else _installed()
    seen: set[str] = set()
    todo = [(_norm(PROJECT), set(extras))]
    while todo:
        name, want = todo.pop()
        if name in seen and not want:
            continue
        seen.add(name)
        dist = installed.get(name)
        if dist is None:
            continue
        for line in dist.requires or []:
            req = Requirement(line)
            env_ok = [e for e in want or {""} if req.marker is None or req.marker.evaluate({"extra": e})]
            if env_ok:
                todo.append((_norm(req.name), set(req.extras)))
    return seen


def size_mb(names: set[str], installed: dict | None = None) -> float:
    installed = installed if installed is not None else _installed()
    total = 0
    for n in names:
        d = installed.get(n)
        for f in (d.files or []) if d else []:
            try:
                total += f.locate().stat().st_size
            except OSError:
                pass
    return total / 1e6


def _project_installed() -> bool:
    try:
        distribution(PROJECT)
        return True
    except PackageNotFoundError:
        return False


def test_core_closure_has_no_extra_package():
    if not _project_installed():
        pytest.skip(f"{PROJECT} is not installed (pip install -e .)")
    core = closure()
    for extra, names in HEAVY.items():
        assert not core & names, f"the core pulls in {sorted(core & names)} of [{extra}]"
    assert {"mlflow", "papermill", "openai", "onnxruntime", "faiss-cpu"} <= core


def test_each_extra_adds_its_packages():
    if not _project_installed():
        pytest.skip(f"{PROJECT} is not installed (pip install -e .)")
    installed, core = _installed(), closure()
    for extra, names in HEAVY.items():
        present = {n for n in names if n in installed}
        if not present:
            continue  # that extra is not installed here (e.g. a core-only venv)
        added = closure({extra}, installed) - core
        assert present <= added, (extra, sorted(present - added))


if __name__ == "__main__":
    inst = _installed()
    core = closure(installed=inst)
    print(f"Python {sys.version.split()[0]}; installed files, MB")
    print(f"core            {size_mb(core, inst):7.0f}  ({len(core)} distributions)")
    for extra in ("finetune", "team", "dev"):
        added = {n for n in closure({extra}, inst) - core if n in inst}
        print(f"[{extra}] adds {size_mb(added, inst):7.0f}  ({', '.join(sorted(added)) or 'not installed here'})")


def test_finetune_skip_message_names_the_extra_and_the_fix(monkeypatch):
    from workbench.finetune import local_lora

    monkeypatch.setattr(local_lora, "EXTRA_MODULES", ("json", "wb_no_such_module"))
    line = local_lora.skip_message("03_finetune")
    assert line.startswith("03_finetune skipped: the [finetune] extra is not installed (wb_no_such_module missing)")
    assert "pip install" in line and "'.[finetune]'" in line and "\n" not in line
    monkeypatch.setattr(local_lora, "EXTRA_MODULES", ("json",))
    assert local_lora.skip_message() is None


def _has_finetune() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) for m in ("torch", "transformers", "peft"))


_core_only = (
    pytest.mark.skipif(
        _has_finetune(),
        reason="the [finetune] extra is installed here: the notebook trains instead (tests/lab/test_notebooks.py)",
    )
    if pytest
    else (lambda f: f)
)


@_core_only
def test_finetune_notebook_skips_on_the_core_install(tracking_store, tmp_path, monkeypatch):
    """On a core install (no [finetune]: e.g. `make test-py`) 03_finetune finishes, saying how to add the extra."""
    from pathlib import Path

    import workbench as wb

    monkeypatch.setenv("WORKBENCH_PROJECT_DIR", str(tmp_path))
    nb = Path(__file__).resolve().parents[2] / "notebooks" / "03_finetune.ipynb"
    r = wb.run_notebook(nb, parameters={"corpus": "", "eval_rows": 2}, output=tmp_path / "out.ipynb", progress=False)
    assert r.ok, r.error
    text = (tmp_path / "out.ipynb").read_text()
    assert "fine-tuning skipped: the [finetune] extra is not installed" in text and "pip install" in text
