"""The architecture's rules, checked on the source (docs/architecture.md): no import circle between workbench
modules (module-level and function-level imports alike), no private name imported across modules, endpoint
behaviour only in the kinds' modules, config.py free of the LLM layer; and the lifecycle's promises:
every launcher's run gets launcher tags, a card and a secret scan, the card sees a dirty tree."""

from __future__ import annotations

import ast
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "workbench"
KIND_MODULES = {"workbench.llm.endpoints", "workbench.llm.local"}


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(imported module, imported names, line) of every import statement in ``path``, relative ones resolved."""
    mod = _module_name(path)
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(a.name, [], node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.append((target, [a.name for a in node.names], node.lineno))
    return out


def _graph() -> tuple[dict[str, set[str]], list[str]]:
    modules = {_module_name(p): p for p in PKG.rglob("*.py")}
    edges: dict[str, set[str]] = {m: set() for m in modules}
    private = []
    for mod, path in modules.items():
        for target, names, line in _imports(path):
            for name in names or [None]:
                full = f"{target}.{name}" if name else target
                dep = full if full in modules else target if target in modules else None
                if dep and dep != mod:
                    edges[mod].add(dep)
                if (
                    name
                    and name.startswith("_")
                    and not name.startswith("__")
                    and target in modules
                    and target != mod
                    and full not in modules
                ):
                    private.append(f"{path.relative_to(ROOT)}:{line}: imports private {target}.{name}")
    # a package's __init__ is not a dependency of its own submodules' imports of siblings
    return edges, private


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in edges:
        if v not in index:
            visit(v)
    return out


def _without_package_inits(edges):
    """Edges to a package's ``__init__`` from inside that package are how Python loads it, not a design choice:
    drop them, and drop an ``__init__``'s edges to its own submodules (re-exports)."""
    out = {}
    for mod, deps in edges.items():
        out[mod] = {d for d in deps if not (mod.startswith(d + ".") or d.startswith(mod + "."))}
    return out


