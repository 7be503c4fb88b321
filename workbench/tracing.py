"""Tracing of workbench LLM calls with MLflow tracing, and PII redaction before anything is stored.

``wb.tracing.enable()`` (or ``[tracing] enabled = true`` in ``workbench.toml``, or ``WORKBENCH_TRACING=1``)
makes every :class:`~workbench.llm.client.LLMClient` call a ``CHAT_MODEL`` span: messages in, text out,
token usage (``mlflow.chat.tokenUsage``, which MLflow sums into the trace), latency, TTFT, cost, cache hit and
error class, and the OpenTelemetry GenAI attributes (``gen_ai.request.model``, ``gen_ai.usage.input_tokens``, ...:
:func:`set_gen_ai`). Inside an open span (a served request, ``mlflow.trace``-decorated code) the call nests under it.

Secrets: the same span processor always (redaction on or off) removes the values of the environment's
credentials from a span's inputs, outputs, attributes and events, and request params under credential-named
keys (``extra_headers={"X-Api-Key": ...}``) are masked before they become span inputs.

Redaction is an MLflow span processor (``mlflow.tracing.configure(span_processors=...)``): inputs and
outputs of every span pass through :func:`workbench.pii.redact` before export, so the trace store never
sees the raw text. It follows the workspace switch ``[privacy] redact_pii`` unless ``enable(redact=...)``
says otherwise; served apps turn it on by default.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import re
import threading
from collections.abc import Iterator
from typing import Any

from . import tags as T
from .config import settings
from .pii import redact_value
from .secrets import mask_secret_fields

_state: dict[str, Any] = {"enabled": None, "redact": False}


# Per-context overrides (a served request's task): trace its calls into its own experiment, with its own redaction
# setting, without touching the rest of the process. Span processors run when a span ends, in that context.
_ctx_trace: contextvars.ContextVar[bool] = contextvars.ContextVar("workbench_trace", default=False)
_ctx_redact: contextvars.ContextVar[bool | None] = contextvars.ContextVar("workbench_redact", default=None)
# MLflow's session and user of the traces started in this context (a playground, a chat): trace metadata
_ctx_session: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("workbench_session", default=None)
SESSION_KEY, USER_KEY = "mlflow.trace.session", "mlflow.trace.user"  # TraceMetadataKey.TRACE_SESSION / TRACE_USER


def session_metadata(session_id: str | None, user: str | None = None) -> dict[str, str]:
    """MLflow's session and user trace metadata (what its Sessions view and user filter read); empty values
    are left out, each is cut to 250 characters."""
    out = {SESSION_KEY: session_id, USER_KEY: user}
    return {k: str(v)[:250] for k, v in out.items() if v}


@contextlib.contextmanager
def session(session_id: str | None, user: str | None = None) -> Iterator[None]:
    """Traces of workbench LLM calls started in this context carry MLflow's session and user."""
    token = _ctx_session.set(session_metadata(session_id, user))
    try:
        yield
    finally:
        _ctx_session.reset(token)


_JSON_SAFE = re.compile(r"[ -~]*")  # printable ASCII: what JSON text shows as itself


def _may_hold_secret(text, secrets: list[str]) -> bool:
    """False only when ``text``, the JSON text MLflow keeps a span's inputs or outputs in, certainly holds nothing
    :func:`~workbench.secrets.scrub` would change in any string inside it: no secret value and no ``://`` (JSON
    escapes neither printable ASCII but quote and backslash, nor ``:`` and ``/``). A secret JSON could show
    escaped, or text that is not a string, takes the full walk. It spares decoding and re-encoding every span's
    inputs and outputs; that saving was not measured on its own (no visible difference on the floor benchmark:
    the span processor's drop of 2026-12-06 came from remembering the secret values, ``workbench.secrets``)."""
    if not isinstance(text, str) or "://" in text:
        return True
    return any(s in text or '"' in s or "\\" in s or not _JSON_SAFE.fullmatch(s) for s in secrets)


