"""Every child process the workbench starts (llama-server, the MLflow server of `workbench tracking ui` and
`workbench tracking start`, served apps) goes through here: free ports on 127.0.0.1 and busy-port errors, pid liveness, starting a
server in its own process group and waiting for its health, stopping the whole group, running one in the foreground
with SIGTERM/SIGHUP/SIGINT forwarded to its group, leases (which processes use a shared server) and a small detached
supervisor that keeps a shared server running on a fixed port while any lease is held (``python -m
workbench.procs SPEC``), and an inter-process file lock."""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import WorkbenchError


class LockTimeout(TimeoutError):
    """:func:`locked` waited ``timeout_s`` for the lock."""


@contextlib.contextmanager
def locked(path: os.PathLike | str, timeout_s: float = 1800.0, what: str | None = None, on_wait=None):
    """Hold an exclusive inter-process lock (``fcntl.flock``) on ``path`` (created with its directory).
    ``on_wait()`` is called once if another holder makes us wait; :class:`LockTimeout` naming ``what`` after
    ``timeout_s``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout_s
    with open(path, "a") as fh:
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if on_wait is not None:
                    on_wait()
                    on_wait = None
                if time.monotonic() > deadline:
                    raise LockTimeout(
                        f"timed out after {timeout_s:.0f}s waiting for {what or 'lock'} ({path})"
                    ) from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pid_alive(pid: int, start: str | None = None) -> bool:
    """Whether process ``pid`` exists (a zombie child of ours is reaped and counts as gone; pid <= 0 never) and,
    given its recorded ``start`` (:func:`process_start`), is the same process, not a reuse of its pid."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    now = process_start(pid) if start else None
    return now is None or now == start


def health(root_url: str, timeout: float = 2.0, path: str = "/health") -> bool:
    """Whether ``GET root_url + path`` answers 200."""
    try:
        with urllib.request.urlopen(f"{root_url}{path}", timeout=timeout) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_healthy(
    root_url: str, timeout_s: float, alive=lambda: True, path: str = "/health", interval_s: float = 0.1
) -> bool:
    """Poll :func:`health` until it answers, ``alive()`` turns false, or ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not alive():
            return False
        if health(root_url, timeout=1.0, path=path):
            return True
        time.sleep(interval_s)
    return False


# ---------------------------------------------------------------- managed child processes


class ServiceError(WorkbenchError):
    """A child server did not start (exited, or never answered its health check) or its port is taken."""


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether ``host:port`` can be bound right now (nothing listens on it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def require_free_port(port: int, host: str = "127.0.0.1", what: str = "server") -> None:
    """:class:`ServiceError` naming ``what`` when something already listens on ``host:port``."""
    if not port_free(port, host):
        raise ServiceError(
            f"{what}: port {port} on {host} is already in use (another `workbench tracking ui` or server?); "
            f"stop that process or choose another port with --port"
        )


def _die_with_parent(sig: int = signal.SIGTERM) -> None:  # pragma: no cover - runs in the child before exec
    """Linux: send this child ``sig`` when the process that started it dies (``PR_SET_PDEATHSIG``)."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(sig))


def _killed_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """SIGKILL this child when its parent dies. For a supervisor's server: nobody is left to escalate a SIGTERM,
    and llama-server does not exit on SIGTERM while a streamed request is in flight (it keeps the port and the
    clients' connections open), so its clients would wait out their timeouts instead of reconnecting."""
    _die_with_parent(signal.SIGKILL)


def spawn(
    cmd: list[str], log: os.PathLike | str | None = None, env: dict | None = None, die_with_parent: bool = False
) -> subprocess.Popen:
    """Start ``cmd`` as the leader of its own process group (session), stdin closed, output appended to ``log``
    (inherited when None). :func:`stop_process` then ends the whole group (MLflow's uvicorn workers too)."""
    out = open(log, "ab") if log else None  # no `with`: the child keeps its own copy of the descriptor
    try:
        return subprocess.Popen(
            cmd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
            start_new_session=True,
            preexec_fn=_die_with_parent if die_with_parent else None,
        )
    finally:
        if out is not None:
            out.close()


