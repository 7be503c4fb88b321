"""The LLM client: async inside (``openai.AsyncOpenAI``, chat.completions), sync outside.

* Every call returns a :class:`ChatRecord` (text, usage, latency, TTFT, tokens/s, cost, cache hit,
  attempts, error class). A failed call after its last retry is an *error record*, never an exception
  escaping a batch: :func:`chat_many` returns exactly one record per input, in order.
* Per-endpoint concurrency with AIMD adaptation (:class:`AIMDLimiter`): halve on 429, grow by
  ``1/limit`` per success, pause the endpoint for ``Retry-After``.
* Retries with exponential backoff and full jitter on 429, 5xx, timeouts, dropped connections and
  unparsable responses; a per-call timeout covers the whole (streamed) call.
* Streaming by default so TTFT is measured; usage comes from ``stream_options.include_usage`` or, when
  the endpoint sends none, from :func:`workbench.llm.pricing.count_tokens` (``usage_estimated=True``).
* The sync facade (:func:`chat`, :func:`chat_many`) runs coroutines on one background thread with its
  own event loop, so it works inside Jupyter's running loop without ``nest_asyncio``.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

import httpx
import openai
from openai.types import CompletionUsage

from ..config import Endpoint, settings
from ..errors import ConfigError, WorkbenchError
from ..progress import bar as progress_bar
from ..secrets import mask_secret_fields, scrub
from .budget import CURRENT_TAB, Tab, to_nano
from .cache import CACHE_MODES, cache_key, get_cache
from .endpoints import EndpointKind, resolve
from .pricing import DEFAULT_MAX_TOKENS_BOUND, attempt_bound_usd, cost_from_price

T = TypeVar("T")
Messages = list[dict[str, Any]]
RETRYABLE = {"rate_limit", "server_error", "timeout", "connection", "invalid_response"}


@dataclass
class ChatRecord:
    """One model call, as measured. ``error`` is None on success, else an error class name."""

    endpoint: str
    model: str
    params: dict = field(default_factory=dict)
    text: str = ""
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    usage_estimated: bool = False
    latency_s: float | None = None  # from the request's first send (a concurrency slot held) to its last token
    ttft_s: float | None = None
    queue_s: float | None = None  # waiting for a concurrency slot before the first send (not in latency_s)
    tokens_per_s: float | None = None
    cost_usd: float | None = None  # every attempt that reported usage (or that answered, counted offline)
    failed_attempts_cost_usd: float = 0.0  # of cost_usd: attempts that failed (abandoned mid-stream, retried)
    cache_hit: bool = False
    attempts: int = 0
    retries: int = 0
    error: str | None = None
    error_message: str | None = None
    repeat: int = 0
    # with ``logprobs=True, top_logprobs=N`` (OpenAI; llama-server maps it to ``n_probs``), non-streamed: the
    # first generated token's alternatives as [token, logprob] pairs (logprob-scored judges read these)
    top_logprobs: list | None = None
    # non-streamed calls: the tool calls the model asked for, as [{"id", "name", "arguments" (JSON text)}]
    tool_calls: list | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict:
        return asdict(self)

    def measures(self) -> dict:
        """The call's figures as table columns (prompt grid, playground): tokens, timings, cost, cache hit."""
        return {k: getattr(self, k) for k in MEASURES}


MEASURES = ("prompt_tokens", "completion_tokens", "latency_s", "ttft_s", "tokens_per_s", "cost_usd", "cache_hit")


# ------------------------------------------------------------------ rate limiting


def first_token_logprobs(choice) -> list | None:
    """``[[token, logprob], ...]`` of the first generated token from an OpenAI-style choice, else None."""
    content = getattr(getattr(choice, "logprobs", None), "content", None)
    if not content:
        return None
    first = content[0]
    alts = [[a.token, float(a.logprob)] for a in (getattr(first, "top_logprobs", None) or [])]
    return alts or [[first.token, float(first.logprob)]]


