"""One configurable fake OpenAI-compatible server for tests, on 127.0.0.1 only (port chosen by the system).

:class:`OpenAIServer` answers ``/v1/chat/completions`` (plain and streaming), ``/v1/tokenize`` (llama-server's token
counting) and OpenAI's file and fine-tuning job endpoints. What it does is set by three small option dataclasses:

- :class:`Chat`: the scripted reply (text, delay, usage, logprobs) and its failure ``mode``: ``ok``, ``auth`` (a 401
  quoting the key, as OpenAI's does), ``context`` (llama-server's over-context 400), ``slow_stream`` (the first piece
  of a stream at once, its end after 3 s) or ``echo`` (answers with the system prompt, as a small model asked to
  "repeat the text above" does). ``cut_streams``: the next N streamed answers stop after their usage chunk.
- :class:`Faults`: faults a real server will not produce on demand, from a script (consumed in order, then "ok") or
  at random with a seed: 429 with Retry-After, 500/503, stalls past the client's timeout, dropped connections,
  invalid JSON (whole body or a broken SSE line), an error event mid-stream (``sse_error``), truncated answers (a stream cut at an event boundary before
  ``[DONE]``, or a JSON body cut in half, with a consistent Content-Length) and slow streams (events sent one by one,
  ``slow_chunk_s`` apart). With ``upstream`` set the server is a proxy: healthy requests go to that real server (the
  embedded llama-server) and the faults apply to its answers.
- :class:`FineTuning`: POST /v1/files, POST /v1/fine_tuning/jobs, GET /v1/fine_tuning/jobs/{id}, GET .../events,
  POST .../cancel, following the public API shapes; ``outcome`` "succeed" (queued → running → succeeded after
  ``polls`` retrievals), "fail", or "hang" (stays running until cancelled).

Every request is recorded (``requests``: method and path; ``bodies``: chat request bodies; ``log``: the fault
chosen for each POST, with its time)."""

from __future__ import annotations

import http.client
import json
import random
import re
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

KEY = "sk-test-" + "Up7" * 12  # the key ``auth`` mode quotes back (set it as the endpoint's key to catch leaks)
GOOD_CHAT = {"messages": [{"role": "user", "content": "Say ok."}], "max_tokens": 4}  # a request any app accepts


def post_chat(app, body: dict | None = None, timeout: float = 30, **kw):
    """POST ``body`` (default :data:`GOOD_CHAT`) to a served app's ``/chat/completions``; returns the httpx response."""
    import httpx

    return httpx.post(f"{app.base_url}/chat/completions", json=body or GOOD_CHAT, timeout=timeout, **kw)


FAULTS = ("ok", "429", "500", "503", "stall", "drop", "badjson", "badsse", "truncated", "sse_error", "slowstream")
MODES = ("ok", "auth", "context", "slow_stream", "echo")
_ERRORS = {
    "auth": (
        401,
        {
            "error": {
                "message": f"Incorrect API key provided: {KEY}",
                "type": "invalid_request_error",
                "code": "invalid_api_key",
            }
        },
    ),
    "context": (
        400,
        {
            "error": {
                "code": 400,
                "type": "exceed_context_size_error",
                "message": "request (9000 tokens) exceeds the available context size (2048 tokens), try increasing it",
                "n_prompt_tokens": 9000,
                "n_ctx": 2048,
            }
        },
    ),
}


@dataclass
class Chat:
    """How chat completions are answered (ignored in proxy mode, where the upstream answers)."""

    text: str = "ok"
    delay_s: float = 0.0  # before answering
    mode: str = "ok"  # one of MODES
    usage: Callable[[dict], tuple[int, int]] | None = None  # request -> (prompt, completion) tokens, billed
    cut_streams: int = 0  # the next N streamed answers stop after their usage chunk (no finish, no [DONE])
    logprobs: list[dict[str, float]] | None = None  # per answer token {token: logprob}, the chosen one first
    tool_calls: list[dict] | None = None  # non-streamed answers call these tools ([{"name", "arguments"}]) instead


def _message(text: str, tool_calls: list[dict] | None) -> dict:
    """The assistant message of a non-streamed answer: ``text``, or the tool calls as the OpenAI tools API sends them."""
    if not tool_calls:
        return {"role": "assistant", "content": text}
    calls = [
        {
            "id": f"call-{i}",
            "type": "function",
            "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])},
        }
        for i, c in enumerate(tool_calls)
    ]
    return {"role": "assistant", "content": None, "tool_calls": calls}