def _layers() -> dict[str, int]:
    """Top-level module or package of ``workbench`` -> its layer, from the ```layers block of docs/architecture.md."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    block = re.search(r"```layers\n(.*?)```", text, re.S)
    assert block, "docs/architecture.md has no ```layers block"
    out = {}
    for line in block.group(1).strip().splitlines():
        level, _name, *modules = line.split()
        out.update({m: int(level) for m in modules})
    return out


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _upward_imports(edges: dict[str, set[str]], layers: dict[str, int]) -> list[str]:
    """Every import from a module to one in a higher layer, and every module the layer table does not place."""
    bad = sorted({f"{_top(m)} is in no layer of docs/architecture.md" for m in edges if _top(m) not in layers})
    for mod, deps in edges.items():
        for dep in deps:
            a, b = _top(mod), _top(dep)
            if a in layers and b in layers and layers[b] > layers[a]:
                bad.append(f"{mod} (layer {layers[a]}) imports {dep} (layer {layers[b]})")
    return sorted(bad)


def test_imports_run_down_the_layers_of_the_architecture_page():
    assert _upward_imports(_without_package_inits(_graph()[0]), _layers()) == []


def test_the_layer_check_catches_a_planted_upward_import():
    edges = _without_package_inits(_graph()[0])
    edges["workbench.procs"] = edges["workbench.procs"] | {"workbench.tracking"}
    edges["workbench.server"] = edges["workbench.server"] | {"workbench.evaluate.runner"}
    assert _upward_imports(edges, _layers()) == [
        "workbench.procs (layer 0) imports workbench.tracking (layer 2)",
        "workbench.server (layer 2) imports workbench.evaluate.runner (layer 4)",
    ]
    assert _upward_imports({"workbench.newthing": set()}, _layers()) == [
        "newthing is in no layer of docs/architecture.md"
    ]


def test_no_import_circle_between_modules():
    edges, _ = _graph()
    cycles = _cycles(_without_package_inits(edges))
    assert not cycles, "import circles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_no_private_name_imported_across_modules():
    _, private = _graph()
    assert not private, "\n".join(private)


def test_endpoint_behaviour_lives_in_the_kinds_modules():
    hits = []
    for path in PKG.rglob("*.py"):
        if _module_name(path) in KIND_MODULES:
            continue
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if 'kind == "' in line:
                hits.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()}")
    assert not hits, "kind branches outside the endpoint kinds:\n" + "\n".join(hits)


def test_config_imports_nothing_from_the_llm_layer():
    bad = [t for t, _, _ in _imports(PKG / "config.py") if t.startswith("workbench.llm")]
    assert not bad, bad


def test_a_new_endpoint_kind_is_one_registration(workbench_toml, monkeypatch):
    """A gateway with its own auth header: registered by name, used from workbench.toml, no other change."""
    import openai

    import workbench as wb
    from workbench.llm.endpoints import ENDPOINT_KINDS, EndpointKind, register_endpoint_kind

    class Gateway(EndpointKind):
        def client(self, ep, base_url):
            return openai.AsyncOpenAI(
                base_url=base_url, api_key="unused", max_retries=0, default_headers={"X-Gateway-Key": ep.api_key()}
            )

        def describe(self, ep):
            return f"gateway at {ep.base_url}"

    register_endpoint_kind("gateway", Gateway())
    try:
        monkeypatch.setenv("GW_KEY", "gw-secret-value")
        workbench_toml(
            '[endpoints.gw]\nkind = "gateway"\nbase_url = "http://127.0.0.1:9/v1"\n'
            'api_key_env = "GW_KEY"\nmodels = ["m"]\n'
        )
        from workbench.models import endpoint_table

        row = endpoint_table(check_health=False).set_index("endpoint").loc["gw"]
        assert row["base_url"] == "gateway at http://127.0.0.1:9/v1" and row["kind"] == "gateway"
        rec = wb.chat("hi", model="gw:m", cache="off", max_retries=0, timeout_s=5)
        assert rec.error == "connection"  # the gateway's client was used, and failed as an error record
        workbench_toml('[endpoints.bad]\nkind = "nosuchkind"\nbase_url = "http://127.0.0.1:9/v1"\n')
        with pytest.raises(wb.ConfigError, match="kind 'nosuchkind' unknown"):
            wb.chat("hi", model="bad:m", cache="off")
    finally:
        ENDPOINT_KINDS.pop("gateway", None)


def test_estimate_works_for_every_candidate_kind(tmp_path, project_dir):
    """One ``messages(row, contexts=None)`` signature: a dry run over a RAG candidate used to raise TypeError."""
    import workbench as wb
    from workbench import rag
    from workbench.evaluate import estimate

    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "tent.md").write_text("# Tent\n\nThe Alpine tent weighs 2.1 kg and has 2 poles.\n")
    idx, _ = rag.index_corpus(corpus, chunk_size=64, out_dir=tmp_path / "idx")
    ds = wb.load_dataset(_jsonl(tmp_path, [{"id": "q1", "question": "How heavy is the tent?", "reference": "2.1 kg"}]))
    pipe = rag.RAGPipeline(idx, "local", top_k=1)
    est = estimate(ds, [pipe, wb.PromptCandidate("local", system_prompt=None)])
    assert list(est["candidate"]) == [pipe.name, "local"] and (est["prompt_tokens"] > 0).all()
    assert "2.1 kg" in pipe.messages({"question": "How heavy is the tent?"})[-1]["content"]


def _jsonl(tmp_path: Path, rows: list[dict]) -> Path:
    import json

    p = tmp_path / "rows.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return p


# ------------------------------------------------------------------ the one run lifecycle


def _run(c: MlflowClient, run_id: str):
    return c.get_run(run_id)


def test_tracked_run_governs_and_terminates_success_and_failure(tracking_store, monkeypatch):
    from workbench import recovery
    from workbench.lifecycle import tracked_run

    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-" + "x" * 20)
    c = MlflowClient(tracking_store)
    with tracked_run("eval", "ok-run", "t-life", params={"note": "uses tok-" + "x" * 20}) as run:
        pass
    r = _run(c, run.run_id)
    assert r.info.status == "FINISHED" and r.data.tags["workbench.kind"] == "eval"
    assert r.data.tags[recovery.PID_TAG] == str(os.getpid()) and "workbench.user" in r.data.tags
    assert r.data.params["note"] == "uses ***"  # secret values scrubbed from params
    assert r.data.tags["workbench.secret_scan"].startswith("passed")
    arts = {a.path for a in c.list_artifacts(run.run_id, "governance")}
    assert arts == {"governance/card.md", "governance/card.html"}
    with pytest.raises(RuntimeError):
        with tracked_run("finetune", "bad-run", "t-life") as bad:
            raise RuntimeError("boom tok-" + "x" * 20)
    r = _run(c, bad.run_id)
    assert r.info.status == "FAILED" and r.data.tags["error"] == "RuntimeError: boom ***"
    assert {a.path for a in c.list_artifacts(bad.run_id, "governance")} == {
        "governance/card.md",
        "governance/card.html",
    }


def test_card_shows_a_dirty_tree(tracking_store, tmp_path):
    from workbench.lifecycle import tracked_run

    repo = tmp_path / "repo"
    repo.mkdir()

    def git(*a):
        return subprocess.run(
            ["git", "-c", "user.email=t@t", "-c", "user.name=t", *a], cwd=repo, check=True, capture_output=True
        )

    git("init", "-q")
    (repo / "nb.txt").write_text("one\n")
    git("add", ".")
    git("commit", "-qm", "first")
    (repo / "nb.txt").write_text("two\n")
    with tracked_run("notebook", "dirty", "t-dirty", source=repo / "nb.txt") as run:
        pass
    md = Path(
        MlflowClient(tracking_store).download_artifacts(run.run_id, "governance/card.md", str(tmp_path))
    ).read_text()
    assert "(uncommitted changes)" in md


def test_finetune_train_runs_get_a_card_and_a_secret_scan(tracking_store, monkeypatch, capsys, tmp_path):
    """``workbench finetune train`` goes through the lifecycle (the training itself is replaced: this checks
    the wiring; tests/finetune/test_finetune.py trains for real)."""
    from types import SimpleNamespace

    from workbench import cli
    from workbench.finetune import local_lora

    def fake_train(*a, run_id=None, **kw):
        return SimpleNamespace(model="local:ft-x", steps=1, train_s=0.1, losses=[1.0], peak_rss_mb=1.0)

    monkeypatch.setattr(local_lora, "train_lora", fake_train)
    monkeypatch.setattr(local_lora, "require_extra", lambda: None)  # the wiring, whether or not [finetune] is in
    train = tmp_path / "t.jsonl"
    train.write_text('{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}\n')
    assert cli.main(["finetune", "train", str(train), "--experiment", "t-ft", "--run-name", "ft"]) == 0
    c = MlflowClient(tracking_store)
    exp = c.get_experiment_by_name("t-ft")
    (r,) = c.search_runs([exp.experiment_id])
    assert r.info.status == "FINISHED" and r.data.tags["workbench.kind"] == "finetune"
    assert r.data.tags["workbench.secret_scan"].startswith("passed") and "workbench.launcher.pid" in r.data.tags


class _Blackhole:
    """A TCP server on 127.0.0.1 that accepts and never answers (an endpoint that hangs)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        deadline = time.monotonic() + 300
        self.sock.settimeout(1)
        while time.monotonic() < deadline:
            try:
                self.conns.append(self.sock.accept()[0])
            except OSError:
                if self.sock.fileno() < 0:
                    return

    def close(self):
        for c in self.conns:
            c.close()
        self.sock.close()


