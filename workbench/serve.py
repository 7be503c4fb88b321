"""Serve a chosen configuration (prompt template + optional RAG index + model) as an OpenAI-compatible app.

    workbench app serve --config app.yaml [--port 8000]
    workbench app serve --from-run RUN_ID [--candidate NAME]

Any ``openai`` client can then call ``POST /v1/chat/completions`` on ``http://127.0.0.1:PORT/v1`` (plain or
``stream=True``). The last user message is the question; the configured template (and, for RAG, the
retrieved chunks) build the prompt, earlier turns are kept as history. ``GET /health`` and ``GET /v1/models``
answer too.

Every request is an MLflow trace in the experiment ``app-<name>``: a ``CHAIN`` root span, a ``RETRIEVER``
span (RAG), and the model call's ``CHAT_MODEL`` span with token usage; the trace carries the config's run id
(``workbench.config_run_id``) as lineage and tags with latency, TTFT, tokens, cost and error class, which
:mod:`workbench.monitor` reads. PII is redacted before traces are stored (``redact_pii: true``, the default).

Bad requests get an OpenAI-style JSON error with a 4xx status: invalid JSON (400), a body over
``max_body_bytes`` (413), a body not received within ``body_timeout_s`` (408), unknown path (404).
The HTTP server is uvicorn on Starlette (both already MLflow dependencies), bound to 127.0.0.1 by default.

Config file (YAML)::

    name: contoso-rag            # required: app and experiment name
    model: local                 # any model spec of the workspace
    system_prompt: "You are ..." # optional; null for none (default: the candidate's own)
    template: "... {contexts} ... {question}"   # optional; {question} required when given
    rag: {index: path/to/index, retriever: hybrid, top_k: 4}   # optional
    params: {temperature: 0.0, max_tokens: 256}
    run_id: <the run this configuration was chosen in>          # lineage (optional)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import uuid
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import ConfigError, WorkbenchError

ROLES = {"system", "user", "assistant", "tool", "developer"}
PARAM_LIMITS = {"temperature": (float, 0.0, 2.0), "top_p": (float, 0.0, 1.0), "max_tokens": (int, 1, 4096),
                "max_completion_tokens": (int, 1, 4096), "seed": (int, -2**31, 2**31 - 1)}


@dataclass
class AppConfig:
    """What an app serves. ``params`` are generation defaults; requests may override those in ``PARAM_LIMITS``."""

    name: str
    model: str = "local"
    system_prompt: str | None = "default"  # "default": the candidate's own; null: no system prompt
    template: str | None = None
    rag: dict | None = None
    params: dict = field(default_factory=lambda: {"temperature": 0.0, "max_tokens": 256})
    run_id: str | None = None
    experiment: str | None = None
    redact_pii: bool = True
    trace: bool = True  # an MLflow trace per request (what monitoring reads)
    cache: str = "off"
    max_body_bytes: int = 64 * 1024
    body_timeout_s: float = 10.0
    request_timeout_s: float = 120.0
    max_retries: int = 2  # an app fails fast rather than keep its caller waiting
    max_messages: int = 64
    max_concurrent: int = 64
    source: str = ""  # where the config came from (file or run), for messages

    @property
    def experiment_name(self) -> str:
        return self.experiment or f"app-{self.name}"


def _check_config(raw: Any, source: str) -> AppConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping of settings (name, model, template, rag, params), "
                          f"found {type(raw).__name__}")
    known = {f.name for f in fields(AppConfig)} - {"source"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{source}: unknown setting(s) {unknown}; expected some of {sorted(known)}")
    if not isinstance(raw.get("name"), str) or not raw["name"].strip():
        raise ConfigError(f"{source}: 'name' is required (a short app name, e.g. contoso-rag)")
    tmpl = raw.get("template")
    if tmpl is not None and (not isinstance(tmpl, str) or "{question}" not in tmpl):
        raise ConfigError(f"{source}: 'template' must be a string containing {{question}}")
    rag = raw.get("rag")
    if rag is not None and (not isinstance(rag, dict) or not rag.get("index")):
        raise ConfigError(f"{source}: 'rag' must be a mapping with at least 'index: PATH'")
    if rag is not None:
        extra = sorted(set(rag) - {"index", "retriever", "top_k", "mmr", "prompt", "system_prompt"})
        if extra:
            raise ConfigError(f"{source}: unknown rag setting(s) {extra}")
    if not isinstance(raw.get("params", {}), dict):
        raise ConfigError(f"{source}: 'params' must be a mapping (e.g. {{temperature: 0, max_tokens: 256}})")
    cfg = AppConfig(**raw)
    cfg.params = {"temperature": 0.0, "max_tokens": 256, **(raw.get("params") or {})}
    cfg.source = source
    return cfg


def load_config(path: str | Path) -> AppConfig:
    """Read an app config YAML; errors name the file (and line for YAML syntax) and what was expected."""
    from .config import read_yaml

    path = Path(path)
    raw = read_yaml(path, "app config")
    cfg = _check_config(raw, str(path))
    if cfg.rag and not Path(cfg.rag["index"]).is_absolute():
        cfg.rag["index"] = str((path.parent / cfg.rag["index"]).resolve())
    return cfg


def _typed(value: str) -> Any:
    """A param string back to its value (MLflow stores params as strings)."""
    special = {"None": None, "True": True, "False": False}
    if value in special:
        return special[value]
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def config_from_run(run_id: str, candidate: str | None = None) -> AppConfig:
    """The app config of a candidate evaluated in run ``run_id`` (from its ``candidate.<name>.*`` params).

    With several candidates in the run, ``candidate`` picks one; if not given, the run's recommendation tag
    (``workbench.recommended``) decides, else the error lists the names.
    """
    from . import tracking

    run = tracking.client().get_run(run_id)
    by_cand: dict[str, dict] = {}
    for k, v in run.data.params.items():
        if k.startswith("candidate."):
            name, _, key = k[len("candidate."):].partition(".")
            by_cand.setdefault(name, {})[key] = _typed(v)
    if not by_cand:
        raise ConfigError(f"run {run_id} has no candidate.* params: pass an evaluation run, or use --config")
    candidate = candidate or run.data.tags.get("workbench.recommended")
    if candidate is None and len(by_cand) == 1:
        candidate = next(iter(by_cand))
    if candidate not in by_cand:
        raise ConfigError(f"run {run_id}: choose one of the candidates {sorted(by_cand)} with --candidate")
    c = by_cand[candidate]
    gen = {k: c[k] for k in ("temperature", "max_tokens", "top_p", "seed") if k in c}
    raw: dict[str, Any] = {"name": candidate, "model": c.get("model", "local"), "params": gen, "run_id": run_id}
    if "system_prompt" in c:  # None (no system prompt) stays None: serve what was evaluated
        raw["system_prompt"] = c["system_prompt"]
    if c.get("kind") == "rag":
        if not c.get("index_path"):
            raise ConfigError(f"run {run_id}: candidate {candidate!r} has no index_path param (re-run the evaluation)")
        raw["rag"] = {"index": c["index_path"], "retriever": c.get("retriever", "hybrid"),
                      "top_k": int(c.get("top_k", 4)), "mmr": bool(c.get("mmr", False))}
        if c.get("prompt") not in (None, "default"):
            raw["template"] = c["prompt"]
    elif c.get("template") not in (None, "default"):
        raw["template"] = c["template"]
    return _check_config(raw, f"run {run_id}")


# ------------------------------------------------------------------ request handling


class RequestError(Exception):
    def __init__(self, status: int, message: str, param: str | None = None, kind: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.param, self.kind = status, message, param, kind


def validate_request(data: Any, cfg: AppConfig) -> tuple[list[dict], dict, bool, bool]:
    """``(messages, generation overrides, stream, include_usage)`` or a :class:`RequestError` (400)."""
    if not isinstance(data, dict):
        raise RequestError(400, "request body must be a JSON object")
    msgs = data.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise RequestError(400, "'messages' is required: a non-empty list of {role, content}", "messages")
    if len(msgs) > cfg.max_messages:
        raise RequestError(400, f"too many messages ({len(msgs)} > {cfg.max_messages})", "messages")
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            raise RequestError(400, f"messages[{i}].role must be one of {sorted(ROLES)}", f"messages[{i}].role")
        content = m.get("content")
        if isinstance(content, list):  # content parts: keep the text ones
            if not all(isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
                       for p in content):
                raise RequestError(400, f"messages[{i}].content: only text parts are supported",
                                   f"messages[{i}].content")
        elif not isinstance(content, str):
            raise RequestError(400, f"messages[{i}].content must be a string", f"messages[{i}].content")
    if msgs[-1]["role"] != "user":
        raise RequestError(400, "the last message must have role 'user' (it is the question)", "messages")
    gen: dict[str, Any] = {}
    for key, (typ, lo, hi) in PARAM_LIMITS.items():
        if data.get(key) is None:
            continue
        v = data[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (typ is int and not float(v).is_integer()):
            raise RequestError(400, f"'{key}' must be a{'n integer' if typ is int else ' number'}", key)
        try:
            in_range = lo <= v <= hi
        except OverflowError:
            in_range = False
        if not in_range:
            raise RequestError(400, f"'{key}' must be between {lo} and {hi}, got {v}", key)
        gen["max_tokens" if key == "max_completion_tokens" else key] = typ(v)
    if data.get("n", 1) != 1:
        raise RequestError(400, "'n' must be 1", "n")
    stream = data.get("stream", False)
    if not isinstance(stream, bool):
        raise RequestError(400, "'stream' must be true or false", "stream")
    opts = data.get("stream_options") or {}
    return msgs, gen, stream, bool(isinstance(opts, dict) and opts.get("include_usage"))


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(p["text"] for p in content)
    return content


class ServedApp:
    """One configuration, ready to answer requests (one per process: it owns tracing's settings)."""

    def __init__(self, cfg: AppConfig):
        from . import tracking
        from .candidates import DEFAULT_SYSTEM, PromptCandidate
        from .config import settings

        self.cfg = cfg
        self.rag = None
        if cfg.rag:
            from .rag.pipeline import RAGPipeline

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
            self._messages([{"role": "user", "content": "test"}], ["test"])
        except (KeyError, IndexError, ValueError, WorkbenchError) as e:
            raise ConfigError(f"{cfg.source or cfg.name}: the template cannot be filled from a question "
                              f"({type(e).__name__}: {e}); use {{question}} (and {{contexts}} for RAG)") from None
        tracking.configure()
        self.experiment_id = tracking.experiment_id(cfg.experiment_name)
        settings().resolve_model(cfg.model)  # an unknown model or a missing key fails at start, not per request
        self._client = None
        self.started = time.time()
        self.requests = 0
        self.tasks: set[asyncio.Task] = set()

    @property
    def client(self):
        from .llm.client import LLMClient

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

        from . import tracing

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
            if self.rag is not None:
                with span("retrieval", SpanType.RETRIEVER) as rs:
                    rs.set_inputs({"query": question})
                    hits = await self.rag.aretrieve(question)
                    contexts = [h.chunk.context_text for h in hits]
                    chunk_ids = [h.chunk.chunk_id for h in hits]
                    rs.set_outputs([{"page_content": c, "metadata": {"doc_uri": i}}
                                    for c, i in zip(contexts, chunk_ids)])
            rec = await self.client.achat(self._messages(request_msgs, contexts), self.cfg.model,
                                          on_delta=on_delta, **params)
            root.set_outputs(rec.text)
            tags = {"workbench.app": self.cfg.name, "workbench.stream": str(stream).lower(),
                    "workbench.latency_s": f"{time.perf_counter() - t0:.4f}"}
            for k in ("ttft_s", "prompt_tokens", "completion_tokens", "cost_usd", "error"):
                v = getattr(rec, k)
                if v is not None:
                    tags[f"workbench.{k}"] = str(round(v, 6) if isinstance(v, float) else v)
            meta = {"workbench.config_run_id": self.cfg.run_id or "", "workbench.model": self.cfg.model}
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


def _error(status: int, message: str, param: str | None = None, kind: str = "invalid_request_error"):
    from starlette.responses import JSONResponse

    return JSONResponse({"error": {"message": message, "type": kind, "param": param, "code": status}},
                        status_code=status)


async def _read_body(request, cfg: AppConfig) -> bytes:
    length = request.headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise RequestError(400, "invalid Content-Length header")
        if int(length) > cfg.max_body_bytes:
            raise RequestError(413, f"request body of {length} bytes is over the limit of {cfg.max_body_bytes}")
    body = bytearray()
    try:
        async with asyncio.timeout(cfg.body_timeout_s):
            async for part in request.stream():
                body += part
                if len(body) > cfg.max_body_bytes:
                    raise RequestError(413, f"request body is over the limit of {cfg.max_body_bytes} bytes")
    except TimeoutError:
        raise RequestError(408, f"request body not received within {cfg.body_timeout_s:g} s") from None
    return bytes(body)


def _completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def _usage(rec) -> dict:
    pt, ct = rec.prompt_tokens or 0, rec.completion_tokens or 0
    return {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct}


def create_app(cfg: AppConfig):
    """The Starlette application for ``cfg``."""
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route

    served = ServedApp(cfg)

    async def health(request):
        return JSONResponse({"status": "ok", "app": cfg.name, "model": cfg.model, "rag": bool(cfg.rag),
                             "config_run_id": cfg.run_id, "requests": served.requests,
                             "uptime_s": round(time.time() - served.started, 1)})

    async def models(request):
        return JSONResponse({"object": "list", "data": [{"id": cfg.name, "object": "model", "owned_by": "workbench",
                                                         "created": int(served.started)}]})

    async def chat(request):
        try:
            body = await _read_body(request, cfg)
            try:
                data = json.loads(body)
            except (ValueError, UnicodeDecodeError) as e:
                raise RequestError(400, f"request body is not valid JSON: {e}") from None
            except RecursionError:  # "[[[[…" nested past the parser's depth: a 400, not a crashed request
                raise RequestError(400, "request body is not valid JSON: nested too deeply") from None
            msgs, gen, stream, include_usage = validate_request(data, cfg)
        except RequestError as e:
            return _error(e.status, e.message, e.param, e.kind)
        cid, created = _completion_id(), int(time.time())
        if not stream:
            try:
                out = await served.answer(msgs, gen, False)
            except Exception as e:  # noqa: BLE001 - an app bug is a JSON 500, never a dropped connection
                return _error(500, f"the app failed: {type(e).__name__}: {e}", kind="server_error")
            rec = out["record"]
            if rec.error:
                return _error(502, f"the model endpoint failed: {rec.error}: {rec.error_message}", kind="upstream_error")
            return JSONResponse({
                "id": cid, "object": "chat.completion", "created": created, "model": cfg.name,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": rec.text},
                             "finish_reason": rec.finish_reason or "stop"}],
                "usage": _usage(rec),
                "workbench": {"trace_id": out["trace_id"], "chunk_ids": out["chunk_ids"]}})

        queue: asyncio.Queue = asyncio.Queue()
        done = object()

        async def produce():
            try:
                out = await served.answer(msgs, gen, True, on_delta=queue.put_nowait)
                await queue.put((done, out))
            except Exception as e:  # noqa: BLE001 - reported to the client as an error event
                await queue.put((done, e))

        task = asyncio.create_task(produce())
        first = await queue.get()
        if isinstance(first, tuple) and first[0] is done:
            result = first[1]
            if isinstance(result, Exception):
                return _error(500, f"the app failed: {type(result).__name__}: {result}", kind="server_error")
            if result["record"].error:
                rec = result["record"]
                return _error(502, f"the model endpoint failed: {rec.error}: {rec.error_message}",
                              kind="upstream_error")

        def chunk(delta: dict, finish: str | None = None, usage: dict | None = None) -> str:
            payload = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": cfg.name,
                       "choices": [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}]}
            if usage:
                payload["usage"] = usage
            return f"data: {json.dumps(payload)}\n\n"

        async def events():
            try:
                async for e in _events():
                    yield e
            finally:  # the client went away mid-stream: stop generating for nobody
                if not task.done():
                    task.cancel()

        async def _events():
            yield chunk({"role": "assistant", "content": ""})
            item = first
            while True:
                if isinstance(item, tuple) and item[0] is done:
                    result = item[1]
                    if isinstance(result, Exception) or result["record"].error:
                        err = str(result) if isinstance(result, Exception) else result["record"].error
                        yield f"data: {json.dumps({'error': {'message': err, 'type': 'upstream_error'}})}\n\n"
                    else:
                        rec = result["record"]
                        yield chunk({}, rec.finish_reason or "stop")
                        if include_usage:
                            yield chunk({}, usage=_usage(rec))
                    yield "data: [DONE]\n\n"
                    return
                yield chunk({"content": item})
                item = await queue.get()

        served.tasks.add(task)  # keep a reference until the request's trace is written
        task.add_done_callback(served.tasks.discard)
        return StreamingResponse(events(), media_type="text/event-stream")

    async def http_error(request, exc):
        return _error(exc.status_code, f"{exc.detail}: {request.method} {request.url.path}"
                      + (" (try POST /v1/chat/completions)" if exc.status_code in (404, 405) else ""))

    app = Starlette(routes=[Route("/health", health), Route("/v1/models", models),
                            Route("/v1/chat/completions", chat, methods=["POST"])],
                    exception_handlers={HTTPException: http_error})
    app.state.served = served
    return app


