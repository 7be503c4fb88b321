"""HTTP for a served app: OpenAI-compatible ``/v1/chat/completions`` (plain and streaming), ``/health``,
``/v1/models`` on Starlette + uvicorn, request validation, and running it in a thread or the foreground.

Connections: a connection must send a whole request head within ``header_timeout_s`` (10 s) of opening or of
its previous response, else it is closed (idle and slow-header clients cannot pile up); an idle keep-alive
connection is closed after 5 s. ``max_concurrent`` limits *requests in progress*, not connections, and
``/health`` is never refused, so idle sockets cannot make the app answer 503.

Access: with ``WORKBENCH_APP_KEY`` set in the server's environment every route but ``/health`` needs
``Authorization: Bearer <key>`` (OpenAI clients send it as their ``api_key``); without it the app is open to
whoever reaches the port, so binding beyond loopback without a key prints a warning.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import re
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import WorkbenchError
from .app import ServedApp
from .config import PARAM_LIMITS, ROLES, AppConfig, resolve_config


class RequestError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        param: str | None = None,
        kind: str = "invalid_request_error",
        code: str | int | None = None,
    ):
        super().__init__(message)
        self.status, self.message, self.param, self.kind = status, message, param, kind
        self.code = status if code is None else code

    def response(self):
        return _error(self.status, self.message, self.param, self.kind, self.code)


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
            if not all(
                isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str) for p in content
            ):
                raise RequestError(
                    400, f"messages[{i}].content: only text parts are supported", f"messages[{i}].content"
                )
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


SESSION_HEADER = "X-Session-Id"


def session_of(request, data: dict) -> dict[str, str | None]:
    """The conversation a request belongs to and who sent it, for MLflow's session and user of its trace: the
    ``X-Session-Id`` header (else ``metadata.session_id`` in the body) and OpenAI's ``user`` field (else
    ``metadata.user_id``). Non-strings are ignored."""
    raw = data.get("metadata")
    meta: dict = raw if isinstance(raw, dict) else {}

    def text(*vals) -> str | None:
        return next((v for v in vals if isinstance(v, str) and v.strip()), None)

    return {
        "session": text(request.headers.get(SESSION_HEADER), meta.get("session_id")),
        "user": text(data.get("user"), meta.get("user_id")),
    }


def _error(
    status: int,
    message: str,
    param: str | None = None,
    kind: str = "invalid_request_error",
    code: str | int | None = None,
):
    from starlette.responses import JSONResponse

    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": param, "code": status if code is None else code}},
        status_code=status,
    )


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


CONTEXT_OVERFLOW = (  # (request tokens, limit) from the upstream's message: llama-server, then OpenAI
    re.compile(r"request \((?P<n>\d+) tokens\) exceeds the available context size \((?P<limit>\d+) tokens\)"),
    re.compile(r"maximum context length is (?P<limit>\d+) tokens.*?resulted in (?P<n>\d+) tokens", re.S),
)


def upstream_error(rec) -> RequestError:
    """The client-facing error for a failed model call: a request over the model's context is the client's
    400 (with the limit and the request's size); anything else a 502 naming only the error class — never the
    upstream's text, which may quote a key or the prompt."""
    for pat in CONTEXT_OVERFLOW if rec.error == "bad_request" else ():
        m = pat.search(rec.error_message or "")
        if m:
            return RequestError(
                400,
                f"the request does not fit the model's context: {m['n']} tokens, the limit "
                f"is {m['limit']} tokens; shorten the messages",
                "messages",
                code="context_length_exceeded",
            )
    return RequestError(502, f"the model endpoint failed ({rec.error})", kind="upstream_error")


APP_KEY_ENV = "WORKBENCH_APP_KEY"  # the bearer key clients must send; unset: no authentication
OPEN_PATHS = ("/health",)  # answered without a key and never refused for load


class _Guard:
    """ASGI middleware: the bearer key (when ``WORKBENCH_APP_KEY`` is set) and the limit on requests in
    progress; ``/health`` passes both."""

    def __init__(self, app, limit: int, key: str | None):
        self.app, self.limit, self.key, self.active = app, limit, key, 0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            return await self.app(scope, receive, send)
        if self.key:
            auth = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
            given = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
            if not hmac.compare_digest(given.encode(), self.key.encode()):
                resp = _error(
                    401,
                    "missing or wrong API key: send 'Authorization: Bearer <key>'",
                    kind="authentication_error",
                    code="invalid_api_key",
                )
                resp.headers["WWW-Authenticate"] = "Bearer"
                return await resp(scope, receive, send)
        if self.active >= self.limit:
            return await _error(
                503,
                f"the app is answering {self.active} requests (its limit); retry shortly",
                kind="server_error",
                code="overloaded",
            )(scope, receive, send)
        self.active += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.active -= 1


def app_key() -> str | None:
    """The app's bearer key from ``WORKBENCH_APP_KEY`` (None when unset or empty)."""
    return os.environ.get(APP_KEY_ENV) or None


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the app on this machine."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def open_warning(host: str) -> str | None:
    """The warning for serving beyond loopback with no key, else None."""
    if is_loopback(host) or app_key():
        return None
    return (
        f"warning: serving on {host} without authentication: anyone who can reach this port can use the "
        f"app. Set {APP_KEY_ENV} to require 'Authorization: Bearer <key>', or bind 127.0.0.1 behind a proxy."
    )


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
        return JSONResponse(
            {
                "status": "ok",
                "app": cfg.name,
                "model": cfg.model,
                "rag": bool(cfg.rag),
                "config_run_id": cfg.run_id,
                "model_id": cfg.model_id,
                "requests": served.requests,
                "uptime_s": round(time.time() - served.started, 1),
            }
        )

    async def models(request):
        return JSONResponse(
            {
                "object": "list",
                "data": [{"id": cfg.name, "object": "model", "owned_by": "workbench", "created": int(served.started)}],
            }
        )

    async def chat(request):
        try:
            ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if ctype != "application/json":  # a web page's form or text/plain POST is not a client of ours
                raise RequestError(415, f"Content-Type must be application/json, got {ctype or 'none'!r}")
            body = await _read_body(request, cfg)
            try:
                data = json.loads(body)
            except (ValueError, UnicodeDecodeError) as e:
                raise RequestError(400, f"request body is not valid JSON: {e}") from None
            except RecursionError:  # "[[[[…" nested past the parser's depth: a 400, not a crashed request
                raise RequestError(400, "request body is not valid JSON: nested too deeply") from None
            msgs, gen, stream, include_usage = validate_request(data, cfg)
        except RequestError as e:
            return e.response()
        cid, created = _completion_id(), int(time.time())
        who = session_of(request, data)
        if not stream:
            try:
                out = await served.answer(msgs, gen, False, **who)
            except Exception as e:  # noqa: BLE001 - an app bug is a JSON 500, never a dropped connection
                return _error(500, f"the app failed ({type(e).__name__})", kind="server_error")
            rec = out["record"]
            if rec.error:
                return upstream_error(rec).response()
            return JSONResponse(
                {
                    "id": cid,
                    "object": "chat.completion",
                    "created": created,
                    "model": cfg.name,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": rec.text},
                            "finish_reason": rec.finish_reason or "stop",
                        }
                    ],
                    "usage": _usage(rec),
                    "workbench": {"trace_id": out["trace_id"], "chunk_ids": out["chunk_ids"]},
                }
            )

        queue: asyncio.Queue = asyncio.Queue()
        done = object()

        async def produce():
            try:
                out = await served.answer(msgs, gen, True, on_delta=queue.put_nowait, **who)
                await queue.put((done, out))
            except Exception as e:  # noqa: BLE001 - reported to the client as an error event
                await queue.put((done, e))

        task = asyncio.create_task(produce())
        first = await queue.get()
        if isinstance(first, tuple) and first[0] is done:
            result = first[1]
            if isinstance(result, Exception):
                return _error(500, f"the app failed ({type(result).__name__})", kind="server_error")
            if result["record"].error:
                return upstream_error(result["record"]).response()

        def chunk(delta: dict, finish: str | None = None, usage: dict | None = None) -> str:
            payload = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": cfg.name,
                "choices": [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
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
                        err = (
                            RequestError(500, f"the app failed ({type(result).__name__})", kind="server_error")
                            if isinstance(result, Exception)
                            else upstream_error(result["record"])
                        )
                        yield f"data: {json.dumps({'error': {'message': err.message, 'type': err.kind}})}\n\n"
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
        return _error(
            exc.status_code,
            f"{exc.detail}: {request.method} {request.url.path}"
            + (" (try POST /v1/chat/completions)" if exc.status_code in (404, 405) else ""),
        )

    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    app = Starlette(
        routes=[
            Route("/health", health),
            Route("/v1/models", models),
            Route("/v1/chat/completions", chat, methods=["POST"]),
        ],
        exception_handlers={HTTPException: http_error},
        middleware=[
            Middleware(_Guard, limit=cfg.max_concurrent, key=app_key()),
            Middleware(TrustedHostMiddleware, allowed_hosts=cfg.hosts),
        ],
    )
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

    def __enter__(self) -> AppHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _protocol(header_timeout_s: float):
    """uvicorn's h11 protocol with a request-head timeout: armed when the connection opens and after each
    response, disarmed when a whole request head has arrived (uvicorn itself waits forever for the first byte)."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeadTimeoutProtocol(H11Protocol):
        _head_timer = None

        def _arm(self) -> None:
            self._disarm()
            self._head_timer = self.loop.call_later(header_timeout_s, self._head_timeout)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timeout(self) -> None:
            self._head_timer = None
            if not self.transport.is_closing():
                self.transport.close()

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            before = self.cycle
            super().data_received(data)
            if self.cycle is not before:  # a whole request head arrived
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()

        def connection_lost(self, exc) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HeadTimeoutProtocol


def _uvicorn_server(cfg: AppConfig, host: str, port: int):
    import uvicorn

    config = uvicorn.Config(
        create_app(cfg),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        http=_protocol(cfg.header_timeout_s),
        timeout_keep_alive=5,
        timeout_graceful_shutdown=5,
        lifespan="off",
    )
    if (warning := open_warning(host)) is not None:
        print(warning, file=sys.stderr, flush=True)
    return uvicorn.Server(config)


def _run(server) -> None:
    """Run a uvicorn server in this thread, its traces routed to the app's experiment (this thread only)."""
    from .. import tracing

    tracing.route_to(server.config.app.state.served.experiment_id)
    server.run()


def start(
    config: AppConfig | str | Path | dict, port: int | None = None, host: str = "127.0.0.1", wait_s: float = 60.0
) -> AppHandle:
    """Serve ``config`` from a background thread of this process (notebooks, tests); returns when healthy."""
    from ..procs import free_port, require_free_port, wait_healthy

    cfg = resolve_config(config)
    if port:
        require_free_port(port, host, f"app '{cfg.name}'")
    port = port or free_port()
    server = _uvicorn_server(cfg, host, port)
    thread = threading.Thread(target=_run, args=(server,), name=f"app-{cfg.name}", daemon=True)
    thread.start()
    url = f"http://{host}:{port}"
    if wait_healthy(url, wait_s, alive=thread.is_alive):
        return AppHandle(url, cfg, server, thread)
    server.should_exit = True
    if not thread.is_alive():
        raise WorkbenchError(f"app '{cfg.name}' failed to start on {url} (port in use?)")
    raise WorkbenchError(f"app '{cfg.name}' did not answer {url}/health within {wait_s:g} s")


def serve(config: AppConfig | str | Path | dict, port: int = 8000, host: str = "127.0.0.1") -> None:
    """Serve ``config`` in the foreground until Ctrl-C."""
    from ..procs import require_free_port

    cfg = resolve_config(config)
    require_free_port(port, host, f"workbench app serve ({cfg.name})")
    server = _uvicorn_server(cfg, host, port)
    print(
        f"serving app '{cfg.name}' ({cfg.model}{', RAG' if cfg.rag else ''}) on http://{host}:{port}/v1 — "
        f"traces go to MLflow experiment '{cfg.experiment_name}'. Ctrl-C stops.",
        flush=True,
    )
    _run(server)
