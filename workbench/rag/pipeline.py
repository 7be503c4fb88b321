"""``RAGPipeline``: retrieve → prompt with the numbered contexts → generate. It is an evaluation
:class:`~workbench.candidates.Candidate` (its contexts feed the groundedness metric, its retrieved doc ids
the retrieval metrics) and has a sync ``.answer(question)`` for notebooks and apps."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from openai.types.chat import completion_create_params

from ..candidates import GENERATION, Answer, Candidate, format_contexts, register_candidate_kind, with_history
from ..errors import ConfigError
from ..llm.client import ChatRecord, LLMClient, default_client, run_sync
from ..options import split_options
from .index import VectorIndex
from .retrieval import Retriever
from .rewrite import get_rewrite

RAG_SYSTEM = "You are the Contoso Outdoor product assistant. You answer from the product manuals only."
RAG_TEMPLATE = (
    "Answer the question using only the context below. Be brief and give exact figures with their units. "
    'If the context does not contain the answer, say "The manuals do not say."\n\n'
    "Context:\n{contexts}\n\nQuestion: {question}"
)


@dataclass
class RAGAnswer:
    text: str
    chunk_ids: list[str]
    contexts: list[str]
    records: list[ChatRecord] = field(default_factory=list)

    @property
    def doc_ids(self) -> list[str]:
        return list(dict.fromkeys(c.split("#")[0] for c in self.chunk_ids))


# what a chat call takes besides the messages and the model (openai's own list), plus extra_body for server-specific
# sampling options (llama-server's min_p, top_k ...)
CHAT_PARAMS = frozenset(completion_create_params.CompletionCreateParamsBase.__annotations__) - {
    "messages",
    "model",
    "stream",
    "stream_options",
} | {"extra_body"}


@dataclass(frozen=True)
class RetrievalOptions:
    """The optional stages of a :class:`RAGPipeline`'s retrieval, all off by default."""

    mmr: bool = False  # diversify the top_k by maximal marginal relevance
    fetch_k: int | None = None  # candidates fetched for MMR or the re-ranker (default: from top_k)
    rerank: str | None = None  # overlap or sentence: re-orders the first fetch_k (workbench.rag.rerank)
    query_rewrite: str | None = None  # keywords or llm: rewrites the question first (workbench.rag.rewrite)


