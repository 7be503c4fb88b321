"""Scenario 7 — cache integrity: concurrent writer processes on one response cache, and corrupted cache files
(garbage bytes, a truncated sqlite file) for the response cache and the embedding cache: detected, moved aside
with a warning, the run continues on a fresh cache."""

import os
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest

from workbench.llm.cache import ResponseCache
from workbench.llm.embeddings import EmbeddingCache

WRITER = """
import sys
from workbench.llm.cache import ResponseCache
c = ResponseCache(sys.argv[1])
w, n = int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    c.put(f"w{w}-{i}", {"text": "x" * 200, "i": i, "w": w})
    assert c.get(f"w{w}-{i}")["i"] == i
    if i % 50 == 0:
        len(c)
"""


def test_concurrent_writer_processes_lose_nothing(tmp_path):
    db, writers, n = tmp_path / "cache.db", 4, 400
    t0 = time.monotonic()
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(db), str(w), str(n)], stderr=subprocess.PIPE, text=True)
        for w in range(writers)
    ]
    errs = [p.communicate(timeout=120)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errs
    c = ResponseCache(db)
    assert len(c) == writers * n
    assert all(c.get(f"w{w}-{i}")["i"] == i for w in range(writers) for i in range(0, n, 37))
    assert not any("locked" in e for e in errs)
    print(
        f"\nRELIABILITY scenario7: {writers} writer processes x {n} puts+gets -> {len(c)} entries, "
        f"0 lost, 0 'database is locked', {time.monotonic() - t0:.1f}s"
    )


def _filled(path, rows=3000):
    """A real cache file on disk (WAL checkpointed into the main file), then closed."""
    c = ResponseCache(path)
    for i in range(rows):
        c.put(f"k{i}", {"text": f"answer {i} " + "y" * 300})
    conn = c._conn()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return path


def _corrupt(path, how):
    if how == "garbage":
        path.write_bytes(os.urandom(64 * 1024))
    else:  # truncated: the second half of the pages is gone
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("how", ["garbage", "truncated"])
def test_corrupted_response_cache_is_moved_aside(tmp_path, how):
    db = _filled(tmp_path / "cache.db")
    _corrupt(db, how)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        c = ResponseCache(db)
        hits = sum(c.get(f"k{i}") is not None for i in range(3000))  # reading the damaged pages trips it
        c.put("new", {"text": "fresh"})
        assert c.get("new") == {"text": "fresh"}
    moved = sorted(tmp_path.glob("cache.db.corrupt-*"))
    assert len(moved) >= 1 and moved[0].stat().st_size > 0
    assert any("corrupted" in str(w.message) and "moved aside" in str(w.message) for w in caught)
    assert c.quarantined and len(c) >= 1
    print(
        f"\nRELIABILITY scenario7: {how} response cache -> moved aside to {moved[0].name}, {hits} entries "
        f"readable before detection, run continued on a fresh cache"
    )


def test_chat_survives_a_garbage_cache_file(local_server, tmp_path, monkeypatch):
    """End to end: the client's cache file is garbage before the first call; the call succeeds and is cached."""
    import workbench as wb
    from workbench.llm import cache as cache_mod

    db = tmp_path / "resp.db"
    db.write_bytes(b"not a database " * 1000)
    monkeypatch.setenv("WORKBENCH_RESPONSE_CACHE", str(db))
    monkeypatch.setattr(cache_mod, "_CACHES", {})
    with pytest.warns(RuntimeWarning, match="moved aside"):
        r = wb.chat("Say ok.", model="local", max_tokens=4)
    assert r.ok and not r.cache_hit
    again = wb.chat("Say ok.", model="local", max_tokens=4)
    assert again.cache_hit and again.text == r.text


@pytest.mark.parametrize("how", ["garbage", "truncated"])
def test_corrupted_embedding_cache_is_moved_aside(tmp_path, how, monkeypatch):
    from workbench.llm import embeddings

    monkeypatch.setattr(
        embeddings,
        "embed",
        lambda texts, model=None, progress=None: np.ones((len(texts), 4), np.float32) * np.arange(len(texts))[:, None],
    )
    path = tmp_path / "emb.db"
    texts = [f"chunk {i} " + "z" * 400 for i in range(2000)]
    ec = EmbeddingCache(path)
    _, computed = ec.embed(texts)
    assert computed == 2000
    ec._conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    ec._conn().close()
    _corrupt(path, how)
    with pytest.warns(RuntimeWarning, match="moved aside"):
        ec2 = EmbeddingCache(path)
        vecs, computed = ec2.embed(texts)
    assert vecs.shape == (2000, 4) and computed == 2000  # everything re-embedded on the fresh cache
    assert ec2.embed(texts[:10])[1] == 0 and list(tmp_path.glob("emb.db.corrupt-*"))
