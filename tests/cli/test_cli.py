"""The `workbench` command: help, models, doctor, serve (foreground) with the plain openai client."""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import openai
import pytest

from workbench.cli import main
from workbench.procs import free_port, health

BIN = Path(sys.executable).parent / "workbench"


DATASETS = Path(__file__).resolve().parents[2] / "datasets" / "contoso"


def run(*args, timeout=300, env=None, cwd=None):
    return subprocess.run(
        [str(BIN), *args], capture_output=True, text=True, timeout=timeout, cwd=cwd, env={**os.environ, **(env or {})}
    )


def test_help_lists_commands():
    out = run("--help")
    assert out.returncode == 0
    for cmd in ("serve", "models", "doctor", "demo", "setup"):
        assert cmd in out.stdout
    mod = subprocess.run([sys.executable, "-m", "workbench", "serve", "--help"], capture_output=True, text=True)
    assert mod.returncode == 0 and "--parallel" in mod.stdout and "--lora" in mod.stdout


def test_models_lists_endpoints_never_keys(project_dir, capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-DO-NOT-PRINT-0123456789abcdef")
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{free_port()}/v1")  # unreachable, local only
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "local" in out and "openai" in out and "azure" in out
    assert "OPENAI_API_KEY set" in out and "AZURE_OPENAI_API_KEY missing" in out
    assert "DO-NOT-PRINT" not in out
    assert "unreachable" in out


def test_bad_model_gives_clean_cli_error(project_dir, capsys):
    ds = Path(__file__).resolve().parents[2] / "datasets" / "contoso" / "redteam.jsonl"
    assert main(["eval", "--dataset", str(ds), "--model", "nosuch", "--dry-run"]) == 4
    err = capsys.readouterr().err
    assert err.startswith("error: unknown endpoint 'nosuch'")


def test_help_documents_the_exit_codes_and_imports_nothing_heavy():
    out = run("--help")
    assert out.returncode == 0
    epilog = out.stdout.split("exit codes:", 1)[1]
    for code, word in (("0", "ok"), ("1", "failed"), ("2", "usage"), ("3", "budget"), ("4", "workbench error")):
        assert re.search(rf"^\s+{code}\s+.*{word}", epilog, re.M), (code, epilog)
    # `workbench --help` stays fast because building the parser loads no client library (timed in README)
    probe = (
        "import sys, workbench, workbench.cli; workbench.cli.build_parser(); workbench.ConfigError; "
        "print(sorted(m for m in ('openai', 'httpx', 'mlflow', 'pandas', 'numpy', 'papermill') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_public_names_still_resolve_lazily():
    import workbench as wb

    for name in wb.__all__:
        assert getattr(wb, name) is not None, name
    assert wb.chat is __import__("workbench.llm.client", fromlist=["chat"]).chat
    assert set(wb.__all__) <= set(dir(wb))
    with pytest.raises(AttributeError):
        wb.no_such_name  # noqa: B018 - the attribute access is what raises


def test_every_argument_and_subcommand_has_help():
    from workbench.cli import build_parser, subcommands

    parsers = dict(subcommands(build_parser()))
    assert {
        "run",
        "sweep",
        "finetune validate",
        "finetune train",
        "app serve",
        "tracking start",
        "tracking ui",
        "server start",
        "ui",
    } <= set(parsers)
    missing = [
        f"{name} {a.dest}"
        for name, sp in parsers.items()
        for a in sp._actions
        if not a.help and not isinstance(a, argparse._SubParsersAction)
    ]
    assert missing == []
    assert all(sp.description for sp in parsers.values()), [n for n, sp in parsers.items() if not sp.description]
    out = run("run", "--help").stdout
    assert "NOTEBOOK" in out and "--kernel" in out and "kernelspec" in out


def test_tracking_commands_and_their_old_spellings(project_dir, capsys):
    """`workbench tracking start|stop|ui` (issue 32); `workbench server start|stop` and `workbench ui` still work,
    with the same options and handler, after a one-line notice on stderr that names the new spelling."""
    from workbench.cli import build_parser

    p = build_parser()
    for new, old in ((["tracking", "start"], ["server", "start"]), (["tracking", "ui"], ["ui"])):
        a, b = p.parse_args([*new, "--port", "5123"]), p.parse_args([*old, "--port", "5123"])
        assert a.fn is b.fn and a.port == b.port == 5123 and not getattr(a, "renamed", None)
    assert main(["tracking", "stop"]) == 0
    out = capsys.readouterr()
    assert out.out == "no tracking server running\n" and out.err == ""
    assert main(["server", "stop"]) == 0
    old = capsys.readouterr()
    assert old.out == out.out
    assert old.err.splitlines() == [
        "note: `workbench server stop` is now `workbench tracking stop`; the old spelling will be removed"
    ]
    assert "tracking" in run("--help").stdout


def test_usage_errors_exit_2_workbench_errors_exit_4(tmp_path):
    env = {"WORKBENCH_PROJECT_DIR": str(tmp_path)}
    assert run("eval", env=env).returncode == 2  # argparse: required flags
    assert run("no-such-command", env=env).returncode == 2
    app = run("app", "serve", env=env)
    assert app.returncode == 2 and "exactly one of --config" in app.stderr
    assert run("finetune", "prepare", "--out", str(tmp_path / "ft"), env=env).returncode == 2
    missing = run("eval", "--dataset", str(tmp_path / "missing.jsonl"), "--model", "local", cwd=tmp_path, env=env)
    assert missing.returncode == 4 and "missing.jsonl: file not found" in missing.stderr
    bad_model = run("eval", "--dataset", str(DATASETS / "redteam.jsonl"), "--model", "nosuch", cwd=tmp_path, env=env)
    assert bad_model.returncode == 4 and "unknown endpoint 'nosuch'" in bad_model.stderr
    # validation comes before the run: nothing evaluated, so nothing written (no store, no FAILED run)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_failed_validation_exits_1(tmp_path):
    bad = tmp_path / "train.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n')
    out = run("finetune", "validate", str(bad), env={"WORKBENCH_PROJECT_DIR": str(tmp_path)})
    assert out.returncode == 1 and "no_assistant" in out.stdout


def test_monitor_once_exits_1_while_a_critical_rule_fires(tracking_store, tmp_path):
    """Cron acts on the exit code: 1 while a critical rule is firing (also when its cooldown mutes the
    notification), 0 when only lesser rules fire."""
    rules = (
        "experiment: app-idle\nnotify: [{jsonl: alerts.jsonl}]\nrules:\n"
        '  - {name: no-traffic, metric: request_rate, window: 60s, op: "<", threshold: 1, severity: %s}\n'
    )
    (tmp_path / "critical.yaml").write_text(rules % "critical")
    (tmp_path / "warning.yaml").write_text(rules % "warning")
    env = {"WORKBENCH_PROJECT_DIR": str(tmp_path)}
    first = run("monitor", "--rules", str(tmp_path / "critical.yaml"), "--once", env=env)
    assert first.returncode == 1, first.stdout + first.stderr
    assert "1 alert(s) fired" in first.stdout and "critical rule(s) firing: no-traffic" in first.stderr
    again = run("monitor", "--rules", str(tmp_path / "critical.yaml"), env=env)  # within the cooldown
    assert again.returncode == 1 and "0 alert(s) fired" in again.stdout
    warn = run("monitor", "--rules", str(tmp_path / "warning.yaml"), "--once", env=env)
    assert warn.returncode == 0 and "1 alert(s) fired" in warn.stdout


@pytest.mark.slow
def test_doctor_passes(local_server):
    out = run("doctor")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "chat round-trip" in out.stdout and "FAIL" not in out.stdout


@pytest.mark.slow
def test_serve_foreground_answers_openai_client(local_server):
    port = free_port()
    proc = subprocess.Popen(
        [str(BIN), "serve", "--port", str(port), "--parallel", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not health(f"http://127.0.0.1:{port}"):
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.2)
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="none")
        r = client.chat.completions.create(model="smollm2", messages=[{"role": "user", "content": "Hi"}], max_tokens=6)
        assert r.choices[0].message.content
        text = "".join(
            c.choices[0].delta.content or ""
            for c in client.chat.completions.create(
                model="smollm2", messages=[{"role": "user", "content": "Hi"}], max_tokens=6, stream=True
            )
            if c.choices
        )
        assert text
    finally:
        proc.send_signal(signal.SIGTERM)  # `kill <pid>`: the llama-server it started stops with it
        assert proc.wait(timeout=20) is not None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and health(f"http://127.0.0.1:{port}"):
        time.sleep(0.2)
    assert not health(f"http://127.0.0.1:{port}"), "llama-server left running after `workbench serve` was killed"


@pytest.mark.slow
def test_demo_quick_runs_the_lifecycle(quick_demo):
    out = quick_demo.out  # one demo run, shared with tests/reliability/test_secrets.py
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    for step in ("01_explore", "02_rag", "03_finetune", "04_compare", "06_monitor"):
        assert f"== {step}" in out.stdout
    assert "comparison on the test split" in out.stdout and "rag_finetuned" in out.stdout
    assert "workbench tracking ui" in out.stdout


def _notebook(path: Path, kernel: str | None, source: str = "print('hi')") -> Path:
    meta = {"kernelspec": {"display_name": kernel, "language": "python", "name": kernel}} if kernel else {}
    path.write_text(
        json.dumps(
            {
                "cells": [
                    {
                        "cell_type": "code",
                        "execution_count": None,
                        "id": "c1",
                        "metadata": {},
                        "outputs": [],
                        "source": [source],
                    }
                ],
                "metadata": meta,
                "nbformat": 4,
                "nbformat_minor": 5,
            }
        )
    )
    return path


def test_kernel_choice_is_checked_before_any_run(tmp_path):
    from workbench.errors import WorkbenchError
    from workbench.runs.notebook import kernel_name

    assert kernel_name(_notebook(tmp_path / "plain.ipynb", None)) == "python3"
    conda = _notebook(tmp_path / "conda.ipynb", "conda-env-nosuch-py")
    with pytest.raises(WorkbenchError, match="'conda-env-nosuch-py' \\(its kernelspec\\) is not installed"):
        kernel_name(conda)
    assert kernel_name(conda, "python3") == "python3"  # --kernel wins over the notebook's kernelspec
    out = run("run", str(conda), env={"WORKBENCH_PROJECT_DIR": str(tmp_path)}, cwd=tmp_path)
    assert out.returncode == 4 and "--kernel NAME" in out.stderr
    assert not (tmp_path / "mlflow.db").exists()  # no run was created


@pytest.mark.slow
def test_run_uses_the_notebooks_own_kernelspec(tracking_store, tmp_path):
    """Regression: the launcher forced kernel_name="python3" over a notebook's named kernel."""
    spec = tmp_path / "jupyter" / "kernels" / "wb-named"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "named",
                "language": "python",
                "env": {"WB_KERNEL_NAME": "wb-named"},
            }
        )
    )
    nb = _notebook(
        tmp_path / "named.ipynb",
        "wb-named",
        "import os\nopen('kernel.txt', 'w').write(os.environ.get('WB_KERNEL_NAME', 'default'))",
    )
    env = {"WORKBENCH_PROJECT_DIR": str(tmp_path), "JUPYTER_PATH": str(tmp_path / "jupyter")}
    out = run("run", str(nb), "-q", env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert (tmp_path / "kernel.txt").read_text() == "wb-named"
    out = run("run", str(nb), "-q", "--kernel", "python3", env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert (tmp_path / "kernel.txt").read_text() == "default"
