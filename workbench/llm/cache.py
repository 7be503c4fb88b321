"""Response cache on sqlite (stdlib ``sqlite3``, WAL mode: safe with several writer processes).

The key hashes what determines an answer: the endpoint identity, model, messages, generation params and
a repeat index (so ``repeats=3`` gives three independent cached samples). The entry keeps the *original*
record — latency, TTFT, usage, cost — so metrics computed from a cached re-run equal the first run's;
``cache_hit`` is set on the way out. Error records are never cached, so a re-run retries failed rows.

Modes: ``use`` (read and write, the default), ``refresh`` (ignore old entries, write new ones), ``off``.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path

CACHE_MODES = ("use", "refresh", "off")


def cache_key(identity: str, model: str, messages: list[dict], params: dict, repeat: int = 0) -> str:
    blob = json.dumps({"endpoint": identity, "model": model, "messages": messages, "params": params,
                       "repeat": repeat}, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class ResponseCache:
    """A key → JSON record store. One connection per thread; writes retried by sqlite's busy timeout."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._conn() as c:
            c.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, record TEXT NOT NULL, "
                      "created REAL NOT NULL)")

    def _conn(self) -> sqlite3.Connection:
        c = getattr(self._local, "conn", None)
        if c is None:
            c = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = c
        return c

    def get(self, key: str) -> dict | None:
        row = self._conn().execute("SELECT record FROM responses WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, record: dict) -> None:
        self._conn().execute("INSERT OR REPLACE INTO responses (key, record, created) VALUES (?, ?, ?)",
                             (key, json.dumps(record, ensure_ascii=False, default=str), time.time()))

    def __len__(self) -> int:
        return self._conn().execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def clear(self) -> None:
        self._conn().execute("DELETE FROM responses")


_CACHES: dict[str, ResponseCache] = {}
_LOCK = threading.Lock()


def get_cache(path: str | Path) -> ResponseCache:
    """A shared :class:`ResponseCache` per path (one per process)."""
    key = str(Path(path).resolve())
    with _LOCK:
        if key not in _CACHES:
            _CACHES[key] = ResponseCache(key)
        return _CACHES[key]
