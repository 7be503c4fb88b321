"""A fake OpenAI-compatible chat endpoint on 127.0.0.1 (plain and streaming) whose failure mode a test sets:
``ok``, ``auth`` (a 401 quoting the key, as OpenAI's does), ``context`` (llama-server's over-context 400) or
``slow_stream`` (the first piece of a stream at once, its end after 3 s) or ``echo`` (answers with the system
prompt, as a small model asked to "repeat the text above" does)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KEY = "sk-test-" + "Up7" * 12
GOOD_CHAT = {"messages": [{"role": "user", "content": "Say ok."}], "max_tokens": 4}  # a request any app accepts


def post_chat(app, body: dict | None = None, timeout: float = 30, **kw):
    """POST ``body`` (default :data:`GOOD_CHAT`) to a served app's ``/chat/completions``; returns the httpx response."""
    import httpx

    return httpx.post(f"{app.base_url}/chat/completions", json=body or GOOD_CHAT, timeout=timeout, **kw)


class Upstream:
    """Answers every chat completion per ``mode``: ok | auth (401 quoting the key) | context (llama-server's 400)."""

    def __init__(self, text: str = "ok", delay_s: float = 0.0):
        outer = self
        self.mode, self.text, self.calls, self.delay_s = "ok", text, 0, delay_s
        self.bodies: list[dict] = []  # every request body received
        # usage(req) -> (prompt_tokens, completion_tokens): reported in streams (a final usage chunk) and bodies
        self.usage = None
        self.cut_streams = 0  # the next N streamed answers stop after their usage chunk (no finish, no [DONE])
        self._lock = threading.Lock()
        self.billed = [0, 0]  # prompt and completion tokens of every answer sent with usage, cut ones included
        self.in_flight = self.max_in_flight = 0  # chat requests being answered now / at most at once
        lock = threading.Lock()

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                with lock:
                    outer.in_flight += 1
                    outer.max_in_flight = max(outer.max_in_flight, outer.in_flight)
                try:
                    self._post()
                except (BrokenPipeError, ConnectionResetError):  # the caller hung up (tests do so on purpose)
                    pass
                finally:
                    with lock:
                        outer.in_flight -= 1

            def _post(self):
                req = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                if self.path.endswith("/tokenize"):  # llama-server's token counting (the local kind uses it)
                    return self._send(200, {"tokens": list(range(len(str(req.get("content", "")).split())))})
                outer.calls += 1
                outer.bodies.append(req)
                text = outer.text
                if outer.mode == "echo":  # "repeat the text above": the system prompt comes back
                    text = "Sure! " + " ".join(m["content"] for m in req.get("messages", []) if m["role"] == "system")
                time.sleep(outer.delay_s)
                if outer.mode == "auth":
                    code, body = (
                        401,
                        {
                            "error": {
                                "message": f"Incorrect API key provided: {KEY}",
                                "type": "invalid_request_error",
                                "code": "invalid_api_key",
                            }
                        },
                    )
                elif outer.mode == "context":
                    code, body = (
                        400,
                        {
                            "error": {
                                "code": 400,
                                "type": "exceed_context_size_error",
                                "message": "request (9000 tokens) exceeds the available context "
                                "size (2048 tokens), try increasing it",
                                "n_prompt_tokens": 9000,
                                "n_ctx": 2048,
                            }
                        },
                    )
                elif req.get("stream"):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()
                    cut = outer.cut_streams > 0
                    outer.cut_streams -= cut
                    for piece in ({"content": text}, {}):
                        if not piece and outer.mode == "slow_stream":  # the rest of the answer comes late
                            time.sleep(3.0)
                        if not piece and cut:
                            break
                        ch = {
                            "id": "x",
                            "object": "chat.completion.chunk",
                            "created": 0,
                            "model": "m",
                            "choices": [{"index": 0, "delta": piece, "finish_reason": None if piece else "stop"}],
                        }
                        self.wfile.write(f"data: {json.dumps(ch)}\n\n".encode())
                    if outer.usage is not None:
                        u = outer._usage(req)
                        ch = {
                            "id": "x",
                            "object": "chat.completion.chunk",
                            "created": 0,
                            "model": "m",
                            "choices": [],
                            "usage": u,
                        }
                        self.wfile.write(f"data: {json.dumps(ch)}\n\n".encode())
                    if not cut:
                        self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                    self.close_connection = True
                    return
                else:
                    code, body = (
                        200,
                        {
                            "id": "x",
                            "object": "chat.completion",
                            "created": 0,
                            "model": "m",
                            "choices": [
                                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                            ],
                            "usage": outer._usage(req)
                            if outer.usage is not None
                            else {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
                        },
                    )
                self._send(code, body)

            def _send(self, code, body):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def _usage(self, req: dict) -> dict:
        pt, ct = self.usage(req)
        with self._lock:
            self.billed[0] += pt
            self.billed[1] += ct
        return {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct}

    def billed_usd(self, input_per_m: float, output_per_m: float) -> float:
        """What this upstream would bill for every answer it sent usage for, at the given prices."""
        return (self.billed[0] * input_per_m + self.billed[1] * output_per_m) / 1e6

    def toml(self, key_env: str | None = "FAKE_UPSTREAM_KEY") -> str:
        """A ``workbench.toml`` declaring this server as endpoint ``fake`` (model ``m``)."""
        key = f'api_key_env = "{key_env}"\n' if key_env else ""
        return f'[endpoints.fake]\nbase_url = "{self.url}"\n{key}models = ["m"]\n'

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
