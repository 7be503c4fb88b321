"""The cyclic garbage collector during the workbench's long jobs.

Once MLflow, openai and pandas are imported a process holds about 400,000 objects the collector tracks, and
each of its full passes walks all of them: 0.2-0.27 s of CPU a pass on this project's 2-core machine. A
200-row traced evaluation (``bench_eval.py --child eval``, answers of at most 4 tokens) made two such passes
while its rows ran and its start-up imports six more: 1.04 s of the process's 8.5 s of CPU, measured with
``gc.callbacks`` on 2026-12-06; with this module, 0.30 s of 6.95 s (``docs/benchmarks.md``, "Row traces").
Almost none of those objects is ever garbage: modules, classes, functions.

:func:`settled` leaves the objects that already exist out of the collector's passes for the length of a job
(``gc.freeze``) and hands them back to it at the end (``gc.unfreeze``), so nothing that becomes garbage
meanwhile is kept for good: it is collected by a later pass, as before. :func:`settle`, inside the block, does
the same for what the job has built so far (its imports, its store), before its long loop.

:func:`importing` pauses the collector while the package's heavy modules load (``import workbench`` is lazy:
``wb.evaluate`` loads MLflow, pandas and the rest on first use). Loading a module makes objects that live as
long as the process, and the collector's passes over them find nothing: importing what ``wb.evaluate`` needs
cost 1.96 s of CPU, 0.36 s of it in 557 passes (4 full), measured with ``gc.callbacks`` on 2026-12-06.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()


class _Toggle:
    """A process-wide change of the collector that nests: :meth:`block` calls ``on`` when the first block opens
    (if ``mine()`` says the change is this module's to make) and ``off`` when the last one closes (if it made it).
    Blocks may nest and open in several threads; the count and the calls are made under the one lock."""

    def __init__(self, mine, on, off) -> None:
        self.depth, self.ours = 0, False
        self._mine, self._on, self._off = mine, on, off

    @contextlib.contextmanager
    def block(self) -> Iterator[None]:
        with _lock:
            self.depth += 1
            if self.depth == 1:
                self.ours = self._mine()
                if self.ours:
                    self._on()
        try:
            yield
        finally:
            with _lock:
                self.depth -= 1
                if self.depth == 0 and self.ours:
                    self._off()
                    self.ours = False


# the freeze is this module's when nothing was frozen before; the pause when the collector was enabled before
_frozen = _Toggle(lambda: gc.get_freeze_count() == 0, gc.freeze, gc.unfreeze)
_paused = _Toggle(gc.isenabled, gc.disable, gc.enable)


def settled() -> contextlib.AbstractContextManager[None]:
    """Inside the block, the objects that existed when it began are left out of the garbage collector's passes;
    at its end (the last one, when blocks nest or run in several threads) they are handed back. A process that
    had frozen objects itself (``gc.freeze()`` before a fork) is left as it is."""
    return _frozen.block()


def settle() -> None:
    """Inside :func:`settled`: leave what exists now out of the collector's passes too, until the block ends."""
    with _lock:
        if _frozen.depth and _frozen.ours:
            gc.freeze()


def importing() -> contextlib.AbstractContextManager[None]:
    """No garbage collector passes inside the block (``gc.disable``); the collector is enabled again when the last
    block ends, unless it was disabled before the first began. Meant for loading modules: what becomes garbage
    meanwhile (little: a module's objects live as long as the process) is collected by the next pass after."""
    return _paused.block()
