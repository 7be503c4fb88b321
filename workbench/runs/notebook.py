"""One tracked notebook run: ``wb.run_notebook(...)`` / ``workbench run``.

The MLflow run is created *before* the kernel starts; its id and the tracking URI reach the kernel through
the environment (``WORKBENCH_RUN_ID``, ``MLFLOW_RUN_ID``, ``MLFLOW_TRACKING_URI``), never as notebook
parameters, so :mod:`workbench.tracking` inside the notebook logs into it. Recorded on every run: typed
parameters (``papermill.inspect_notebook`` defaults + overrides), provenance tags, the executed notebook as
``.ipynb`` and ``.html`` (nbconvert; the MLflow UI renders HTML, not ipynb), duration, status. A cell error,
a cell timeout or a dead kernel marks the run FAILED and still logs the partial notebook with an ``error``
tag naming the cell and the exception.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import threading
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import tags as T, tracking
from ..config import join_surrogate_pairs, loads_json, settings
from ..errors import UsageError, WorkbenchError
from ..lifecycle import tracked_run
from ..options import split_options
from ..secrets import is_secret_name, scrub, secret_values

_ENV_LOCK = threading.Lock()
KERNEL_START_TIMEOUT_S = 300  # papermill's 60 s is too short for 8 kernels starting at once on 2 busy cores


class NotebookRunError(WorkbenchError):
    """A tracked run failed; ``result`` holds the FAILED run's details (partial artifacts are logged)."""

    def __init__(self, message: str, result: RunResult):
        super().__init__(message)
        self.result = result


@dataclass
class RunResult:
    run_id: str
    experiment_id: str
    status: str  # FINISHED | FAILED
    duration_s: float
    output_notebook: Path
    output_html: Path | None
    parameters: dict[str, Any]
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    traceback: str | None = None
    verdict: str | None = None  # the notebook's gate verdict (pass | fail | inconclusive), None without gates
    gates: list[dict] = field(default_factory=list)  # the gates it recorded (wb.evaluate.log_gates)

    @property
    def ok(self) -> bool:
        """The notebook ran to the end (its gates may still have failed: see :attr:`passed`)."""
        return self.status == "FINISHED"

    @property
    def passed(self) -> bool:
        """The notebook ran to the end and every gate it recorded passed (``workbench run`` exits 0)."""
        return self.ok and self.verdict in (None, "pass")

    def summary(self):
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "run_id": self.run_id,
                    "status": self.status,
                    "gate": self.verdict,
                    "duration_s": round(self.duration_s, 2),
                    **{f"param.{k}": v for k, v in self.parameters.items()},
                    **self.metrics,
                }
            ]
        )


def notebook_hash(path: Path) -> str:
    """sha256 of the notebook's sources only (outputs and metadata do not change what it does)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    src = [
        ("".join(c.get("source", "")) if isinstance(c.get("source"), list) else c.get("source", ""))
        for c in nb.get("cells", [])
    ]
    return hashlib.sha256(json.dumps(src).encode()).hexdigest()


def inspect_parameters(path: Path) -> dict[str, dict]:
    """``{name: {"default", "type", "help"}}`` from the notebook's ``parameters`` cell (papermill)."""
    import papermill

    try:
        info = papermill.inspect_notebook(str(path))
    except Exception as e:  # noqa: BLE001 - papermill raises several types for unreadable notebooks
        raise WorkbenchError(f"{path}: cannot read the notebook ({type(e).__name__}: {e})") from None
    out = {}
    for name, p in info.items():
        default = p.get("default")
        with contextlib.suppress(Exception):
            import ast

            default = ast.literal_eval(default)
        out[name] = {"default": default, "type": p.get("inferred_type_name", "None"), "help": p.get("help", "")}
    return out


def coerce(value: Any, type_name: str | None) -> Any:
    """Turn a command-line string into the parameter's declared type (int, float, bool, str, or YAML)."""
    if not isinstance(value, str):
        return value
    t = (type_name or "").lower()
    try:
        if t == "int":
            return int(value)
        if t == "float":
            return float(value)
        if t == "bool":
            if value.lower() in ("true", "1", "yes", "on"):
                return True
            if value.lower() in ("false", "0", "no", "off"):
                return False
            raise ValueError(value)
        if t == "str":
            return value
    except ValueError:
        raise WorkbenchError(f"parameter value {value!r} is not a valid {t}") from None
    return untyped(value)


