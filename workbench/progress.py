"""No silent wait over two seconds: one way to say what the workbench is doing, on the command line and in notebooks.

* :func:`say` — one ``[workbench] ...`` line on stderr (a notebook shows it in the cell's output);
* :func:`bar` — a tqdm progress bar (``tqdm.auto``: the widget in JupyterLab, text on a terminal). ``enabled``
  None shows it only once the work has run for :data:`QUIET_S` seconds (tqdm's ``delay``, checked at each update),
  True shows it at once, False never;
* :func:`waiting` — a wait whose length is unknown (the model server starting): says what it waits for (at once,
  or once it has lasted ``after`` seconds) and how long it took at the end.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator

QUIET_S = 2.0  # the longest a wait may stay silent


def say(msg: str, end: str = "\n") -> None:
    """``[workbench] msg`` on stderr, flushed."""
    print(f"[workbench] {msg}", end=end, file=sys.stderr, flush=True)


def bar(total: int | None, desc: str, unit: str = "it", enabled: bool | None = None, leave: bool = True):
    """A tqdm bar of ``total`` steps, or None when ``enabled`` is False (callers test ``if b is not None``).

    ``enabled`` None: shown once the work has taken :data:`QUIET_S` seconds (a timer shows it even before the first
    step ends), so quick work prints nothing."""
    if enabled is False:
        return None
    from tqdm.auto import tqdm

    b = tqdm(total=total, desc=desc, unit=unit, leave=leave, delay=0.0 if enabled else QUIET_S)
    if not enabled:  # tqdm checks its delay only at an update: show it at QUIET_S even if none has come yet
        timer = threading.Timer(QUIET_S, _show, (b,))
        timer.daemon = True
        timer.start()
    return b


def _show(b) -> None:
    if not b.disable:  # tqdm disables a bar when it is closed
        b.refresh()


@contextlib.contextmanager
def waiting(what: str, after: float = 0.0, done: str = "ready") -> Iterator[None]:
    """Say ``what…`` and, when the block ends, ``what: ready in N s`` (``failed after N s`` if it raises).

    ``after`` > 0: say nothing unless the block is still running after that many seconds (a timer thread says it
    then), so a wait that turns out short stays quiet."""
    t0 = time.monotonic()
    said = threading.Event()

    def announce() -> None:
        said.set()
        say(f"{what}…")

    timer = None
    if after > 0:
        timer = threading.Timer(after, announce)
        timer.daemon = True
        timer.start()
    else:
        announce()
    try:
        yield
    except BaseException:
        if timer is not None:
            timer.cancel()
        if said.is_set():
            say(f"{what}: failed after {time.monotonic() - t0:.1f} s")
        raise
    if timer is not None:
        timer.cancel()
    if said.is_set():
        say(f"{what}: {done} in {time.monotonic() - t0:.1f} s")