def _scrub_span(span, secrets: list[str]) -> None:
    """Remove the values of the environment's credentials (and URL userinfo) from everything a span holds:
    inputs, outputs, every attribute (an error text quoting a key), the events (a recorded exception) and the
    status text."""
    from mlflow.tracing.constant import SpanAttributeKey

    from .secrets import scrub, scrub_value

    otel = span._span  # still open: the processor runs before the span ends
    for key, get, put in (
        (SpanAttributeKey.INPUTS, lambda: span.inputs, span.set_inputs),
        (SpanAttributeKey.OUTPUTS, lambda: span.outputs, span.set_outputs),
    ):
        if _may_hold_secret((otel.attributes or {}).get(key), secrets) and (value := get()) is not None:
            put(scrub_value(value, secrets))
    for k, v in dict(otel.attributes or {}).items():
        if isinstance(v, str) and (clean := scrub(v, secrets)) != v:
            otel.set_attribute(k, clean)
    events = getattr(otel, "_events", None)
    if events:
        from opentelemetry.sdk.trace import Event

        for i, ev in enumerate(list(events)):
            attrs = {k: scrub(v, secrets) if isinstance(v, str) else v for k, v in (ev.attributes or {}).items()}
            events._dq[i] = Event(scrub(ev.name, secrets), attrs, ev.timestamp)
    status = span.status
    if status.description and (clean := scrub(status.description, secrets)) != status.description:
        from mlflow.entities import SpanStatus

        span.set_status(SpanStatus(status.status_code, clean))


def _redact_span(span) -> None:
    from .secrets import secret_values

    try:
        _scrub_span(span, secret_values())
    except Exception:  # noqa: BLE001 - fail closed: never export what could not be scrubbed
        span.set_inputs("[SCRUBBING FAILED]")
        span.set_outputs("[SCRUBBING FAILED]")
        for k in list(span._span.attributes or {}):
            if not k.startswith("mlflow."):  # MLflow's own keys (ids, span type) are needed to export the trace
                span._span.set_attribute(k, "[SCRUBBING FAILED]")
    want = _ctx_redact.get()
    if not (_state["redact"] if want is None else want):
        return
    try:
        if span.inputs is not None:
            span.set_inputs(redact_value(span.inputs))
        if span.outputs is not None:
            span.set_outputs(redact_value(span.outputs))
    except Exception:  # noqa: BLE001 - fail closed: never export what could not be redacted
        span.set_inputs("[REDACTION FAILED]")
        span.set_outputs("[REDACTION FAILED]")


# --- Whole-trace export ------------------------------------------------------------------------------------
# MLflow's exporter (``MlflowV3SpanExporter``) writes each span to the store as it ends (``log_spans``, one
# transaction per span) and then the trace (``start_trace``). Against a SQL store the trace row then already
# exists (``log_spans`` created it), so every ``start_trace`` takes the store's conflict path: roll back, re-read,
# merge each tag, metadata entry and assessment one by one. Measured on this machine (2 cores, sqlite, 200
# two-span traces, `docs/benchmarks.md`): ~30-40 ms of client CPU per trace. Writing the trace first and all its
# spans in one ``log_spans`` call stores the same rows for ~10 ms; evaluation rows (traces tagged
# ``workbench.candidate``) are also written ``BATCH_TRACES`` at a time, in one transaction (their spans in one
# ``log_spans``; "One transaction per batch" below).
# The upstream change this stands in for: an export order option in ``MlflowV3SpanExporter`` (trace, then spans).
# ``WORKBENCH_TRACE_EXPORT=mlflow`` keeps MLflow's own path.
BATCH_TRACES = 32  # evaluation rows per batched write; :func:`flush` writes what is pending
SQL_SCHEMES = {"sqlite", "postgresql", "mysql", "mssql"}
_whole: dict[str, Any] = {"patched": False, "pending": [], "orig": None}
_pending_lock = threading.Lock()  # the pending list
_write_lock = threading.Lock()  # one writer at a time: concurrent sqlite writers only wait for each other


