"""tools/envcache.py: a new venv seeded from a cached environment by hard links, its console scripts rewritten.

Built on a synthetic cached environment (a real ``python -m venv`` with a module and a console script written into
it), so no package index is needed; ``make demo`` from a fresh clone exercises the pip half (benchmarks/bench_demo.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import envcache  # noqa: E402

PURELIB = f"lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages"


def _fake_env(env: Path) -> None:
    """A complete cached environment: a venv holding ``wbcached`` and a ``wbcached-hello`` console script."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    (env / PURELIB / "wbcached.py").write_text("VALUE = 42\n")
    script = env / "bin" / "wbcached-hello"
    script.write_text(f"#!{env / 'bin' / 'python'}\nimport sys, wbcached\nprint(wbcached.VALUE, sys.prefix)\n")
    script.chmod(0o755)
    (env / "share" / "jupyter").mkdir(parents=True)
    (env / "share" / "jupyter" / "kernel.json").write_text("{}")
    (env / envcache.COMPLETE).write_text(json.dumps({"bin_python": str(env / "bin" / "python")}))


def test_seeded_venv_imports_the_cached_files_through_hard_links(tmp_path: Path) -> None:
    env, venv = tmp_path / "cache" / "envs" / "k", tmp_path / "proj" / ".venv"
    _fake_env(env)
    envcache.seed(venv, env)
    python = venv / "bin" / "python"
    out = subprocess.run([str(venv / "bin" / "wbcached-hello")], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["42", str(venv)], "the console script must run on the new venv's interpreter"
    assert (venv / "bin" / "wbcached-hello").read_text().splitlines()[0] == f"#!{python}"
    cached, linked = env / PURELIB / "wbcached.py", venv / PURELIB / "wbcached.py"
    assert os.stat(cached).st_ino == os.stat(linked).st_ino, "installed files are hard links, not copies"
    assert (venv / "share" / "jupyter" / "kernel.json").exists()
    linked.unlink()  # what pip's uninstall or upgrade does in the new venv: the cached file stays
    assert cached.read_text() == "VALUE = 42\n"


def test_create_builds_once_then_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))
    built: list[Path] = []
    monkeypatch.setattr(envcache, "build", lambda env, extras: (built.append(env), _fake_env(env)))
    first = envcache.create(tmp_path / "a" / ".venv", "finetune")
    second = envcache.create(tmp_path / "b" / ".venv", "finetune")
    assert first == second and built == [first], "the second venv must reuse the environment the first built"
    assert (tmp_path / "b" / ".venv" / PURELIB / "wbcached.py").exists()
    other = envcache.create(tmp_path / "c" / ".venv", "dev,finetune")
    assert other != first and len(built) == 2, "other extras are another environment"


def test_an_interrupted_build_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))
    env = envcache.cache_root() / envcache.env_key("")
    env.mkdir(parents=True)  # a build killed half-way: no .complete
    built: list[Path] = []
    monkeypatch.setattr(envcache, "build", lambda e, extras: (built.append(e), _fake_env(e)))
    envcache.create(tmp_path / "v", "")
    assert built == [env]


def test_key_follows_the_pins_and_the_extras(tmp_path: Path) -> None:
    for name in ("pyproject.toml", "constraints.txt"):
        (tmp_path / name).write_bytes((ROOT / name).read_bytes())
    key = envcache.env_key("finetune", tmp_path)
    assert envcache.env_key("finetune", tmp_path) == key
    assert envcache.env_key("finetune,dev", tmp_path) != key
    assert envcache.env_key("dev,finetune", tmp_path) == envcache.env_key("finetune,dev", tmp_path)
    (tmp_path / "constraints.txt").write_text((ROOT / "constraints.txt").read_text() + "zzz-extra-pin==1.0\n")
    assert envcache.env_key("finetune", tmp_path) != key, "a changed pin must build a new environment"


def test_prune_keeps_the_most_recently_used(tmp_path: Path) -> None:
    root = tmp_path / "envs"
    for i in range(6):
        (root / f"e{i}").mkdir(parents=True)
        (root / f"e{i}" / envcache.COMPLETE).write_text("{}")
        os.utime(root / f"e{i}" / envcache.COMPLETE, (1000 + i, 1000 + i))
    envcache.prune(root, keep=4)
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == ["e2", "e3", "e4", "e5"]


def test_cache_off_is_a_plain_venv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_ENV_CACHE", "0")
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))
    assert envcache.create(tmp_path / "v", "finetune") is None
    assert (tmp_path / "v" / "bin" / "python").exists() and not (tmp_path / "cache").exists()


def test_cache_reached_through_a_link_still_rewrites_the_scripts(tmp_path: Path) -> None:
    env = tmp_path / "user-cache" / "envs" / "k"
    _fake_env(env)
    (tmp_path / "round-cache").mkdir()
    (tmp_path / "round-cache" / "envs").symlink_to(env.parent)  # as bench_demo.py's per-round cache folders
    venv = tmp_path / "v"
    envcache.seed(venv, tmp_path / "round-cache" / "envs" / "k")
    assert (venv / "bin" / "wbcached-hello").read_text().splitlines()[0] == f"#!{venv / 'bin' / 'python'}"


def test_an_unusable_cache_falls_back_to_a_plain_venv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(envcache, "build", lambda env, extras: _fake_env(env))

    def broken_seed(venv: Path, env: Path) -> None:
        (venv / "lib").mkdir(parents=True)  # half-made, then the disk fills
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(envcache, "seed", broken_seed)
    venv = tmp_path / "v"
    assert envcache.create(venv, "") is None
    assert (venv / "bin" / "python").exists() and not (venv / PURELIB / "wbcached.py").exists()


def test_a_venv_linked_to_the_current_environment_installs_only_the_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A venv created from the cache of the current key gets ``pip install --no-deps --no-build-isolation -e``;
    one whose pins changed since, or one made without the cache, gets the full pinned install; a failing
    project-only install falls back to the full one."""
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(envcache, "build", lambda env, extras: _fake_env(env))
    calls: list[tuple[str, ...]] = []
    fail_fast = []

    def pip(venv: Path, *args: str) -> None:
        calls.append(args)
        if fail_fast and "--no-deps" in args:
            raise subprocess.CalledProcessError(1, "pip")

    monkeypatch.setattr(envcache, "pip", pip)
    venv = tmp_path / "proj" / ".venv"
    envcache.create(venv, "finetune")
    assert envcache.install_project(venv, "finetune") is False, "no setuptools in the venv: no build backend"
    (venv / PURELIB / "setuptools").mkdir(parents=True)
    (venv / PURELIB / "setuptools" / "__init__.py").write_text("")
    assert envcache.install_project(venv, "finetune") is True
    assert calls[-1][:3] == ("install", "--no-deps", "--no-build-isolation")
    assert envcache.install_project(venv, "dev,finetune") is False, "another key: the venv lacks the other extras"
    assert calls[-1][:2] == ("install", "-c") and calls[-1][-1].endswith("[dev,finetune]")
    fail_fast.append(True)
    assert envcache.install_project(venv, "finetune") is False
    assert calls[-1][:2] == ("install", "-c")
    (venv / envcache.KEY_FILE).unlink()  # a venv made without the cache
    fail_fast.clear()
    assert envcache.install_project(venv, "finetune") is False
