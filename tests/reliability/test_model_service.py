"""The embedded model server outlives the process that started it (issue 28 item 2), real llama-server, real
processes: process A starts it and exits in the middle of process B's evaluation, and B loses no row; a client
whose server was killed re-resolves it and retries; ``workbench model status|stop`` show and end it.

Each test runs in its own cache dir for the state files (``WORKBENCH_RUN_DIR``), so it starts its own server and
never touches the one other tests share."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# B: an evaluation of N rows on the local model (cache off, no MLflow), printing its row count and failed rows
EVAL_B = """
import json, sys, pandas as pd, workbench as wb
from workbench.candidates import PromptCandidate
n = int(sys.argv[1])
df = pd.DataFrame({"id": [f"q{i}" for i in range(n)], "reference": ["x"] * n,
                   "question": [f"Write three sentences about the number {i}." for i in range(n)]})
res = wb.evaluate(df, PromptCandidate("local", max_tokens=48, name="b"), metrics=["quality/exact_match"],
                  cache="off", log=False, concurrency=2, resume=False, progress=False,
                  checkpoint=sys.argv[2])
errs = res.rows[res.rows["error"].notna()]
print("RESULT " + json.dumps({"rows": len(res.rows), "failed": len(errs),
                              "errors": sorted(set(map(str, errs["error"])))}), flush=True)
"""

# A: start (or find) the shared server, say so, and wait for the word to exit
STARTER_A = """
import sys
from workbench.llm.local import ensure_server
h = ensure_server()
print(f"READY {h.pid} {h.port}", flush=True)
sys.stdin.readline()
"""


def _env(tmp_path: Path) -> dict:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "WORKBENCH_RUN_DIR": str(tmp_path / "run"),
        "WORKBENCH_PROJECT_DIR": str(tmp_path),
        "TQDM_DISABLE": "1",
    }
    env.pop("WORKBENCH_LOCAL_BASE_URL", None)
    return env


def _rows_done(checkpoint: Path) -> int:
    try:
        return sum(1 for line in checkpoint.read_text().splitlines() if line.strip())
    except OSError:
        return 0


def _wait_rows(proc, checkpoint: Path, n: int, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while _rows_done(checkpoint) < n:
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline, f"fewer than {n} rows after {timeout_s}s"
        time.sleep(0.2)


def _result(proc, timeout_s: float = 420) -> dict:
    """B's RESULT line; within ``timeout_s`` (under pytest's 600 s), else B is killed and its output shown."""
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError(f"B did not finish within {timeout_s:.0f}s:\n{out[-3000:]}") from None
    line = [x for x in out.splitlines() if x.startswith("RESULT ")]
    assert proc.returncode == 0 and line, out[-3000:]
    return json.loads(line[-1][len("RESULT ") :])


def _stop_all(env: dict) -> None:
    subprocess.run([sys.executable, "-m", "workbench", "model", "stop"], env=env, capture_output=True, timeout=120)


def _leftover_pids(run_dir: Path) -> list[int]:
    """Supervisor and server pids recorded in ``run_dir``'s state files that are still alive."""
    from workbench.procs import pid_alive

    pids = []
    for f in run_dir.glob("local-service-*.json"):
        with_state = json.loads(f.read_text())
        pids += [p for p in (with_state.get("pid"), with_state.get("supervisor")) if p and pid_alive(p)]
    return pids


