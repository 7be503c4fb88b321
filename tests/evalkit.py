"""Helpers for evaluation tests: a small Contoso-style dataset and a junk-replying judge endpoint."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FACTS = [
    (
        "The TrailLite 2 tent weighs 1.6 kg and sleeps two people.",
        "How much does the TrailLite 2 tent weigh?",
        "1.6 kg",
    ),
    (
        "The Summit 45 backpack has a capacity of 45 litres.",
        "What is the capacity of the Summit 45 backpack?",
        "45 litres",
    ),
    ("The Blaze camping stove burns isobutane gas.", "Which gas does the Blaze stove burn?", "isobutane"),
    (
        "The Glacier jacket is rated to minus 20 degrees Celsius.",
        "What is the Glacier jacket rated to?",
        "minus 20 degrees Celsius",
    ),
    ("Contoso Outdoor accepts returns of unused items within 30 days.", "How long is the return window?", "30 days"),
    ("The Ridge GTX boots have Vibram soles.", "What soles do the Ridge GTX boots have?", "Vibram soles"),
    ("The Aurora headlamp gives 400 lumens.", "How bright is the Aurora headlamp?", "400 lumens"),
    (
        "The Drift sleeping bag is rated to minus 5 degrees Celsius.",
        "What is the Drift bag rated to?",
        "minus 5 degrees Celsius",
    ),
    ("The Basecamp 6 tent sleeps six people.", "How many people does the Basecamp 6 sleep?", "six"),
    ("The Trek poles are made of carbon fibre.", "What are the Trek poles made of?", "carbon fibre"),
]


def write_dataset(path: Path, n: int = 30) -> Path:
    rows = []
    for i in range(n):
        ctx, q, ref = FACTS[i % len(FACTS)]
        row = {
            "id": f"q{i:03d}",
            "question": q if i < len(FACTS) else f"{q} (variant {i // len(FACTS)})",
            "reference": ref,
        }
        if i % 3 != 2:
            row["contexts"] = [ctx]
        rows.append(row)
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


class JunkJudge:
    """An OpenAI-compatible endpoint (127.0.0.1) whose every chat completion is prose, never JSON."""

    def __init__(self, text: str = "Well, it is hard to say. Probably fine?"):
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.calls += 1
                body = json.dumps(
                    {
                        "id": "x",
                        "object": "chat.completion",
                        "created": 0,
                        "model": "junk",
                        "choices": [
                            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}
                        ],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.calls = 0
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
