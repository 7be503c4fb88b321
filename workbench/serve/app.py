"""The served app itself: a configuration (prompt + optional RAG index + model) answering chat requests."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

from .. import tags as T
from ..errors import ConfigError, WorkbenchError
from .config import AppConfig

if TYPE_CHECKING:
    from ..llm.client import LLMClient


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(p["text"] for p in content)
    return content


DISCONNECTED = "client_disconnected"  # the error class of a request whose client went away mid-answer


class ServedApp:
    """One configuration, ready to answer requests (one per process: it owns tracing's settings).

    It answers through the served candidate's own ``aanswer`` (rebuilt from its configuration by
    ``candidates.from_config``: the evaluated prompt, retrieval, rerank, query rewrite, model and generation
    params) and adds only what serving needs: the request's history and generation overrides, streaming, the
    output guard, PII redaction and the trace."""

    def __init__(self, cfg: AppConfig):
        from .. import (
            rag,  # noqa: F401 - registers the rag candidate kind
            tracking,
        )
        from ..candidates import from_config
        from ..config import settings

        self.cfg = cfg
        try:
            self.candidate = from_config(cfg.candidate_config(), name=cfg.name)
            probe = self.candidate.messages({"question": "test"}, ["test"])
        except (KeyError, IndexError, ValueError) as e:
            raise ConfigError(
                f"{cfg.source or cfg.name}: the template cannot be filled from a question "
                f"({type(e).__name__}: {e}); use {{question}} (and {{contexts}} for RAG)"
            ) from None
        except WorkbenchError as e:
            raise ConfigError(f"{cfg.source or cfg.name}: {e}") from None
        from .guard import guard_for

        self.guard = guard_for(
            cfg.confidential, cfg.output_guard, next((m["content"] for m in probe if m["role"] == "system"), None)
        )
        tracking.configure()
        self.experiment_id = tracking.experiment_id(cfg.experiment_name)
        settings().resolve_model(cfg.model)  # an unknown model or a missing key fails at start, not per request
        self._client: LLMClient | None = None
        self.started = time.time()
        self.requests = 0
        self.tasks: set[asyncio.Task] = set()

    @property
    def client(self):
        from ..llm.client import LLMClient

        if self._client is None:  # created in the server's event loop
            self._client = LLMClient(
                cache=self.cfg.cache,
                timeout_s=self.cfg.request_timeout_s,
                max_retries=self.cfg.max_retries,
                backoff_base_s=0.2,
            )
        return self._client

    @staticmethod
    def row(request_msgs: list[dict]) -> dict:
        """The dataset row a chat request is: its last message is the question, earlier turns the history."""
        return {
            "question": _text(request_msgs[-1]["content"]),
            "history": [{"role": m["role"], "content": _text(m["content"])} for m in request_msgs[:-1]],
        }

    async def answer(
        self,
        request_msgs: list[dict],
        gen: dict,
        stream: bool,
        on_delta=None,
        session: str | None = None,
        user: str | None = None,
    ) -> dict:
        """Run one request inside its trace; returns ``{record, contexts, chunk_ids, trace_id}`` (``record``: the
        answering call, its text the answer as sent). ``session`` and ``user`` become MLflow's session and user
        of the trace."""
        import mlflow
        from mlflow.entities import SpanStatusCode, SpanType

        from .. import tracing

        t0 = time.perf_counter()
        traced = self.cfg.trace

        def span(name: str, kind: str):
            return mlflow.start_span(name=name, span_type=kind) if traced else contextlib.nullcontext(_NoSpan())

        with (
            tracing.scope(self.experiment_id, self.cfg.redact_pii) if traced else contextlib.nullcontext(),
            span(f"app {self.cfg.name}", SpanType.CHAIN) as root,
        ):
            root.set_inputs({"messages": request_msgs, **gen, "stream": stream})
            tags = {T.TRACE_APP: self.cfg.name, T.TRACE_STREAM: str(stream).lower()}
            meta = {T.CONFIG_RUN_ID: self.cfg.run_id or "", T.TRACE_MODEL: self.cfg.model}
            if self.cfg.model_id:
                meta["mlflow.modelId"] = self.cfg.model_id  # MLflow links the trace to the LoggedModel
            meta.update(tracing.session_metadata(session, user))  # MLflow's Sessions view and user filter
            try:
                # with the guard on, a streamed answer is checked whole before any of it is sent
                ans = await self.candidate.aanswer(
                    self.row(request_msgs), self.client, on_delta=None if self.guard else on_delta, **gen
                )
            except asyncio.CancelledError:  # the client hung up: an error, not a short successful request
                if traced:
                    mlflow.update_current_trace(
                        tags={**tags, T.TRACE_ERROR: DISCONNECTED, T.TRACE_LATENCY: f"{time.perf_counter() - t0:.4f}"},
                        metadata=meta,
                    )
                root.set_status(SpanStatusCode.ERROR)
                raise
            rec = _record(ans, self.cfg.model)
            if self.guard is not None and not rec.error:
                rec.text, found = self.guard.apply(rec.text)
                if found:
                    tags[T.TRACE_GUARD] = f"{self.guard.action}: " + ",".join(sorted({f.kind for f in found}))
                if on_delta is not None and rec.text:
                    on_delta(rec.text)
            root.set_outputs(rec.text)
            tags[T.TRACE_LATENCY] = f"{time.perf_counter() - t0:.4f}"
            tags.update(_call_tags(ans, rec))
            if traced:
                mlflow.update_current_trace(tags=tags, metadata=meta)
            if rec.error:
                root.set_status(SpanStatusCode.ERROR)
            trace_id = root.trace_id
        self.requests += 1
        return {"record": rec, "contexts": ans.contexts, "chunk_ids": ans.chunk_ids, "trace_id": trace_id}


def _record(ans, model: str):
    """The answering call's record (the last call; a query rewrite comes first), its text the answer's."""
    from ..llm.client import ChatRecord

    rec = ans.calls[-1] if ans.calls else ChatRecord(endpoint="", model=model)
    rec.text, rec.error = ans.text, ans.error or rec.error
    return rec


def _call_tags(ans, rec) -> dict[str, str]:
    """Trace tags of the request: tokens and cost summed over all its calls (query rewrite included); TTFT
    and the error class of the answering call."""
    tags = {}
    for k in ("prompt_tokens", "completion_tokens", "cost_usd"):
        vals = [getattr(c, k) for c in ans.calls if getattr(c, k) is not None]
        if vals:
            tags[T.TRACE_PREFIX + k] = str(round(sum(vals), 6) if isinstance(sum(vals), float) else sum(vals))
    for k in ("ttft_s", "error"):
        v = getattr(rec, k)
        if v is not None:
            tags[T.TRACE_PREFIX + k] = str(round(v, 6) if isinstance(v, float) else v)
    return tags


class _NoSpan:
    """Stands in for a span when the app is not traced."""

    trace_id = None

    def set_inputs(self, *a) -> None:
        pass

    set_outputs = set_status = set_inputs
