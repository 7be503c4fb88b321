"""Team scale: ``workbench tracking start|stop`` (a shared MLflow tracking server) and Dask clients.

The server is MLflow's own (``mlflow server``), started lean (one worker, no job execution) with a
PostgreSQL (or any SQLAlchemy) backend store and proxied artifact storage (``--serve-artifacts
--artifacts-destination``), so clients need nothing but ``MLFLOW_TRACKING_URI=http://HOST:PORT``: no
database driver, no artifact-store credentials. It runs detached in its own process group; pid, port and
log path go to ``<project>/.workbench/server.json`` so ``workbench tracking stop`` can end the whole group.
A real deployment (TLS, basic auth, S3) is described in ``docs/deployment.md``. :func:`dask_client` connects
sweeps (``runs/executors.py``) and evaluations (``evaluate/distributed.py``) to a Dask scheduler.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from .config import settings
from .errors import ConfigError, WorkbenchError
from .procs import pid_alive, require_free_port, start_service, stop_process


@dataclass
class ServerInfo:
    pid: int
    url: str
    host: str
    port: int
    db: str  # password masked
    artifacts: str
    log: str
    gateway: list[str] = field(default_factory=list)  # what configure_gateway did


def state_path() -> Path:
    return settings().project_dir / ".workbench" / "server.json"


def mask_password(uri: str) -> str:
    """``postgresql://u:secret@h/db`` → ``postgresql://u:***@h/db`` (for printing and the state file)."""
    parts = urlsplit(uri)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return urlunsplit(parts._replace(netloc=netloc))
    return uri


def status() -> ServerInfo | None:
    """The server recorded in the state file, if its process is still alive."""
    path = state_path()
    if not path.exists():
        return None
    try:
        info = ServerInfo(**json.loads(path.read_text()))
    except (ValueError, TypeError):
        return None
    return info if pid_alive(info.pid) else None


def backend_uri(db: str) -> str:
    """Name the installed PostgreSQL driver: SQLAlchemy 2.1's bare ``postgresql://`` means psycopg 3, the
    ``[team]`` extra installs psycopg2 (``postgresql+psycopg2://``). Other URIs pass through."""
    scheme, sep, rest = db.partition("://")
    if scheme not in ("postgresql", "postgres"):
        return db
    import importlib.util

    if importlib.util.find_spec("psycopg") is not None:
        return f"postgresql+psycopg{sep}{rest}"
    if importlib.util.find_spec("psycopg2") is not None:
        return f"postgresql+psycopg2{sep}{rest}"
    raise ConfigError(
        "a PostgreSQL backend needs a driver in this environment: "
        "pip install 'llmops-workbench[team]' (psycopg2-binary)"
    )


def start_server(
    db: str | None = None,
    artifacts: str | None = None,
    host: str = "127.0.0.1",
    port: int = 5000,
    timeout: float = 120.0,
    extra_args: list[str] | None = None,
    gateway: bool = True,
) -> ServerInfo:
    """Start ``mlflow server`` detached and wait until healthy. ``db``: backend store URI (default: the
    workspace's sqlite store); ``artifacts``: a path or URI (``s3://bucket/prefix``) the server proxies.
    ``gateway``: configure its AI Gateway over the workbench's keyless endpoints (the embedded model is held for
    the server's process; :func:`workbench.gateway.configure_gateway`), reported in ``info.gateway``."""
    from .tracking_ui import lean_server_command

    running = status()
    if running:
        raise WorkbenchError(
            f"a tracking server is already running at {running.url} (pid {running.pid}): "
            f"`workbench tracking stop` first"
        )
    s = settings()
    if db is None:
        db = s.tracking_uri
        if db.startswith(("http://", "https://")):
            raise ConfigError(f"MLFLOW_TRACKING_URI points at a server ({db}): give the backend store with --db")
    db = backend_uri(db)
    if artifacts is None:
        artifacts = str(s.project_dir / "mlartifacts")
    if "://" not in artifacts:  # a local path: absolute, created
        Path(artifacts).expanduser().resolve().mkdir(parents=True, exist_ok=True)
        artifacts = str(Path(artifacts).expanduser().resolve())
    cmd, env = lean_server_command(
        db, host, port, ["--serve-artifacts", "--artifacts-destination", artifacts, *(extra_args or [])]
    )
    run_dir = state_path().parent
    run_dir.mkdir(parents=True, exist_ok=True)
    log = run_dir / "server.log"
    url_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{url_host}:{port}"
    require_free_port(port, url_host, "workbench tracking start")
    proc = start_service(cmd, url, log, env=env, timeout_s=timeout, what="mlflow server")
    info = ServerInfo(
        pid=proc.pid, url=url, host=host, port=port, db=mask_password(db), artifacts=artifacts, log=str(log)
    )
    tmp = state_path().with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(info), indent=2))
    os.replace(tmp, state_path())
    if gateway:
        from .gateway import configure_gateway

        info.gateway = configure_gateway(url, hold_for=proc.pid).lines()
    return info


def stop_server() -> ServerInfo | None:
    """Stop the server recorded in the state file (its whole process group); None if none was running."""
    info = status()
    state_path().unlink(missing_ok=True)
    if info is not None:
        stop_process(info.pid, grace_s=20.0)
    return info


def dask_client(workers: int = 1, scheduler: str | None = None):
    """``(client, cluster)``: a client of the scheduler at ``scheduler`` (``tcp://HOST:8786``), or of a fresh
    ``LocalCluster`` (worker processes on 127.0.0.1, no dashboard; ``cluster`` is None for a remote one).
    A local cluster re-runs a task lost with its worker once (``allowed-failures`` 1), then raises
    ``KilledWorker``; shared schedulers keep their own setting (sweeps cap attempts themselves)."""
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError("the dask executor needs the [dask] extra: pip install 'llmops-workbench[dask]'") from None
    if scheduler:
        try:
            return Client(scheduler, timeout=30), None
        except (OSError, TimeoutError) as e:
            raise ConfigError(f"cannot reach the Dask scheduler at {scheduler}: {e}") from None
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,  # no dashboard; its small HTTP server on a free port
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        )
    return Client(cluster), cluster
