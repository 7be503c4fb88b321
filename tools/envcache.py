"""Create a project venv from a cached dependency environment (``make demo`` / ``make test`` set-up).

    python3.11 tools/envcache.py .venv --extras finetune

Installing the pinned stack into a fresh venv unpacks about 75,000 files (2.7 GB with the test extras; torch is most
of it) even from pip's wheel cache: 155 s of a fresh clone's ``make demo`` on the 2-core dev machine
(``benchmarks/results/demo.json``). So the first set-up for a given interpreter, ``constraints.txt``, dependency
lists and extras installs the dependencies once, with pip, into
``$WORKBENCH_CACHE_DIR/envs/<key>`` (default ``~/.cache/llmops-workbench/envs``); every later venv for the same key
is a new ``python -m venv`` whose files are **hard links** to that environment's (a copy where the cache is on
another file system), its console scripts rewritten to the new interpreter, and the key written to the venv's
``.envcache-key``. ``--install-project`` then installs the project itself, editable: into a venv linked to the
environment of the current key with ``--no-deps --no-build-isolation`` (every dependency is there already; 2.3 s
against 13.9 s for the full ``pip install -c constraints.txt -e ".[extras]"``, which resolves every pin again and
builds an isolated setuptools environment: a fresh clone's warm ``make demo`` set-up, 2026-12-05), otherwise with
that full install (a venv made without the cache, or one whose pins changed since).

Hard links are safe here because pip and Python never write an installed file in place: an upgrade or uninstall in
the new venv unlinks its names and writes new files, so the cached environment is unchanged. The key is a sha256 of
the interpreter (path and version), ``constraints.txt``, the ``[project]`` dependency tables of ``pyproject.toml``
and the extras, so a changed pin builds a new environment; the least recently used are removed beyond
``KEEP`` environments. ``WORKBENCH_ENV_CACHE=0`` turns the cache off (a plain ``python -m venv``).

Standard library only: it runs on the interpreter that creates the venv, before anything is installed.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEEP = 4  # cached environments kept (least recently used removed beyond that)
COMPLETE = ".complete"  # written last: an environment without it was interrupted and is rebuilt
KEY_FILE = ".envcache-key"  # in a venv seeded from the cache: the key of the environment it holds
LOCK_TIMEOUT_S = 1800  # another set-up building the same environment (a cold pip install takes minutes)


def cache_root() -> Path:
    """``$WORKBENCH_CACHE_DIR/envs``, else ``$XDG_CACHE_HOME/llmops-workbench/envs`` (as ``workbench.config``)."""
    override = os.environ.get("WORKBENCH_CACHE_DIR")
    base = (
        Path(override)
        if override
        else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "llmops-workbench"
    )
    return base.expanduser().resolve() / "envs"


def env_key(extras: str, root: Path = ROOT) -> str:
    """What the cached environment depends on, hashed: this interpreter, the pins, the dependency lists, the extras."""
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    parts = {
        "python": [os.path.realpath(sys.executable), sys.version, platform.machine()],
        "constraints": (root / "constraints.txt").read_text(),
        "dependencies": project.get("dependencies", []),
        "optional": project.get("optional-dependencies", {}),
        "extras": sorted(e for e in extras.split(",") if e),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive ``fcntl`` lock on ``path`` (two ``make`` runs building the same environment), bounded in time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        deadline = time.monotonic() + LOCK_TIMEOUT_S
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    sys.exit(f"envcache: {path} is still locked after {LOCK_TIMEOUT_S} s (another set-up?)")
                time.sleep(1)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def pip(venv: Path, *args: str) -> None:
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "-q", "--disable-pip-version-check", *args], check=True)


def build(env: Path, extras: str, root: Path = ROOT) -> None:
    """Install the project's dependencies (not the project) with ``extras`` into a new venv at ``env``."""
    if env.exists():
        shutil.rmtree(env)  # an interrupted build
    print(f"envcache: installing the pinned stack once into {env} (later venvs link to it)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True)
    spec = f"{root}[{extras}]" if extras else str(root)
    pip(env, "install", "-c", str(root / "constraints.txt"), "-e", spec)
    pip(env, "uninstall", "-y", "llmops-workbench")  # the project is each venv's own (editable) install
    record = {"extras": extras, "python": sys.version, "built": time.time(), "bin_python": str(env / "bin" / "python")}
    (env / COMPLETE).write_text(json.dumps(record))


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another file system, or links not allowed: a copy
        shutil.copy2(src, dst)


def _built_python(env: Path) -> str:
    """The interpreter path ``env``'s console scripts were written with: its path when it was built (it may be
    reached through a link now, as in benchmarks/bench_demo.py's per-round cache folders)."""
    try:
        return json.loads((env / COMPLETE).read_text())["bin_python"]
    except (OSError, ValueError, KeyError):
        return str(env / "bin" / "python")


def seed(venv: Path, env: Path) -> None:
    """A new venv at ``venv`` holding ``env``'s installed files (hard links) and console scripts (rewritten)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    for sub in ("lib", "include", "share", "etc"):
        if (env / sub).is_dir():
            shutil.copytree(env / sub, venv / sub, symlinks=True, copy_function=_link_or_copy, dirs_exist_ok=True)
    old, new = _built_python(env).encode(), str(venv.absolute() / "bin" / "python").encode()
    for script in (env / "bin").iterdir():
        target = venv / "bin" / script.name
        if target.exists() or target.is_symlink() or script.is_symlink() or not script.is_file():
            continue  # the interpreter links and activate scripts are the new venv's own
        data = script.read_bytes()
        head, sep, rest = data.partition(b"\n")
        if old in head or (head.startswith(b"#!/bin/sh") and old in rest[:400]):
            data = data.replace(old, new, 1) if old in head else head + sep + rest.replace(old, new, 1)
        target.write_bytes(data)
        target.chmod(script.stat().st_mode)


def prune(root: Path, keep: int = KEEP) -> None:
    """Remove the least recently used complete environments beyond ``keep`` (venvs linked to them keep their files)."""
    envs = sorted((p for p in root.iterdir() if (p / COMPLETE).exists()), key=lambda p: (p / COMPLETE).stat().st_mtime)
    for old in envs[: max(0, len(envs) - keep)]:
        with locked(root / f"{old.name}.lock"):
            shutil.rmtree(old, ignore_errors=True)


def create(venv: Path, extras: str) -> Path | None:
    """Create ``venv`` from the cached environment for ``extras`` (built first if missing); returns that
    environment, or ``None`` when the cache is off (then a plain venv is created)."""
    if os.environ.get("WORKBENCH_ENV_CACHE", "1") == "0":
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        return None
    root = cache_root()
    env = root / env_key(extras)
    try:
        with locked(root / f"{env.name}.lock"):
            if not (env / COMPLETE).exists():
                build(env, extras)
            t0 = time.monotonic()
            seed(venv, env)
            os.utime(env / COMPLETE)  # used: kept by prune()
    except OSError as e:  # the cache cannot be written or read (read-only home, full disk): a plain venv
        print(f"envcache: the environment cache {root} is not usable ({e}); creating a plain venv", flush=True)
        shutil.rmtree(venv, ignore_errors=True)  # only what seed() made: main() checked that venv did not exist
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        return None
    (venv / KEY_FILE).write_text(env.name)
    print(f"envcache: {venv} linked to {env} in {time.monotonic() - t0:.1f} s", flush=True)
    with contextlib.suppress(OSError):
        prune(root)
    return env


def install_project(venv: Path, extras: str, root: Path = ROOT) -> bool:
    """Install the project, editable, into ``venv``; True when only the project was installed. A venv whose
    :data:`KEY_FILE` names the environment of the current key holds every pinned dependency: pip installs the
    project alone (``--no-deps --no-build-isolation``, with the venv's setuptools; the full install again if that
    fails). Any other venv, or one without setuptools, gets the full pinned install."""
    key = venv / KEY_FILE
    # --no-build-isolation builds with the venv's own setuptools (Python 3.12+ venvs have none unless a pin brings it)
    has_backend = any(venv.glob("lib/python*/site-packages/setuptools/__init__.py"))
    if has_backend and key.is_file() and key.read_text().strip() == env_key(extras, root):
        try:
            pip(venv, "install", "--no-deps", "--no-build-isolation", "-e", str(root))
            return True
        except subprocess.CalledProcessError:
            print("envcache: installing the project alone failed; installing it with its pins", flush=True)
    pip(venv, "install", "-c", str(root / "constraints.txt"), "-e", f"{root}[{extras}]" if extras else str(root))
    return False


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("venv", type=Path, help="the venv to create (must not exist, unless --install-project)")
    ap.add_argument("--extras", default="", help="the pip extras the cached environment holds, e.g. dev,finetune")
    ap.add_argument(
        "--install-project", action="store_true", help="then install the project (editable); an existing venv is kept"
    )
    a = ap.parse_args(argv)
    if a.install_project:
        if not (a.venv / "bin" / "python").exists():
            main([str(a.venv), "--extras", a.extras])
        install_project(a.venv, a.extras)
        return
    if (a.venv / "bin" / "python").exists():
        sys.exit(f"envcache: {a.venv} is a venv already")
    if a.venv.exists():  # a half-made venv from before: completed in place, as `python -m venv` does
        print(f"envcache: {a.venv} exists without an interpreter; creating it in place without the cache")
        subprocess.run([sys.executable, "-m", "venv", str(a.venv)], check=True)
        return
    create(a.venv, a.extras)


if __name__ == "__main__":
    main()