def untyped(value: str) -> Any:
    """A value for a parameter without a declared type, by a YAML 1.2 core-schema rule (JSON's scalars, lists
    and objects; ``true``/``false``/``null`` in any case; other flow collections as YAML); anything else stays
    the string. Unlike YAML 1.1 (``yaml.safe_load``) ``1:30``, ``0123``, ``yes``, ``on``, ``2024-01-02`` stay
    strings rather than becoming 90, 83, True, True and a date."""
    s = value.strip()
    if s.lower() in ("true", "false"):
        return s.lower() == "true"
    if s.lower() in ("null", "~"):
        return None
    try:
        return loads_json(s)
    except ValueError:  # not JSON, or nested too deeply (NestingError): kept as the string
        pass
    if s[:1] in ("[", "{"):
        import yaml

        with contextlib.suppress(yaml.YAMLError, RecursionError):  # nested thousands deep: stays the string
            return yaml.safe_load(s)
    return value


def check_storable(name: str, value: Any, where: str) -> None:
    """Refuse a value MLflow and the notebook cannot store faithfully: a NUL character, or text that is not
    valid UTF-8 (a lone surrogate: an undecodable byte on the command line, or ``"\\ud800"``)."""
    if isinstance(value, dict):
        for k, v in value.items():
            check_storable(name, k, where)
            check_storable(name, v, where)
    elif isinstance(value, (list, tuple)):
        for v in value:
            check_storable(name, v, where)
    elif isinstance(value, str):
        if "\x00" in value:
            raise WorkbenchError(
                f"{where}: parameter '{name}': the value holds a NUL character (\\x00) at "
                f"position {value.index(chr(0))}; expected text without control characters"
            )
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as e:
            raise WorkbenchError(
                f"{where}: parameter '{name}': the value is not valid UTF-8 text (character "
                f"{value[e.start]!r} at position {e.start}: a byte that is not UTF-8, or a lone "
                f"surrogate); pass UTF-8 text"
            ) from None


def resolve_parameters(
    path: Path, overrides: Mapping[str, Any] | None, allow_unknown: bool = False
) -> tuple[dict, dict]:
    """(all parameters = defaults + typed overrides, declared parameter info). Refuses secret-like names, and
    names the notebook does not declare (a misspelt ``-p`` would silently run the default) unless
    ``allow_unknown``, which only warns (papermill still injects them)."""
    declared = inspect_parameters(path)
    overrides = dict(overrides or {})
    for name in overrides:
        if is_secret_name(name):
            raise WorkbenchError(
                f"parameter '{name}' looks like a credential: never pass secrets as parameters "
                f"(they would be stored in the notebook and in MLflow). Put it in an environment "
                f"variable and read it with os.environ in the notebook."
            )
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        why = (
            f"unknown parameter(s) {unknown}; declared: {sorted(declared)}"
            if declared
            else f"no cell tagged 'parameters': overrides {sorted(overrides)} are injected at the top, where a later "
            f"assignment in the notebook silently replaces them; tag the cell that sets them 'parameters'"
        )
        if not allow_unknown:  # before any run exists: nothing is left behind
            raise UsageError(
                f"{path}: {why} (pass --allow-unknown-params, or allow_unknown_params=True, to inject them anyway)"
            )
        warnings.warn(f"{path.name}: {why}", stacklevel=3)
    params = {n: d["default"] for n, d in declared.items()}
    for name, v in overrides.items():
        v = join_surrogate_pairs(v)
        check_storable(name, v, path.name)  # before any run exists: nothing is left RUNNING
        try:
            params[name] = coerce(v, declared.get(name, {}).get("type"))
        except WorkbenchError as e:  # name the parameter and where it is declared
            raise WorkbenchError(f"{path.name}: parameter '{name}': {str(e).removeprefix('parameter ')}") from None
    return params, declared


def kernel_transport() -> dict:
    """papermill kwargs that start the kernel over IPC (Unix sockets) where there are Unix sockets: no "Kernel
    is running over TCP without encryption" warning on every start, and no open TCP ports."""
    if os.name != "posix":
        return {}
    import tempfile
    import uuid

    from traitlets.config import Config

    # a socket path of its own per kernel: jupyter_client's default ("kernel-ipc" in the working directory) makes
    # kernels started at once in one directory (a sweep, parallel runs) connect to each other's sockets
    ip = os.path.join(tempfile.gettempdir(), f"wbk-{uuid.uuid4().hex[:16]}")
    return {"config": Config({"KernelManager": {"transport": "ipc", "ip": ip}})}