def _is_remote(span) -> bool:
    """Whether ``span`` (an OpenTelemetry span) belongs to a trace started in another process (distributed
    tracing): those spans still go to the store as they end, the root being elsewhere."""
    from mlflow.tracing.trace_manager import InMemoryTraceManager

    manager = InMemoryTraceManager.get_instance()
    tid = manager.get_mlflow_trace_id_from_otel_id(span.context.trace_id)
    if tid is None:
        return False
    with manager.get_trace(tid) as t:
        return bool(getattr(t, "is_remote_trace", False))


def _export_spans_incrementally(self, spans) -> None:
    remote = [s for s in spans if _is_remote(s)]
    if remote:
        _whole["orig"][0](self, remote)


def _sql_store(exporter) -> bool:
    """Whether the exporter writes to a SQL tracking store (sqlite, PostgreSQL, MySQL), which stores spans
    itself; a file store or a tracking server keeps MLflow's own path."""
    from urllib.parse import urlparse

    uri = str(getattr(exporter._client, "tracking_uri", "") or "")
    return exporter._store_supports_log_spans and urlparse(uri).scheme.split("+")[0] in SQL_SCHEMES


def _log_trace(self, trace, prompts, workspace=None) -> None:
    from mlflow.tracing.constant import SpansLocation, TraceTagKey

    spans = trace.data.spans if trace else []
    if not trace or workspace or not _sql_store(self) or any(s._attachments for s in spans):
        return _whole["orig"][1](self, trace, prompts, workspace)  # MLflow's path (artifacts, workspaces)
    trace.info.tags[TraceTagKey.SPANS_LOCATION] = SpansLocation.TRACKING_STORE.value
    item = (self, trace, list(prompts or []))
    if T.CANDIDATE not in trace.info.tags:  # a served request, a chat: written now
        _write([item])
        return None
    with _pending_lock:
        _whole["pending"].append(item)
        batch = _whole["pending"] if len(_whole["pending"]) >= BATCH_TRACES else []
        if batch:
            _whole["pending"] = []
    if batch:
        _write(batch)
    return None


def _write(items: list) -> None:
    """Store ``items`` (``(exporter, trace, prompts)``): each trace (info, tags, metadata, assessments) with
    ``start_trace``, then the spans of all of them with one ``log_spans`` per experiment. Several traces bound for
    one SQL store go in **one transaction** (:func:`_one_transaction`); if that fails for any reason, nothing of it
    is kept and each trace is written in its own transactions, as MLflow writes them. A failure is logged as
    MLflow's exporter logs it, never raised."""
    failed: list[Exception] = []
    with _write_lock:
        store = _shared_store(items)
        if store is not None:
            try:
                with _one_transaction(store):
                    _store_items(items, strict=True)
            except Exception:  # noqa: BLE001 - rolled back whole: written again trace by trace below
                failed = _store_items(items)
        else:
            failed = _store_items(items)
        _link_prompts(items)
    if failed:  # one short line per write (a full disk fails every trace; its SQL error quotes the whole row)
        first = str(failed[0]).strip().splitlines()[0] if str(failed[0]).strip() else ""
        logging.getLogger(__name__).warning(
            "Failed to send %d of %d traces to MLflow backend: %s: %s",
            len(failed),
            len(items),
            type(failed[0]).__name__,
            first[:200],
        )


def _store_items(items: list, strict: bool = False) -> list[Exception]:
    """``start_trace`` for each item, then one ``log_spans`` per experiment; returns the failures (``strict``:
    raises the first instead)."""
    from collections import defaultdict

    from mlflow.tracing.constant import TraceMetadataKey
    from mlflow.tracing.utils import add_size_stats_to_trace_metadata

    failed: list[Exception] = []
    spans: dict[tuple[int, str], tuple[Any, list]] = defaultdict(lambda: (None, []))
    batch = getattr(_tx, "session", None)  # inside one transaction: the traces' rows in one flush
    with _flush_once(batch) if batch is not None else contextlib.nullcontext():
        for exporter, trace, _ in items:
            try:
                if TraceMetadataKey.SIZE_STATS not in trace.info.trace_metadata:  # a second try: already added
                    add_size_stats_to_trace_metadata(trace)
                exporter._client.start_trace(trace.info)
            except Exception as e:  # as MLflow's exporter: a trace that cannot be stored is logged (strict: raised)
                if strict:
                    raise
                failed.append(e)
                continue
            key = (id(exporter), str(trace.info.experiment_id))
            spans[key] = (exporter, [*spans[key][1], *trace.data.spans])
    for (_, experiment_id), (exporter, batch) in spans.items():
        try:
            exporter._client.log_spans(experiment_id, batch)
        except Exception as e:  # logged as above
            if strict:
                raise
            failed.append(e)
    return failed