@pytest.mark.slow
def test_server_outlives_the_process_that_started_it(tmp_path):
    """Regression (issue 28 item 2): A started the server and its exit stopped it, so B's calls went to a dead
    port (6 of 6 in-flight calls lost in the issue's reproduction). Now B loses no row."""
    env, n = _env(tmp_path), 16
    a = subprocess.Popen(
        [sys.executable, "-c", STARTER_A],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        ready = a.stdout.readline()
        assert ready.startswith("READY"), f"A did not start the server: {ready!r}, exit {a.poll()}"
        ckpt = tmp_path / "b.jsonl"
        b = subprocess.Popen(
            [sys.executable, "-c", EVAL_B, str(n), str(ckpt)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        _wait_rows(b, ckpt, 3)  # B is in the middle of its evaluation
        a.stdin.write("exit\n")
        a.stdin.flush()
        assert a.wait(timeout=60) == 0
        assert _rows_done(ckpt) < n, "B finished before A exited: make its rows longer"
        res = _result(b)
        assert res["rows"] == n
        assert res["failed"] == 0, res
    finally:
        a.kill()
        _stop_all(env)
    assert not _leftover_pids(tmp_path / "run")


@pytest.mark.slow
@pytest.mark.parametrize("victim", ["pid", "supervisor"])
def test_client_whose_server_was_killed_reresolves_and_retries(tmp_path, victim):
    """The server process (or its supervisor, which takes the server with it) is killed with SIGKILL while B
    evaluates: the supervisor brings the server back on the same port, or B starts a new supervisor there; B's
    calls that failed on the dead port re-resolve the server and retry, and no row fails."""
    env, n = _env(tmp_path), 12
    ckpt = tmp_path / "b.jsonl"
    b = subprocess.Popen(
        [sys.executable, "-c", EVAL_B, str(n), str(ckpt)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_rows(b, ckpt, 2)
        state = json.loads(next((tmp_path / "run").glob("local-service-*.json")).read_text())
        os.kill(state[victim], signal.SIGKILL)
        res = _result(b)
        assert res["rows"] == n and res["failed"] == 0, res
        after = json.loads(next((tmp_path / "run").glob("local-service-*.json")).read_text())
        assert after["pid"] != state["pid"] and after["port"] == state["port"]  # same URL, new process
    finally:
        b.kill()
        _stop_all(env)


@pytest.mark.slow
def test_endpoint_configured_by_url_restarts_the_server(tmp_path):
    """An endpoint that names the embedded server by URL (``WORKBENCH_LOCAL_BASE_URL``): after the server and its
    supervisor are gone, a call on that URL starts it again on the same port instead of failing."""
    env = _env(tmp_path)
    out = subprocess.run(
        [sys.executable, "-c", STARTER_A], env=env, input="\n", capture_output=True, text=True, timeout=300
    )
    _, pid, port = out.stdout.split()[:3]
    try:
        subprocess.run(
            [sys.executable, "-m", "workbench", "model", "stop"], env=env, check=True, capture_output=True, timeout=120
        )
        code = (
            "import workbench as wb; r = wb.chat('Say hi.', model='local', cache='off', max_tokens=4); "
            "print('RESULT', r.ok, r.error_message)"
        )
        env_url = {**env, "WORKBENCH_LOCAL_BASE_URL": f"http://127.0.0.1:{port}/v1"}
        r = subprocess.run([sys.executable, "-c", code], env=env_url, capture_output=True, text=True, timeout=300)
        assert "RESULT True" in r.stdout, r.stdout + r.stderr
    finally:
        _stop_all(env)


@pytest.mark.slow
def test_model_status_and_stop(tmp_path):
    env = _env(tmp_path)
    out = subprocess.run(
        [sys.executable, "-c", STARTER_A], env=env, input="\n", capture_output=True, text=True, timeout=300
    )
    _, pid, port = out.stdout.split()[:3]
    st = subprocess.run(
        [sys.executable, "-m", "workbench", "model", "status"], env=env, capture_output=True, text=True, timeout=120
    )
    assert st.returncode == 0 and f"127.0.0.1:{port}" in st.stdout and pid in st.stdout, st.stdout + st.stderr
    stop = subprocess.run(
        [sys.executable, "-m", "workbench", "model", "stop"], env=env, capture_output=True, text=True, timeout=120
    )
    assert stop.returncode == 0 and "stopped" in stop.stdout, stop.stdout + stop.stderr
    assert not _leftover_pids(tmp_path / "run")
    st = subprocess.run(
        [sys.executable, "-m", "workbench", "model", "status"], env=env, capture_output=True, text=True, timeout=120
    )
    assert "not running" in st.stdout


# C: 4 greedy calls of one prompt through the local endpoint, then every shared server's port and pid
REPLICA_C = """
import json, workbench as wb
from workbench.llm import local
rs = [wb.chat("Name a colour.", model="local", cache="off", max_tokens=8, temperature=0) for _ in range(4)]
print("RESULT " + json.dumps({"texts": [r.text for r in rs], "errors": [r.error for r in rs],
      "servers": [(s.url, s.status, s.pid) for s in local.server_status()], "held": local.running_server_threads()}))
"""


@pytest.mark.slow
def test_two_replicas_share_the_calls_and_answer_alike(tmp_path):
    """With ``WORKBENCH_LOCAL_REPLICAS=2`` (the rule's choice on 2 cores) the local endpoint's calls alternate
    between two one-thread servers; greedy answers do not depend on which one answered; ``model stop`` ends both."""
    env = {**_env(tmp_path), "WORKBENCH_LOCAL_REPLICAS": "2", "WORKBENCH_LOCAL_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", REPLICA_C], env=env, capture_output=True, text=True, timeout=300)
    line = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
    assert out.returncode == 0 and line, out.stdout[-2000:] + out.stderr[-2000:]
    r = json.loads(line[-1][len("RESULT ") :])
    assert r["errors"] == [None] * 4 and len(set(r["texts"])) == 1 and r["texts"][0], r
    assert len(r["servers"]) == 2 and {s[1] for s in r["servers"]} == {"ready"} and r["held"] == 2, r
    answered = {  # each server's log has one timing line per request it answered
        log.name: log.read_text().count("prompt eval time") for log in (tmp_path / "run").glob("llama-server-*.log")
    }
    assert sorted(answered.values()) == [2, 2], answered
    _stop_all(env)
    assert not _leftover_pids(tmp_path / "run")


def test_a_new_adapter_does_not_drop_the_lease_on_the_server_in_use(tmp_path, monkeypatch):
    """Regression (CI, after an adapter was registered mid-session): the process moved to the server for the new
    options and dropped its lease on the old one, whose supervisor then stopped it while the session's handle (and
    a fault proxy in front of it) still pointed at its port: every later call through that port failed."""
    from workbench.llm import local

    monkeypatch.setenv("WORKBENCH_RUN_DIR", str(tmp_path / "run"))
    monkeypatch.setattr(local, "_SERVERS", {})
    monkeypatch.setattr(
        local,
        "_bring_up",
        lambda state, spec: local.ServerHandle(pid=os.getpid(), port=1, log_path="", options_key=state.stem),
    )
    before, after = local.ServerOptions(parallel=4), local.ServerOptions(parallel=4, lora=["/adapters/ft.gguf"])
    local.ensure_server(before)
    local.ensure_server(after)
    from workbench.procs import live_leases

    assert os.getpid() in live_leases(local._lease_dir(before.key()))
    assert os.getpid() in live_leases(local._lease_dir(after.key()))


def test_a_port_reused_by_a_server_for_other_options_names_that_server(tmp_path, monkeypatch):
    """Regression (CI, a session after adapters were added): a stopped server's state file still named the port
    that a server for the new adapter set had been given since. ``hold_url`` and ``revive_url`` took the first
    state file by name, the stale one: the MLflow server's lease went to a server that was not running (and a
    revive would have started the old adapter set behind the URL). The running server owns its port; a new start
    on a port drops the stale files that name it."""
    from workbench.llm import local
    from workbench.procs import live_leases

    monkeypatch.setenv("WORKBENCH_RUN_DIR", str(tmp_path / "run"))
    run = tmp_path / "run"
    run.mkdir()
    port = 45678
    stale = run / "local-service-000000000000.json"  # sorts first
    stale.write_text(json.dumps({"port": port, "status": "stopped", "supervisor": 999999999, "spec": {"port": port}}))
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    live = run / "local-service-ffffffffffff.json"
    live.write_text(json.dumps({"port": port, "status": "ready", "supervisor": os.getpid(), "spec": {"port": port}}))
    url = f"http://127.0.0.1:{port}/v1"
    assert local._port_owner(url).path == live
    assert local.hold_url(url, os.getpid())
    assert live_leases(local._lease_dir("ffffffffffff")) == [os.getpid()]
    assert live_leases(local._lease_dir("000000000000")) == []
    assert local._port_owner("http://example.com:45678/v1") is None

    # a new start on the port: the stale claim is dropped, the new server's file is kept
    monkeypatch.setattr(local, "start_supervised", lambda spec: {"port": spec.port, "pid": 1, "supervisor": 1})
    monkeypatch.setattr(local, "port_free", lambda p: True)
    newer = run / "local-service-111111111111.json"
    newer.write_text(json.dumps({"port": port, "status": "stopped", "supervisor": 999999999, "spec": {"port": port}}))
    live.unlink()
    h = local._bring_up(
        newer, lambda p: local.ServiceSpec(cmd=["x", "--port", str(p)], port=p, log="", state="", leases="")
    )
    assert h.port == port and newer.exists() and not stale.exists()
