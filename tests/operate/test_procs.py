"""`workbench.procs`, the one managed-process module: the supervisor keeps a server on its port while a lease is
held, restarts it there when it dies, stops it when idle or on SIGTERM; `stop_process` ends the whole group;
`start_service` reports an early exit with the log. The served process is a tiny real HTTP server."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

import pytest

from workbench.procs import (
    ServiceError,
    ServiceSpec,
    free_port,
    health,
    live_leases,
    pid_alive,
    read_state,
    start_service,
    start_supervised,
    stop_orphan,
    stop_process,
    take_lease,
)

HTTP = """
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
    def do_POST(self):  # /fail refuses; else the body is appended to argv[2]
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path != "/fail" and len(sys.argv) > 2:
            open(sys.argv[2], "ab").write(body + b"\\n")
        self.send_response(404 if self.path == "/fail" else 200); self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def _wait(cond, timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return False


# like llama-server with a streamed request in flight: SIGTERM does not end it
DEAF = "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN)\n" + HTTP


def _spec(tmp_path, idle_s: float = 1.0, server: str = HTTP) -> ServiceSpec:
    port = free_port()
    return ServiceSpec(
        cmd=[sys.executable, "-c", server, str(port)],
        port=port,
        log=str(tmp_path / "srv.log"),
        state=str(tmp_path / "state.json"),
        leases=str(tmp_path / "leases"),
        idle_s=idle_s,
        start_timeout_s=30,
    )


def test_supervisor_restarts_on_the_same_port_and_stops_when_idle(tmp_path):
    spec = _spec(tmp_path)
    lease = take_lease(spec.leases)
    state = start_supervised(spec)
    try:
        assert state["status"] == "ready" and health(spec.url) and live_leases(spec.leases) == [os.getpid()]
        os.kill(state["pid"], signal.SIGKILL)  # the server dies: back on the same port, a new process
        assert _wait(lambda: (read_state(spec.state) or {}).get("pid") not in (None, state["pid"]) and health(spec.url))
        assert read_state(spec.state)["restarts"] == 1
        lease.unlink()  # the last client is gone: stopped after idle_s
        assert _wait(lambda: not pid_alive(state["supervisor"]))
        after = read_state(spec.state)
        assert after["status"] == "stopped" and not health(spec.url) and not pid_alive(after.get("pid") or 0)
    finally:
        stop_process(state["supervisor"])


def test_sigterm_to_the_supervisor_stops_its_server(tmp_path):
    spec = _spec(tmp_path, idle_s=600)
    take_lease(spec.leases)
    state = start_supervised(spec)
    stop_process(state["supervisor"])
    assert not pid_alive(state["pid"]) and not pid_alive(state["supervisor"])
    assert read_state(spec.state)["status"] == "stopped"


def test_a_killed_supervisor_takes_a_server_that_ignores_sigterm_with_it(tmp_path):
    """Regression: the supervisor's server got SIGTERM when the supervisor died; llama-server ignores it while a
    streamed request is in flight, so it kept the port and its clients' connections, and a client waited out
    five 120 s timeouts. Now it gets SIGKILL, and a new supervisor starts on the same port."""
    spec = _spec(tmp_path, idle_s=600, server=DEAF)
    take_lease(spec.leases)
    state = start_supervised(spec)
    try:
        os.kill(state["supervisor"], signal.SIGKILL)
        assert _wait(lambda: not pid_alive(state["pid"]), 10), "the server outlived its supervisor"
        again = start_supervised(spec)
        assert again["port"] == state["port"] and health(spec.url)
    finally:  # SIGKILL again: the new supervisor's server goes with it (a SIGTERM would wait out its grace)
        stop_process(state["pid"], group=False)
        sup = (read_state(spec.state) or {}).get("supervisor")
        if sup and sup > 0:  # never kill(0): that is our own process group
            with contextlib.suppress(ProcessLookupError):
                os.kill(sup, signal.SIGKILL)
        assert _wait(lambda: not health(spec.url), 10)


def test_stop_orphan_stops_only_the_recorded_server_of_a_dead_supervisor(tmp_path):
    spec = _spec(tmp_path, server=DEAF)
    proc = subprocess.Popen(spec.cmd)
    try:
        assert _wait(lambda: health(spec.url))
        from workbench.procs import process_start

        alive_sup = {"pid": proc.pid, "pid_start": process_start(proc.pid), "supervisor": os.getpid()}
        assert not stop_orphan(alive_sup) and proc.poll() is None  # its supervisor runs: not an orphan
        assert not stop_orphan({**alive_sup, "supervisor": None, "pid_start": "1"})  # a reused pid: not ours
        assert proc.poll() is None
        assert stop_orphan({**alive_sup, "supervisor": None}, grace_s=0.5)
        proc.wait(timeout=10)  # SIGTERM was ignored: it took the SIGKILL
    finally:
        proc.kill()


def test_after_start_requests_are_sent_after_every_start_and_a_refused_one_fails_the_start(tmp_path):
    posted = tmp_path / "posted.txt"
    spec = _spec(tmp_path, idle_s=600)
    spec.cmd.append(str(posted))
    spec.after_start = [{"path": "/lora-adapters", "json": [{"id": 0, "scale": 0.0}]}]
    take_lease(spec.leases)
    state = start_supervised(spec)
    try:
        assert posted.read_text().splitlines() == ['[{"id": 0, "scale": 0.0}]']
        os.kill(state["pid"], signal.SIGKILL)  # restarted: sent again before it is ready
        assert _wait(lambda: (read_state(spec.state) or {}).get("pid") not in (None, state["pid"]) and health(spec.url))
        assert len(posted.read_text().splitlines()) == 2
    finally:
        stop_process(state["supervisor"])
    bad = _spec(tmp_path / "b")
    bad.after_start = [{"path": "/fail", "json": {}}]
    (tmp_path / "b").mkdir()
    with pytest.raises(ServiceError, match="POST .*/fail failed"):
        start_supervised(bad)
    assert read_state(bad.state)["status"] == "failed" and not health(bad.url)


def test_start_service_reports_an_early_exit_with_the_log(tmp_path):
    log = tmp_path / "x.log"
    with pytest.raises(ServiceError, match="(?s)exited with status 3.*boom"):
        start_service(
            [sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"],
            f"http://127.0.0.1:{free_port()}",
            log,
            timeout_s=30,
        )


def test_stop_process_ends_the_whole_group(tmp_path):
    port = free_port()
    # a parent that starts a grandchild server and then waits: stopping the parent's group stops both
    code = (
        f"import subprocess, sys; p = subprocess.Popen([sys.executable, '-c', {HTTP!r}, '{port}']); "
        f"print(p.pid, flush=True); p.wait()"
    )
    proc = start_service([sys.executable, "-c", code], f"http://127.0.0.1:{port}", tmp_path / "g.log", timeout_s=30)
    grandchild = int((tmp_path / "g.log").read_text().split()[0])
    stop_process(proc.pid)
    assert not pid_alive(proc.pid) and _wait(lambda: not pid_alive(grandchild), 10)


def test_leases_are_per_process_and_released_but_the_kept_one(tmp_path, monkeypatch):
    from workbench import procs
    from workbench.procs import release_leases

    monkeypatch.setattr(procs, "_LEASES", set())  # the test session's own lease on the shared server stays held

    a, b = take_lease(tmp_path / "a"), take_lease(tmp_path / "b")
    assert live_leases(tmp_path / "a") == [os.getpid()]
    (tmp_path / "a" / "999999999").write_text("1")  # a dead client's lease: pruned
    assert live_leases(tmp_path / "a") == [os.getpid()] and not (tmp_path / "a" / "999999999").exists()
    release_leases(keep=tmp_path / "b")
    assert not a.exists() and b.exists()
    release_leases()
    assert not b.exists()


def test_stop_process_never_signals_pid_zero_or_below():
    for pid in (0, -1):
        stop_process(pid)  # would be kill(-1)/killpg(0): every process we may signal
    assert pid_alive(os.getpid())


def test_workbench_serve_on_a_busy_port_is_an_error():
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = subprocess.run(
            [sys.executable, "-m", "workbench", "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert r.returncode == 4 and "already in use" in r.stderr and "serving" not in r.stderr