class RAGPipeline(Candidate):
    """Retrieve ``top_k`` chunks from ``index`` with ``retriever`` (dense, bm25 or hybrid), put them in ``prompt``
    and answer with ``model``."""

    def __init__(
        self,
        index: VectorIndex | str | Path,
        model: str = "local",
        top_k: int = 4,
        retriever: str = "hybrid",
        prompt: str | None = None,
        system_prompt: str | None = RAG_SYSTEM,
        name: str | None = None,
        retrieval: RetrievalOptions | None = None,
        **options,
    ):
        """``options``: the fields of :class:`RetrievalOptions` (``mmr``, ``fetch_k``, ``rerank``,
        ``query_rewrite``; they override ``retrieval``) and generation parameters of the chat call
        (:data:`CHAT_PARAMS`: ``temperature`` (default 0), ``max_tokens`` (default 256), ``seed``, ``top_p``,
        ``extra_body`` ...). Any other name is an :class:`~workbench.errors.UnknownOption` error."""
        r, gen_params = split_options("RAGPipeline", options, retrieval or RetrievalOptions(), rest=CHAT_PARAMS)
        mmr, fetch_k, query_rewrite = r.mmr, r.fetch_k, r.query_rewrite
        self.index = index if isinstance(index, VectorIndex) else VectorIndex.load(index)
        self.retriever = Retriever(self.index, retriever, top_k, mmr=mmr, fetch_k=fetch_k, rerank=r.rerank)
        self.rewrite = get_rewrite(query_rewrite)
        self.model, self.top_k = model, top_k
        self.prompt = prompt or RAG_TEMPLATE
        self.system_prompt = system_prompt
        self.gen_params = {**GENERATION, **gen_params}
        self.name = name or f"rag-{retriever}{'+' + self.retriever.rerank if self.retriever.rerank else ''}-k{top_k}"
        self.config = {
            "kind": "rag",
            "model": model,
            "top_k": top_k,
            "retriever": retriever,
            "mmr": mmr,
            "prompt": "default" if prompt is None else prompt,
            "system_prompt": system_prompt,
            "embed_model": self.index.embed_model,
            "index_kind": self.index.config.get("kind"),
            "corpus_hash": self.index.config.get("corpus_hash"),
            "index_path": None if isinstance(index, VectorIndex) else str(Path(index).resolve()),
            **{f"chunker.{k}": v for k, v in self.index.config.get("chunker", {}).items()},
            **{
                k: v
                for k, v in (("rerank", self.retriever.rerank), ("query_rewrite", query_rewrite), ("fetch_k", fetch_k))
                if v not in (None, "", "none")
            },
            **self.gen_params,
        }

    @staticmethod
    def question(row: dict) -> str:
        """The row's question: ``question``, else the last user message."""
        return row.get("question") or next(
            (m["content"] for m in reversed(row.get("messages") or []) if m["role"] == "user"), ""
        )

    def messages(self, row: dict, contexts: list[str] | None = None) -> list[dict]:
        """The prompt for ``row`` with ``contexts`` (None: retrieve them now)."""
        question = self.question(row)
        if contexts is None:
            contexts = [h.chunk.context_text for h in self.retriever.retrieve(question)]
        ctx = format_contexts(contexts)
        msgs = [{"role": "user", "content": self.prompt.format(contexts=ctx, question=question)}]
        if self.system_prompt:
            msgs.insert(0, {"role": "system", "content": self.system_prompt})
        return with_history(msgs, row)

    async def aanswer(self, row: dict, client: LLMClient, repeat: int = 0, **call) -> Answer:
        question = self.question(row)
        query, rewrite_call = await self.rewrite(question, client, self.model) if self.rewrite else (question, None)
        hits = await self.aretrieve(query)
        contexts = [h.chunk.context_text for h in hits]
        rec = await client.achat(self.messages(row, contexts), self.model, repeat=repeat, **{**self.gen_params, **call})
        ans = Answer.from_record(rec, contexts)
        ans.chunk_ids = [h.chunk.chunk_id for h in hits]
        ans.retrieved = [h.chunk.doc_id for h in hits]
        if rewrite_call is not None:  # its tokens, cost and latency belong to the row
            ans.calls.insert(0, rewrite_call)
        return ans

    async def aretrieve(self, question: str) -> list:
        """The retriever's hits for ``question``, off the event loop (FAISS and the embedder block). Inside an
        MLflow trace (an evaluated row, a served request) it is a RETRIEVER span with the chunks as documents."""
        import mlflow

        if mlflow.get_current_active_span() is None:
            return await asyncio.to_thread(self.retriever.retrieve, question)
        from mlflow.entities import SpanType

        with mlflow.start_span(name="retrieve", span_type=SpanType.RETRIEVER) as span:
            span.set_inputs({"query": question, "top_k": self.top_k, "retriever": self.config["retriever"]})
            hits = await asyncio.to_thread(self.retriever.retrieve, question)
            span.set_outputs(
                [
                    {
                        "page_content": h.chunk.context_text,
                        "metadata": {"doc_uri": h.chunk.doc_id, "chunk_id": h.chunk.chunk_id},
                    }
                    for h in hits
                ]
            )
        return hits

    def answer(self, question: str) -> RAGAnswer:
        """Sync: retrieve and answer one question."""
        ans = run_sync(self.aanswer({"question": question}, default_client()))
        return RAGAnswer(ans.text, ans.chunk_ids or [], ans.contexts or [], ans.calls)


# what the index itself determines: recorded to check that the index found at index_path is the one evaluated
_FROM_INDEX = ("embed_model", "index_kind", "corpus_hash")


def from_config(config: dict, name: str | None = None) -> RAGPipeline:
    """The RAG candidate of a ``RAGPipeline.config`` (registered as the ``rag`` candidate kind): the same index,
    retriever, top_k, mmr, fetch_k, rerank, query rewrite, prompt, system prompt, model and generation params.
    Fails when the index is missing or was rebuilt from another corpus or embedder since it was evaluated."""
    c = {k: v for k, v in config.items() if k != "kind" and not k.startswith("chunker.")}
    index = c.pop("index_path", None)
    if not index:
        raise ConfigError(
            f"RAG candidate {name!r} has no index_path: it was evaluated on an in-memory index; "
            f"save it (rag.index_corpus(..., out_dir=DIR)) and evaluate again"
        )
    if not Path(index).exists():
        raise ConfigError(f"RAG candidate {name!r}: its index {index} is gone; rebuild it there or evaluate again")
    recorded = {k: c.pop(k) for k in _FROM_INDEX if k in c}
    prompt = c.pop("prompt", None)
    cand = RAGPipeline(index, name=name, prompt=None if prompt in (None, "default") else prompt, **c)
    changed = {k: (v, cand.config.get(k)) for k, v in recorded.items() if v is not None and cand.config.get(k) != v}
    if changed:
        raise ConfigError(
            f"RAG candidate {name!r}: the index at {index} is not the one evaluated "
            + ", ".join(f"({k}: evaluated {a}, found {b})" for k, (a, b) in changed.items())
        )
    return cand


register_candidate_kind("rag", from_config)