def group_alive(pgid: int) -> bool:
    """Whether any process of process group ``pgid`` is left (our own zombie leader is reaped first)."""
    pid_alive(pgid)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_process(pid: int, grace_s: float = 10.0, group: bool = True) -> None:
    """SIGTERM process ``pid`` (its whole process group with ``group``), wait up to ``grace_s``, then SIGKILL."""
    if not pid or pid <= 0:  # never kill(-1) or killpg(0): that would signal every process we may signal
        return
    kill, alive = (os.killpg, group_alive) if group else (os.kill, pid_alive)
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            kill(pid, sig)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if not alive(pid):
                return
            time.sleep(0.05)


def log_tail(path: os.PathLike | str | None, chars: int = 3000) -> str:
    """The end of a log file (``(no log)`` when unreadable)."""
    try:
        return Path(path).read_text(errors="replace")[-chars:] if path else "(no log)"
    except OSError:
        return "(no log)"


def start_service(
    cmd: list[str],
    url: str,
    log: os.PathLike | str,
    env: dict | None = None,
    timeout_s: float = 120.0,
    what: str = "server",
    die_with_parent: bool = False,
) -> subprocess.Popen:
    """Start a server (:func:`spawn`) and wait until ``url``/health answers. If it exits first or stays
    unhealthy, the whole group is stopped and :class:`ServiceError` carries the log's tail."""
    proc = spawn(cmd, log, env, die_with_parent)
    try:
        if wait_healthy(url, timeout_s, alive=lambda: proc.poll() is None, interval_s=0.2):
            return proc
    except BaseException:
        stop_process(proc.pid)
        raise
    stop_process(proc.pid)
    state = (
        f"exited with status {proc.returncode} before it was healthy"
        if proc.returncode is not None
        else f"did not answer {url}/health within {timeout_s:.0f}s"
    )
    raise ServiceError(f"{what} {state} (log {log}):\n{log_tail(log)}")


def run_foreground(
    cmd: list[str],
    env: dict | None = None,
    url: str | None = None,
    on_ready=None,
    timeout_s: float = 120.0,
    what: str = "server",
) -> int:
    """Run a server in the foreground as its own process group until it exits or we get SIGINT, SIGTERM or
    SIGHUP, which are forwarded to the whole group (no child is left with parent 1). With ``url``, ``on_ready()``
    runs once ``url``/health answers, and a server that exits first raises :class:`ServiceError`.
    Returns the server's exit code, or 128 + the signal that stopped us."""
    proc = spawn(cmd, env=env)
    got: list[int] = []

    def forward(signum, frame):
        got.append(signum)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)

    old = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        if url is not None:
            if wait_healthy(url, timeout_s, alive=lambda: proc.poll() is None and not got, interval_s=0.2):
                if on_ready is not None:
                    on_ready()
            elif not got:
                if proc.poll() is None:
                    raise ServiceError(f"{what} did not answer {url}/health within {timeout_s:.0f}s")
                raise ServiceError(f"{what} exited with status {proc.returncode} before it answered {url}")
        rc = proc.wait()
    finally:
        stop_process(proc.pid)  # what is left of the group (workers of a server that exited, or all on error)
        for sig, handler in old.items():
            signal.signal(sig, handler)
    return 128 + got[0] if got else rc


# ---------------------------------------------------------------- leases and the supervisor


def process_start(pid: int) -> str | None:
    """The process start time (clock ticks since boot, from ``/proc``), or None where there is no ``/proc``."""
    try:
        stat = open(f"/proc/{pid}/stat", encoding="ascii", errors="replace").read()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None  # field 22 of proc(5); fields[0] is field 3


_LEASES: set[Path] = set()


def take_lease(lease_dir: os.PathLike | str, pid: int | None = None) -> Path:
    """Say that this process (or process ``pid``, e.g. a detached server that calls the service) uses the service
    whose leases live in ``lease_dir``. This process's lease is released at its exit; another's lasts until that
    process is gone (:func:`live_leases` drops it then)."""
    pid = os.getpid() if pid is None else pid
    path = Path(lease_dir) / str(pid)
    if path not in _LEASES or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(process_start(pid) or "")
        if pid == os.getpid():
            _LEASES.add(path)
    return path


