"""A webhook receiver for the monitor's alert tests, on 127.0.0.1 only: records (monotonic time, JSON body) of every
POST and answers ``status`` (204 accepts; 404 makes the notifier report a failure)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class WebhookReceiver:
    """Started on construction; ``url`` is its ``/alerts`` address, ``got`` what it received, ``stop()`` ends it."""

    def __init__(self, status: int = 204):
        self.got: list[tuple[float, dict]] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.got.append((time.monotonic(), json.loads(body or b"null")))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/alerts"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Shut the receiver down and close its socket."""
        self.httpd.shutdown()
        self.httpd.server_close()
