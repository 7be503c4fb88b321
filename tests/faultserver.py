"""A fault-injecting OpenAI-compatible proxy for tests (127.0.0.1 only).

Healthy requests are forwarded to a real upstream (the embedded llama-server); faults are what a real
server will not produce on demand: 429 with Retry-After, 500/503, stalls past the client's timeout,
dropped connections, invalid JSON (whole body or a broken SSE line), truncated answers (a stream cut at an
event boundary before ``[DONE]``, or a JSON body cut in half, with a consistent Content-Length) and slow
streams (the upstream's events forwarded one by one, ``slow_chunk_s`` apart).

Faults come from a script (a list consumed in order, then "ok") or at random with a seed.
"""

from __future__ import annotations

import http.client
import json
import random
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

FAULTS = ("ok", "429", "500", "503", "stall", "drop", "badjson", "badsse", "truncated", "slowstream")


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):  # a client that gave up (timeout) is expected here
        import sys

        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


class FaultServer:
    def __init__(
        self,
        upstream: str,
        script: list[str] | None = None,
        rates: dict[str, float] | None = None,
        seed: int = 0,
        retry_after: float = 0.2,
        stall_s: float = 3.0,
        slow_chunk_s: float = 0.1,
    ):
        self.upstream = urlparse(upstream)
        self.script = list(script or [])
        self.rates = rates or {}
        self.rng = random.Random(seed)
        self.retry_after = retry_after
        self.stall_s = stall_s
        self.slow_chunk_s = slow_chunk_s
        self.log: list[tuple[float, str]] = []
        self.lock = threading.Lock()
        self.httpd = _QuietServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def start(self) -> FaultServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def next_fault(self) -> str:
        with self.lock:
            if self.script:
                f = self.script.pop(0)
            else:
                f, x = "ok", self.rng.random()
                for name, p in self.rates.items():
                    if x < p:
                        f = name
                        break
                    x -= p
            self.log.append((time.monotonic(), f))
            return f

    def count(self, fault: str) -> int:
        return sum(1 for _, f in self.log if f == fault)

    def _handler(self):
        server = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):  # quiet
                pass

            def _send(self, code: int, body: bytes, headers: dict | None = None, ctype="application/json"):
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fault = server.next_fault()
                err = json.dumps({"error": {"message": f"injected {fault}", "type": "injected"}}).encode()
                if fault == "429":
                    return self._send(429, err, {"Retry-After": str(server.retry_after)})
                if fault in ("500", "503"):
                    return self._send(int(fault), err)
                if fault == "stall":
                    time.sleep(server.stall_s)
                    return self._send(500, err)
                if fault == "drop":
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.connection.close()
                    return
                if fault == "badjson":
                    return self._send(200, b'{"id": "x", "choices": [ {"message": ')
                # forward to the real upstream
                conn = http.client.HTTPConnection(server.upstream.hostname, server.upstream.port, timeout=60)
                path = self.path if self.path.startswith("/v1") else "/v1" + self.path
                try:
                    conn.request("POST", path, body, {"Content-Type": "application/json"})
                    resp = conn.getresponse()
                    data = resp.read()
                except (OSError, http.client.HTTPException) as e:  # upstream failed: answer as a gateway does
                    return self._send(502, json.dumps({"error": {"message": f"upstream: {e}"}}).encode())
                finally:
                    conn.close()
                ctype = resp.getheader("Content-Type", "application/json")
                if fault == "badsse":
                    data = data.replace(b"data: {", b"data: {{broken", 1)
                if fault == "truncated":
                    events = data.split(b"\n\n")
                    data = (
                        b"\n\n".join(events[: max(1, len(events) // 2)]) + b"\n\n"
                        if b"data:" in data
                        else data[: len(data) // 2]
                    )
                if fault == "slowstream":
                    self.send_response(resp.status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    pos = 0
                    while pos < len(data):  # one SSE event at a time (a JSON body goes in one piece)
                        nxt = data.find(b"\n\n", pos)
                        end = len(data) if nxt < 0 else nxt + 2
                        self.wfile.write(data[pos:end])
                        self.wfile.flush()
                        pos = end
                        time.sleep(server.slow_chunk_s)
                    return
                self._send(resp.status, data, ctype=ctype)

        return H