def _link_prompts(items: list) -> None:
    from mlflow.tracing.export.utils import try_link_prompts_to_trace

    for exporter, trace, prompts in items:
        if prompts:
            with contextlib.suppress(Exception):
                try_link_prompts_to_trace(
                    client=exporter._client, trace_id=trace.info.trace_id, prompts=prompts, synchronous=False
                )


# --- One transaction per batch ------------------------------------------------------------------------------
# ``SqlAlchemyStore.start_trace`` opens two sessions per trace (one to read the experiment, one to write), each
# with its own PRAGMAs and commit. Sharing one per batch saved about 11 ms of client CPU per traced row (a 200-row
# traced evaluation, single runs before and after, 2026-12-05: 11.1-11.3 s -> 8.5-9.4 s; `docs/benchmarks.md`,
# "Row traces"). While the writer thread stores a batch, the store's session factory hands
# that thread the batch's one session (other threads get their own, as before) and the experiment is read once:
# the same rows, one commit. The upstream change this stands in for: a batched ``start_traces`` in the store.
_tx = threading.local()  # .session, .store, .experiments: the batch this thread is writing


def _shared_store(items: list):
    """The SQL store all of ``items`` go to when there are several and the store's session factory can be shared
    (``SqlAlchemyStore.ManagedSessionMaker``); else ``None`` (one trace, another store: MLflow's transactions)."""
    if len(items) < 2:
        return None
    try:
        stores = {id(exporter._client.store): exporter._client.store for exporter, _, _ in items}
    except Exception:  # noqa: BLE001 - no store to share: the per-trace path reports what is wrong
        return None
    store = next(iter(stores.values()))
    shareable = all(callable(getattr(store, n, None)) for n in ("ManagedSessionMaker", "get_experiment"))
    return store if len(stores) == 1 and shareable else None


def _share_sessions(store) -> None:
    """Wrap ``store``'s session factory and experiment read (once per store) so that the thread writing a batch
    gets the batch's session and a cached experiment; every other call goes to MLflow's own."""
    if getattr(store, "_workbench_shared", False):
        return
    orig_maker, orig_get = store.ManagedSessionMaker, store.get_experiment

    @contextlib.contextmanager
    def maker(read_only=True):
        if getattr(_tx, "store", None) is store:
            yield _tx.session
        else:
            with orig_maker(read_only=read_only) as session:
                yield session

    def get_experiment(experiment_id):
        if getattr(_tx, "store", None) is not store:
            return orig_get(experiment_id)
        key = str(experiment_id)
        if key not in _tx.experiments:
            _tx.experiments[key] = orig_get(experiment_id)
        return _tx.experiments[key]

    store.ManagedSessionMaker, store.get_experiment = maker, get_experiment
    store._workbench_orig_maker = orig_maker
    store._workbench_shared = True


@contextlib.contextmanager
def _flush_once(session) -> Iterator[None]:
    """Inside the block ``session``'s flushes (``start_trace`` flushes each trace's rows) wait, and one flush at
    the end writes the rows of every trace: SQLAlchemy's unit of work then walks MLflow's mappers once, not once
    per trace, and inserts each table's rows together. A trace already in the store fails that flush (an
    ``IntegrityError``), which rolls the batch back and writes it trace by trace (:func:`_write`)."""
    session.flush = lambda objects=None: None  # shadows the method (autoflush calls it too) until the end
    try:
        yield
    finally:
        del session.flush
    session.flush()


class _RolledBack(Exception):
    """Code inside the batch rolled its session back (MLflow's conflict path): the batch is not kept whole."""


