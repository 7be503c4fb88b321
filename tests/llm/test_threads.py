"""The embedded server's thread rule, its settings, the doctor's busy-machine warning, the load tags and the demo's
step-timing line."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.cli import build_parser
from workbench.doctor import machine_load
from workbench.errors import ConfigError
from workbench.llm.local import ServerOptions, start_server
from workbench.llm.threads import (
    Machine,
    choose_threads,
    load_tags,
    machine,
    physical_cores,
    plan_replicas,
    plan_threads,
)


def m(physical, allowed=None, logical=None, load1=0.1):
    allowed = allowed or physical
    return Machine(logical=logical or allowed, allowed=allowed, physical=physical, load1=load1)


@pytest.mark.parametrize(
    "machine_, want",
    [
        (m(1), 1),
        (m(2), 1),
        (m(3), 1),
        (m(4), 2),
        (m(8, 16), 4),
        (m(16), 8),
        (m(64), 8),
        (m(2, allowed=2, logical=64), 1),  # a container limited to 2 CPUs of a big host
    ],
)
def test_rule_leaves_cores_for_other_work(machine_, want):
    assert choose_threads(machine_) == want


def test_replicas_fill_the_free_core_only_with_one_thread_servers(workbench_toml, monkeypatch):
    """2 one-thread servers on 2 or 3 cores; one server where the rule gives it several threads (a server of 2
    threads beside another collapses like one beside a busy neighbour); the setting and the variable override."""
    for var in ("WORKBENCH_LOCAL_REPLICAS", "WORKBENCH_LOCAL_THREADS"):
        monkeypatch.delenv(var, raising=False)
    workbench_toml("")
    assert [plan_replicas(x) for x in (m(1), m(2), m(3), m(4), m(8, 16))] == [1, 2, 2, 1, 1]
    workbench_toml("[local]\nthreads = 2\n")
    assert plan_replicas(m(2)) == 1
    workbench_toml("[local]\nreplicas = 3\n")
    assert plan_replicas(m(4)) == 3
    monkeypatch.setenv("WORKBENCH_LOCAL_REPLICAS", "0")
    assert plan_replicas(m(2)) == 1
    monkeypatch.setenv("WORKBENCH_LOCAL_REPLICAS", "two")
    with pytest.raises(ConfigError, match="WORKBENCH_LOCAL_REPLICAS must be a whole number"):
        plan_replicas(m(2))


def test_physical_cores_counts_this_machine():
    here = machine()
    assert 1 <= here.physical <= here.allowed <= here.logical
    assert physical_cores([0]) == 1


def test_plan_argument_setting_env_and_default(workbench_toml, monkeypatch):
    monkeypatch.delenv("WORKBENCH_LOCAL_THREADS", raising=False)
    four = m(8)
    workbench_toml("")
    p = plan_threads(m=four)
    assert (p.threads, p.threads_batch, p.source) == (4, 4, "rule")
    assert p.args() == ["-t", "4", "--threads-batch", "4"]
    workbench_toml("[local]\nthreads = 3\n")
    assert plan_threads(m=four).args() == ["-t", "3", "--threads-batch", "3"]
    assert plan_threads(m=four).source == "setting"
    assert plan_threads(2, m=four).args() == ["-t", "2", "--threads-batch", "2"]  # the argument wins
    monkeypatch.setenv("WORKBENCH_LOCAL_THREADS", "5")
    assert plan_threads(m=four).threads == 5
    monkeypatch.setenv("WORKBENCH_LOCAL_THREADS", "0")
    assert plan_threads(m=four).args() == []  # llama.cpp's own default
    assert "default" in plan_threads(m=four).describe()


@pytest.mark.parametrize("bad", ['"many"', "-1", "true", "2.5"])
def test_bad_thread_setting_names_the_setting(workbench_toml, monkeypatch, bad):
    monkeypatch.delenv("WORKBENCH_LOCAL_THREADS", raising=False)
    workbench_toml(f"[privacy]\nredact_pii = false\n\n[local]\nthreads = {bad}\n")
    with pytest.raises(ConfigError, match=r"workbench.toml:5: \[local\] threads must be a whole number"):
        plan_threads(m=m(2))


def test_server_command_line_uses_the_rule(workbench_toml, monkeypatch, tmp_path):
    monkeypatch.delenv("WORKBENCH_LOCAL_THREADS", raising=False)
    workbench_toml("")
    n = choose_threads()
    args = ServerOptions().args(tmp_path / "m.gguf", 1234)
    assert args[args.index("-t") + 1] == str(n) and args[args.index("--threads-batch") + 1] == str(n)
    assert "-t" not in ServerOptions(threads=0).args(tmp_path / "m.gguf", 1234)
    assert ServerOptions(threads=3).args(tmp_path / "m.gguf", 1234).count("3") >= 2


def test_serve_has_a_threads_flag():
    assert build_parser().parse_args(["serve", "--threads", "3"]).threads == 3
    assert build_parser().parse_args(["serve"]).threads is None
    out = subprocess.run(
        [sys.executable, "-m", "workbench", "serve", "--help"], capture_output=True, text=True, check=True
    )
    assert "--threads" in out.stdout


def test_doctor_warns_on_a_busy_machine():
    busy = machine_load(m(2, load1=5.0))
    assert busy.ok and busy.warning
    assert "5.00 > 2 CPUs" in busy.detail and "latency" in busy.detail and "similar load" in busy.detail
    assert "threads" in busy.fix
    quiet = machine_load(m(2, load1=0.5))
    assert quiet.ok and not quiet.warning and "1 generation / 1 batch threads" in quiet.detail
    assert not machine_load(Machine(2, 2, 2, None)).warning


def test_load_tags():
    tags = load_tags("workbench.load.start")
    assert tags["workbench.load.start.cpus"] == str(machine().allowed)
    assert re.fullmatch(r"\d+\.\d\d", tags["workbench.load.start.load1"])
    assert tags["workbench.load.start.busy"] in ("true", "false")


@pytest.mark.slow
def test_started_server_runs_with_the_rules_threads(project_dir, workbench_toml, monkeypatch):
    """llama-server logs its generation thread count at start: the rule's, not llama.cpp's one per core."""
    monkeypatch.delenv("WORKBENCH_LOCAL_THREADS", raising=False)
    workbench_toml("")
    found = {}
    for threads in (None, 0):
        h = start_server(ServerOptions(parallel=1, ctx=512, threads=threads))
        try:
            cmdline = Path(f"/proc/{h.pid}/cmdline").read_bytes().split(b"\0")
            found[threads] = (re.findall(r"threadpool init, n_threads = (\d+)", Path(h.log_path).read_text()), cmdline)
        finally:
            h.stop()
    n = choose_threads()
    assert found[None][0] == [str(n)], found
    assert (
        b"--threads-batch" in found[None][1]
        and found[None][1][found[None][1].index(b"--threads-batch") + 1] == str(n).encode()
    )
    assert found[0][0] == [str(physical_cores(list(range(os.cpu_count()))))]  # llama.cpp: one per physical core


def test_server_key_changes_with_the_thread_plan(workbench_toml, monkeypatch):
    """A server started with other threads (older code or another setting) must not be reused."""
    monkeypatch.delenv("WORKBENCH_LOCAL_THREADS", raising=False)
    workbench_toml("")
    rule = ServerOptions().key()
    workbench_toml(f"[local]\nthreads = {choose_threads() + 1}\n")
    assert ServerOptions().key() != rule
    assert ServerOptions(threads=0).key() != rule


def test_demo_ends_with_one_line_of_step_timings(monkeypatch, tmp_path):
    """The demo's last lines say how long each step took and how busy the machine was (notebooks faked)."""
    from types import SimpleNamespace

    import pandas as pd

    from workbench import demo, tracking
    from workbench.runs import notebook

    (tmp_path / "rec.md").write_text("recommendation")
    monkeypatch.setattr(
        notebook,
        "run_notebook",
        lambda path, **kw: SimpleNamespace(
            run_id=path.stem, ok=True, status="FINISHED", traceback=None, error=None, output_html=None
        ),
    )
    fake = SimpleNamespace(
        get_run=lambda rid: SimpleNamespace(data=SimpleNamespace(tags={})),
        download_artifacts=lambda rid, name: str(tmp_path / "rec.md"),
    )
    monkeypatch.setattr(tracking, "client", lambda: fake)
    monkeypatch.setattr(tracking, "load_table", lambda rid, name: pd.DataFrame({"candidate": ["base"]}))
    monkeypatch.setattr(tracking, "tracking_uri", lambda: "sqlite:///x.db")
    lines = []
    out = demo.run_demo(echo=lines.append)
    summary = [ln for ln in lines if ln.startswith("\nsteps: ")]
    from workbench.finetune.local_lora import skip_message

    skipped = {"03_finetune"} if skip_message("03_finetune") else set()  # no local training stack (Python 3.13)
    assert len(summary) == 1 and set(out["steps_s"]) == {name for name, _ in demo.STEPS} - skipped
    assert re.fullmatch(r"\nsteps: (\w+ \d+s, )+\w+ \d+s; total \d+s; load [\d.]+ -> [\d.]+ on \d+ CPUs", summary[0])


def test_adapters_go_to_llama_server_as_one_comma_separated_lora(tmp_path):
    """llama.cpp warns that a repeated --lora keeps only the last value: the adapters travel in one option."""
    a, b = tmp_path / "a.gguf", tmp_path / "b.gguf"
    args = ServerOptions(lora=[str(a), str(b)]).args(tmp_path / "m.gguf", 1234)
    assert args.count("--lora") == 1 and args[args.index("--lora") + 1] == f"{a},{b}"
    with pytest.raises(ConfigError, match="comma"):
        ServerOptions(lora=[str(tmp_path / "x,y.gguf")]).args(tmp_path / "m.gguf", 1234)