@pytest.mark.slow
def test_killed_workbench_eval_is_marked_killed_on_next_start(tracking_store, tmp_path, workbench_toml):
    from workbench import recovery

    hole = _Blackhole()
    try:
        workbench_toml(
            f'[endpoints.hang]\nbase_url = "http://127.0.0.1:{hole.port}/v1"\nmodels = ["m"]\ntimeout_s = 300\n'
        )
        data = _jsonl(tmp_path, [{"id": f"q{i}", "question": f"q{i}?", "reference": "a"} for i in range(3)])
        env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_store}
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "workbench"),
                "eval",
                "--dataset",
                str(data),
                "--model",
                "hang:m",
                "--experiment",
                "t-kill-eval",
                "--metrics",
                "quality/f1",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        c = MlflowClient(tracking_store)
        deadline = time.monotonic() + 120
        run = None
        while run is None:
            assert proc.poll() is None, proc.stdout.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the eval never created its run"
            exp = c.get_experiment_by_name("t-kill-eval")
            runs = c.search_runs([exp.experiment_id]) if exp else []
            run = runs[0] if runs and hole.conns else None
            time.sleep(0.2)
        assert run.info.status == "RUNNING" and run.data.tags["workbench.kind"] == "eval"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        assert c.get_run(run.info.run_id).info.status == "RUNNING"
        recovery.launch_tags(c)  # what the next start of any launcher does first
        after = c.get_run(run.info.run_id)
        assert after.info.status == "KILLED" and recovery.REASON_TAG in after.data.tags
    finally:
        hole.close()
