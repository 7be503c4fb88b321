"""One call from a folder of documents to a saved, logged index (what notebooks and the CLI use)."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from ..config import settings
from .chunking import chunk_documents
from .index import VectorIndex, build_index
from .loaders import load_documents
from .retrieval import Retriever


def index_corpus(
    corpus: str | Path,
    chunker: str = "recursive",
    chunk_size: int = 128,
    overlap: int = 16,
    embed_model: str = "all-MiniLM-L6-v2",
    kind: str = "auto",
    out_dir: str | Path | None = None,
    log: bool = False,
    progress: bool | None = None,
) -> tuple[VectorIndex, Path]:
    """Load → chunk → embed (cached) → FAISS; saved under ``.workbench/indexes/<corpus hash>``.

    With ``log=True`` the chunking parameters, corpus statistics and timings go to the current MLflow run
    and the index folder is logged as the ``index/`` artifact.
    """
    t0 = time.monotonic()
    docs = load_documents(corpus)
    params = {"chunker": chunker, "chunk_size": chunk_size, "overlap": overlap, "embed_model": embed_model}
    chunks = chunk_documents(docs, chunker, chunk_size, overlap)
    index = build_index(chunks, embed_model=embed_model, kind=kind, chunker_params=params, progress=progress)
    path = Path(out_dir) if out_dir else settings().project_dir / ".workbench" / "indexes" / index.config["corpus_hash"]
    index.save(path)
    if log:
        from .. import tracking

        tracking.log_params(
            {f"rag.{k}": v for k, v in {**params, "corpus": str(corpus), "index_kind": index.config["kind"]}.items()}
        )
        tracking.log_metrics(
            {
                "rag/documents": len(docs),
                "rag/chunks": len(chunks),
                "rag/chunk_tokens_mean": sum(c.n_tokens for c in chunks) / len(chunks),
                "rag/embedded_now": index.config["embedded_now"],
                "rag/embed_s": index.config["embed_s"],
                "rag/index_total_s": time.monotonic() - t0,
            }
        )
        index.log_to_mlflow(path)
    return index, path


def retrieval_preview(
    index: VectorIndex, questions: list[str], retriever: str = "hybrid", top_k: int = 4, rerank: str | None = None
) -> pd.DataFrame:
    """A readable table: question, rank, chunk id, heading path, score, first words."""
    r = Retriever(index, retriever, top_k, rerank=rerank)
    rows = []
    for q in questions:
        for h in r.retrieve(q):
            rows.append(
                {
                    "question": q,
                    "rank": h.rank,
                    "chunk": h.chunk.chunk_id,
                    "heading": h.chunk.heading_path,
                    "score": round(h.score, 4),
                    "text": h.chunk.text[:90].replace("\n", " "),
                }
            )
    return pd.DataFrame(rows)
