"""RAG: loaders → chunkers → embeddings → FAISS index → dense/BM25/hybrid retrieval (→ reranker) →
RAGPipeline candidate; :func:`evaluate_retrieval` measures retrieval alone, per question kind, with CIs.

Importing this package also registers the ``retrieval`` metric family in the evaluation registry.
"""

from . import metrics  # noqa: F401 - registers retrieval/* metrics
from .build import index_corpus, retrieval_preview
from .chunking import CHUNKERS, Chunk, chunk_documents
from .evaluation import RetrievalEval, evaluate_retrieval
from .index import VectorIndex, build_index
from .loaders import Document, load_documents
from .pipeline import RAGAnswer, RAGPipeline, RetrievalOptions
from .rerank import RERANKERS
from .retrieval import Retriever
from .rewrite import QUERY_REWRITES

__all__ = [
    "CHUNKERS",
    "Chunk",
    "Document",
    "QUERY_REWRITES",
    "RAGAnswer",
    "RAGPipeline",
    "RERANKERS",
    "RetrievalEval",
    "RetrievalOptions",
    "Retriever",
    "VectorIndex",
    "build_index",
    "chunk_documents",
    "evaluate_retrieval",
    "index_corpus",
    "load_documents",
    "retrieval_preview",
]
