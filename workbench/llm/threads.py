"""How many CPU threads the embedded llama-server uses, chosen from the machine rather than llama.cpp's default.

llama.cpp runs every token as a sequence of matrix ops that all its threads must finish before the next op starts
(a barrier). Its default is one thread per physical core. When other work holds some of those cores (a notebook
kernel computing embeddings, a browser, a second server), one of the threads is descheduled at every barrier and
the others wait (spinning, by default) for it: generation collapsed from about 190 to 0.3-2 tokens/s per request
on a 2-core machine with one background CPU-bound process. Fewer threads than cores leaves room for that work.

The rule (:func:`choose_threads`), measured in ``benchmarks/bench_server.py`` (busy-machine row):

* ``cores`` = physical cores the process may run on (``os.sched_getaffinity`` ∩ distinct core ids);
* generation threads = batch threads = ``max(1, cores // 2)``, at most 8: half the cores, so up to ``cores/2``
  CPU-bound neighbours leave the server's threads running; a 135M-parameter model gains little beyond that.
  Batch threads must follow: concurrent streams are decoded as one batch on the batch threads, and
  ``-t 1 --threads-batch 2`` collapsed like the default with 4 streams and one neighbour (7.3 → 1.9 tok/s);
* polling (``--poll``) stays llama.cpp's default: ``--poll 0`` with 2 threads collapsed as well (5.5 tok/s busy);
* measured on 2 cores only (1 thread there: 149 tok/s quiet, 98 with one neighbour; the default 163 and 2.6);
  half the cores on bigger machines is the same principle, not a measurement;
* ``[local] threads = N`` in ``workbench.toml``, ``WORKBENCH_LOCAL_THREADS`` or ``workbench serve --threads N``
  override it; ``0`` means llama.cpp's own default (one thread per physical core).

The in-process pools (torch fine-tuning, onnxruntime embeddings, FAISS's OpenMP, the tokenizers' rayon pool) have
the same problem and one rule, :func:`inprocess_threads`: half the physical cores this process may use, and no more
than the running local llama-servers leave of them (``llm/local`` installs the probe that reads them), at least 1;
``[process] threads = N`` / ``WORKBENCH_PROCESS_THREADS`` override it (``0``: each library's default). A loop that
runs in steps (LoRA training) does better with :class:`AdaptivePool`: before every step it takes the cores the
machine's other processes left over the previous one, so a quiet machine trains on every core and a neighbour
takes its core back within a step. Measured in ``benchmarks/bench_finetune.py`` (20 LoRA steps quiet vs one
CPU-bound neighbour).

:func:`load_tags` gives the load average as run tags, so a reader can tell a slow model from a busy machine.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MAX_THREADS = 8  # beyond this a 135M model gains nothing measurable and the barriers get costlier


@dataclass(frozen=True)
class Machine:
    """What the thread rule looks at: logical CPUs, CPUs this process may use, physical cores among them, load."""

    logical: int
    allowed: int
    physical: int
    load1: float | None

    @property
    def busy(self) -> bool:
        """True when the 1-minute load average is above the cores this process may use."""
        return self.load1 is not None and self.load1 > self.allowed


def _allowed_cpus() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS / Windows: no affinity API
        return list(range(os.cpu_count() or 1))


def _core_id(cpu: int) -> str | None:
    """An id shared by the hyper-threads of one physical core (Linux sysfs), else None."""
    topo = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
    for name in ("core_cpus_list", "thread_siblings_list"):
        with contextlib.suppress(OSError):
            return (topo / name).read_text().strip()
    return None


def physical_cores(cpus: list[int] | None = None) -> int:
    """Distinct physical cores among ``cpus`` (default: the CPUs this process may run on)."""
    cpus = _allowed_cpus() if cpus is None else cpus
    ids = {_core_id(c) for c in cpus}
    if None in ids:  # no topology information: count every CPU as a core
        return max(1, len(cpus))
    return max(1, len(ids))


def load_average() -> tuple[float, float, float] | None:
    """``os.getloadavg()`` (1, 5, 15 minutes), or None where the platform has none."""
    try:
        return os.getloadavg()
    except (AttributeError, OSError):
        return None


def machine() -> Machine:
    """The current machine, as :func:`choose_threads` sees it."""
    cpus = _allowed_cpus()
    load = load_average()
    return Machine(
        logical=os.cpu_count() or len(cpus),
        allowed=len(cpus),
        physical=physical_cores(cpus),
        load1=load[0] if load else None,
    )


@dataclass(frozen=True)
class ThreadPlan:
    """llama-server's thread options and where they came from (``rule``, ``setting`` or ``llama.cpp default``)."""

    threads: int | None  # None: leave it to llama.cpp
    threads_batch: int | None
    source: str
    machine: Machine

    def args(self) -> list[str]:
        """The llama-server arguments (``-t N --threads-batch N``); empty for llama.cpp's default."""
        a: list[str] = []
        if self.threads:
            a += ["-t", str(self.threads)]
        if self.threads_batch:
            a += ["--threads-batch", str(self.threads_batch)]
        return a

    def describe(self) -> str:
        m = self.machine
        who = (
            f"{self.threads} generation / {self.threads_batch} batch threads"
            if self.threads
            else "llama.cpp's default threads (one per physical core)"
        )
        return f"{who} ({self.source}; {m.physical} physical cores of {m.logical} CPUs, {m.allowed} allowed)"