class AIMDLimiter:
    """Adaptive concurrency: additive increase (``+1/limit`` per success), multiplicative decrease
    (halve on 429), and a pause honouring ``Retry-After``. One per endpoint per event loop."""

    def __init__(self, max_concurrency: int, min_concurrency: int = 1):
        self.max = max(1, int(max_concurrency))
        self.min = max(1, min(min_concurrency, self.max))
        self.limit = float(self.max)
        self.in_flight = 0
        self.paused_until = 0.0
        self.decreases = 0
        self._cond = asyncio.Condition()

    async def acquire(self) -> None:
        async with self._cond:
            while True:
                delay = self.paused_until - time.monotonic()
                if delay > 0:
                    try:
                        await asyncio.wait_for(self._cond.wait(), delay)
                    except TimeoutError:
                        pass
                    continue
                if self.in_flight < int(self.limit):
                    self.in_flight += 1
                    return
                await self._cond.wait()

    async def release(self, outcome: str | None = None, retry_after: float | None = None) -> None:
        async with self._cond:
            self.in_flight -= 1
            if outcome == "rate_limit":
                self.limit = max(float(self.min), self.limit / 2)
                self.decreases += 1
                if retry_after:
                    self.paused_until = max(self.paused_until, time.monotonic() + retry_after)
            elif outcome is None:
                self.limit = min(float(self.max), self.limit + 1.0 / self.limit)
            self._cond.notify_all()


# ------------------------------------------------------------------ the call hook

# One optional hook around every call: ``hook(model, messages, params)`` returns a context manager yielding a dict
# (the call puts its ChatRecord under "record") or None. workbench.tracing installs its span here, so this layer
# does not depend on tracking.
CallHook = Callable[[str, list, dict], Any]
_CALL_HOOK: list[CallHook | None] = [None]


def set_call_hook(hook: CallHook | None) -> CallHook | None:
    """Install ``hook`` around every client call (None removes it); returns the previous hook."""
    old, _CALL_HOOK[0] = _CALL_HOOK[0], hook
    return old


# ------------------------------------------------------------------ the async client


def classify_error(exc: BaseException) -> str:
    """Map an exception to an error class: rate_limit, server_error, timeout, connection,
    invalid_response, bad_request, auth, not_found, config, or other."""
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError, openai.APITimeoutError, httpx.TimeoutException)):
        return "timeout"
    if isinstance(exc, openai.RateLimitError):
        return "rate_limit"
    if isinstance(exc, openai.APIStatusError):
        code = exc.status_code
        if code == 429:
            return "rate_limit"
        if code == 408:
            return "timeout"
        if code >= 500:
            return "server_error"
        if code in (401, 403):
            return "auth"
        if code == 404:
            return "not_found"
        return "bad_request"
    if isinstance(exc, (openai.APIConnectionError, httpx.TransportError, ConnectionError)):
        return "connection"
    if isinstance(
        exc, (json.JSONDecodeError, openai.APIResponseValidationError, ValueError, KeyError, AttributeError, TypeError)
    ):
        return "invalid_response"
    if isinstance(exc, ConfigError):
        return "config"
    return "other"


def retry_after_s(exc: BaseException, cap: float = 60.0) -> float | None:
    """Seconds from a ``Retry-After`` (or ``retry-after-ms``) header, if the error carries one."""
    resp = getattr(exc, "response", None)
    headers = getattr(resp, "headers", None)
    if not headers:
        return None
    try:
        if headers.get("retry-after-ms"):
            return min(cap, float(headers["retry-after-ms"]) / 1000)
        if headers.get("retry-after"):
            return min(cap, float(headers["retry-after"]))
    except ValueError:
        return None
    return None


def backoff_s(attempt: int, base: float = 0.5, cap: float = 20.0) -> float:
    """Exponential backoff with full jitter: uniform(0, min(cap, base * 2**attempt))."""
    return random.uniform(0, min(cap, base * (2**attempt)))


