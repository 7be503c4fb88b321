"""Held-out probes of the served app (issue 21): an upstream error quoting the key never reaches the client,
only localhost Host headers and JSON bodies are accepted, a request over the model's context is the client's
400. The upstream is a small fake OpenAI-compatible server on 127.0.0.1 (no model needed)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from workbench import serve

KEY = "sk-test-" + "Up7" * 12
GOOD = {"messages": [{"role": "user", "content": "Say ok."}], "max_tokens": 4}


class Upstream:
    """Answers every chat completion per ``mode``: ok | auth (401 quoting the key) | context (llama-server's 400)."""

    def __init__(self):
        outer = self
        self.mode = "ok"

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                req = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                if outer.mode == "auth":
                    code, body = 401, {"error": {"message": f"Incorrect API key provided: {KEY}",
                                                 "type": "invalid_request_error", "code": "invalid_api_key"}}
                elif outer.mode == "context":
                    code, body = 400, {"error": {"code": 400, "type": "exceed_context_size_error",
                                                 "message": "request (9000 tokens) exceeds the available context "
                                                            "size (2048 tokens), try increasing it",
                                                 "n_prompt_tokens": 9000, "n_ctx": 2048}}
                elif req.get("stream"):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()
                    for piece in ({"content": "ok"}, {}):
                        ch = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "m",
                              "choices": [{"index": 0, "delta": piece, "finish_reason": None if piece else "stop"}]}
                        self.wfile.write(f"data: {json.dumps(ch)}\n\n".encode())
                    self.wfile.write(b"data: [DONE]\n\n")
                    return
                else:
                    code, body = 200, {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                                       "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                                                    "finish_reason": "stop"}],
                                       "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()


@pytest.fixture
def upstream(workbench_toml, monkeypatch):
    up = Upstream()
    monkeypatch.setenv("FAKE_UPSTREAM_KEY", KEY)
    workbench_toml(f'[endpoints.fake]\nbase_url = "{up.url}"\napi_key_env = "FAKE_UPSTREAM_KEY"\n'
                   f'models = ["m"]\n')
    yield up
    up.stop()


@pytest.fixture
def app(upstream, tracking_store):
    h = serve.start({"name": "held-out", "model": "fake:m", "params": {"max_tokens": 4}, "max_retries": 0})
    yield h
    h.stop()


def _post(app, body=GOOD, **kw):
    return httpx.post(f"{app.base_url}/chat/completions", json=body, timeout=30, **kw)


def test_upstream_error_text_never_reaches_the_client(app, upstream):
    upstream.mode = "auth"
    r = _post(app)
    assert r.status_code == 502 and KEY not in r.text and "Incorrect API key" not in r.text, r.text
    assert r.json()["error"]["type"] == "upstream_error" and "auth" in r.json()["error"]["message"]
    with httpx.stream("POST", f"{app.base_url}/chat/completions", json={**GOOD, "stream": True}, timeout=30) as s:
        text = s.read().decode()
    assert KEY not in text and "Incorrect API key" not in text, text


def test_only_localhost_host_headers_by_default(app):
    assert _post(app).status_code == 200
    assert _post(app, headers={"Host": f"localhost:{app.url.rsplit(':', 1)[1]}"}).status_code == 200
    r = _post(app, headers={"Host": "evil.example.com"})
    assert r.status_code == 400 and "host" in r.text.lower()


def test_allowed_hosts_is_configurable(upstream, tracking_store):
    with serve.start({"name": "held-out-hosts", "model": "fake:m", "allowed_hosts": ["app.internal"]}) as h:
        assert _post(h, headers={"Host": "app.internal"}).status_code == 200
        assert _post(h, headers={"Host": "evil.example.com"}).status_code == 400


def test_requires_application_json(app):
    r = httpx.post(f"{app.base_url}/chat/completions", content=json.dumps(GOOD),
                   headers={"Content-Type": "text/plain"}, timeout=30)
    assert r.status_code == 415 and "application/json" in r.json()["error"]["message"]
    r = httpx.post(f"{app.base_url}/chat/completions", content=json.dumps(GOOD),
                   headers={"Content-Type": "application/json; charset=utf-8"}, timeout=30)
    assert r.status_code == 200


def test_over_context_is_a_400_with_the_limit(app, upstream):
    upstream.mode = "context"
    r = _post(app)
    assert r.status_code == 400, r.text
    msg = r.json()["error"]["message"]
    assert "2048" in msg and "9000" in msg and r.json()["error"]["code"] == "context_length_exceeded"