@contextlib.contextmanager
def _one_transaction(store) -> Iterator[None]:
    """Everything ``store`` writes from this thread inside the block is one transaction, committed at the end; a
    rollback inside it (MLflow's conflict path) or any error rolls all of it back and raises."""
    from sqlalchemy import event

    _share_sessions(store)
    with store._workbench_orig_maker(read_only=False) as session:
        rollbacks: list[int] = []
        event.listen(session, "after_soft_rollback", lambda *_: rollbacks.append(1))
        _tx.session, _tx.store, _tx.experiments = session, store, {}
        try:
            yield
            if rollbacks:
                raise _RolledBack("a write inside the batch was rolled back")
        finally:
            _tx.session = _tx.store = _tx.experiments = None


def flush() -> None:
    """Wait until every trace of this process is written: MLflow's asynchronous export queue, then the
    evaluation rows pending a batched write."""
    import mlflow

    with contextlib.suppress(Exception):
        mlflow.flush_trace_async_logging(terminate=False)
    with _pending_lock:
        batch, _whole["pending"] = _whole["pending"], []
    if batch:
        _write(batch)


def _patch_exporter() -> None:
    """Route MLflow's trace export through :func:`_log_trace` (once per process; skipped when MLflow's exporter
    no longer has the two methods this replaces, or ``WORKBENCH_TRACE_EXPORT=mlflow``)."""
    if _whole["patched"]:
        return
    _whole["patched"] = True
    if os.environ.get("WORKBENCH_TRACE_EXPORT", "").strip().lower() == "mlflow":
        return
    from mlflow.tracing.export.mlflow_v3 import MlflowV3SpanExporter as E

    if not all(callable(getattr(E, n, None)) for n in ("_export_spans_incrementally", "_log_trace")):
        return
    _whole["orig"] = (E._export_spans_incrementally, E._log_trace)
    E._export_spans_incrementally = _export_spans_incrementally  # type: ignore[method-assign]
    E._log_trace = _log_trace  # type: ignore[method-assign]
    _patch_queue_flush()
    import atexit

    atexit.register(flush)


def _patch_queue_flush() -> None:
    """``flush(terminate=False)`` of MLflow's export queue (``AsyncTraceExportQueue``) stops its consumer thread
    and joins it, but the consumer waits up to a second in ``queue.get(timeout=1)`` before it sees the stop: every
    flush (the end of every evaluation) took at least 1.0 s with nothing left to write (measured: 1.00-1.03 s, 5
    of 5). Waiting for the queue's tasks to be done (``queue.join()``: every trace handed to it written) gives the
    same guarantee without that wait; ``terminate=True`` (at exit) keeps MLflow's flush. The upstream change: put a
    sentinel in the queue when stopping, so the consumer wakes at once."""
    from mlflow.tracing.export.async_export_queue import AsyncTraceExportQueue as Q

    orig = getattr(Q, "flush", None)
    if not callable(orig):
        return

    def flush(self, terminate=False) -> None:
        join = getattr(getattr(self, "_queue", None), "join", None)
        if terminate or not self.is_active() or not callable(join):
            return orig(self, terminate=terminate)
        join()

    Q.flush = flush  # type: ignore[method-assign]


def _install() -> None:
    """Make sure our span processor is configured. Checked at every use: MLflow resets its tracing
    configuration whenever it re-initialises tracing (a new tracking URI does that)."""
    import mlflow
    from mlflow.tracing.config import get_config

    _patch_exporter()
    current = list(get_config().span_processors or [])
    if _redact_span not in current:
        mlflow.tracing.configure(span_processors=[*current, _redact_span])


def install() -> None:
    """Install the scrubbing/redaction span processor (idempotent); code that opens its own spans (the row
    traces of an evaluation) calls this first."""
    _install()


def set_redaction(on: bool) -> None:
    """Switch PII redaction of spans on or off for this process (per-request scopes may override it)."""
    _install()
    _state["redact"] = bool(on)