def no_keepalive_http_client():
    """An async HTTP client for ``openai`` that opens a fresh connection per request.

    llama-server (cpp-httplib) sometimes closes a kept-alive connection just as the client reuses it
    ("Server disconnected without sending a response": 5 of 40 requests at 4 concurrent streams here).
    On 127.0.0.1 a new connection costs ~0.1 ms, so the local endpoint simply does not keep connections.
    """
    import importlib

    httpx_mod = importlib.import_module(openai.DefaultAsyncHttpxClient.__mro__[1].__module__.split(".")[0])
    return openai.DefaultAsyncHttpxClient(limits=httpx_mod.Limits(max_connections=1000, max_keepalive_connections=0))


def _usage(d: dict) -> CompletionUsage:
    """A streamed chunk's ``usage`` object as openai's type, without validation (as openai builds it): the
    token counts a server left out read None."""
    return CompletionUsage.model_construct(
        prompt_tokens=d.get("prompt_tokens"),
        completion_tokens=d.get("completion_tokens"),
        total_tokens=d.get("total_tokens"),
    )


def to_messages(prompt: str | Messages, system: str | None = None) -> Messages:
    if isinstance(prompt, str):
        msgs: Messages = [{"role": "user", "content": prompt}]
    elif isinstance(prompt, list) and all(isinstance(m, dict) and "role" in m for m in prompt):
        msgs = [dict(m) for m in prompt]
    else:
        raise WorkbenchError(
            f"a prompt must be a string or a list of {{'role', 'content'}} messages, got {type(prompt).__name__}"
        )
    if system is not None and not any(m["role"] == "system" for m in msgs):
        msgs.insert(0, {"role": "system", "content": system})
    return msgs


@dataclass(frozen=True)
class Request:
    """One chat request as each attempt sends it: the endpoint and its kind, the model name there, the messages
    and the parameters (with the target's ``extra_body``)."""

    ep: Endpoint
    kind: EndpointKind
    model: str
    messages: Messages
    params: dict

    def price(self):
        """The endpoint's price for the model (None: unknown)."""
        return self.kind.price(self.ep, self.model)

    def tokens(self, text: str) -> int:
        """Tokens of ``text`` as the endpoint counts them."""
        return self.kind.count_tokens(self.ep, self.model, text)[0]

    def tokens_or_bound(self, text: str) -> int:
        """:meth:`tokens`; when that count cannot be had (the local server that counts them died with the attempt
        being charged), its UTF-8 bytes: an upper bound, never an exception."""
        try:
            return self.tokens(text)
        except Exception:  # noqa: BLE001 - charging a failed attempt must not fail the row
            return len(text.encode("utf-8"))

    @property
    def prompt_text(self) -> str:
        """The messages' contents, one per line (what an offline count of the prompt counts)."""
        return "\n".join(str(m.get("content", "")) for m in self.messages)