def release_leases(keep: os.PathLike | str | None = None) -> None:
    """Drop every lease this process took but the one in folder ``keep`` (all of them at interpreter exit; a
    forked child keeps its parent's)."""
    for path in list(_LEASES):
        if path.name == str(os.getpid()) and (keep is None or path.parent != Path(keep)):
            path.unlink(missing_ok=True)
            _LEASES.discard(path)


atexit.register(release_leases)


def live_leases(lease_dir: os.PathLike | str) -> list[int]:
    """Pids holding a lease in ``lease_dir`` that are still running (stale lease files are removed)."""
    pids = []
    for f in Path(lease_dir).glob("[0-9]*"):
        with contextlib.suppress(OSError, ValueError):
            pid = int(f.name)
            if pid_alive(pid, f.read_text() or None):
                pids.append(pid)
            else:
                f.unlink(missing_ok=True)
    return sorted(pids)


@dataclass
class ServiceSpec:
    """A server the supervisor (:func:`supervise`) keeps running on a fixed port while any lease is held."""

    cmd: list[str]
    port: int
    log: str
    state: str  # JSON state file: the spec, the supervisor's and the server's pids, status, restarts
    leases: str  # folder of lease files (one per client pid)
    idle_s: float = 60.0  # stop this long after the last lease is gone
    start_timeout_s: float = 120.0
    max_restarts: int = 5  # restarts within 60 s before the supervisor gives up
    info: dict = field(default_factory=dict)  # extra fields for the state file (e.g. the options key)
    # JSON POSTs ({"path", "json"}) sent after every (re)start, before the server is reported ready
    after_start: list[dict] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def read_state(path: os.PathLike | str) -> dict | None:
    """The supervisor's state file as a dict (None if absent or unreadable)."""
    with contextlib.suppress(OSError, ValueError):
        return json.loads(Path(path).read_text())
    return None


def _write_state(spec: ServiceSpec, **fields) -> None:
    path = Path(spec.state)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(
        json.dumps(
            {
                **spec.info,
                "spec": asdict(spec),
                "port": spec.port,
                "log_path": spec.log,
                "supervisor": os.getpid(),
                **fields,
            }
        )
    )
    os.replace(tmp, path)


def supervise(spec: ServiceSpec) -> int:
    """The supervisor's loop (run detached by :func:`start_supervised`): start the server on ``spec.port``,
    restart it there if it dies, and stop it on SIGTERM or ``idle_s`` after the last lease is gone. The server
    dies with the supervisor (``PR_SET_PDEATHSIG``); the state file is kept with ``status: stopped`` so a
    client can start the service again on the same port."""
    stop: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda signum, frame: stop.append(signum))
    restarts: list[float] = []
    proc, rc = None, 0
    idle_since = None
    while not stop:
        if proc is None or proc.poll() is not None:
            if proc is not None:
                restarts.append(time.monotonic())
                if sum(t > time.monotonic() - 60 for t in restarts) > spec.max_restarts:
                    rc = 1
                    break
            _write_state(spec, status="starting", pid=None, restarts=len(restarts))
            try:
                proc = _start_on_port(spec, stop)
            except ServiceError as e:
                _write_state(spec, status="failed", pid=None, error=str(e)[-2000:], restarts=len(restarts))
                return 1
            _write_state(
                spec,
                status="ready",
                pid=proc.pid,
                pid_start=process_start(proc.pid),
                restarts=len(restarts),
                started=time.time(),
            )
        if live_leases(spec.leases):
            idle_since = None
        elif idle_since is None:
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since > spec.idle_s:
            break
        time.sleep(0.25)
    if proc is not None:
        stop_process(proc.pid, grace_s=10.0, group=False)
    state = read_state(spec.state) or {}
    if state.get("supervisor") == os.getpid():
        _write_state(spec, status="stopped", pid=None, restarts=len(restarts), stopped=time.time())
    return rc