# ------------------------------------------------------------------ running


@dataclass
class AppHandle:
    """A running app (in a thread of this process): ``base_url`` for ``openai.OpenAI(base_url=...)``."""

    url: str
    config: AppConfig
    server: Any = None
    thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def stop(self, timeout: float = 10.0) -> None:
        if self.server is not None:
            self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout)

    def __enter__(self) -> "AppHandle":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _uvicorn_server(cfg: AppConfig, host: str, port: int):
    import uvicorn

    config = uvicorn.Config(create_app(cfg), host=host, port=port, log_level="warning", access_log=False,
                            limit_concurrency=cfg.max_concurrent, timeout_keep_alive=5,
                            timeout_graceful_shutdown=5, lifespan="off")
    return uvicorn.Server(config)


def _run(server) -> None:
    """Run a uvicorn server in this thread, its traces routed to the app's experiment (this thread only)."""
    from . import tracing

    tracing.route_to(server.config.app.state.served.experiment_id)
    server.run()


def _resolve(config: AppConfig | str | Path | dict) -> AppConfig:
    if isinstance(config, AppConfig):
        return config
    if isinstance(config, dict):
        return _check_config(dict(config), "app config")
    return load_config(config)


def start(config: AppConfig | str | Path | dict, port: int | None = None, host: str = "127.0.0.1",
          wait_s: float = 60.0) -> AppHandle:
    """Serve ``config`` from a background thread of this process (notebooks, tests); returns when healthy."""
    import httpx

    from .procs import free_port

    cfg = _resolve(config)
    port = port or free_port()
    server = _uvicorn_server(cfg, host, port)
    thread = threading.Thread(target=_run, args=(server,), name=f"app-{cfg.name}", daemon=True)
    thread.start()
    url = f"http://{host}:{port}"
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise WorkbenchError(f"app '{cfg.name}' failed to start on {url} (port in use?)")
        try:
            if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                return AppHandle(url, cfg, server, thread)
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.should_exit = True
    raise WorkbenchError(f"app '{cfg.name}' did not answer {url}/health within {wait_s:g} s")


def serve(config: AppConfig | str | Path | dict, port: int = 8000, host: str = "127.0.0.1") -> None:
    """Serve ``config`` in the foreground until Ctrl-C."""
    cfg = _resolve(config)
    server = _uvicorn_server(cfg, host, port)
    print(f"serving app '{cfg.name}' ({cfg.model}{', RAG' if cfg.rag else ''}) on http://{host}:{port}/v1 — "
          f"traces go to MLflow experiment '{cfg.experiment_name}'. Ctrl-C stops.", flush=True)
    _run(server)