class LLMClient:
    """Async client over the configured endpoints. Create one per event loop (the facade does)."""

    def __init__(
        self,
        cache: str = "use",
        max_retries: int = 4,
        timeout_s: float | None = None,
        stream: bool = True,
        backoff_base_s: float = 0.5,
    ):
        if cache not in CACHE_MODES:
            raise ConfigError(f"cache mode must be one of {CACHE_MODES}, got {cache!r}")
        self.cache_mode = cache
        self.max_retries = max_retries
        self.timeout_s = timeout_s
        self.stream = stream
        self.backoff_base_s = backoff_base_s
        self._clients: dict[tuple, openai.AsyncOpenAI] = {}
        self._limiters: dict[str, AIMDLimiter] = {}

    # -- plumbing
    def limiter(self, ep: Endpoint) -> AIMDLimiter:
        if ep.name not in self._limiters:
            self._limiters[ep.name] = AIMDLimiter(ep.max_concurrency)
        return self._limiters[ep.name]

    def _openai(self, ep: Endpoint, kind: EndpointKind, base_url: str) -> openai.AsyncOpenAI:
        key = (ep.name, base_url, ep.api_key_env)
        if key not in self._clients:
            self._clients[key] = kind.client(ep, base_url)
        return self._clients[key]

    # -- one call
    async def achat(
        self,
        prompt: str | Messages,
        model: str = "local",
        *,
        system: str | None = None,
        repeat: int = 0,
        cache: str | None = None,
        on_delta: Callable[[str], Any] | None = None,
        **params,
    ) -> ChatRecord:
        """One chat completion as a :class:`ChatRecord`. Raises only for configuration errors.

        ``on_delta(text)`` receives the streamed pieces as they arrive (a cache hit delivers the whole text
        once); once a piece has been delivered the call is not retried. With tracing on
        (:mod:`workbench.tracing`) the call is a ``CHAT_MODEL`` span.
        """
        messages = to_messages(prompt, system)
        hook = _CALL_HOOK[0]
        if hook is None:
            return await self._achat(messages, model, repeat, cache, on_delta, params)
        with hook(model, messages, params) as box:
            rec = await self._achat(messages, model, repeat, cache, on_delta, params)
            if box is not None:
                box["record"] = rec
        return rec

    async def _achat(
        self,
        messages: Messages,
        model: str,
        repeat: int,
        cache: str | None,
        on_delta: Callable[[str], Any] | None,
        params: dict,
    ) -> ChatRecord:
        ep, model_name, kind = resolve(model)
        mode = cache or self.cache_mode
        if mode not in CACHE_MODES:
            raise ConfigError(f"cache mode must be one of {CACHE_MODES}, got {mode!r}")
        store = key = None
        if mode != "off":
            store = get_cache(settings().cache_db)
            key = cache_key(kind.identity(ep, model_name), model_name, messages, params, repeat)
            if mode == "use" and (hit := store.get(key)) is not None:
                rec = ChatRecord(**{k: v for k, v in hit.items() if k in ChatRecord.__dataclass_fields__})
                rec.cache_hit = True
                if on_delta is not None:
                    on_delta(rec.text)
                return rec
        target = kind.target(ep, model_name)  # once per call: starts the embedded server, routes the adapter
        client = self._openai(ep, kind, target.base_url)  # config errors (missing key...) raise here
        if target.extra_body:
            params = {**params, "extra_body": {**params.get("extra_body", {}), **target.extra_body}}

        async def reconnect():
            """A lost connection or a timeout: the endpoint kind may bring its server back (or find where it went)."""
            new = await asyncio.to_thread(kind.recover, ep, model_name, target)
            return None if new is None else self._openai(ep, kind, new.base_url)

        req = Request(ep, kind, model_name, messages, params)
        rec = await self._call_with_retries(client, req, on_delta, reconnect)
        rec.repeat = repeat
        if store is not None and key is not None and rec.ok:
            store.put(key, rec.to_dict())
        return rec

    async def _call_with_retries(
        self,
        client,
        req: Request,
        on_delta: Callable[[str], Any] | None = None,
        reconnect: Callable[[], Any] | None = None,
    ) -> ChatRecord:
        limiter = self.limiter(req.ep)
        delivered = [0]  # pieces already handed to on_delta: such a call cannot be retried cleanly

        def tap(piece: str) -> None:  # handed to the stream only when on_delta is set
            delivered[0] += 1
            if on_delta is not None:
                on_delta(piece)

        timeout = self.timeout_s or req.ep.timeout_s
        t_call = t_queue = time.perf_counter()
        rec = ChatRecord(
            endpoint=req.ep.name,
            model=req.model,  # a key in extra_headers must not reach the cache or a span
            params=mask_secret_fields({k: v for k, v in req.params.items() if k != "extra_body"}),
        )
        tab = CURRENT_TAB.get()
        for attempt in range(self.max_retries + 1):
            held = self._hold(tab, req)
            if held is None:  # the budget cannot cover this attempt: it is not sent
                rec.error = rec.error or "budget"
                rec.error_message = (
                    f"{rec.error_message}; " if rec.error_message else ""
                ) + "attempt not sent: the budget cannot cover its upper bound"
                break
            rec.attempts = attempt + 1
            await limiter.acquire()
            if attempt == 0:  # the clock starts when the request is sent, not while it waits for a slot
                t_call = time.perf_counter()
                rec.queue_s = t_call - t_queue
            outcome, wait = None, None
            seen: dict = {}
            t_attempt = time.perf_counter()
            try:
                async with asyncio.timeout(timeout):
                    await self._call_once(client, req, rec, tap if on_delta else None, seen)
                rec.error = rec.error_message = None
            except asyncio.CancelledError:
                await limiter.release("cancelled")
                await self._charge(tab, held, req, rec, seen, failed=True)
                raise
            except Exception as exc:  # noqa: BLE001 - every failure becomes an error class on the record
                outcome = classify_error(exc)
                wait = retry_after_s(exc)
                rec.error = outcome
                rec.error_message = scrub(f"{type(exc).__name__}: {str(exc)[:300]}")  # 401s quote the key
            await self._charge(tab, held, req, rec, seen, failed=outcome is not None)
            await limiter.release(outcome, wait)
            if outcome is None or outcome not in RETRYABLE or attempt == self.max_retries or delivered[0]:
                # latency and TTFT are what the caller waited: from the call's start, retries included
                offset = t_attempt - t_call
                rec.latency_s = (rec.latency_s + offset) if rec.latency_s is not None else time.perf_counter() - t_call
                if rec.ttft_s is not None:
                    rec.ttft_s += offset
                break
            rec.retries += 1
            if outcome in ("connection", "timeout") and reconnect is not None:
                # the server went away (or hangs): re-resolve it (restarted, or started again) instead of retrying
                # a dead port; for a server that is up and only slow this is a health check and the same client
                try:
                    client = await reconnect() or client
                except WorkbenchError as exc:
                    rec.error_message = f"{rec.error_message}; reconnecting: {str(exc)[:300]}"
            await asyncio.sleep(wait if wait is not None else backoff_s(attempt, self.backoff_base_s))
        return rec

    @staticmethod
    def _hold(tab: Tab | None, req: Request) -> int | None:
        """Reserve one attempt's upper bound on the current row's tab (0 without a tab, a limit or a price);
        None when its budget cannot cover it."""
        if tab is None or tab.budget.limit is None:
            return 0
        price = req.price()
        if price is None:
            return 0
        need = attempt_bound_usd(
            price, req.messages, req.model, req.params.get("max_tokens") or DEFAULT_MAX_TOKENS_BOUND
        )
        return tab.hold(to_nano(need, up=True))

    @staticmethod
    async def _charge(tab: Tab | None, held: int, req: Request, rec: ChatRecord, seen: dict, failed: bool) -> None:
        """Count one attempt: a successful one costs what ``_call_once`` priced; a failed one its reported usage,
        else (the answer had begun, usage never came) its prompt and the text received, counted offline; one that
        got no answer costs nothing. Added to ``rec.cost_usd`` and charged to the row's tab."""
        cost = rec.cost_usd
        if failed:
            price = req.price()
            usage = seen.get("usage")
            if usage is not None:
                cost = cost_from_price(price, usage.prompt_tokens, usage.completion_tokens)
            elif seen.get("opened"):
                text = "".join(seen.get("parts") or [])
                cost = cost_from_price(
                    price, req.tokens_or_bound(req.prompt_text), req.tokens_or_bound(text) if text else 0
                )
                rec.usage_estimated = True
            else:
                cost = 0.0 if price is not None else None
            if cost:
                rec.failed_attempts_cost_usd += cost
        elif rec.failed_attempts_cost_usd and rec.cost_usd is not None:
            rec.cost_usd += rec.failed_attempts_cost_usd  # the answer's own cost plus the attempts before it
        if failed and cost is not None:
            rec.cost_usd = rec.failed_attempts_cost_usd
        if tab is not None:
            await tab.charge(held, cost)

    async def _call_once(
        self,
        client,
        req: Request,
        rec: ChatRecord,
        on_delta: Callable[[str], Any] | None = None,
        seen: dict | None = None,
    ) -> None:
        t0 = time.perf_counter()
        ttft = None
        usage = None
        parts: list[str] = []
        seen = {} if seen is None else seen  # what a failed attempt had received (usage, text) when it failed
        seen["parts"] = parts
        finish = None
        stream = req.params.get("stream", self.stream)
        params = {k: v for k, v in req.params.items() if k != "stream"}
        model, messages = req.model, req.messages
        if stream:
            kwargs = {"stream_options": {"include_usage": True}}
            create = client.chat.completions.with_streaming_response.create
            async with create(model=model, messages=messages, stream=True, **kwargs, **params) as raw:
                seen["opened"] = True
                # the chunks as the JSON objects the server sent (openai's own stream: its SSE decoding, its
                # errors), not a pydantic ChatCompletionChunk each: building those was about 5 ms of client CPU
                # per 24-token answer, a third of a raw loop's (docs/benchmarks.md, "Row traces")
                async for chunk in await raw.parse(to=openai.AsyncStream[object]):
                    if not isinstance(chunk, dict):
                        continue
                    if chunk.get("choices"):
                        ch = chunk["choices"][0]
                        delta = (ch.get("delta") or {}).get("content")
                        if delta:
                            if ttft is None:
                                ttft = time.perf_counter() - t0
                            parts.append(delta)
                            if on_delta is not None:
                                on_delta(delta)
                        finish = ch.get("finish_reason") or finish
                    if chunk.get("usage"):
                        usage = seen["usage"] = _usage(chunk["usage"])
            if finish is None:  # the stream ended early (no [DONE]): a cut answer must not pass as a short one
                raise ValueError("stream ended before any finish_reason (truncated answer)")
        else:
            resp = await client.chat.completions.create(model=model, messages=messages, **params)
            seen["opened"], seen["usage"] = True, resp.usage
            if not resp.choices:
                raise ValueError("response has no choices")
            parts.append(resp.choices[0].message.content or "")
            if on_delta is not None and parts[0]:
                on_delta(parts[0])
            finish = resp.choices[0].finish_reason
            usage = resp.usage
            rec.top_logprobs = first_token_logprobs(resp.choices[0])
            calls = getattr(resp.choices[0].message, "tool_calls", None)
            if calls:
                rec.tool_calls = [
                    {"id": c.id, "name": c.function.name, "arguments": c.function.arguments} for c in calls
                ]
        latency = time.perf_counter() - t0
        text = "".join(parts)
        if usage is not None and usage.completion_tokens is not None:
            pt, ct, est = usage.prompt_tokens, usage.completion_tokens, False
        else:
            pt = req.tokens(req.prompt_text)
            ct = req.tokens(text) if text else 0
            est = True
        gen_s = latency - (ttft or 0.0)
        rec.text, rec.finish_reason = text, finish
        rec.prompt_tokens, rec.completion_tokens, rec.usage_estimated = pt, ct, est
        rec.latency_s, rec.ttft_s = latency, ttft
        # decode rate after the first token; needs a streamed first-token time and at least 2 tokens
        rec.tokens_per_s = ((ct - 1) / gen_s) if ttft is not None and ct and ct >= 2 and gen_s > 0 else None
        rec.cost_usd = cost_from_price(req.price(), pt, ct)

    async def achat_many(
        self,
        prompts: Sequence[str | Messages],
        model: str = "local",
        *,
        system: str | None = None,
        repeats: int = 1,
        progress: bool | None = None,
        **params,
    ) -> list[ChatRecord]:
        """Run many prompts concurrently (bounded by each endpoint's limiter); one record per
        (prompt, repeat), in input order (prompt-major). Never loses a row."""
        settings().resolve_model(model)  # fail fast on a bad model spec, before any row runs
        jobs = [(p, r) for p in prompts for r in range(repeats)]
        out: list[ChatRecord | None] = [None] * len(jobs)
        bar = _progress(len(jobs), progress, f"chat {model}")

        async def one(i: int, p, r: int):
            try:
                out[i] = await self.achat(p, model, system=system, repeat=r, **dict(params))
            except ConfigError:
                raise
            except Exception as exc:  # noqa: BLE001 - a row never escapes as an exception
                out[i] = ChatRecord(
                    endpoint=model.split(":")[0],
                    model=model,
                    params=mask_secret_fields(dict(params)),
                    repeat=r,
                    error=classify_error(exc),
                    error_message=scrub(f"{type(exc).__name__}: {exc}"),
                )
            finally:
                if bar is not None:
                    bar.update(1)

        try:
            await asyncio.gather(*(one(i, p, r) for i, (p, r) in enumerate(jobs)))
        finally:
            if bar is not None:
                bar.close()
        return [r for r in out if r is not None]


