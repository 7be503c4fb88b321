"""The vector index: FAISS exact inner product (``IndexFlatIP``) for small corpora, HNSW
(``IndexHNSWFlat``, inner product) from ``hnsw_threshold`` chunks up; plus a BM25 index (``bm25s``) over the
same chunks for lexical and hybrid retrieval.

Saved as a folder: ``index.faiss``, ``chunks.parquet`` (metadata, no pickles), ``vectors.npy`` (for MMR and
rebuilds) and ``config.json`` (kind, embedding model, dimension, corpus hash, chunker parameters). Loading
checks that the files agree. Embeddings of unchanged chunks are reused from an sqlite cache keyed by model +
text hash (:class:`workbench.llm.embeddings.EmbeddingCache`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import WorkbenchError
from ..llm.threads import inprocess_threads
from ..progress import QUIET_S, waiting
from .chunking import Chunk

HNSW_THRESHOLD = 10_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 200
HNSW_EF_SEARCH = 128


def corpus_hash(chunks: list[Chunk]) -> str:
    h = hashlib.sha256()
    for c in chunks:
        h.update(c.chunk_id.encode() + b"\x1f" + c.context_text.encode() + b"\n")
    return h.hexdigest()[:16]


def _flat(faiss, d: int):
    return faiss.IndexFlatIP(d)


def _hnsw(faiss, d: int):
    index = faiss.IndexHNSWFlat(d, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    index.hnsw.efSearch = HNSW_EF_SEARCH
    return index


AUTO = ("auto",)  # choose by corpus size: flat below ``hnsw_threshold`` chunks, HNSW above
FAISS_KINDS = {"flat": _flat, "hnsw": _hnsw}  # exact inner product; approximate (HNSW) for large corpora


def faiss_module():
    """``faiss``, its OpenMP pool set once to the in-process thread rule (:mod:`workbench.llm.threads`)."""
    import faiss

    global _faiss_threads
    if _faiss_threads is None:
        _faiss_threads = inprocess_threads().threads
        if _faiss_threads:
            faiss.omp_set_num_threads(_faiss_threads)
    return faiss


_faiss_threads: int | None = None


def make_faiss(vectors: np.ndarray, kind: str):
    faiss = faiss_module()

    if kind not in FAISS_KINDS:
        raise WorkbenchError(f"index kind must be one of {sorted(FAISS_KINDS)}, got {kind!r}")
    index = FAISS_KINDS[kind](faiss, vectors.shape[1])
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def _plain(name: str, v):
    """A parquet cell as the Python value ``Chunk`` holds (numpy scalars unwrapped; a missing page is None)."""
    v = v.item() if hasattr(v, "item") else v
    if name == "page":
        return None if v is None or v != v else int(v)
    return v


@dataclass
class VectorIndex:
    chunks: list[Chunk]
    vectors: np.ndarray
    faiss_index: Any
    config: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.chunks)

    @property
    def embed_model(self) -> str:
        return self.config["embed_model"]

    def embed_query(self, texts: list[str]) -> np.ndarray:
        from ..llm.embeddings import embed

        return embed(texts, model=self.embed_model, progress=False)

    def search(self, query_vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, chunk positions) for each query vector; positions of -1 are padding."""
        k = min(k, len(self.chunks))
        return self.faiss_index.search(np.ascontiguousarray(query_vectors, dtype=np.float32), k)

    @cached_property
    def bm25(self):
        """BM25 over the chunks' context text (``bm25s``, English stopwords), built on first use."""
        import bm25s

        retriever = bm25s.BM25()
        retriever.index(
            bm25s.tokenize([c.context_text for c in self.chunks], stopwords="en", show_progress=False),
            show_progress=False,
        )
        return retriever

    def bm25_search(self, queries: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        import bm25s

        k = min(k, len(self.chunks))
        docs, scores = self.bm25.retrieve(
            bm25s.tokenize(queries, stopwords="en", show_progress=False), k=k, show_progress=False
        )
        return scores, docs

    # -- persistence
    def save(self, path: str | Path) -> Path:
        """Write the index folder atomically (a temp folder renamed into place)."""
        import faiss

        path = Path(path)
        tmp = path.with_name(path.name + f".tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        faiss.write_index(self.faiss_index, str(tmp / "index.faiss"))
        pd.DataFrame([c.to_dict() for c in self.chunks]).to_parquet(tmp / "chunks.parquet", index=False)
        np.save(tmp / "vectors.npy", self.vectors)
        (tmp / "config.json").write_text(json.dumps(self.config, indent=2))
        if path.exists():
            try:
                same = json.loads((path / "config.json").read_text()).get("corpus_hash") == self.config["corpus_hash"]
            except (OSError, ValueError):
                same = False
            if same:  # an identical index is already there (e.g. written by a parallel sweep cell)
                shutil.rmtree(tmp, ignore_errors=True)
                return path
            old = path.with_name(path.name + f".old{os.getpid()}")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            try:
                os.replace(tmp, path)
            except OSError:  # another process won the race with the same content
                shutil.rmtree(tmp, ignore_errors=True)
        return path

    @classmethod
    def load(cls, path: str | Path) -> VectorIndex:
        faiss = faiss_module()

        path = Path(path)
        try:
            config = json.loads((path / "config.json").read_text())
            df = pd.read_parquet(path / "chunks.parquet")
            vectors = np.load(path / "vectors.npy")
            index = faiss.read_index(str(path / "index.faiss"))
        except (OSError, ValueError, RuntimeError) as e:
            raise WorkbenchError(
                f"{path}: not a complete workbench index ({type(e).__name__}: {e}); rebuild it"
            ) from None
        chunks = [Chunk(**{k: _plain(k, v) for k, v in r.items()}) for r in df.to_dict(orient="records")]
        if not (len(chunks) == index.ntotal == len(vectors) == config.get("n")):
            raise WorkbenchError(
                f"{path}: files disagree (chunks {len(chunks)}, vectors {len(vectors)}, "
                f"index {index.ntotal}); rebuild it"
            )
        if corpus_hash(chunks) != config.get("corpus_hash"):
            raise WorkbenchError(f"{path}: chunks do not match the recorded corpus hash; rebuild it")
        if config.get("kind") == "hnsw":
            ef = config.get("hnsw", {}).get("efSearch", HNSW_EF_SEARCH)
            index.hnsw.efSearch = ef  # read_index returns an IndexHNSW here
        return cls(chunks, vectors, index, config)

    def log_to_mlflow(self, path: str | Path, run_id: str | None = None, artifact_path: str = "index") -> None:
        """Log a saved index folder as run artifacts."""
        from .. import tracking

        tracking.client().log_artifacts(run_id or tracking.current_run_id(), str(path), artifact_path)


def build_index(
    chunks: list[Chunk],
    embed_model: str = "all-MiniLM-L6-v2",
    kind: str = "auto",
    hnsw_threshold: int = HNSW_THRESHOLD,
    chunker_params: dict | None = None,
    cache_path: str | Path | None = None,
    progress: bool | None = None,
    vectors: np.ndarray | None = None,
) -> VectorIndex:
    """Embed ``chunks`` (reusing cached vectors) and build the FAISS index. ``kind``: auto|flat|hnsw."""
    from ..llm.embeddings import EmbeddingCache, project_cache_path

    if not chunks:
        raise WorkbenchError("cannot build an index from zero chunks")
    t0 = time.monotonic()
    computed = 0
    if kind in AUTO:
        kind = "hnsw" if len(chunks) >= hnsw_threshold else "flat"
    with waiting(f"building the {kind} index of {len(chunks)} chunks", after=0.0 if progress else QUIET_S):
        if vectors is None:
            cache = EmbeddingCache(cache_path or project_cache_path())
            texts = [c.context_text for c in chunks]
            vectors, computed = cache.embed(texts, model=embed_model, progress=progress)
        t_embed = time.monotonic() - t0
        t1 = time.monotonic()
        index = make_faiss(vectors, kind)
    config = {
        "kind": kind,
        "embed_model": embed_model,
        "dim": int(vectors.shape[1]),
        "n": len(chunks),
        "corpus_hash": corpus_hash(chunks),
        "chunker": chunker_params or {},
        "hnsw": {"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION, "efSearch": HNSW_EF_SEARCH},
        "embedded_now": computed,
        "embed_s": round(t_embed, 3),
        "build_s": round(time.monotonic() - t1, 3),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    return VectorIndex(chunks, vectors, index, config)
