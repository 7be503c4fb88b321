"""The one tracked-run lifecycle: create (or adopt) a run, run the work, govern it, terminate it.

Every launcher uses :func:`tracked_run` — ``workbench run`` / ``wb.run_notebook``, sweep parents,
``workbench eval``, ``workbench finetune train`` — so every run gets the same things:

* on entry: stale runs of dead launchers on this host are marked KILLED first (:mod:`workbench.recovery`);
  the run is tagged with its kind, the audit trail (who, where, when, which command, scrubbed), the launcher
  (pid, host, process start: what recovery needs after a ``kill -9``), library versions and the git state;
  params are logged with secret values scrubbed;
* on exit, success or failure: the governance card and the secret scan (:func:`workbench.governance.govern_run`),
  an ``error`` tag scrubbed of secrets, and a terminal status — FINISHED, FAILED, or KILLED for Ctrl-C. A run
  is never left RUNNING by a failure the process survives.

It lives above :mod:`workbench.tracking` (MLflow glue) and :mod:`workbench.governance` (which uses tracking),
so neither imports the other's caller.
"""

from __future__ import annotations

import contextlib
import os
import platform
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version as package_version
from pathlib import Path
from typing import Any

from . import governance, recovery, tags as T, tracking
from .config import settings
from .errors import is_disk_full
from .secrets import scrub, secret_values

TERMINAL = ("FINISHED", "FAILED", "KILLED")


def versions() -> dict[str, str]:
    """Version tags of the workbench and the libraries a run depends on."""
    import mlflow

    from . import __version__

    out = {T.VERSION: __version__, T.MLFLOW_VERSION: mlflow.__version__, T.PYTHON: platform.python_version()}
    with contextlib.suppress(PackageNotFoundError):  # read from its metadata: importing papermill costs ~1.5 s CPU
        out[T.PAPERMILL_VERSION] = package_version("papermill")
    return out


@dataclass
class TrackedRun:
    """The handle :func:`tracked_run` yields: the run's id, and what the work wants recorded at the end."""

    run_id: str
    experiment_id: str
    kind: str
    status: str = "FINISHED"
    error: str | None = None
    scan_files: list[Path] = field(default_factory=list)  # extra files the secret scan reads (executed notebook)
    governance: governance.Governance | None = None

    def fail(self, error: str) -> None:
        """Mark the run FAILED (without raising) with ``error`` (scrubbed of secrets: callers print it);
        several failures are joined."""
        self.status = "FAILED"
        error = scrub(error)
        self.error = f"{self.error}; {error}" if self.error else error

    @property
    def ok(self) -> bool:
        return self.status == "FINISHED"


def ambient_run_id() -> str | None:
    """The run this process already works in, if any (a launcher's, or one the user started with
    ``mlflow.start_run``), without starting one: a step of the lifecycle loop nests under it."""
    import mlflow

    active = mlflow.active_run()
    return os.environ.get(tracking.RUN_ENV) or (active.info.run_id if active is not None else None)


def nest_under_ambient(experiment: str | None) -> tuple[str | None, str | None]:
    """``(experiment, parent_run_id)`` for a step's run: a child of the ambient run (:func:`ambient_run_id`), in
    its experiment unless ``experiment`` names another, so the MLflow UI shows it nested; else ``experiment``."""
    parent = ambient_run_id()
    if parent is None or experiment:
        return experiment, parent
    c = tracking.client()
    return c.get_experiment(c.get_run(parent).info.experiment_id).name, parent