def _progress(total: int, enabled: bool | None, desc: str):
    """A bar over the calls of :meth:`LLMClient.achat_many` (None: shown once they have taken 2 s, any number)."""
    return progress_bar(total, desc, "call", enabled=enabled, leave=False)


# ------------------------------------------------------------------ the sync facade


class _LoopThread:
    """One daemon thread running an event loop, to run coroutines from sync code (Jupyter included)."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="workbench-loop", daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        if threading.current_thread() is self.thread:
            raise WorkbenchError(
                "sync workbench calls cannot be made from the workbench loop thread; await the a* variant"
            )
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


_LOOP: _LoopThread | None = None
_LOOP_LOCK = threading.Lock()
_DEFAULT_CLIENTS: dict[tuple, LLMClient] = {}


def run_sync(coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run a coroutine to completion from sync code, even when the caller's thread has a running loop."""
    global _LOOP
    with _LOOP_LOCK:
        if _LOOP is None:
            _LOOP = _LoopThread()
    return _LOOP.run(coro, timeout)


def default_client(cache: str = "use", max_retries: int = 4, timeout_s: float | None = None) -> LLMClient:
    key = (cache, max_retries, timeout_s)
    if key not in _DEFAULT_CLIENTS:
        _DEFAULT_CLIENTS[key] = LLMClient(cache=cache, max_retries=max_retries, timeout_s=timeout_s)
    return _DEFAULT_CLIENTS[key]