@dataclass
class Faults:
    """Which fault each POST gets: ``script`` first (in order), then at random by ``rates`` (else "ok")."""

    script: list[str] = field(default_factory=list)
    rates: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    retry_after: float = 0.2  # seconds, sent with 429
    stall_s: float = 3.0  # a stall waits this long, then answers 500
    slow_chunk_s: float = 0.1  # the pause after each event of a slow stream


@dataclass
class FineTuning:
    """How fine-tuning jobs end: "succeed" | "fail" after ``polls`` retrievals, or "hang"."""

    outcome: str = "succeed"
    polls: int = 3


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # a client that gave up (timeout) is expected here
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


def _chunk(delta: dict | None, usage: dict | None = None) -> bytes:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": None if delta else "stop"}]
    ch = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "m", "choices": choices}
    if usage is not None:
        ch["usage"] = usage
    return f"data: {json.dumps(ch)}\n\n".encode()


class OpenAIServer:
    """A fake OpenAI-compatible server on 127.0.0.1, started on construction; see the module docstring."""

    __slots__ = (
        "chat",
        "faults",
        "finetune",
        "upstream",
        "calls",
        "bodies",
        "requests",
        "log",
        "billed",
        "in_flight",
        "max_in_flight",
        "files",
        "jobs",
        "lock",
        "rng",
        "httpd",
    )  # an unknown attribute (an old fake's name, such as ``mode``) is an error, not a silent no-op

    def __init__(
        self,
        chat: Chat | None = None,
        faults: Faults | None = None,
        finetune: FineTuning | None = None,
        upstream: str | None = None,
    ):
        self.chat, self.faults, self.finetune = chat or Chat(), faults or Faults(), finetune or FineTuning()
        self.upstream = urlparse(upstream) if upstream else None  # proxy mode: healthy requests go there
        self.calls = 0  # chat completions answered (not tokenize)
        self.bodies: list[dict] = []  # every chat request body
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request
        self.log: list[tuple[float, str]] = []  # (monotonic time, fault) of every POST
        self.billed = [0, 0]  # prompt and completion tokens of every answer sent with usage, cut ones included
        self.in_flight = self.max_in_flight = 0  # requests being answered now / at most at once
        self.files: list[dict] = []
        self.jobs: dict[str, dict] = {}
        self.lock = threading.Lock()
        self.rng = random.Random(self.faults.seed)
        self.httpd = _QuietServer(("127.0.0.1", 0), _handler(self))
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        """The base URL, ending in ``/v1``."""
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    base_url = url

    def toml(self, key_env: str | None = "FAKE_UPSTREAM_KEY") -> str:
        """A ``workbench.toml`` declaring this server as endpoint ``fake`` (model ``m``)."""
        key = f'api_key_env = "{key_env}"\n' if key_env else ""
        return f'[endpoints.fake]\nbase_url = "{self.url}"\n{key}models = ["m"]\n'

    def stop(self) -> None:
        """Shut the server down and close its socket."""
        self.httpd.shutdown()
        self.httpd.server_close()

    def count(self, fault: str) -> int:
        """How many POSTs got ``fault``."""
        return sum(1 for _, f in self.log if f == fault)

    def billed_usd(self, input_per_m: float, output_per_m: float) -> float:
        """What this server would bill for every answer it sent usage for, at the given prices."""
        return (self.billed[0] * input_per_m + self.billed[1] * output_per_m) / 1e6

    def next_fault(self) -> str:
        """The fault for the next POST (scripted, else drawn by the rates), logged."""
        with self.lock:
            if self.faults.script:
                f = self.faults.script.pop(0)
            else:
                f, x = "ok", self.rng.random()
                for name, p in self.faults.rates.items():
                    if x < p:
                        f = name
                        break
                    x -= p
            self.log.append((time.monotonic(), f))
            return f

    # --- chat -----------------------------------------------------------------------------------------------

    def _usage(self, req: dict) -> dict:
        pt, ct = self.chat.usage(req) if self.chat.usage else (3, 1)
        if self.chat.usage:
            with self.lock:
                self.billed[0] += pt
                self.billed[1] += ct
        return {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct}

    def _logprobs(self) -> dict | None:
        if not self.chat.logprobs:
            return None
        content = []
        for alternatives in self.chat.logprobs:
            top = [{"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in alternatives.items()]
            content.append({**top[0], "top_logprobs": top})
        return {"content": content}

    def chat_reply(self, req: dict) -> tuple[int, str, list[tuple[float, bytes]]]:
        """(status, content type, [(pause before, bytes)]) for one chat request, per :class:`Chat`."""
        with self.lock:
            self.calls += 1
            self.bodies.append(req)
        c = self.chat
        text = c.text
        if c.mode == "echo":  # "repeat the text above": the system prompt comes back
            text = "Sure! " + " ".join(m["content"] for m in req.get("messages", []) if m["role"] == "system")
        time.sleep(c.delay_s)
        if c.mode in _ERRORS:
            code, body = _ERRORS[c.mode]
            return code, "application/json", [(0.0, json.dumps(body).encode())]
        if req.get("stream"):
            with self.lock:
                cut = c.cut_streams > 0
                c.cut_streams -= cut
            parts = [(0.0, _chunk({"content": text}))]
            if not cut:
                parts.append((3.0 if c.mode == "slow_stream" else 0.0, _chunk({})))  # the rest comes late
            if c.usage is not None:
                parts.append((0.0, _chunk(None, self._usage(req))))
            if not cut:
                parts.append((0.0, b"data: [DONE]\n\n"))
            return 200, "text/event-stream", parts
        choice = {"index": 0, "message": _message(text, c.tool_calls), "finish_reason": "stop"}
        if req.get("logprobs") and c.logprobs:
            choice["logprobs"] = self._logprobs()
        body = {
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "model": "m",
            "choices": [choice],
            "usage": self._usage(req),
        }
        return 200, "application/json", [(0.0, json.dumps(body).encode())]

    def forward(self, path: str, body: bytes) -> tuple[int, str, list[tuple[float, bytes]]]:
        """Proxy mode: POST to the upstream; a failed upstream is a 502, as a gateway answers."""
        assert self.upstream is not None
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=60)
        path = path if path.startswith("/v1") else "/v1" + path
        try:
            conn.request("POST", path, body, {"Content-Type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException) as e:
            return 502, "application/json", [(0.0, json.dumps({"error": {"message": f"upstream: {e}"}}).encode())]
        finally:
            conn.close()
        return resp.status, resp.getheader("Content-Type", "application/json"), [(0.0, data)]

    # --- fine-tuning ------------------------------------------------------------------------------------------

    def _ft_event(self, jid, msg, typ="message", data=None):
        j = self.jobs[jid]
        j["events"].append(
            {
                "id": f"ev-{jid}-{len(j['events']) + 1}",
                "object": "fine_tuning.job.event",
                "created_at": int(time.time()) + len(j["events"]),
                "level": "info",
                "message": msg,
                "type": typ,
                "data": data or {},
            }
        )

    def _ft_advance(self, jid):
        j = self.jobs[jid]
        if j["status"] in ("succeeded", "failed", "cancelled"):
            return
        j["polls"] += 1
        if j["status"] == "queued":
            j["status"] = "running"
            self._ft_event(jid, "Fine-tuning job started")
        elif j["status"] == "running":
            step = j["polls"]
            self._ft_event(
                jid,
                f"Step {step}: training loss={1.0 / step:.3f}",
                "metrics",
                {"step": step, "train_loss": 1.0 / step, "train_mean_token_accuracy": 0.5 + step / 100},
            )
            if self.finetune.outcome != "hang" and j["polls"] >= self.finetune.polls:
                j["status"] = "succeeded" if self.finetune.outcome == "succeed" else "failed"
                self._ft_event(
                    jid, "The job has successfully completed" if j["status"] == "succeeded" else "Job failed"
                )

    def _ft_job(self, jid):
        j = self.jobs[jid]
        ok = j["status"] == "succeeded"
        return {
            "id": jid,
            "object": "fine_tuning.job",
            "created_at": 0,
            "model": j["req"]["model"],
            "status": j["status"],
            "training_file": j["req"]["training_file"],
            "validation_file": j["req"].get("validation_file"),
            "hyperparameters": {"n_epochs": 3},
            "fine_tuned_model": f"ft:{j['req']['model']}:contoso::{jid}" if ok else None,
            "error": {"code": "invalid_training_file", "message": "training file invalid", "param": None}
            if j["status"] == "failed"
            else None,
            "organization_id": "org-x",
            "result_files": [],
            "seed": j["req"].get("seed"),
            "trained_tokens": 1000 if ok else None,
            "finished_at": None,
        }

    def finetune_post(self, path: str, body: bytes) -> tuple[int, dict] | None:
        """The answer to a file or fine-tuning POST, or None when ``path`` is not one."""
        with self.lock:
            if path == "/files":
                f = {
                    "id": f"file-{len(self.files) + 1}",
                    "object": "file",
                    "bytes": len(body),
                    "created_at": int(time.time()),
                    "filename": "train.jsonl",
                    "purpose": "fine-tune",
                    "status": "processed",
                }
                self.files.append(f)
                return 200, f
            if path == "/fine_tuning/jobs":
                jid = f"ftjob-{len(self.jobs) + 1}"
                self.jobs[jid] = {"req": json.loads(body), "polls": 0, "status": "queued", "events": []}
                return 200, self._ft_job(jid)
            m = re.fullmatch(r"/fine_tuning/jobs/([\w-]+)/cancel", path)
            if m and m.group(1) in self.jobs:
                self.jobs[m.group(1)]["status"] = "cancelled"
                return 200, self._ft_job(m.group(1))
            if path.startswith(("/files", "/fine_tuning")):
                return 404, {"error": {"message": "not found"}}
        return None

    def finetune_get(self, path: str) -> tuple[int, dict]:
        """The answer to a GET of a job (each one advances it) or of its events."""
        with self.lock:
            m = re.fullmatch(r"/fine_tuning/jobs/([\w-]+)(/events)?(\?.*)?", path)
            if not m or m.group(1) not in self.jobs:
                return 404, {"error": {"message": "not found"}}
            jid = m.group(1)
            if m.group(2):
                return 200, {"object": "list", "data": list(reversed(self.jobs[jid]["events"])), "has_more": False}
            self._ft_advance(jid)
            return 200, self._ft_job(jid)


def _degrade(fault: str, data: bytes) -> bytes:
    """An answer spoiled after the fact: a broken SSE line or cut in half (at an event boundary for a stream)."""
    if fault == "badsse":
        return data.replace(b"data: {", b"data: {{broken", 1)
    if fault == "sse_error" and b"data:" in data:  # the server gives up mid-answer, as an error event
        events = data.split(b"\n\n")
        err = {"error": {"message": "injected sse_error", "type": "server_error"}}
        return b"\n\n".join(events[: max(1, len(events) // 2)]) + f"\n\ndata: {json.dumps(err)}\n\n".encode()
    if fault == "truncated":
        events = data.split(b"\n\n")
        return (
            b"\n\n".join(events[: max(1, len(events) // 2)]) + b"\n\n" if b"data:" in data else data[: len(data) // 2]
        )
    return data


def _handler(server: OpenAIServer) -> type[BaseHTTPRequestHandler]:
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):  # quiet
            pass

        def _send(self, code: int, parts: list[tuple[float, bytes]], ctype="application/json", headers=None):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(sum(len(b) for _, b in parts)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            for pause, data in parts:
                time.sleep(pause)
                self.wfile.write(data)
                self.wfile.flush()

        def _json(self, code: int, obj: dict, headers=None):
            self._send(code, [(0.0, json.dumps(obj).encode())], headers=headers)

        def do_GET(self):
            server.requests.append(("GET", self.path))
            self._json(*server.finetune_get(self.path.removeprefix("/v1")))

        def do_POST(self):
            with server.lock:
                server.in_flight += 1
                server.max_in_flight = max(server.max_in_flight, server.in_flight)
            try:
                self._post()
            except (BrokenPipeError, ConnectionResetError):  # the caller hung up (tests do so on purpose)
                self.close_connection = True
            finally:
                with server.lock:
                    server.in_flight -= 1

        def _post(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            server.requests.append(("POST", self.path))
            path = self.path.removeprefix("/v1")
            fault = server.next_fault()
            f = server.faults
            err = {"error": {"message": f"injected {fault}", "type": "injected"}}
            if fault == "429":
                return self._json(429, err, {"Retry-After": str(f.retry_after)})
            if fault in ("500", "503"):
                return self._json(int(fault), err)
            if fault == "stall":
                time.sleep(f.stall_s)
                return self._json(500, err)
            if fault == "drop":
                self.connection.shutdown(socket.SHUT_RDWR)
                self.connection.close()
                self.close_connection = True
                return
            if fault == "badjson":
                return self._send(200, [(0.0, b'{"id": "x", "choices": [ {"message": ')])
            if server.upstream is not None:
                code, ctype, parts = server.forward(self.path, body)
            elif (ft := server.finetune_post(path, body)) is not None:
                return self._json(*ft)
            elif path.endswith("/tokenize"):  # llama-server's token counting (the local kind uses it)
                req = json.loads(body)
                return self._json(200, {"tokens": list(range(len(str(req.get("content", "")).split())))})
            else:
                code, ctype, parts = server.chat_reply(json.loads(body))
            if fault in ("badsse", "truncated", "sse_error"):
                parts = [(0.0, _degrade(fault, b"".join(b for _, b in parts)))]
            if fault == "slowstream":  # one SSE event at a time (a JSON body goes in one piece)
                data, pos, parts = b"".join(b for _, b in parts), 0, []
                while pos < len(data):
                    nxt = data.find(b"\n\n", pos)
                    end = len(data) if nxt < 0 else nxt + 2
                    parts.append((f.slow_chunk_s if pos else 0.0, data[pos:end]))
                    pos = end
            self._send(code, parts, ctype)

    return H