def choose_threads(m: Machine | None = None) -> int:
    """The rule: half the physical cores this process may use, at least 1, at most :data:`MAX_THREADS`."""
    m = m or machine()
    return max(1, min(MAX_THREADS, min(m.physical, m.allowed) // 2))


def _line_of(path: Path | None, table: str, key: str) -> str:
    """``:N`` for the line of ``key = ...`` inside ``[table]`` of a TOML file, else ``""``."""
    from ..config import key_line

    if path is None:
        return ""
    with contextlib.suppress(OSError, TypeError):
        line = key_line(Path(path).read_text(), table, key)
        return f":{line}" if line else ""
    return ""


def _configured(table: str, env: str, meaning: str, key: str = "threads") -> int | None:
    """``env`` or ``[table] <key>`` of workbench.toml as a whole number >= 0; None when neither is set."""
    from ..config import settings
    from ..errors import ConfigError

    s = settings()
    value = s.option(table, key, None, env=env)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    toml = s.project_dir / "workbench.toml"
    where = env if os.environ.get(env) is not None else f"{toml}{_line_of(toml, table, key)}: [{table}] {key}"
    raise ConfigError(f"{where} must be a whole number >= 0 ([{table}] {key}: {meaning}), got {value!r}")


def configured_threads() -> int | None:
    """``WORKBENCH_LOCAL_THREADS`` or ``[local] threads`` of workbench.toml; None when neither is set."""
    return _configured("local", "WORKBENCH_LOCAL_THREADS", "0 means llama.cpp's default, N uses N threads")


def plan_replicas(m: Machine | None = None) -> int:
    """How many one-model servers the local endpoint spreads its requests over: ``WORKBENCH_LOCAL_REPLICAS`` or
    ``[local] replicas`` (0 or 1: one), else the rule: 2 where the thread plan gives the server one thread and
    this process may use 2 or more cores, else 1. One-thread servers share no barrier, so two of them use the core
    the rule leaves free without the collapse that 2 threads in one server suffer beside a busy neighbour
    (docs/endpoints.md, "Replicas"); servers of several threads each would suffer it, so they get no replica."""
    n = _configured("local", "WORKBENCH_LOCAL_REPLICAS", "how many local model servers; 0 or 1 runs one", "replicas")
    if n is not None:
        return max(1, n)
    m = m or machine()
    return 2 if plan_threads(None, m).threads == 1 and min(m.physical, m.allowed) >= 2 else 1


def plan_threads(threads: int | None = None, m: Machine | None = None) -> ThreadPlan:
    """The thread options for llama-server: ``threads`` if given, else the setting, else the rule.

    ``0`` (argument or setting) keeps llama.cpp's own default.
    """
    m = m or machine()
    source = "argument"
    if threads is None:
        threads, source = configured_threads(), "setting"
    if threads is None:
        threads, source = choose_threads(m), "rule"
    if threads == 0:
        return ThreadPlan(None, None, "llama.cpp default", m)
    return ThreadPlan(threads, threads, source, m)


# ---------------------------------------------------------------- in-process pools (torch, onnxruntime, FAISS, ...)

_held_probe: Callable[[], int] | None = None  # installed by llm/local: threads of the running local servers


def set_held_probe(probe: Callable[[], int] | None) -> None:
    """Install the function that says how many threads the running local model servers hold (``llm/local`` does,
    so this module never imports it)."""
    global _held_probe
    _held_probe = probe


def held_threads() -> int:
    """Threads the running local model servers hold (0 when none runs or ``llm/local`` is not loaded)."""
    if _held_probe is None:
        return 0
    try:
        return max(0, int(_held_probe()))
    except Exception:  # noqa: BLE001 - a server's state being rewritten: count nothing rather than fail the caller
        return 0


@dataclass(frozen=True)
class PoolPlan:
    """Threads for this process's compute pools and where the number came from."""

    threads: int  # 0: each library's own default
    source: str  # argument, setting, rule or library default
    held: int  # threads the local model servers held when it was chosen
    machine: Machine

    def describe(self) -> str:
        """One line for logs and run params."""
        m = self.machine
        who = f"{self.threads} threads" if self.threads else "each library's default threads"
        return f"{who} ({self.source}; {m.physical} physical cores allowed, {self.held} held by the local server)"


def inprocess_rule(m: Machine, held: int) -> int:
    """The rule: what the local model servers leave of the physical cores this process may use, and at most half of
    them (like the server's own rule, room for up to ``cores/2`` CPU-bound neighbours); at least 1.

    Half, not all that is left: torch's OpenMP pool collapses like llama.cpp's when a neighbour takes a core from
    one of its threads — 2 threads on 2 cores with one busy-loop neighbour ran at 0.05 of their quiet speed, 1
    thread at 0.69 (``benchmarks/bench_finetune.py --quick``, a shared machine at load 7)."""
    cores = min(m.physical, m.allowed)
    return max(1, min(cores - held, cores // 2))


def inprocess_threads(threads: int | None = None, m: Machine | None = None, held: int | None = None) -> PoolPlan:
    """Threads for every in-process compute pool: torch (fine-tuning), onnxruntime (offline embeddings), FAISS's
    OpenMP and the tokenizers' rayon pool. ``threads`` if given, else ``WORKBENCH_PROCESS_THREADS`` or
    ``[process] threads`` of workbench.toml, else :func:`inprocess_rule`; ``0`` leaves each library its default
    (all cores). ``held`` defaults to :func:`held_threads` (the running local servers' threads).

    Like the server's rule, the point is not to oversubscribe: a pool with more threads than the free cores
    waits at every barrier for a thread the scheduler has given to someone else."""
    m = m or machine()
    held = held_threads() if held is None else held
    source = "argument"
    if threads is None:
        threads, source = (
            _configured("process", "WORKBENCH_PROCESS_THREADS", "0 means each library's default"),
            "setting",
        )
    if threads is None:
        threads, source = inprocess_rule(m, held), "rule"
    if threads == 0:
        return PoolPlan(0, "library default", held, m)
    return PoolPlan(threads, source, held, m)


def cpu_ticks(pids: list[int]) -> tuple[int, int]:
    """(busy clock ticks of the whole machine, ticks used by ``pids``) from Linux ``/proc``; (0, 0) elsewhere."""
    try:
        f = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        busy = sum(int(f[i]) for i in (0, 1, 2, 5, 6, 7))  # user nice system irq softirq steal
        ours = 0
        for pid in pids:
            with contextlib.suppress(OSError):
                st = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                ours += int(st[11]) + int(st[12])  # utime + stime
        return busy, ours
    except (OSError, IndexError, ValueError):
        return 0, 0


class AdaptivePool:
    """Threads for a compute loop that runs in steps (LoRA training), chosen again before every step from what the
    other processes on the machine used since the previous choice.

    The fixed rule (:func:`inprocess_rule`) gives half the cores, so a quiet 2-core machine trains at half speed
    to be safe from a neighbour that may never come. This pool looks instead: ``cores`` minus the cores' worth of
    CPU the other processes used over the last interval (rounded up after :data:`SLACK`), at least 1. An idle
    local model server costs nothing here; a busy one, or a CPU-bound neighbour, takes its core back before the
    next step. The first choice looks at a short window (``warmup_s``). Where ``/proc`` is missing it keeps
    :func:`inprocess_rule`'s number.

    ``choose()`` returns the threads for the next step; ``history`` holds (threads, other cores) per choice."""

    SLACK = 0.3  # a neighbour using under this many cores' worth leaves every core to us

    def __init__(self, m: Machine | None = None, held: int = 0, warmup_s: float = 0.3):
        import time

        self.machine = m or machine()
        self.cores = min(self.machine.physical, self.machine.allowed)
        self.fallback = inprocess_rule(self.machine, held)
        self.hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.history: list[tuple[int, float | None]] = []
        self._clock = time.monotonic
        self._last = (*cpu_ticks([os.getpid()]), self._clock())
        if warmup_s > 0:
            time.sleep(warmup_s)

    def others(self) -> float | None:
        """Cores' worth of CPU used by other processes since the last call (None without ``/proc``)."""
        busy, ours, now = *cpu_ticks([os.getpid()]), self._clock()
        b0, o0, t0 = self._last
        self._last = (busy, ours, now)
        if busy == 0 or now <= t0:
            return None
        return max(0.0, ((busy - b0) - (ours - o0)) / self.hz / (now - t0))

    def choose(self) -> int:
        import math

        other = self.others()
        n = self.fallback if other is None else max(1, self.cores - max(0, math.ceil(other - self.SLACK)))
        self.history.append((n, other))
        return n


def load_tags(prefix: str = "workbench.load") -> dict[str, str]:
    """Run tags that say how busy the machine is now: 1-minute load average and the CPUs it compares to.

    Call at the start and at the end of an evaluation (``load_tags("workbench.load.start")`` /
    ``load_tags("workbench.load.end")``); a load above ``cpus`` means latency figures include waiting for a CPU.
    """
    load = load_average()
    m = machine()
    tags = {f"{prefix}.cpus": str(m.allowed)}
    if load is not None:
        tags[f"{prefix}.load1"] = f"{load[0]:.2f}"
        tags[f"{prefix}.busy"] = str(load[0] > m.allowed).lower()
    return tags