def chat(
    prompt: str | Messages,
    model: str = "local",
    *,
    system: str | None = None,
    repeat: int = 0,
    cache: str = "use",
    max_retries: int = 4,
    timeout_s: float | None = None,
    **params,
) -> ChatRecord:
    """One chat call, synchronously. ``params`` are generation params (temperature, max_tokens, seed...).

    >>> import workbench as wb
    >>> r = wb.chat("Name a tent brand.", model="local", max_tokens=20)
    >>> r.text, r.latency_s, r.ttft_s, r.cost_usd
    """
    client = default_client(cache, max_retries, timeout_s)
    return run_sync(client.achat(prompt, model, system=system, repeat=repeat, **params))


def chat_many(
    prompts: Iterable[str | Messages],
    model: str = "local",
    *,
    system: str | None = None,
    repeats: int = 1,
    progress: bool | None = None,
    cache: str = "use",
    max_retries: int = 4,
    timeout_s: float | None = None,
    **params,
) -> list[ChatRecord]:
    """Many chat calls concurrently; exactly one :class:`ChatRecord` per prompt × repeat, in order."""
    client = default_client(cache, max_retries, timeout_s)
    return run_sync(
        client.achat_many(list(prompts), model, system=system, repeats=repeats, progress=progress, **params)
    )