def post_json(root_url: str, path: str, body, timeout: float = 10.0) -> None:
    """``POST root_url + path`` with a JSON body; :class:`ServiceError` unless it answers 2xx."""
    req = urllib.request.Request(
        f"{root_url}{path}", json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            r.read()
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise ServiceError(f"POST {root_url}{path} failed: {e}") from None


def post_after_start(root_url: str, requests: list[dict]) -> None:
    """Send a started server its set-up requests (:attr:`ServiceSpec.after_start`: ``{"path", "json"}`` each), in
    order; :class:`ServiceError` at the first one it refuses."""
    for req in requests:
        post_json(root_url, req["path"], req["json"])


def stop_orphan(state: dict, grace_s: float = 2.0) -> bool:
    """The server of a supervisor that is gone (``state`` from :func:`read_state`) but still runs, e.g. stuck in
    its shutdown: stop it (SIGTERM, SIGKILL after ``grace_s``) so its port is free again. Only the very process
    the state recorded (pid and start time) is signalled; True when one was stopped."""
    pid, start = state.get("pid"), state.get("pid_start")
    if not pid or not start or pid_alive(state.get("supervisor") or -1) or not pid_alive(pid, start):
        return False
    stop_process(pid, grace_s=grace_s, group=False)
    return True


def _start_on_port(spec: ServiceSpec, stop: list) -> subprocess.Popen:
    """Start the server as the supervisor's child (dies with it); a port still held by the dead server's
    sockets is retried for up to 10 s. A signal in ``stop`` ends the wait."""
    deadline = time.monotonic() + 10.0
    while not port_free(spec.port) and time.monotonic() < deadline:
        time.sleep(0.2)
    with open(spec.log, "ab") as out:
        proc = subprocess.Popen(
            spec.cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_killed_with_parent
        )
    if wait_healthy(spec.url, spec.start_timeout_s, alive=lambda: proc.poll() is None and not stop, interval_s=0.2):
        try:
            post_after_start(spec.url, spec.after_start)
            return proc
        except ServiceError:
            stop_process(proc.pid, group=False)
            raise
    stop_process(proc.pid, group=False)
    raise ServiceError(
        f"server on port {spec.port} did not become healthy (exit {proc.returncode}; "
        f"log {spec.log}):\n{log_tail(spec.log)}"
    )


def start_supervised(spec: ServiceSpec, timeout_s: float | None = None) -> dict:
    """Start a detached supervisor for ``spec`` (its own session: it outlives this process) and wait until its
    server is healthy; returns the state. Take a lease first, or the supervisor stops when idle."""
    import sys

    Path(spec.state).parent.mkdir(parents=True, exist_ok=True)
    Path(spec.log).parent.mkdir(parents=True, exist_ok=True)
    root = str(Path(__file__).resolve().parents[1])  # the supervisor imports this very package
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    sup = spawn([sys.executable, "-m", "workbench.procs", json.dumps(asdict(spec))], spec.log, env)
    return wait_ready(spec.state, (timeout_s or spec.start_timeout_s) + 30, sup)


def wait_ready(state_path: os.PathLike | str, timeout_s: float, proc: subprocess.Popen | None = None) -> dict:
    """Wait until the supervisor recorded in ``state_path`` (or ``proc``) reports its server ready and healthy;
    :class:`ServiceError` if it fails, stops or dies first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = read_state(state_path) or {}
        sup = proc.pid if proc is not None else state.get("supervisor")
        mine = proc is None or state.get("supervisor") == proc.pid
        if mine and state.get("status") == "failed":
            raise ServiceError(state.get("error", "the server failed to start"))
        if mine and state.get("status") == "ready" and health(f"http://127.0.0.1:{state['port']}", 1.0):
            return state
        if not sup or not pid_alive(sup) or (mine and state.get("status") == "stopped"):
            log = state.get("log_path")
            raise ServiceError(
                f"the supervisor of {state_path} exited before its server was ready (log {log}):\n{log_tail(log)}"
            )
        time.sleep(0.1)
    raise ServiceError(f"the server of {state_path} was not ready within {timeout_s:.0f}s")


if __name__ == "__main__":  # the detached supervisor: python -m workbench.procs '<ServiceSpec as JSON>'
    import sys

    raise SystemExit(supervise(ServiceSpec(**json.loads(sys.argv[1]))))
