"""Response cache on sqlite (stdlib ``sqlite3``, WAL mode: safe with several writer processes).

The key hashes what determines an answer: the endpoint identity, model, messages, generation params and
a repeat index (so ``repeats=3`` gives three independent cached samples). The entry keeps the *original*
record — latency, TTFT, usage, cost — so metrics computed from a cached re-run equal the first run's;
``cache_hit`` is set on the way out. Error records are never cached, so a re-run retries failed rows.

Modes: ``use`` (read and write, the default), ``refresh`` (ignore old entries, write new ones), ``off``.

A corrupted file (truncated, overwritten with garbage: sqlite's NOTADB/CORRUPT) never stops a run: it is
renamed ``<name>.corrupt-<timestamp>`` with a warning and a fresh, empty cache takes its place
(:class:`SqliteStore`, shared with the embedding cache).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
import warnings
from pathlib import Path

log = logging.getLogger(__name__)

CACHE_MODES = ("use", "refresh", "off")


def cache_key(identity: str, model: str, messages: list[dict], params: dict, repeat: int = 0) -> str:
    blob = json.dumps(
        {"endpoint": identity, "model": model, "messages": messages, "params": params, "repeat": repeat},
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def is_corruption(exc: BaseException) -> bool:
    """True for sqlite errors that mean a damaged file (not "database is locked" or a busy writer)."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return True
    msg = str(exc).lower()
    return "malformed" in msg or "not a database" in msg


def quarantine(path: Path, reason: str) -> Path:
    """Rename a damaged sqlite file (and its -wal/-shm) to ``<name>.corrupt-<timestamp>``; returns the new path."""
    stamp = time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}"
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        src = Path(str(path) + suffix)
        try:
            os.replace(src, Path(str(target) + suffix))
        except FileNotFoundError:
            pass
    msg = f"{path} is corrupted ({reason}); moved aside to {target.name}, continuing with a fresh cache"
    warnings.warn(msg, RuntimeWarning, stacklevel=3)
    log.warning(msg)
    return target


def _wal(c: sqlite3.Connection, deadline_s: float = 60.0) -> None:
    """Switch ``c`` to WAL. Several processes opening a new file at once: the switch needs the file to itself
    and sqlite answers "database is locked" without waiting for the busy timeout when two connections would
    deadlock on the upgrade (seen with 4 writer processes on a loaded machine), so it is retried
    (every 50 ms, at most ``deadline_s``)."""
    end = time.monotonic() + deadline_s
    while True:
        try:
            c.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > end:
                raise
            time.sleep(0.05)


class SqliteStore:
    """A sqlite file (WAL) opened per thread, that survives corruption: on a NOTADB/CORRUPT error the file is
    moved aside (:func:`quarantine`) and recreated empty, and the operation is retried once on the fresh file.
    Subclasses set ``SCHEMA`` and call :meth:`_run`."""

    SCHEMA = ""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._gen = 0  # bumped when the file is replaced: threads reopen
        self._lock = threading.Lock()
        self.quarantined: list[Path] = []
        self._run(lambda c: c.execute("SELECT count(*) FROM sqlite_master").fetchone())  # garbage fails here

    def _conn(self) -> sqlite3.Connection:
        c = getattr(self._local, "conn", None)
        if c is None or self._local.gen != self._gen:
            if c is not None:
                c.close()
            gen = self._gen
            c = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            try:
                _wal(c)
                c.execute("PRAGMA synchronous=NORMAL")
                c.executescript(self.SCHEMA)
            except BaseException:
                c.close()
                raise
            self._local.conn, self._local.gen = c, gen
        return c

    def _run(self, fn):
        """``fn(connection)``; after a corruption error, quarantine the file and retry once on a fresh one."""
        gen = self._gen
        try:
            return fn(self._conn())
        except sqlite3.DatabaseError as e:
            if not is_corruption(e):
                raise
            with self._lock:
                if self._gen == gen:  # first thread to notice moves the file; the others just reopen
                    conn = getattr(self._local, "conn", None)
                    if conn is not None:
                        conn.close()
                        self._local.conn = None
                    self.quarantined.append(quarantine(self.path, f"{type(e).__name__}: {e}"))
                    self._gen += 1
            return fn(self._conn())


class ResponseCache(SqliteStore):
    """A key → JSON record store. One connection per thread; writes retried by sqlite's busy timeout."""

    SCHEMA = "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, record TEXT NOT NULL, created REAL NOT NULL);"

    def get(self, key: str) -> dict | None:
        row = self._run(lambda c: c.execute("SELECT record FROM responses WHERE key = ?", (key,)).fetchone())
        try:
            return json.loads(row[0]) if row else None
        except ValueError:  # a damaged record is a miss, never an error
            return None

    def put(self, key: str, record: dict) -> None:
        blob = json.dumps(record, ensure_ascii=False, default=str)
        self._run(
            lambda c: c.execute(
                "INSERT OR REPLACE INTO responses (key, record, created) VALUES (?, ?, ?)", (key, blob, time.time())
            )
        )

    def __len__(self) -> int:
        return self._run(lambda c: c.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def clear(self) -> None:
        self._run(lambda c: c.execute("DELETE FROM responses"))


_CACHES: dict[str, ResponseCache] = {}
_LOCK = threading.Lock()


def get_cache(path: str | Path) -> ResponseCache:
    """A shared :class:`ResponseCache` per path (one per process)."""
    key = str(Path(path).resolve())
    with _LOCK:
        if key not in _CACHES:
            _CACHES[key] = ResponseCache(key)
        return _CACHES[key]
