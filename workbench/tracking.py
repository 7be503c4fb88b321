"""MLflow glue: one store per workspace, attach to the launching run, batch logging, tables, figures.

Inside a notebook launched by ``workbench run`` the run id arrives in the environment
(``WORKBENCH_RUN_ID``, also ``MLFLOW_RUN_ID`` so MLflow's own ``start_run()`` attaches too); the helpers
here log into that run. A notebook opened by hand gets its own run on first use — the same code path
interactive and headless. Metrics and params always go through ``log_batch`` (per-call logging costs
~22 ms on sqlite; a batch of 100 ~30 ms).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

from . import heap
from .config import settings

RUN_ENV = "WORKBENCH_RUN_ID"
DEFAULT_EXPERIMENT = "workbench"
MAX_PARAM_LEN = 6000
_lock = threading.Lock()
_own_run: tuple[str, str] | None = None  # (tracking URI, run id) of this process's own run


def tracking_uri() -> str:
    """The configured store: ``MLFLOW_TRACKING_URI`` or sqlite ``<project>/mlflow.db`` (absolute)."""
    return settings().tracking_uri


# Warnings every user saw under every answer that say nothing about their work (message regex, category).
KNOWN_NOISE = [
    # mlflow.data: a local path also parses as an HTTP/other source; MLflow picks the right one anyway
    (r"The specified dataset source can be interpreted in multiple ways", UserWarning),
    # mlflow.data: a dataset input's inferred schema has ints (we log lineage, not a model signature)
    (r"Hint: Inferred schema contains integer column", UserWarning),
    # matplotlib: ax.legend() on a plot whose series have no labels (one-candidate plots)
    (r"No artists with labels found to put in legend", UserWarning),
]
# INFO lines: "Creating initial MLflow database tables", and "Flushing the async trace logging queue before program
# exit" at every exit of a process that traced (evaluations have flushed by then); their warnings still show
QUIET_LOGGERS = ("mlflow.store.db.utils", "alembic.runtime.migration", "mlflow.tracing.export.async_export_queue")
_quieted = False


def quiet_known_noise() -> None:
    """Filter the known-harmless warnings (:data:`KNOWN_NOISE`, by exact message) and lower the loggers that
    print INFO lines in red under a notebook cell while a fresh store is migrated. Other warnings stay."""
    import logging
    import warnings

    global _quieted
    for message, category in KNOWN_NOISE:
        warnings.filterwarnings("ignore", message=message, category=category)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    _quieted = True


def configure() -> str:
    """Point MLflow at the workspace store (telemetry off, known noise quiet); a sqlite store is created
    (migrated) once, under a file lock (:func:`ensure_sqlite_store`). Idempotent; returns the URI.

    The first call of a process imports MLflow's store modules and configures their ORM mappers: objects that
    live as long as the process, which the garbage collector's passes (233 of them here, one full) would only
    walk. It runs with the collector paused (:func:`heap.importing`): 0.54-0.61 s instead of 0.78-0.89 s (4 runs
    each, interleaved, 2026-12-06)."""
    with heap.importing():
        return _configure()


def _configure() -> str:
    if not _quieted:
        quiet_known_noise()
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # tables are small: no bar noise
    # MLflow prices spans of providers it does not know from a catalog it downloads from github.com: offline, never
    os.environ.setdefault("MLFLOW_MODEL_CATALOG_URI", "")
    uri = tracking_uri()
    if uri.startswith("sqlite:///") and uri not in _ready_stores:
        ensure_sqlite_store(uri)
    if mlflow.get_tracking_uri() != uri:
        mlflow.set_tracking_uri(uri)
    return uri


_ready_stores: set[str] = set()  # sqlite URIs this process has seen created and verified
STORE_ATTEMPTS = 3


def ensure_sqlite_store(uri: str) -> None:
    """Create (MLflow's migrations) or verify the sqlite store at ``uri`` holding ``<db>.lock``, so processes
    starting at once in a fresh project do not migrate it together ("table latest_metrics already exists",
    a half-built store). A store this call created and could not finish is deleted and built again; one that
    existed before and does not verify is a clear error."""
    from .errors import ConfigError
    from .procs import locked

    db = Path(uri.removeprefix("sqlite:///"))
    with locked(db.with_name(db.name + ".lock"), timeout_s=300, what=f"the tracking store {db} to be created"):
        for attempt in range(STORE_ATTEMPTS):
            fresh = not db.exists() or db.stat().st_size == 0
            try:
                MlflowClient(tracking_uri=uri).search_experiments(max_results=1)  # creates/migrates, then reads
                _ready_stores.add(uri)
                return
            except Exception as e:  # a store we created half-way is rebuilt, anything else re-raised
                from .errors import is_disk_full

                if fresh and attempt + 1 < STORE_ATTEMPTS and not is_disk_full(e):
                    _forget_store(uri)
                    for p in (db, db.with_name(db.name + "-journal"), db.with_name(db.name + "-wal")):
                        p.unlink(missing_ok=True)
                    continue
                if fresh or is_disk_full(e):
                    raise
                raise ConfigError(
                    f"{db}: the tracking store does not open ({type(e).__name__}: "
                    f"{str(e).splitlines()[0][:200]}); if an earlier first start was interrupted "
                    f"it may be half-built: move it aside and re-run"
                ) from e


def _forget_store(uri: str) -> None:
    """Dispose of MLflow's cached engine for ``uri``: its pooled connections hold the deleted file open."""
    import contextlib

    with contextlib.suppress(Exception):
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        engine = SqlAlchemyStore._engine_map.pop(uri, None)
        if engine is not None:
            engine.dispose()


def client() -> MlflowClient:
    return MlflowClient(tracking_uri=configure())


def active_experiment_id() -> str | None:
    """The experiment MLflow's own conventions make active, by MLflow's order: ``mlflow.set_experiment(...)``,
    else ``MLFLOW_EXPERIMENT_NAME`` (created on first use), else ``MLFLOW_EXPERIMENT_ID``; None when none is.
    An id that names no live experiment in this store is a :class:`~workbench.errors.ConfigError`."""
    from mlflow.tracking import fluent

    from .errors import ConfigError

    exp_id = getattr(fluent, "_active_experiment_id", None)  # what mlflow.set_experiment() set in this process
    if not exp_id and os.environ.get("MLFLOW_EXPERIMENT_NAME"):
        return experiment_id(os.environ["MLFLOW_EXPERIMENT_NAME"])
    exp_id = exp_id or os.environ.get("MLFLOW_EXPERIMENT_ID")
    if not exp_id:
        return None
    try:
        exp = client().get_experiment(exp_id)
    except mlflow.exceptions.MlflowException:
        exp = None
    if exp is None or exp.lifecycle_stage != "active":
        raise ConfigError(
            f"the active MLflow experiment (id {exp_id}, from mlflow.set_experiment or "
            f"MLFLOW_EXPERIMENT_ID) is not a live experiment of the store {tracking_uri()}; call "
            f"mlflow.set_experiment(NAME) again after changing the store, or unset MLFLOW_EXPERIMENT_ID"
        )
    return exp.experiment_id


def experiment_id(name: str | None = None) -> str:
    """Id of experiment ``name``, created on first use; without a name, MLflow's active experiment
    (:func:`active_experiment_id`: ``mlflow.set_experiment``, ``MLFLOW_EXPERIMENT_NAME``, ``MLFLOW_EXPERIMENT_ID``),
    else ``workbench``. With a local sqlite store artifacts go to ``<project>/mlartifacts/<experiment name>``
    (absolute path)."""
    if not name:
        active = active_experiment_id()
        if active is not None:
            return active
    name = name or DEFAULT_EXPERIMENT
    c = client()
    exp = c.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    location = None
    if tracking_uri().startswith("sqlite:"):
        location = (settings().artifact_root / name.replace("/", "_")).as_uri()
    try:
        return c.create_experiment(name, artifact_location=location)
    except mlflow.exceptions.MlflowException:  # created concurrently by another process
        exp = c.get_experiment_by_name(name)
        if exp is None:
            raise
        return exp.experiment_id


def interactive_run_name() -> str:
    """A readable name for a kernel's own run: the notebook JupyterLab opened (``JPY_SESSION_NAME``) or the
    script, and the local start time — ``01_explore 11:32:05`` instead of MLflow's random ``bold-cat-123``."""
    import sys
    import time

    where = os.environ.get("JPY_SESSION_NAME") or (sys.argv[0] if sys.argv and sys.argv[0] else "")
    stem = Path(where).stem
    if not stem or stem in ("ipykernel_launcher", "-c", "__main__"):
        stem = "interactive"
    return f"{stem} {time.strftime('%H:%M:%S')}"


def _start_own_run(uri: str) -> str:
    """Start this process's own run (readable name, launcher tags so a killed kernel's run is marked KILLED
    by the next launch) and end it at interpreter exit."""
    import atexit
    import platform

    from . import tags as T

    global _own_run
    # into the active experiment without making one active: mlflow.set_experiment here would turn the default
    # into "the user's choice" (and export it to every subprocess as MLFLOW_EXPERIMENT_ID)
    run = mlflow.start_run(
        experiment_id=experiment_id(),
        run_name=interactive_run_name(),
        tags={T.KIND: "interactive", T.LAUNCHER_PID: str(os.getpid()), T.LAUNCHER_HOST: platform.node()},
    )
    if _own_run is None:
        atexit.register(end_own_run)
    _own_run = (uri, run.info.run_id)
    return run.info.run_id


def active_run_id() -> str | None:
    """The run MLflow's conventions make active in this process, which new runs nest under: the launcher's run
    (``WORKBENCH_RUN_ID``, inside ``workbench run``), else MLflow's fluent active run (``mlflow.start_run()``, or
    this kernel's own run), else ``MLFLOW_RUN_ID``; None when there is none. Starts nothing."""
    rid = os.environ.get(RUN_ENV)
    if rid:
        return rid
    active = mlflow.active_run()
    if active is not None:
        return active.info.run_id
    return os.environ.get("MLFLOW_RUN_ID") or None


def in_kernel() -> bool:
    """Whether this process is a Jupyter kernel (JupyterLab, papermill, VS Code): there, the notebook has a run
    of its own (:func:`current_run_id`) that the runs it makes nest under."""
    import sys

    if "ipykernel" not in sys.modules:
        return False
    from IPython import get_ipython

    return getattr(get_ipython(), "kernel", None) is not None


def current_run_id() -> str:
    """The run to log into: the launcher's (from the environment), else this process's own run, started on
    first use with a readable name and ended (FINISHED) when the kernel stops or the next own run starts."""
    rid = os.environ.get(RUN_ENV)
    if rid:
        return rid
    with _lock:
        uri = configure()
        if _own_run is not None and _own_run[0] == uri:
            return _own_run[1]
        if _own_run is not None:  # the store changed: end our run in *its* store first
            _end_own_run_locked("FINISHED")
            mlflow.set_tracking_uri(uri)
        active = mlflow.active_run()
        if active is not None:  # a run the user started with mlflow.start_run(): log into it
            return active.info.run_id
        return _start_own_run(uri)


_BAD_KEY = re.compile(r"[^A-Za-z0-9_\-. :/]")


def safe_key(key: str) -> str:
    """MLflow keys allow alphanumerics, _ - . space : / only; anything else becomes '_'."""
    return _BAD_KEY.sub("_", str(key))


def safe_text(v: Any) -> str:
    """``str(v)`` that every store accepts: a lone surrogate (an undecodable byte) becomes ``\\udcff``, NUL ``\\x00``."""
    s = str(v)
    if s.isascii() and "\x00" not in s:
        return s
    return s.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def _param_value(v: Any) -> str:
    s = safe_text(v)
    return s if len(s) <= MAX_PARAM_LEN else s[: MAX_PARAM_LEN - 3] + "..."


def log_params(params: Mapping[str, Any], run_id: str | None = None) -> None:
    """Log params in one batch (values stringified, long ones truncated)."""
    if params:
        items = [Param(safe_key(k), _param_value(v)) for k, v in params.items()]
        c, rid = client(), run_id or current_run_id()
        for i in range(0, len(items), 100):
            c.log_batch(rid, params=items[i : i + 100])


def log_metrics(metrics: Mapping[str, float], step: int | None = None, run_id: str | None = None) -> None:
    """Log numeric metrics in batches; None/NaN-free values only (others are skipped)."""
    import math
    import time

    ts = int(time.time() * 1000)
    items = [
        Metric(safe_key(k), float(v), ts, step or 0)
        for k, v in metrics.items()
        if v is not None and not (isinstance(v, float) and math.isnan(v))
    ]
    c, rid = client(), run_id or current_run_id()
    for i in range(0, len(items), 1000):
        c.log_batch(rid, metrics=items[i : i + 1000])


def set_tags(tags: Mapping[str, Any], run_id: str | None = None) -> None:
    if tags:
        client().log_batch(run_id or current_run_id(), tags=[RunTag(str(k), safe_text(v)) for k, v in tags.items()])


def log_table(data, artifact_file: str, run_id: str | None = None) -> None:
    """A pandas DataFrame (or dict of columns) as an MLflow table (``*.json``, shown in the UI's Evaluation tab).

    With ``[privacy] redact_pii`` on, PII in string cells is replaced (``[EMAIL]``...) before logging."""
    if not artifact_file.endswith(".json"):
        artifact_file += ".json"
    if settings().redact_pii:  # workspace switch: PII never reaches the store
        import pandas as pd

        from .pii import redact_value

        data = pd.DataFrame(data).map(lambda v: redact_value(v) if isinstance(v, (str, list, dict)) else v)
    client().log_table(run_id or current_run_id(), data=data, artifact_file=artifact_file)


def load_table(run_id: str, artifact_file: str):
    """A table logged with :func:`log_table` back as a DataFrame (downloaded from the run's artifacts)."""
    import json
    import tempfile

    import pandas as pd

    with tempfile.TemporaryDirectory() as d:
        path = client().download_artifacts(run_id, artifact_file, d)
        data = json.loads(Path(path).read_text())
    return pd.DataFrame(data["data"], columns=data["columns"])


def log_figure(figure, artifact_file: str, run_id: str | None = None) -> None:
    """A matplotlib (or plotly) figure as an image artifact."""
    if "." not in Path(artifact_file).name:
        artifact_file += ".png"
    client().log_figure(run_id or current_run_id(), figure, artifact_file)


def log_artifact(path: str | Path, artifact_path: str | None = None, run_id: str | None = None) -> None:
    client().log_artifact(run_id or current_run_id(), str(path), artifact_path)


def log_text(text: str, artifact_file: str, run_id: str | None = None) -> None:
    client().log_text(run_id or current_run_id(), text, artifact_file)


def log_dataset(
    df,
    name: str,
    source: str | None = None,
    context: str = "eval",
    digest: str | None = None,
    run_id: str | None = None,
) -> None:
    """Record a pandas DataFrame as an MLflow dataset input (name, digest, source) for lineage."""
    from mlflow.data.pandas_dataset import from_pandas
    from mlflow.entities import DatasetInput, InputTag

    ds = from_pandas(df, source=source, name=name, digest=digest)  # type: ignore[arg-type]  # None is its default
    entity = ds._to_mlflow_entity()
    client().log_inputs(
        run_id or current_run_id(), datasets=[DatasetInput(entity, tags=[InputTag("mlflow.data.context", context)])]
    )


def _end_own_run_locked(status: str) -> None:
    global _own_run
    if _own_run is None:
        return
    uri, rid = _own_run
    _own_run = None
    try:
        c = MlflowClient(tracking_uri=uri)
        if c.get_run(rid).info.status == "RUNNING":
            c.set_terminated(rid, status)
    except Exception:  # noqa: BLE001 - at interpreter exit the store may already be gone
        pass
    active = mlflow.active_run()
    if active is not None and active.info.run_id == rid:
        prev = mlflow.get_tracking_uri()
        mlflow.set_tracking_uri(uri)
        try:
            mlflow.end_run(status=status)
        finally:
            mlflow.set_tracking_uri(prev)


def end_own_run(status: str = "FINISHED") -> None:
    """End the run this process created for itself (interactive use); launcher runs are ended by the launcher.
    Registered with :mod:`atexit`, so a kernel that stops (restart, shutdown, end of a script) ends its run; a
    later :func:`current_run_id` starts a new one."""
    if os.environ.get(RUN_ENV):
        return
    with _lock:
        _end_own_run_locked(status)
