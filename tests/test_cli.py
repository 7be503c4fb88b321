"""The `workbench` command: help, models, doctor, serve (foreground) with the plain openai client."""

import os
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


def run(*args, timeout=300, env=None):
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


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
    ds = Path(__file__).resolve().parents[1] / "datasets" / "contoso" / "redteam.jsonl"
    assert main(["eval", "--dataset", str(ds), "--model", "nosuch", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown endpoint 'nosuch'")


@pytest.mark.slow
def test_doctor_passes(local_server):
    out = run("doctor")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "chat round-trip" in out.stdout and "FAIL" not in out.stdout


@pytest.mark.slow
def test_serve_foreground_answers_openai_client(local_server):
    port = free_port()
    proc = subprocess.Popen([str(BIN), "serve", "--port", str(port), "--parallel", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not health(f"http://127.0.0.1:{port}"):
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.2)
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="none")
        r = client.chat.completions.create(model="smollm2", messages=[{"role": "user", "content": "Hi"}],
                                           max_tokens=6)
        assert r.choices[0].message.content
        text = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
            model="smollm2", messages=[{"role": "user", "content": "Hi"}], max_tokens=6, stream=True) if c.choices)
        assert text
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) is not None


@pytest.mark.slow
def test_demo_quick_runs_the_lifecycle(quick_demo):
    out = quick_demo.out  # one demo run, shared with tests/reliability/test_secrets.py
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    for step in ("01_explore", "02_rag", "03_finetune", "04_compare", "06_monitor"):
        assert f"== {step}" in out.stdout
    assert "comparison on the test split" in out.stdout and "rag_finetuned" in out.stdout
    assert "workbench ui" in out.stdout
