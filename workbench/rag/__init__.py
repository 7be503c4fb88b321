"""RAG: loaders → chunkers → embeddings → FAISS index → dense/BM25/hybrid retrieval → RAGPipeline candidate.

Importing this package also registers the ``retrieval`` metric family in the evaluation registry.
"""

from . import metrics  # noqa: F401 - registers retrieval/* metrics
from .build import index_corpus, retrieval_preview
from .chunking import Chunk, chunk_documents
from .index import VectorIndex, build_index
from .loaders import Document, load_documents
from .pipeline import RAGAnswer, RAGPipeline
from .retrieval import Retriever

__all__ = ["Chunk", "Document", "RAGAnswer", "RAGPipeline", "Retriever", "VectorIndex", "build_index",
           "chunk_documents", "index_corpus", "load_documents", "retrieval_preview"]