def route_to(experiment_id: str) -> None:
    """Send traces started in this thread (and the asyncio tasks it creates) to ``experiment_id``, leaving the
    rest of the process alone. Call once per thread: MLflow rebuilds its exporter on every call."""
    import mlflow
    from mlflow.entities.trace_location import MlflowExperimentLocation

    mlflow.tracing.set_destination(MlflowExperimentLocation(experiment_id=experiment_id), context_local=True)


@contextlib.contextmanager
def scope(experiment_id: str, redact: bool = True) -> Iterator[None]:
    """Within this context (an asyncio task or a thread) trace workbench LLM calls, with redaction ``redact``;
    the rest of the process (its tracing switch) is left as it is. Traces go where :func:`route_to` said."""
    _install()
    t1, t2 = _ctx_trace.set(True), _ctx_redact.set(bool(redact))
    try:
        yield
    finally:
        _ctx_trace.reset(t1)
        _ctx_redact.reset(t2)


def enable(experiment: str | None = None, redact: bool | None = None) -> None:
    """Trace every workbench LLM call from now on, into ``experiment`` (default: the active one)."""
    import mlflow

    from . import tracking

    tracking.configure()
    if experiment:  # a destination for traces only: the active experiment (where runs go) stays the user's
        from mlflow.entities.trace_location import MlflowExperimentLocation

        mlflow.tracing.set_destination(MlflowExperimentLocation(experiment_id=tracking.experiment_id(experiment)))
    set_redaction(settings().redact_pii if redact is None else redact)
    mlflow.tracing.enable()
    set_call_hook(chat_span)
    _state["enabled"] = True


def disable() -> None:
    """Stop tracing workbench LLM calls (the ``[tracing]`` setting no longer applies in this process)."""
    _state["enabled"] = False


def reset() -> None:
    """Back to the workspace settings: tracing and redaction as ``workbench.toml`` says."""
    _state["redact"] = False
    _state["enabled"] = None


def is_enabled() -> bool:
    if _state["enabled"] is not None:
        return bool(_state["enabled"])
    on = bool(settings().option("tracing", "enabled", False, env="WORKBENCH_TRACING"))
    if on:  # first use from the workspace setting: configure the store and redaction once
        try:
            enable(settings().option("tracing", "experiment", None) or os.environ.get("WORKBENCH_TRACE_EXPERIMENT"))
        except Exception as e:  # noqa: BLE001 - an unreachable store must not break LLM calls
            logging.getLogger(__name__).warning(
                "tracing is on in workbench.toml but could not start (%s: %s); calls are not traced",
                type(e).__name__,
                e,
            )
            on = False
    _state["enabled"] = on
    return on


def record_chat(span, rec) -> None:
    """Put a :class:`~workbench.llm.client.ChatRecord`'s measurements on ``span``."""
    from mlflow.entities import SpanStatusCode
    from mlflow.tracing.constant import SpanAttributeKey

    span.set_outputs(rec.text)
    set_gen_ai(span, _gen_ai_response(rec))
    # MLflow's standard attributes, so the UI shows model, tokens and cost of every trace natively
    span.set_attribute(SpanAttributeKey.MODEL, rec.model)
    span.set_attribute(SpanAttributeKey.MODEL_PROVIDER, rec.endpoint)
    if rec.prompt_tokens is not None or rec.completion_tokens is not None:
        pt, ct = rec.prompt_tokens or 0, rec.completion_tokens or 0
        span.set_attribute(
            SpanAttributeKey.CHAT_USAGE, {"input_tokens": pt, "output_tokens": ct, "total_tokens": pt + ct}
        )
    if rec.cost_usd is not None:
        span.set_attribute(SpanAttributeKey.LLM_COST, _cost_split(rec))
    span.set_attributes(
        {
            f"workbench.{k}": v
            for k, v in (
                ("endpoint", rec.endpoint),
                ("model", rec.model),
                ("latency_s", rec.latency_s),
                ("ttft_s", rec.ttft_s),
                ("cost_usd", rec.cost_usd),
                ("cache_hit", rec.cache_hit),
                ("retries", rec.retries),
                ("usage_estimated", rec.usage_estimated),
            )
            if v is not None
        }
    )
    if rec.error:
        span.set_attribute(T.TRACE_ERROR, rec.error)
        span.set_status(SpanStatusCode.ERROR)


