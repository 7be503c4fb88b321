"""The served app itself: a configuration (prompt + optional RAG index + model) answering chat requests."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from .. import tags as T
from ..errors import ConfigError, WorkbenchError
from .config import AppConfig


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(p["text"] for p in content)
    return content


DISCONNECTED = "client_disconnected"  # the error class of a request whose client went away mid-answer


class ServedApp:
    """One configuration, ready to answer requests (one per process: it owns tracing's settings)."""

    def __init__(self, cfg: AppConfig):
        from .. import tracking
        from ..candidates import DEFAULT_SYSTEM, PromptCandidate
        from ..config import settings

        self.cfg = cfg
        self.rag = None
        if cfg.rag:
            from ..rag.pipeline import RAGPipeline

            r = dict(cfg.rag)
            self.rag = RAGPipeline(r.pop("index"), model=cfg.model, **r, **cfg.params)
            if cfg.system_prompt != "default":
                self.rag.system_prompt = cfg.system_prompt
            if cfg.template:
                self.rag.prompt = cfg.template
        # the same prompt building as the evaluated candidate (str.format over the row)
        self.prompt = PromptCandidate(cfg.model, template=cfg.template or "{question}",
                                      system_prompt=DEFAULT_SYSTEM if cfg.system_prompt == "default"
                                      else cfg.system_prompt)
        try:
            probe = self._messages([{"role": "user", "content": "test"}], ["test"])
        except (KeyError, IndexError, ValueError, WorkbenchError) as e:
            raise ConfigError(f"{cfg.source or cfg.name}: the template cannot be filled from a question "
                              f"({type(e).__name__}: {e}); use {{question}} (and {{contexts}} for RAG)") from None
        from .guard import guard_for

        self.guard = guard_for(cfg.confidential, cfg.output_guard,
                               next((m["content"] for m in probe if m["role"] == "system"), None))
        tracking.configure()
        self.experiment_id = tracking.experiment_id(cfg.experiment_name)
        settings().resolve_model(cfg.model)  # an unknown model or a missing key fails at start, not per request
        self._client = None
        self.started = time.time()
        self.requests = 0
        self.tasks: set[asyncio.Task] = set()

    @property
    def client(self):
        from ..llm.client import LLMClient

        if self._client is None:  # created in the server's event loop
            self._client = LLMClient(cache=self.cfg.cache, timeout_s=self.cfg.request_timeout_s,
                                     max_retries=self.cfg.max_retries, backoff_base_s=0.2)
        return self._client

    def _messages(self, request_msgs: list[dict], contexts: list[str] | None) -> list[dict]:
        question = _text(request_msgs[-1]["content"])
        if self.rag is not None:
            last = self.rag.messages({"question": question}, contexts or [])
        else:
            last = self.prompt.messages({"question": question})
        history = [{"role": m["role"], "content": _text(m["content"])} for m in request_msgs[:-1]]
        system = [m for m in last if m["role"] == "system"]
        return system + history + [m for m in last if m["role"] != "system"]

    async def answer(self, request_msgs: list[dict], gen: dict, stream: bool, on_delta=None) -> dict:
        """Run one request inside its trace; returns ``{record, contexts, chunk_ids, trace_id}``."""
        import mlflow
        from mlflow.entities import SpanStatusCode, SpanType

        from .. import tracing

        question = _text(request_msgs[-1]["content"])
        contexts, chunk_ids = None, None
        params = {**self.cfg.params, **gen}
        t0 = time.perf_counter()
        traced = self.cfg.trace

        def span(name: str, kind: str):
            return mlflow.start_span(name=name, span_type=kind) if traced else contextlib.nullcontext(_NoSpan())

        with tracing.scope(self.experiment_id, self.cfg.redact_pii) if traced else contextlib.nullcontext(), \
                span(f"app {self.cfg.name}", SpanType.CHAIN) as root:
            root.set_inputs({"messages": request_msgs, **gen, "stream": stream})
            if self.rag is not None:  # a RETRIEVER span when traced (RAGPipeline.aretrieve)
                hits = await self.rag.aretrieve(question)
                contexts = [h.chunk.context_text for h in hits]
                chunk_ids = [h.chunk.chunk_id for h in hits]
            tags = {T.TRACE_APP: self.cfg.name, T.TRACE_STREAM: str(stream).lower()}
            meta = {T.CONFIG_RUN_ID: self.cfg.run_id or "", T.TRACE_MODEL: self.cfg.model}
            if self.cfg.model_id:
                meta["mlflow.modelId"] = self.cfg.model_id  # MLflow links the trace to the LoggedModel
            try:
                # with the guard on, a streamed answer is checked whole before any of it is sent
                rec = await self.client.achat(self._messages(request_msgs, contexts), self.cfg.model,
                                              on_delta=None if self.guard else on_delta, **params)
            except asyncio.CancelledError:  # the client hung up: an error, not a short successful request
                if traced:
                    mlflow.update_current_trace(tags={**tags, T.TRACE_ERROR: DISCONNECTED,
                                                      T.TRACE_LATENCY: f"{time.perf_counter() - t0:.4f}"},
                                                metadata=meta)
                root.set_status(SpanStatusCode.ERROR)
                raise
            if self.guard is not None and not rec.error:
                rec.text, found = self.guard.apply(rec.text)
                if found:
                    tags[T.TRACE_GUARD] = f"{self.guard.action}: " + ",".join(sorted({f.kind for f in found}))
                if on_delta is not None and rec.text:
                    on_delta(rec.text)
            root.set_outputs(rec.text)
            tags[T.TRACE_LATENCY] = f"{time.perf_counter() - t0:.4f}"
            for k in ("ttft_s", "prompt_tokens", "completion_tokens", "cost_usd", "error"):
                v = getattr(rec, k)
                if v is not None:
                    tags[T.TRACE_PREFIX + k] = str(round(v, 6) if isinstance(v, float) else v)
            if traced:
                mlflow.update_current_trace(tags=tags, metadata=meta)
            if rec.error:
                root.set_status(SpanStatusCode.ERROR)
            trace_id = root.trace_id
        self.requests += 1
        return {"record": rec, "contexts": contexts, "chunk_ids": chunk_ids, "trace_id": trace_id}


class _NoSpan:
    """Stands in for a span when the app is not traced."""

    trace_id = None

    def set_inputs(self, *a) -> None:
        pass

    set_outputs = set_status = set_inputs