@contextlib.contextmanager
def _kernel_env(values: dict[str, str]):
    """Set environment variables for the kernel papermill starts (kernels inherit os.environ)."""
    with _ENV_LOCK:
        old = {k: os.environ.get(k) for k in values}
        os.environ.update(values)
        try:
            yield
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def _failing_cell(nb_path: Path) -> tuple[str, str]:
    """(cell label, traceback text) of the first cell whose output is an error."""
    try:
        nb = json.loads(nb_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "unknown cell", ""
    code_idx = 0
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        code_idx += 1
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                tb = "\n".join(out.get("traceback", []))
                tb = re.sub(r"\x1b\[[0-9;]*m", "", tb)
                return f"cell {code_idx} (execution_count {cell.get('execution_count')})", tb
    return "unknown cell", ""


def to_html(nb_path: Path) -> Path:
    """Render an executed notebook to HTML with nbconvert (the MLflow UI shows HTML, not ipynb)."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(nb_path), as_version=4)
    body, _ = HTMLExporter().from_notebook_node(nb)
    out = nb_path.with_suffix(".html")
    out.write_text(body, encoding="utf-8")
    return out


def _scrub_file(path: Path, secrets: list[str]) -> None:
    if secrets and path.exists():
        text = path.read_text(encoding="utf-8")
        clean = scrub(text, secrets)
        if clean != text:
            path.write_text(clean, encoding="utf-8")


def kernel_name(path: Path, kernel: str | None = None) -> str:
    """``kernel``, else the notebook's kernelspec name, else ``python3``; checked before any run exists."""
    from jupyter_client.kernelspec import NATIVE_KERNEL_NAME, KernelSpecManager

    name = (
        kernel
        or (json.loads(path.read_text(encoding="utf-8")).get("metadata", {}).get("kernelspec") or {}).get("name")
        or NATIVE_KERNEL_NAME
    )
    installed = set(KernelSpecManager().find_kernel_specs()) | {NATIVE_KERNEL_NAME}
    if name not in installed:
        where = "--kernel" if kernel else "its kernelspec"
        raise WorkbenchError(
            f"{path}: Jupyter kernel {name!r} ({where}) is not installed; installed: "
            f"{', '.join(sorted(installed))}. Pass --kernel NAME, or register it with "
            f"`python -m ipykernel install --user --name {name}` in that environment"
        )
    return name


@dataclass(frozen=True)
class NotebookOptions:
    """How :func:`run_notebook` executes a notebook and what a failure does."""

    timeout: float | None = None  # per cell, seconds (a cell over it fails the run)
    kernel: str | None = None  # Jupyter kernel name; default: the notebook's own kernelspec (python3 if none)
    output: str | Path | None = None  # the executed notebook; default .workbench/runs/<run_id>/<name>.ipynb
    progress: bool = True  # papermill's progress bar
    allow_unknown_params: bool = False  # inject parameters the notebook does not declare (with a warning)
    raise_on_error: bool = False  # raise NotebookRunError for a failed run instead of returning its result


def run_notebook(
    path: str | Path,
    parameters: Mapping[str, Any] | None = None,
    experiment: str | None = None,
    run_name: str | None = None,
    parent_run_id: str | None = None,
    tags: Mapping[str, str] | None = None,
    run_id: str | None = None,
    execution: NotebookOptions | None = None,
    **options,
) -> RunResult:
    """Execute ``path`` with papermill as one MLflow run; returns a :class:`RunResult`.

    ``execution`` (:class:`NotebookOptions`), or its fields as keywords in ``options`` (``timeout``, ``kernel``,
    ``output``, ``progress``, ``allow_unknown_params``, ``raise_on_error``; they override ``execution``); any
    other name is an :class:`~workbench.errors.UnknownOption` error.

    ``kernel`` names the Jupyter kernel; by default the notebook's own kernelspec (``python3`` if it has none).
    A parameter the notebook does not declare is a :class:`~workbench.errors.UsageError` unless
    ``allow_unknown_params``. The run is a child of ``parent_run_id``, else of the active run, in ``experiment``,
    else MLflow's active experiment (:func:`workbench.lifecycle.tracked_run`); the kernel gets that run and
    experiment as MLflow's own ``MLFLOW_RUN_ID`` / ``MLFLOW_EXPERIMENT_ID``. ``tags`` are added to the run's.
    Gates the notebook records (``wb.evaluate.log_gates``) come back as :attr:`RunResult.verdict` and
    :attr:`RunResult.gates`.

    ``timeout`` is per cell (seconds). On failure the run is FAILED with the partial notebook logged; the
    result carries the error and traceback (``raise_on_error=True`` raises :class:`NotebookRunError`).
    ``run_id`` reuses an existing (e.g. pre-created) run instead of creating one.
    """
    (opts,) = split_options("run_notebook", options, execution or NotebookOptions())
    timeout, output, progress = opts.timeout, opts.output, opts.progress
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    path = Path(path).resolve()
    if not path.is_file():
        raise WorkbenchError(f"{path}: notebook not found")
    if path.suffix != ".ipynb":
        raise WorkbenchError(f"{path}: expected a .ipynb notebook")
    params, _declared = resolve_parameters(path, parameters, allow_unknown=opts.allow_unknown_params)
    kernel = kernel_name(path, opts.kernel)
    nb_hash = notebook_hash(path)
    run_tags = {
        T.NOTEBOOK: str(path),
        T.NOTEBOOK_HASH: nb_hash,
        T.SOURCE_NAME: str(path),
        T.SOURCE_TYPE: "NOTEBOOK",
        **(tags or {}),
    }
    error, tb, html = None, None, None
    with tracked_run(
        "notebook",
        run_name or path.stem,
        experiment,
        tags=run_tags,
        params=params,
        run_id=run_id,
        parent_run_id=parent_run_id,
        source=path,
    ) as run:
        run_id = run.run_id
        out_dir = Path(output).resolve().parent if output else settings().project_dir / ".workbench" / "runs" / run_id
        out_dir.mkdir(parents=True, exist_ok=True)
        out_nb = Path(output).resolve() if output else out_dir / path.name
        # the kernel's active run and experiment are the launcher's (MLflow's own variables), so mlflow.start_run()
        # and everything the notebook logs or traces land in this run and its experiment
        env = {
            tracking.RUN_ENV: run_id,
            "MLFLOW_RUN_ID": run_id,
            "MLFLOW_TRACKING_URI": tracking.tracking_uri(),
            "MLFLOW_EXPERIMENT_ID": run.experiment_id,
            "MLFLOW_EXPERIMENT_NAME": tracking.client().get_experiment(run.experiment_id).name,
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "WORKBENCH_PROJECT_DIR": str(settings().project_dir),
        }
        t0 = time.monotonic()
        try:
            with _kernel_env(env):
                papermill.execute_notebook(
                    str(path),
                    str(out_nb),
                    parameters=params,
                    progress_bar=progress,
                    start_timeout=KERNEL_START_TIMEOUT_S,
                    cwd=str(path.parent),
                    execution_timeout=timeout,
                    kernel_name=kernel,
                    **kernel_transport(),
                )
        except PapermillExecutionError as e:
            error = f"cell {e.exec_count}: {e.ename}: {e.evalue}"
            tb = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(e.traceback or []))
        except CellTimeoutError as e:
            error, tb = f"timeout after {timeout}s per cell: {str(e).splitlines()[0][:200]}", str(e)
        except DeadKernelError as e:
            error, tb = f"kernel died: {str(e)[:200]}", str(e)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as e:  # noqa: BLE001 - any launcher failure still ends the run as FAILED
            error = f"{type(e).__name__}: {e}"
        duration = time.monotonic() - t0
        if error:
            run.fail(error)
            if tb is None:
                _, tb = _failing_cell(out_nb)
        try:
            if out_nb.exists():
                secrets = secret_values()
                _scrub_file(out_nb, secrets)
                html = to_html(out_nb)
                _scrub_file(html, secrets)
                tracking.log_artifact(out_nb, "notebook", run_id=run_id)
                tracking.log_artifact(html, "notebook", run_id=run_id)
        except Exception as e:  # noqa: BLE001 - a failing render must not hide the run's status
            run.fail(f"artifact logging failed: {type(e).__name__}: {e}")
        tracking.log_metrics({"workbench/duration_s": duration}, run_id=run_id)
        run.scan_files += [f for f in (out_nb, html) if f]  # the card and secret scan run on exit
    data = tracking.client().get_run(run_id).data
    verdict = data.tags.get(T.GATE)  # the gates the notebook recorded (evaluate/verdict.py)
    gates = []
    if verdict:
        from ..evaluate.verdict import read_gates

        gates = read_gates(run_id)
    result = RunResult(
        run_id=run_id,
        experiment_id=run.experiment_id,
        status=run.status,
        duration_s=duration,
        output_notebook=out_nb,
        output_html=html,
        parameters=params,
        metrics=dict(data.metrics),
        error=run.error,
        traceback=scrub(tb) if tb else None,
        verdict=verdict,
        gates=gates,
    )
    if opts.raise_on_error and run.status != "FINISHED":
        raise NotebookRunError(f"run {run_id} FAILED: {run.error}", result)
    return result