@contextlib.contextmanager
def tracked_run(
    kind: str,
    name: str,
    experiment: str | None = None,
    tags: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    parent_run_id: str | None = None,
    source: str | Path | None = None,
) -> Iterator[TrackedRun]:
    """A run of ``kind`` (notebook, sweep, eval, finetune) named ``name``, governed and terminated on exit.

    ``run_id`` adopts an existing run (a sweep's pre-created child) instead of creating one; ``source`` is the
    file whose git state is recorded (default: the project directory). An exception inside the block fails the
    run (Ctrl-C kills it) and propagates; ``handle.fail(msg)`` fails it without an exception. A new run follows
    MLflow's conventions (:func:`nest`): it is a child of ``parent_run_id``, else of the active run, in
    ``experiment``, else its parent's experiment, else the active experiment.
    """
    tracking.configure()
    keep_reserve()
    c = tracking.client()
    if run_id is not None:  # adopted: it is where it was created
        exp_id = c.get_run(run_id).info.experiment_id
    else:
        parent_run_id, exp_id = nest(c, parent_run_id, experiment)
    where = Path(source) if source else settings().project_dir
    run_tags = {
        T.KIND: kind,
        **governance.git_info(where),
        **versions(),
        **governance.audit_tags(),
        **recovery.launch_tags(c),
        **{k: tracking.safe_text(v) for k, v in (tags or {}).items()},
    }
    run_tags[T.COMMAND] = tracking.safe_text(run_tags[T.COMMAND])  # argv may hold undecodable bytes
    if parent_run_id:
        run_tags[T.PARENT_RUN_ID] = parent_run_id
    if run_id is None:
        run_id = c.create_run(exp_id, run_name=name, tags=run_tags).info.run_id
    else:
        tracking.set_tags(run_tags, run_id)
        c.update_run(run_id, status="RUNNING")
    secrets = secret_values()
    handle = TrackedRun(run_id=run_id, experiment_id=exp_id, kind=kind)
    try:
        if params:
            tracking.log_params({k: scrub(str(v), secrets) for k, v in params.items()}, run_id)
        yield handle
    except (KeyboardInterrupt, SystemExit):
        handle.status, handle.error = "KILLED", "interrupted"
        with contextlib.suppress(Exception):
            tracking.set_tags({T.ERROR: "interrupted"}, run_id)
            c.set_terminated(run_id, "KILLED")
        raise
    except BaseException as e:
        handle.fail(f"{type(e).__name__}: {e}")
        finish(handle, secrets)
        raise
    else:
        finish(handle, secrets)


def nest(c, parent_run_id: str | None, experiment: str | None) -> tuple[str | None, str]:
    """(parent, experiment id) of a new run, by MLflow's conventions: the parent given, else the active run
    (:func:`workbench.tracking.active_run_id`: the launcher's run, ``mlflow.start_run()``, the kernel's own run);
    the experiment named, else the parent's, else the active experiment (``mlflow.set_experiment``,
    ``MLFLOW_EXPERIMENT_NAME``/``_ID``), else ``workbench``. An active run this store does not hold (a run of
    another store) is no parent."""
    parent_exp = None
    candidate = parent_run_id or tracking.active_run_id()
    if candidate:
        try:
            parent_exp = c.get_run(candidate).info.experiment_id
            parent_run_id = candidate
        except Exception:  # noqa: BLE001 - MLflow raises several types for a run it does not hold
            pass
    return parent_run_id, (tracking.experiment_id(experiment) if experiment or not parent_exp else parent_exp)


def finish(handle: TrackedRun, secrets: list[str] | None = None) -> None:
    """Govern and terminate ``handle``'s run (card, secret scan, error tag, status). Never raises for a
    governance failure: it fails the run instead; the run is terminated whatever happens — on a full disk
    with the room of the space reserve (:func:`keep_reserve`)."""
    secrets = secret_values() if secrets is None else secrets
    c = tracking.client()
    try:
        gov = governance.govern_run(
            handle.run_id, extra_files=[f for f in handle.scan_files if f], status=handle.status
        )
        handle.governance = gov
        if gov.error:
            handle.fail(gov.error)
        if handle.error:
            tracking.set_tags({T.ERROR: scrub(handle.error[:5000], secrets)}, handle.run_id)
    finally:
        terminate(c, handle)


def terminate(c, handle: TrackedRun) -> None:
    """Set the run's terminal status. When the store's disk is full, free the space reserve and try again (a
    run must not stay RUNNING because its status could not be written)."""
    try:
        c.set_terminated(handle.run_id, handle.status)
        return
    except Exception as e:
        if not is_disk_full(e) or not release_reserve():
            raise
    handle.fail(
        "disk full: the tracking store could not be written (freed the workbench's space reserve to "
        "record this); free space and re-run"
    )
    with contextlib.suppress(Exception):
        tracking.set_tags({T.ERROR: (handle.error or "")[-5000:]}, handle.run_id)
    c.set_terminated(handle.run_id, handle.status)


RESERVE_BYTES = 256 * 1024  # room for sqlite to write a status and an error tag on a full disk


def reserve_path() -> Path:
    return settings().project_dir / ".workbench" / "disk-reserve"


def keep_reserve() -> None:
    """Keep a small file of real blocks beside a sqlite store (best effort), to free when the disk fills up."""
    if not tracking.tracking_uri().startswith("sqlite:"):
        return
    p = reserve_path()
    try:
        if p.exists() and p.stat().st_size >= RESERVE_BYTES:
            return
        p.parent.mkdir(parents=True, exist_ok=True)
        with open(p, "wb") as f:
            f.write(b"\0" * RESERVE_BYTES)
            f.flush()
            os.fsync(f.fileno())
    except OSError:
        with contextlib.suppress(OSError):
            p.unlink()


def release_reserve() -> bool:
    """Delete the space reserve; False when there was none."""
    try:
        reserve_path().unlink()
        return True
    except OSError:
        return False
