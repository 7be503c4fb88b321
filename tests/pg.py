"""A real PostgreSQL for the tests: ``initdb`` into a temporary folder, ``postgres`` on 127.0.0.1, a free port.

The binaries come from the OS packages (Debian: ``apt-get install postgresql``, put there by ``make test``'s
set-up). PostgreSQL refuses to run as root, so under root the cluster belongs to the ``postgres`` OS user
and its commands run through ``runuser -u postgres --``. Fixtures: ``postgres`` (one cluster per test run)
``pg_database`` (a fresh database per test, dropped afterwards; returns its URL) and ``team_server``
(`workbench tracking start` on a fresh database: the MLflow server URL, for the whole run).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from daskprocs import free_port

SKIP_REASON = (
    "PostgreSQL not found: install the OS package (Debian: `apt-get install -y postgresql`; `make test` "
    "does this when run as root) or put initdb/postgres on PATH"
)


def find_bindir() -> Path | None:
    """Folder holding ``initdb`` and ``postgres``: $PG_BINDIR, the newest /usr/lib/postgresql/*/bin, or PATH."""
    candidates = [os.environ.get("PG_BINDIR", "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True)
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(str(Path(initdb).resolve().parent))
    for c in candidates:
        if c and (Path(c) / "initdb").is_file() and (Path(c) / "postgres").is_file():
            return Path(c)
    return None


class PgCluster:
    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="wb-pg-"))  # not under pytest's 0700 tmp: postgres must reach it
        self.data = self.root / "data"
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")  # created by the Debian package
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def start(self, timeout: float = 60.0) -> PgCluster:
        log = self.root / "initdb.log"
        out = subprocess.run(
            [
                *self.as_user,
                str(self.bindir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=self.root,
        )
        if out.returncode != 0:
            log.write_text(out.stdout + out.stderr)
            raise RuntimeError(f"initdb failed: {out.stderr[-2000:]}")
        # a throwaway cluster: no durability, no unix socket, only 127.0.0.1
        self.proc = subprocess.Popen(
            [
                *self.as_user,
                str(self.bindir / "postgres"),
                "-D",
                str(self.data),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-k",
                "",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=200",
            ],
            stdout=open(self.root / "postgres.log", "ab"),
            stderr=subprocess.STDOUT,
            cwd=self.root,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("postgres exited: " + (self.root / "postgres.log").read_text()[-2000:])
            try:
                self._sql("SELECT 1")
                return self
            except Exception:  # noqa: BLE001 - not accepting connections yet
                time.sleep(0.2)
        raise RuntimeError(f"postgres not ready after {timeout}s")

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def _sql(self, statement: str) -> None:
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", connect_timeout=3)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(statement)
        finally:
            conn.close()

    def create_database(self, name: str | None = None) -> str:
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        self._sql(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        self._sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            # SIGINT = PostgreSQL's "fast shutdown"; signal the group (runuser + postgres and its children)
            import signal

            for sig, wait in ((signal.SIGINT, 20), (signal.SIGKILL, 5)):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres():
    """One real PostgreSQL cluster for the test run (skips only when the binaries are absent)."""
    bindir = find_bindir()
    if bindir is None:
        pytest.skip(SKIP_REASON)
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        pytest.skip("psycopg2 missing: install the [team] extra (make test does)")
    cluster = PgCluster(bindir).start()
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_database(postgres):
    """A fresh database for one test; its URL. Dropped afterwards."""
    name = postgres.create_database()
    yield postgres.url(name)
    postgres.drop_database(name)


BIN = Path(sys.executable).parent


def server_cli(project: Path, *args: str, timeout: float = 150) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "workbench"), "tracking", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "WORKBENCH_PROJECT_DIR": str(project)},
    )


@pytest.fixture(scope="session")
def team_server(postgres, tmp_path_factory):
    """`workbench tracking start --db postgresql://...` on a fresh database; its URL. Stopped, database dropped."""
    project = tmp_path_factory.mktemp("team-project")
    db = postgres.create_database()
    port = free_port()
    out = server_cli(
        project, "start", "--db", postgres.url(db), "--artifacts", str(project / "artifacts"), "--port", str(port)
    )
    assert out.returncode == 0, out.stderr[-3000:] + out.stdout[-3000:]
    url = f"http://127.0.0.1:{port}"
    assert f"MLFLOW_TRACKING_URI={url}" in out.stdout
    yield url
    server_cli(project, "stop", timeout=60)
    postgres.drop_database(db)