# OpenTelemetry GenAI semantic conventions (https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/):
# request parameter → attribute. Set as native OpenTelemetry values (a string, an int), not MLflow's JSON-encoded
# attribute values, so an OpenTelemetry tool reads them unchanged; MLflow reads them back as they are.
GEN_AI_REQUEST = {
    "temperature": "gen_ai.request.temperature",
    "max_tokens": "gen_ai.request.max_tokens",
    "top_p": "gen_ai.request.top_p",
    "seed": "gen_ai.request.seed",
}


def set_gen_ai(span, attrs: dict) -> None:
    """Set OpenTelemetry GenAI attributes (``gen_ai.*``) on an MLflow span as native values; None is skipped."""
    otel = getattr(span, "_span", None)  # a NoOpSpan has none
    if otel is None or not hasattr(otel, "set_attribute"):
        return
    for k, v in attrs.items():
        if isinstance(v, (str, bool, int, float)) or (isinstance(v, list) and all(isinstance(x, str) for x in v)):
            otel.set_attribute(k, v)


def _gen_ai_request(model: str, params: dict) -> dict:
    attrs: dict[str, Any] = {"gen_ai.operation.name": "chat", "gen_ai.request.model": model}
    for k, key in GEN_AI_REQUEST.items():
        attrs[key] = params.get(k)
    return attrs


# OpenTelemetry GenAI response attributes, from the call record's fields.
GEN_AI_RESPONSE = {
    "gen_ai.provider.name": "endpoint",
    "gen_ai.request.model": "model",
    "gen_ai.response.model": "model",
    "gen_ai.usage.input_tokens": "prompt_tokens",
    "gen_ai.usage.output_tokens": "completion_tokens",
}


def _gen_ai_response(rec) -> dict:
    attrs: dict[str, Any] = {key: getattr(rec, field) for key, field in GEN_AI_RESPONSE.items()}
    attrs["gen_ai.response.finish_reasons"] = [rec.finish_reason] if rec.finish_reason else None
    return attrs


def _cost_split(rec) -> dict:
    """MLflow's cost attribute ``{"input_cost", "output_cost", "total_cost"}`` (USD) of a call."""
    try:
        from .llm.endpoints import resolve

        ep, model, kind = resolve(f"{rec.endpoint}:{rec.model}")
        price = kind.price(ep, model) or {}
        inp = (rec.prompt_tokens or 0) * price.get("input", 0.0) / 1e6
        out = (rec.completion_tokens or 0) * price.get("output", 0.0) / 1e6
    except Exception:  # noqa: BLE001 - a trace attribute must never break a call
        inp, out = 0.0, rec.cost_usd
    return {"input_cost": inp, "output_cost": out, "total_cost": rec.cost_usd}


@contextlib.contextmanager
def chat_span(model: str, messages: list[dict], params: dict) -> Iterator[dict | None]:
    """Span around one chat call when tracing is on; the caller puts the record in the yielded dict."""
    if not (_ctx_trace.get() or is_enabled()):
        yield None
        return
    import mlflow
    from mlflow.entities import SpanType

    _install()
    box: dict[str, Any] = {}
    with mlflow.start_span(name=f"chat {model}", span_type=SpanType.CHAT_MODEL) as span:
        span.set_inputs({"messages": messages, "model": model, **mask_secret_fields(params)})
        set_gen_ai(span, _gen_ai_request(model, params))
        if (meta := _ctx_session.get()) and span.parent_id is None:  # a call that is its own trace
            mlflow.update_current_trace(metadata=meta)
        yield box
        if box.get("record") is not None:
            record_chat(span, box["record"])


# The client calls this module's span through its call hook (the LLM layer does not import tracking); importing
# workbench.tracing installs it, and `import workbench` does so on first use of wb.chat / wb.evaluate.
from .llm.client import set_call_hook  # noqa: E402

set_call_hook(chat_span)
